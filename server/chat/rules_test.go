package chat

import (
	"testing"
	"time"

	"minichat/server/protocol"
	"minichat/server/store"
	"minichat/server/store/storetest"
)

// TestRules is the table of every rule: each row one case of one rule, and
// the answer it must give — "" for allowed, else the error code.
func TestRules(t *testing.T) {
	var (
		pub, priv, dm        = protocol.RoomPublic, protocol.RoomPrivate, protocol.RoomDM
		alice                = protocol.User{ID: "u_alice", Name: "alice", Role: protocol.RoleMember}
		bob                  = protocol.User{ID: "u_bob", Name: "bob", Role: protocol.RoleMember}
		admin                = protocol.User{ID: "u_admin", Name: "admin", Role: protocol.RoleAdmin}
		room                 = func(kind string, member bool) protocol.Room { return protocol.Room{Kind: kind, Member: member} }
		none                 = protocol.Room{} // no such room
		msg                  = protocol.Message{ID: "m_1", Room: "r_1", Kind: protocol.KindChat, Sender: &alice}
		deleted, system      = msg, protocol.Message{ID: "m_2", Room: "r_1", Kind: protocol.KindSystem}
		file                 = store.File{ID: "f_1", UploaderID: alice.ID}
		send                 = store.SendRequest{RoomID: "r_1", SenderID: alice.ID, Text: "hi"}
		reply, attach        = send, send
		member, memberPublic = store.SendFacts{Room: room(priv, true), Sender: alice}, store.SendFacts{Room: room(pub, true), Sender: alice}
	)
	acct := func(role string, disabled bool) store.Account {
		return store.Account{User: protocol.User{ID: "u_x", Name: "x", Role: role}, Disabled: disabled}
	}
	bot := store.Bot{User: protocol.User{ID: "u_bot", Bot: true}, OwnerID: admin.ID}
	otherAdmin := protocol.User{ID: "u_admin2", Role: protocol.RoleAdmin}
	archived := func(r protocol.Room) protocol.Room { r.Archived = true; return r }
	by := func(r protocol.Room, u protocol.User) protocol.Room { r.CreatedBy = u.ID; return r }
	deleted.Deleted = true
	action := msg
	action.Kind = protocol.KindMe
	hook := store.Hook{ID: "h_1", RoomID: "r_1", Creator: alice}
	reply.ReplyTo = "m_1"
	attach.Attachments = []string{"f_1"}
	join := func(r protocol.Room) error { _, err := mayJoin(r); return err }
	already := func(r protocol.Room) error {
		if already, err := mayJoin(r); err != nil || !already {
			t.Errorf("mayJoin(%+v) = %v, %v; want already a member", r, already, err)
		}
		return nil
	}
	facts := func(f store.SendFacts, change func(*store.SendFacts)) *store.SendFacts {
		change(&f)
		return &f
	}
	rows := []struct {
		rule string
		err  error
		want string
	}{
		// Seeing a room: public rooms are everyone's; the others their
		// members' only, and not found by anyone else.
		{"view public, not a member", mayView(room(pub, false)), ""},
		{"view private, a member", mayView(room(priv, true)), ""},
		{"view private, not a member", mayView(room(priv, false)), protocol.CodeNotFound},
		{"view dm, not a member", mayView(room(dm, false)), protocol.CodeNotFound},
		{"view unknown room", mayView(none), protocol.CodeNotFound},
		// Writing to a room's log: members only.
		{"write public, a member", mayWrite(room(pub, true), "post"), ""},
		{"write dm, a member", mayWrite(room(dm, true), "post"), ""},
		{"write public, not a member", mayWrite(room(pub, false), "post"), protocol.CodeForbidden},
		{"write private, not a member", mayWrite(room(priv, false), "post"), protocol.CodeNotFound},
		{"write unknown room", mayWrite(none, "post"), protocol.CodeNotFound},
		// Joining: public rooms; the others by invitation only.
		{"join public", join(room(pub, false)), ""},
		{"join public again", already(room(pub, true)), ""},
		{"join private, a member already", already(room(priv, true)), ""},
		{"join private, not a member", join(room(priv, false)), protocol.CodeNotFound},
		{"join dm, not a member", join(room(dm, false)), protocol.CodeNotFound},
		{"join unknown room", join(none), protocol.CodeNotFound},
		// Leaving: members, of any room but a DM.
		{"leave public", mayLeave(room(pub, true)), ""},
		{"leave private", mayLeave(room(priv, true)), ""},
		{"leave dm", mayLeave(room(dm, true)), protocol.CodeForbidden},
		{"leave, not a member", mayLeave(room(pub, false)), protocol.CodeNotFound},
		{"leave unknown room", mayLeave(none), protocol.CodeNotFound},
		// Inviting: members, into any room but a DM.
		{"invite to public, a member", mayInvite(room(pub, true)), ""},
		{"invite to private, a member", mayInvite(room(priv, true)), ""},
		{"invite to dm, a member", mayInvite(room(dm, true)), protocol.CodeForbidden},
		{"invite to public, not a member", mayInvite(room(pub, false)), protocol.CodeNotFound},
		{"invite to private, not a member", mayInvite(room(priv, false)), protocol.CodeNotFound},
		// Editing and deleting: the sender, or an admin.
		{"edit own message", mayChange(msg, "r_1", alice, true), ""},
		{"edit own action (/me)", mayChange(action, "r_1", alice, true), ""},
		// Incoming webhooks: members see a room's, admins every room's;
		// members add them up to a bound; creators and admins change them.
		{"list hooks, a member", mayListHooks(room(priv, true), alice), ""},
		{"list hooks, public room, not a member", mayListHooks(room(pub, false), alice), protocol.CodeForbidden},
		{"list hooks, private room, not a member", mayListHooks(room(priv, false), alice), protocol.CodeNotFound},
		{"list hooks, admin not a member", mayListHooks(room(priv, false), admin), ""},
		{"list hooks, unknown room, admin", mayListHooks(none, admin), protocol.CodeNotFound},
		{"add a hook, a member", mayAddHook(room(pub, true), 0, 25), ""},
		{"add a hook, at the bound", mayAddHook(room(pub, true), 25, 25), protocol.CodeForbidden},
		{"add a hook, no bound", mayAddHook(room(pub, true), 1000, -1), ""},
		{"add a hook, not a member", mayAddHook(room(pub, false), 0, 25), protocol.CodeForbidden},
		{"change own hook", mayChangeHook(hook, room(priv, false), alice), ""},
		{"change another's hook, a member", mayChangeHook(hook, room(priv, true), bob), protocol.CodeForbidden},
		{"change another's hook, not a member", mayChangeHook(hook, room(priv, false), bob), protocol.CodeNotFound},
		{"change another's hook, admin", mayChangeHook(hook, room(priv, false), admin), ""},
		{"edit another's message", mayChange(msg, "r_1", bob, true), protocol.CodeForbidden},
		{"edit another's message, admin", mayChange(msg, "r_1", admin, true), ""},
		{"edit a message of another room", mayChange(msg, "r_2", alice, true), protocol.CodeNotFound},
		{"edit a deleted message", mayChange(deleted, "r_1", alice, true), protocol.CodeNotFound},
		{"edit a system message, admin", mayChange(system, "r_1", admin, true), protocol.CodeForbidden},
		{"delete own message", mayChange(msg, "r_1", alice, false), ""},
		{"delete own message again", mayChange(deleted, "r_1", alice, false), ""},
		{"delete another's message", mayChange(msg, "r_1", bob, false), protocol.CodeForbidden},
		{"delete a system message", mayChange(system, "r_1", bob, false), protocol.CodeForbidden},
		{"delete a system message, admin", mayChange(system, "r_1", admin, false), ""},
		// Reacting: any member, to a message of the room that is not deleted.
		{"react", mayReact(msg, "r_1"), ""},
		{"react to a message of another room", mayReact(msg, "r_2"), protocol.CodeNotFound},
		{"react to a deleted message", mayReact(deleted, "r_1"), protocol.CodeNotFound},
		// Direct messages: with another user.
		{"dm another user", mayDM(alice, bob), ""},
		{"dm oneself", mayDM(alice, alice), protocol.CodeBadRequest},
		// Sending: a member; a retry answered before anything else is
		// checked; a reply in the same room; one's own uploads.
		{"send, a member", checkSend(&send, &member), ""},
		{"send, not a member of a public room", checkSend(&send, facts(memberPublic, func(f *store.SendFacts) { f.Room.Member = false })), protocol.CodeForbidden},
		{"send, not a member of a private room", checkSend(&send, facts(member, func(f *store.SendFacts) { f.Room.Member = false })), protocol.CodeNotFound},
		{"send to an unknown room", checkSend(&send, &store.SendFacts{Sender: alice}), protocol.CodeNotFound},
		{"send a retry", checkSend(&reply, facts(member, func(f *store.SendFacts) { f.Duplicate = true })), ""},
		{"send a retry, having left", checkSend(&send, facts(memberPublic, func(f *store.SendFacts) { f.Duplicate, f.Room.Member = true, false })), protocol.CodeForbidden},
		{"send a reply", checkSend(&reply, facts(member, func(f *store.SendFacts) { f.ReplyRoom = "r_1" })), ""},
		{"send a reply to another room", checkSend(&reply, facts(member, func(f *store.SendFacts) { f.ReplyRoom = "r_2" })), protocol.CodeNotFound},
		{"send a reply to nothing", checkSend(&reply, &member), protocol.CodeNotFound},
		{"send own upload", checkSend(&attach, facts(member, func(f *store.SendFacts) { f.Files = []store.File{file} })), ""},
		{"send another's upload", checkSend(&attach, facts(member, func(f *store.SendFacts) { f.Files = []store.File{{ID: "f_1", UploaderID: bob.ID}} })), protocol.CodeNotFound},
		{"send an unknown file", checkSend(&attach, facts(member, func(f *store.SendFacts) { f.Files = []store.File{{}} })), protocol.CodeNotFound},
		// Archived rooms are read-only: no post, edit, delete or reaction
		// (mayWrite), but a retry of a message stored before is answered.
		{"write an archived room, a member", mayWrite(archived(room(pub, true)), "post"), protocol.CodeArchived},
		{"send to an archived room", checkSend(&send, facts(member, func(f *store.SendFacts) { f.Room.Archived = true })), protocol.CodeArchived},
		{"send a retry to an archived room", checkSend(&send, facts(member, func(f *store.SendFacts) { f.Room.Archived, f.Duplicate = true, true })), ""},
		// Topics: any member, while the room is not archived.
		{"topic, a member", maySetTopic(room(pub, true)), ""},
		{"topic of a dm, a member", maySetTopic(room(dm, true)), ""},
		{"topic, not a member", maySetTopic(room(pub, false)), protocol.CodeForbidden},
		{"topic, not a member of a private room", maySetTopic(room(priv, false)), protocol.CodeNotFound},
		{"topic of an archived room", maySetTopic(archived(room(pub, true))), protocol.CodeArchived},
		// Renaming and archiving: the creator (a member) or an admin; rooms
		// without a recorded creator: admins only; DMs: nobody.
		{"rename, the creator", mayManage(by(room(pub, true), alice), alice, "renamed"), ""},
		{"rename, not the creator", mayManage(by(room(pub, true), alice), bob, "renamed"), protocol.CodeForbidden},
		{"rename, the creator who left", mayManage(by(room(pub, false), alice), alice, "renamed"), protocol.CodeForbidden},
		{"rename, an admin", mayManage(by(room(pub, false), alice), admin, "renamed"), ""},
		{"rename an old room, a member", mayManage(room(pub, true), alice, "renamed"), protocol.CodeForbidden},
		{"rename an old room, an admin", mayManage(room(pub, true), admin, "renamed"), ""},
		{"rename a dm, an admin", mayManage(room(dm, true), admin, "renamed"), protocol.CodeForbidden},
		{"rename private, not a member, an admin", mayManage(room(priv, false), admin, "renamed"), protocol.CodeNotFound},
		{"archive, the creator", mayManage(by(room(priv, true), alice), alice, "archived"), ""},
		{"archive, not the creator", mayManage(by(room(priv, true), alice), bob, "archived"), protocol.CodeForbidden},
		{"unarchive, the creator", mayManage(archived(by(room(pub, true), alice)), alice, "unarchived"), ""},
		// Group direct messages: 2 to 7 others, each once, none disabled.
		{"group dm of 3", mayGroupDM(alice, []string{"u_b", "u_c"}, nil), ""},
		{"group dm of 8", mayGroupDM(alice, []string{"u_1", "u_2", "u_3", "u_4", "u_5", "u_6", "u_7"}, nil), ""},
		{"group dm of 2", mayGroupDM(alice, []string{"u_b"}, nil), protocol.CodeBadRequest},
		{"group dm of 9", mayGroupDM(alice, []string{"u_1", "u_2", "u_3", "u_4", "u_5", "u_6", "u_7", "u_8"}, nil), protocol.CodeBadRequest},
		{"group dm naming oneself", mayGroupDM(alice, []string{"u_b", alice.ID}, nil), protocol.CodeBadRequest},
		{"group dm naming someone twice", mayGroupDM(alice, []string{"u_b", "u_c", "u_b"}, nil), protocol.CodeBadRequest},
		{"group dm with a disabled account", mayGroupDM(alice, []string{"u_b", "u_c"}, []store.Account{{User: bob}, {User: protocol.User{ID: "u_c"}, Disabled: true}}), protocol.CodeForbidden},
		// Signing in: not while disabled.
		{"sign in", maySignIn(store.Account{User: alice}), ""},
		{"sign in, disabled", maySignIn(store.Account{User: alice, Disabled: true}), protocol.CodeForbidden},
		// Signing up, on an instance with accounts (the first is always
		// allowed): by mode, and in invite mode with the current code.
		{"sign up, open", mayRegister(RegistrationOpen, "", ""), ""},
		{"sign up, invite, the code", mayRegister(RegistrationInvite, "c0de", "c0de"), ""},
		{"sign up, invite, no code", mayRegister(RegistrationInvite, "", "c0de"), protocol.CodeInviteRequired},
		{"sign up, invite, another code", mayRegister(RegistrationInvite, "old", "c0de"), protocol.CodeInviteRequired},
		{"sign up, invite, none made yet", mayRegister(RegistrationInvite, "", ""), protocol.CodeInviteRequired},
		{"sign up, closed", mayRegister(RegistrationClosed, "c0de", "c0de"), protocol.CodeForbidden},
		// The invitation link: admins only.
		{"invitation link, admin", mayShareSignUp(admin), ""},
		{"invitation link, member", mayShareSignUp(alice), protocol.CodeForbidden},
		// Sessions: one's own only; another's is not found.
		{"end own session", mayEndSession(store.Session{User: alice}, alice), ""},
		{"end another's session", mayEndSession(store.Session{User: bob}, alice), protocol.CodeNotFound},
		// Uploads: within the quota, to the byte.
		{"upload within the quota", mayUpload(60, 40, 100), ""},
		{"upload past the quota", mayUpload(60, 41, 100), protocol.CodeQuotaExceeded},
		{"upload without a quota", mayUpload(1<<40, 1, 0), ""},
		// Administration: an enabled administrator's; the last one stays.
		{"an admin administers", mayAdminister(acct(protocol.RoleAdmin, false)), ""},
		{"a member does not", mayAdminister(acct(protocol.RoleMember, false)), protocol.CodeForbidden},
		{"a disabled admin does not", mayAdminister(acct(protocol.RoleAdmin, true)), protocol.CodeForbidden},
		{"the last admin stays", mayDropAdmin(acct(protocol.RoleAdmin, false), 1), protocol.CodeConflict},
		{"one of two admins may go", mayDropAdmin(acct(protocol.RoleAdmin, false), 2), ""},
		{"a member may be disabled beside one admin", mayDropAdmin(acct(protocol.RoleMember, false), 1), ""},
		{"a disabled admin does not count", mayDropAdmin(acct(protocol.RoleAdmin, true), 1), ""},
		{"registration open", checkRegistration(RegistrationOpen), ""},
		{"registration invite", checkRegistration(RegistrationInvite), ""},
		{"registration closed", checkRegistration(RegistrationClosed), ""},
		{"registration unknown", checkRegistration("sometimes"), protocol.CodeBadRequest},
		// Tokens and bots: scopes; a bot is its owner's and the admins'.
		{"a read token reads", CheckScope(protocol.ScopeRead, false), ""},
		{"a read token cannot write", CheckScope(protocol.ScopeRead, true), protocol.CodeForbidden},
		{"a write token writes", CheckScope(protocol.ScopeWrite, true), ""},
		{"a session writes", CheckScope("", true), ""},
		{"a token cannot manage tokens", CheckSignedIn(protocol.ScopeWrite), protocol.CodeForbidden},
		{"a session manages tokens", CheckSignedIn(""), ""},
		{"the owner manages the bot", mayManageBot(bot, admin), ""},
		{"another admin manages the bot", mayManageBot(bot, otherAdmin), ""},
		{"a member does not see the bot", mayManageBot(bot, alice), protocol.CodeNotFound},
		{"admins create bots", mayCreateBot(admin), ""},
		{"members do not", mayCreateBot(alice), protocol.CodeForbidden},
		{"bots do not sign in", maySignIn(store.Account{User: bot.User}), protocol.CodeForbidden},
		{"a webhook over https", checkWebhookURL("https://bots.example.com/hook"), ""},
		{"no webhook", checkWebhookURL(""), ""},
		{"a webhook over ftp", checkWebhookURL("ftp://example.com/"), protocol.CodeBadRequest},
		{"a webhook with credentials", checkWebhookURL("https://u:p@example.com/"), protocol.CodeBadRequest},
		{"a relative webhook", checkWebhookURL("/hook"), protocol.CodeBadRequest},
		// Push endpoints: https URLs of public hosts.
		{"push to a push service", mayPushTo("https://push.example.com/send/abc", false), ""},
		{"push over http", mayPushTo("http://push.example.com/send/abc", false), protocol.CodeBadRequest},
		{"push over http, insecure", mayPushTo("http://push.example.com/send/abc", true), ""},
		{"push to a private address", mayPushTo("https://127.0.0.1/send", false), protocol.CodeBadRequest},
		{"push to no endpoint", mayPushTo("", false), protocol.CodeBadRequest},
	}
	for _, r := range rows {
		got := ""
		if r.err != nil {
			got = protocol.ErrorCode(r.err)
		}
		if got != r.want {
			t.Errorf("%s: %q (%v), want %q", r.rule, got, r.err, r.want)
		}
	}

	// The rules that answer a value.
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	session := func(created, seen time.Duration) store.Session {
		return store.Session{CreatedAt: now.Add(created), LastSeen: now.Add(seen)}
	}
	for _, c := range []struct {
		rule      string
		got, want any
	}{
		{"a file, its uploader", mayReadFile(file, alice.ID, false), true},
		{"a file, posted where the reader is", mayReadFile(file, bob.ID, true), true},
		{"a file, not posted where the reader is", mayReadFile(file, bob.ID, false), false},
		{"the first account's role", role(true, false), protocol.RoleAdmin},
		{"a later account's role", role(false, false), protocol.RoleMember},
		{"an account made admin", role(false, true), protocol.RoleAdmin},
		{"what a user may see", scope(alice), store.Scope{UserID: alice.ID, Public: true}},
		{"a DM's key", conversationKey([]string{"u_b", "u_a"}), "u_a|u_b"},
		{"a token without expiry", TokenExpired(store.APIToken{}, now), false},
		{"a token at its expiry", TokenExpired(store.APIToken{Expires: now}, now), true},
		{"a token before its expiry", TokenExpired(store.APIToken{Expires: now.Add(time.Second)}, now), false},
		{"a session in use", SessionExpired(session(-time.Hour, -time.Minute), now, time.Hour, 24*time.Hour), false},
		{"a session idle too long", SessionExpired(session(-3*time.Hour, -2*time.Hour), now, time.Hour, 24*time.Hour), true},
		{"a session too old", SessionExpired(session(-25*time.Hour, -time.Second), now, time.Hour, 24*time.Hour), true},
		{"a session without bounds", SessionExpired(session(-1e6*time.Hour, -1e5*time.Hour), now, -1, -1), false},
		{"a DM's key, from the other side", conversationKey([]string{"u_a", "u_b"}), "u_a|u_b"},
		{"joined", joinedText("alice"), "alice joined"},
		{"left", leftText("alice"), "alice left"},
		{"created", createdText("alice"), "alice created the room"},
		{"a group's key, whoever asks", conversationKey([]string{"u_c", "u_a", "u_b"}), "u_a|u_b|u_c"},
		{"topic set", topicText("alice", "Ship it"), "alice set the topic: Ship it"},
		{"topic cleared", topicText("alice", ""), "alice cleared the topic"},
		{"renamed", renamedText("alice", "plans", "roadmap"), "alice renamed the room from plans to roadmap"},
		{"archived", archivedText("alice", true), "alice archived the room"},
		{"unarchived", archivedText("alice", false), "alice unarchived the room"},
	} {
		if c.got != c.want {
			t.Errorf("%s: %v, want %v", c.rule, c.got, c.want)
		}
	}
}

// TestMentions checks Mentions against the one table of what a mention
// is, which the store's mentions count answers to as well (storetest).
func TestMentions(t *testing.T) {
	for _, c := range storetest.MentionCases {
		if got := Mentions(c.Text, c.Name); got != c.Mention {
			t.Errorf("Mentions(%q, %q) = %v, want %v", c.Text, c.Name, got, c.Mention)
		}
		if c.Mention && !c.Counted {
			t.Errorf("%q for %s: a mention the store's count would miss", c.Text, c.Name)
		}
	}
}
