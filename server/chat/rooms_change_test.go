package chat_test

import (
	"testing"

	"minichat/server/chat"
	"minichat/server/protocol"
)

func TestTopicRenameArchive(t *testing.T) {
	onBoth(t, func(t *testing.T, e *env) {
		admin, alice, bob := e.account("root"), e.account("alice"), e.account("bob")
		pub, err := e.c.CreateRoom(e.ctx, alice, "plans", false)
		e.wantCode("CreateRoom", err, "")
		if pub.CreatedBy != alice.ID {
			t.Fatalf("created_by = %q, want alice", pub.CreatedBy)
		}
		_, err = e.c.Join(e.ctx, bob, pub.ID)
		e.wantCode("Join", err, "")
		msg, err := e.c.Send(e.ctx, bob, chat.SendParams{Room: pub.ID, Text: "hello", ClientID: "c1"})
		e.wantCode("Send", err, "")
		e.events()

		// A topic: any member; cleaned; a system message; the same again
		// changes nothing.
		r, err := e.c.SetTopic(e.ctx, bob, pub.ID, "  Ship\tit\nby Friday  ")
		if err != nil || r.Topic != "Ship it by Friday" {
			t.Fatalf("SetTopic = %+v, %v", r, err)
		}
		e.wantEvents("SetTopic", "message bob set the topic: Ship it by Friday")
		_, err = e.c.SetTopic(e.ctx, bob, pub.ID, "Ship it by Friday")
		e.wantCode("SetTopic(same)", err, "")
		e.wantEvents("SetTopic(same)")
		long := make([]rune, protocol.MaxTopicChars+1)
		for i := range long {
			long[i] = 'x'
		}
		_, err = e.c.SetTopic(e.ctx, bob, pub.ID, string(long))
		e.wantCode("SetTopic(too long)", err, protocol.CodeTooLarge)
		_, err = e.c.SetTopic(e.ctx, e.account("carol"), pub.ID, "not mine")
		e.wantCode("SetTopic(not a member)", err, protocol.CodeForbidden)
		e.events()

		// The topic change replays after a reconnect, and is in history.
		evs, _, err := e.c.Replay(e.ctx, alice, pub.ID, msg.Seq, 100)
		if err != nil || len(evs) != 1 || evs[0].Message.Kind != protocol.KindSystem || evs[0].Message.Text != "bob set the topic: Ship it by Friday" {
			t.Fatalf("Replay after the send = %+v, %v", evs, err)
		}
		hist, _, err := e.c.History(e.ctx, alice, pub.ID, 0, 10)
		if err != nil || hist[len(hist)-1].Text != "bob set the topic: Ship it by Friday" {
			t.Fatalf("History = %+v, %v", hist, err)
		}

		// Renaming: not by a member who did not create the room.
		_, err = e.c.Rename(e.ctx, bob, pub.ID, "roadmap")
		e.wantCode("Rename(not the creator)", err, protocol.CodeForbidden)
		e.wantEvents("Rename refused")
		if got, _ := e.c.Rooms(e.ctx, bob); !hasRoom(got, pub.ID, "plans") {
			t.Fatalf("a refused rename changed the room: %+v", got)
		}
		r, err = e.c.Rename(e.ctx, alice, pub.ID, "roadmap")
		if err != nil || r.ID != pub.ID || r.Name != "roadmap" {
			t.Fatalf("Rename = %+v, %v", r, err)
		}
		e.wantEvents("Rename", "message alice renamed the room from plans to roadmap")
		_, err = e.c.Rename(e.ctx, admin, pub.ID, "General")
		e.wantCode("Rename(taken)", err, protocol.CodeConflict)
		_, err = e.c.Rename(e.ctx, admin, pub.ID, "bad name")
		e.wantCode("Rename(bad name)", err, protocol.CodeBadRequest)
		_, err = e.c.Rename(e.ctx, admin, pub.ID, "Roadmap")
		e.wantCode("Rename(case only, admin)", err, "")
		e.events()

		// Archiving: read-only until unarchived.
		_, err = e.c.Archive(e.ctx, bob, pub.ID, true)
		e.wantCode("Archive(not the creator)", err, protocol.CodeForbidden)
		r, err = e.c.Archive(e.ctx, alice, pub.ID, true)
		if err != nil || !r.Archived {
			t.Fatalf("Archive = %+v, %v", r, err)
		}
		e.wantEvents("Archive", "message alice archived the room")
		_, err = e.c.Send(e.ctx, bob, chat.SendParams{Room: pub.ID, Text: "anyone?"})
		e.wantCode("Send(archived)", err, protocol.CodeArchived)
		again, err := e.c.Send(e.ctx, bob, chat.SendParams{Room: pub.ID, Text: "hello", ClientID: "c1"})
		if err != nil || again.ID != msg.ID {
			t.Fatalf("a retry of a message stored before the archive = %+v, %v", again, err)
		}
		_, err = e.c.Edit(e.ctx, bob, pub.ID, msg.ID, "edited")
		e.wantCode("Edit(archived)", err, protocol.CodeArchived)
		_, err = e.c.SetTopic(e.ctx, bob, pub.ID, "new")
		e.wantCode("SetTopic(archived)", err, protocol.CodeArchived)
		dir, _, err := e.c.Directory(e.ctx, bob, "", "", 50)
		e.wantCode("Directory", err, "")
		for _, d := range dir {
			if d.ID == pub.ID {
				t.Fatal("an archived room is listed in the directory")
			}
		}
		e.wantEvents("refused while archived")
		_, err = e.c.Archive(e.ctx, admin, pub.ID, false)
		e.wantCode("Unarchive(admin)", err, "")
		e.wantEvents("Unarchive", "message root unarchived the room")
		_, err = e.c.Send(e.ctx, bob, chat.SendParams{Room: pub.ID, Text: "back"})
		e.wantCode("Send(unarchived)", err, "")

		// Direct-message rooms are nobody's to rename.
		dm, err := e.c.DM(e.ctx, alice, "bob")
		e.wantCode("DM", err, "")
		_, err = e.c.Rename(e.ctx, admin, dm.ID, "x")
		e.wantCode("Rename(dm, not a member)", err, protocol.CodeNotFound)
		_, err = e.c.Archive(e.ctx, alice, dm.ID, true)
		e.wantCode("Archive(dm)", err, protocol.CodeForbidden)

		// Members: those who may see the room, paged by name.
		users, next, err := e.c.Members(e.ctx, bob, pub.ID, "", 1)
		if err != nil || len(users) != 1 || users[0].Name != "alice" || next != "alice" {
			t.Fatalf("Members page 1 = %+v %q %v", users, next, err)
		}
		users, next, err = e.c.Members(e.ctx, bob, pub.ID, next, 5)
		if err != nil || len(users) != 1 || users[0].Name != "bob" || next != "" {
			t.Fatalf("Members page 2 = %+v %q %v", users, next, err)
		}
		priv, _ := e.c.CreateRoom(e.ctx, alice, "secret", true)
		_, _, err = e.c.Members(e.ctx, bob, priv.ID, "", 0)
		e.wantCode("Members(private, not a member)", err, protocol.CodeNotFound)
		_, _, err = e.c.Members(e.ctx, bob, pub.ID, "", protocol.MaxMembersPage+1)
		e.wantCode("Members(limit too large)", err, protocol.CodeBadRequest)
	})
}

func hasRoom(rs []protocol.Room, id, name string) bool {
	for _, r := range rs {
		if r.ID == id {
			return r.Name == name
		}
	}
	return false
}

func TestGroupDM(t *testing.T) {
	onBoth(t, func(t *testing.T, e *env) {
		var users []protocol.User
		for _, n := range []string{"alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan"} {
			users = append(users, e.account(n))
		}
		alice, bob, carol, dave := users[0], users[1], users[2], users[3]
		ids := func(us ...protocol.User) []string {
			var out []string
			for _, u := range us {
				out = append(out, u.ID)
			}
			return out
		}
		e.events()
		g, err := e.c.GroupDM(e.ctx, alice, ids(bob, carol))
		if err != nil || g.Kind != protocol.RoomDM || g.Name != "bob, carol" || g.Members != 3 {
			t.Fatalf("GroupDM = %+v, %v", g, err)
		}
		e.wantEvents("GroupDM", "member bob, carol joined=true created", "member alice, carol joined=true", "member alice, bob joined=true")
		// One room per set of people, whoever asks, in any order.
		again, err := e.c.GroupDM(e.ctx, carol, ids(bob, alice))
		if err != nil || again.ID != g.ID || again.Name != "alice, bob" {
			t.Fatalf("GroupDM again from carol = %+v, %v", again, err)
		}
		e.wantEvents("GroupDM again")
		other, err := e.c.GroupDM(e.ctx, alice, ids(bob, carol, dave))
		if err != nil || other.ID == g.ID {
			t.Fatalf("GroupDM of four = %+v, %v", other, err)
		}
		// Everyone in it can post; nobody can leave or be invited.
		for _, u := range []protocol.User{alice, bob, carol} {
			_, err := e.c.Send(e.ctx, u, chat.SendParams{Room: g.ID, Text: "hi from " + u.Name})
			e.wantCode("Send in the group", err, "")
		}
		_, err = e.c.Send(e.ctx, dave, chat.SendParams{Room: g.ID, Text: "let me in"})
		e.wantCode("Send(not in the group)", err, protocol.CodeNotFound)
		e.wantCode("Leave(group)", e.c.Leave(e.ctx, bob, g.ID), protocol.CodeForbidden)
		e.wantCode("Invite(group)", e.c.Invite(e.ctx, bob, g.ID, "dave"), protocol.CodeForbidden)

		// 3 to 8 people in all.
		_, err = e.c.GroupDM(e.ctx, alice, ids(users[1:8]...))
		e.wantCode("GroupDM of 8", err, "")
		_, err = e.c.GroupDM(e.ctx, alice, ids(users[1:9]...))
		e.wantCode("GroupDM of 9", err, protocol.CodeBadRequest)
		_, err = e.c.GroupDM(e.ctx, alice, ids(bob))
		e.wantCode("GroupDM of 2", err, protocol.CodeBadRequest)
		_, err = e.c.GroupDM(e.ctx, alice, ids(bob, bob))
		e.wantCode("GroupDM naming bob twice", err, protocol.CodeBadRequest)
		_, err = e.c.GroupDM(e.ctx, alice, ids(bob, alice))
		e.wantCode("GroupDM naming oneself", err, protocol.CodeBadRequest)
		_, err = e.c.GroupDM(e.ctx, alice, []string{bob.ID, "u_nobody"})
		e.wantCode("GroupDM naming nobody", err, protocol.CodeNotFound)
		_, _, err = e.c.SetDisabled(e.ctx, "dave", true)
		e.wantCode("SetDisabled", err, "")
		_, err = e.c.GroupDM(e.ctx, alice, ids(bob, dave))
		e.wantCode("GroupDM with a disabled account", err, protocol.CodeForbidden)
		e.events()
	})
}
