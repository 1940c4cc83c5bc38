package storetest

import (
	"bytes"
	"errors"
	"slices"
	"testing"

	"minichat/server/protocol"
	"minichat/server/store"
)

func testUsers(t *testing.T, e *env) {
	alice := e.user("alice")
	if alice.Role != protocol.RoleAdmin {
		t.Fatalf("first user role %q, want admin", alice.Role)
	}
	if len(alice.ID) < 3 || alice.ID[:2] != "u_" || alice.Name != "alice" {
		t.Fatalf("first user %+v", alice)
	}
	bob := e.user("Bob")
	if bob.Role != protocol.RoleMember {
		t.Fatalf("second user role %q, want member", bob.Role)
	}
	boss, err := e.s.CreateUser(e.ctx, store.NewUser{Name: "boss", PasswordHash: "h", Admin: true})
	must(t, "CreateUser(admin)", err)
	if boss.Role != protocol.RoleAdmin {
		t.Fatalf("Admin forced role %q", boss.Role)
	}

	for _, name := range []string{"ALICE", "bob", "Alice"} {
		_, err := e.s.CreateUser(e.ctx, store.NewUser{Name: name, PasswordHash: "h"})
		wantErr(t, "CreateUser("+name+")", err, store.ErrConflict)
	}

	u, hash, err := e.s.UserByName(e.ctx, "BOB")
	must(t, "UserByName", err)
	if u != bob || hash != "hash-of-Bob" {
		t.Fatalf("UserByName(BOB) = %+v %q, want %+v", u, hash, bob)
	}
	_, _, err = e.s.UserByName(e.ctx, "carol")
	wantErr(t, "UserByName(unknown)", err, store.ErrNotFound)

	u, err = e.s.UserByID(e.ctx, alice.ID)
	must(t, "UserByID", err)
	if u != alice {
		t.Fatalf("UserByID = %+v, want %+v", u, alice)
	}
	_, err = e.s.UserByID(e.ctx, "u_nobody")
	wantErr(t, "UserByID(unknown)", err, store.ErrNotFound)

	users, err := e.s.Users(e.ctx)
	must(t, "Users", err)
	if want := []protocol.User{alice, bob, boss}; !slices.Equal(users, want) {
		t.Fatalf("Users = %+v, want %+v (by name, case-insensitively)", users, want)
	}

	must(t, "SetPassword", e.s.SetPassword(e.ctx, bob.ID, "new-hash"))
	if _, hash, _ = e.s.UserByName(e.ctx, "bob"); hash != "new-hash" {
		t.Fatalf("hash after SetPassword = %q", hash)
	}
	wantErr(t, "SetPassword(unknown)", e.s.SetPassword(e.ctx, "u_nobody", "h"), store.ErrNotFound)

	// Every user is a member of general.
	for _, u := range []protocol.User{alice, bob, boss} {
		g := e.general(u)
		ok, err := e.s.IsMember(e.ctx, g.ID, u.ID)
		must(t, "IsMember", err)
		if !ok || !g.Member {
			t.Fatalf("%s not a member of general: %+v", u.Name, g)
		}
		ids, err := e.s.MemberRoomIDs(e.ctx, u.ID)
		must(t, "MemberRoomIDs", err)
		if !slices.Equal(ids, []string{g.ID}) {
			t.Fatalf("MemberRoomIDs(%s) = %v, want [%s]", u.Name, ids, g.ID)
		}
	}
	if g := e.general(alice); g.Members != 3 {
		t.Fatalf("general has %d members, want 3", g.Members)
	}
}

func testFirstUserEvents(t *testing.T, e *env) {
	alice := e.user("alice")
	evs := e.rec.take()
	wantEvents(t, evs, "member joined", "message system alice joined")
	g := e.general(alice)
	m := evs[0]
	if m.RoomID != g.ID || m.UserID != alice.ID || !m.Room.Member || m.Room.ID != g.ID || m.Room.Name != protocol.DefaultRoom {
		t.Fatalf("member event %+v", m)
	}
	sys := evs[1]
	if sys.RoomID != g.ID || sys.Seq != 1 || sys.Message.Seq != 1 || sys.Message.Sender != nil ||
		sys.Message.Kind != protocol.KindSystem || sys.Message.Room != g.ID || sys.Message.ID[:2] != "m_" {
		t.Fatalf("system message event %+v", sys)
	}
	if _, err := protocolTime(sys.Message.TS); err != nil {
		t.Fatalf("ts %q: %v", sys.Message.TS, err)
	}
	if g.LastSeq != 1 {
		t.Fatalf("general last_seq %d, want 1", g.LastSeq)
	}
	// The general room exists before any user, from the first open.
	bob := e.user("bob")
	if e.general(bob).ID != g.ID {
		t.Fatal("general room changed id")
	}
}

func testSessions(t *testing.T, e *env) {
	alice := e.user("alice")
	bob := e.user("bob")
	tok1, tok2, tok3 := []byte("token-1"), []byte("token-2"), []byte("token-3")
	s1, err := e.s.CreateSession(e.ctx, alice.ID, tok1)
	must(t, "CreateSession", err)
	if s1.ID[:2] != "s_" || s1.User != alice || s1.CreatedAt.IsZero() {
		t.Fatalf("session %+v", s1)
	}
	s2, err := e.s.CreateSession(e.ctx, alice.ID, tok2)
	must(t, "CreateSession", err)
	s3, err := e.s.CreateSession(e.ctx, bob.ID, tok3)
	must(t, "CreateSession", err)

	got, err := e.s.SessionByToken(e.ctx, bytes.Clone(tok1))
	must(t, "SessionByToken", err)
	if got.ID != s1.ID || got.User != alice || !got.CreatedAt.Equal(s1.CreatedAt) {
		t.Fatalf("SessionByToken = %+v, want %+v", got, s1)
	}
	_, err = e.s.SessionByToken(e.ctx, []byte("nope"))
	wantErr(t, "SessionByToken(unknown)", err, store.ErrNotFound)

	must(t, "DeleteSession", e.s.DeleteSession(e.ctx, s1.ID))
	_, err = e.s.SessionByToken(e.ctx, tok1)
	wantErr(t, "SessionByToken(deleted)", err, store.ErrNotFound)
	wantErr(t, "DeleteSession(again)", e.s.DeleteSession(e.ctx, s1.ID), store.ErrNotFound)

	s4, err := e.s.CreateSession(e.ctx, alice.ID, []byte("token-4"))
	must(t, "CreateSession", err)
	ids, err := e.s.DeleteUserSessions(e.ctx, alice.ID)
	must(t, "DeleteUserSessions", err)
	slices.Sort(ids)
	want := []string{s2.ID, s4.ID}
	slices.Sort(want)
	if !slices.Equal(ids, want) {
		t.Fatalf("DeleteUserSessions = %v, want %v", ids, want)
	}
	for _, tok := range [][]byte{tok2, []byte("token-4")} {
		_, err = e.s.SessionByToken(e.ctx, tok)
		wantErr(t, "SessionByToken(after delete-all)", err, store.ErrNotFound)
	}
	if got, err := e.s.SessionByToken(e.ctx, tok3); err != nil || got.ID != s3.ID {
		t.Fatalf("other user's session after delete-all: %+v, %v", got, err)
	}
	ids, err = e.s.DeleteUserSessions(e.ctx, alice.ID)
	must(t, "DeleteUserSessions(none)", err)
	if len(ids) != 0 {
		t.Fatalf("DeleteUserSessions(none) = %v", ids)
	}
	if len(e.rec.take()) != 4 { // the two users' joins only
		t.Fatal("sessions produced events")
	}
}

func testDisableUser(t *testing.T, e *env) {
	alice := e.user("alice")
	bob := e.user("bob")
	g := e.general(bob)
	msg := e.send(bob, g.ID, "before")
	s1, err := e.s.CreateSession(e.ctx, bob.ID, []byte("bob-1"))
	must(t, "CreateSession", err)
	s2, err := e.s.CreateSession(e.ctx, bob.ID, []byte("bob-2"))
	must(t, "CreateSession", err)
	sa, err := e.s.CreateSession(e.ctx, alice.ID, []byte("alice-1"))
	must(t, "CreateSession", err)
	e.rec.take()

	ids, err := e.s.DisabledUserIDs(e.ctx)
	must(t, "DisabledUserIDs", err)
	if len(ids) != 0 {
		t.Fatalf("DisabledUserIDs before any disable = %v", ids)
	}
	live, err := e.s.LiveSessionIDs(e.ctx, []string{s1.ID, "s_unknown", s2.ID, sa.ID})
	must(t, "LiveSessionIDs", err)
	slices.Sort(live)
	wantLive := []string{s1.ID, s2.ID, sa.ID}
	slices.Sort(wantLive)
	if !slices.Equal(live, wantLive) {
		t.Fatalf("LiveSessionIDs = %v, want %v", live, wantLive)
	}

	// Disabling revokes every session of the user, and only theirs.
	revoked, err := e.s.SetUserDisabled(e.ctx, bob.ID, true)
	must(t, "SetUserDisabled(true)", err)
	slices.Sort(revoked)
	want := []string{s1.ID, s2.ID}
	slices.Sort(want)
	if !slices.Equal(revoked, want) {
		t.Fatalf("SetUserDisabled revoked %v, want %v", revoked, want)
	}
	for _, tok := range []string{"bob-1", "bob-2"} {
		_, err := e.s.SessionByToken(e.ctx, []byte(tok))
		wantErr(t, "SessionByToken(disabled user)", err, store.ErrNotFound)
	}
	if got, err := e.s.SessionByToken(e.ctx, []byte("alice-1")); err != nil || got.ID != sa.ID {
		t.Fatalf("another user's session after disable: %+v, %v", got, err)
	}
	// A disabled user cannot sign in.
	_, err = e.s.CreateSession(e.ctx, bob.ID, []byte("bob-3"))
	wantErr(t, "CreateSession(disabled)", err, store.ErrForbidden)
	if _, err := e.s.SessionByToken(e.ctx, []byte("bob-3")); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("refused session was stored: %v", err)
	}
	ids, err = e.s.DisabledUserIDs(e.ctx)
	must(t, "DisabledUserIDs", err)
	if !slices.Equal(ids, []string{bob.ID}) {
		t.Fatalf("DisabledUserIDs = %v, want [%s]", ids, bob.ID)
	}
	// Revoked sessions are no longer live; the others are.
	if live, err := e.s.LiveSessionIDs(e.ctx, []string{s1.ID, s2.ID, sa.ID}); err != nil || !slices.Equal(live, []string{sa.ID}) {
		t.Fatalf("LiveSessionIDs after disable = %v, %v; want [%s]", live, err, sa.ID)
	}
	if live, err := e.s.LiveSessionIDs(e.ctx, nil); err != nil || len(live) != 0 {
		t.Fatalf("LiveSessionIDs(nil) = %v, %v", live, err)
	}
	// Disabling again is not an error and has nothing left to revoke.
	revoked, err = e.s.SetUserDisabled(e.ctx, bob.ID, true)
	must(t, "SetUserDisabled(true) again", err)
	if len(revoked) != 0 {
		t.Fatalf("second disable revoked %v", revoked)
	}
	// The account and what it wrote are kept.
	if u, hash, err := e.s.UserByName(e.ctx, "bob"); err != nil || u != bob || hash != "hash-of-bob" {
		t.Fatalf("UserByName(disabled) = %+v %q %v", u, hash, err)
	}
	if h, _, err := e.s.History(e.ctx, g.ID, 0, 10); err != nil || !slices.ContainsFunc(h, func(m protocol.Message) bool { return m.ID == msg.ID }) {
		t.Fatalf("history of a disabled user's room lost their message: %v", err)
	}
	if len(e.rec.take()) != 0 {
		t.Fatal("disabling produced events")
	}

	// The state survives a reopen.
	e.reopen()
	_, err = e.s.CreateSession(e.ctx, bob.ID, []byte("bob-4"))
	wantErr(t, "CreateSession(disabled, after reopen)", err, store.ErrForbidden)

	// Enabling lets the user sign in again.
	revoked, err = e.s.SetUserDisabled(e.ctx, bob.ID, false)
	must(t, "SetUserDisabled(false)", err)
	if len(revoked) != 0 {
		t.Fatalf("enable revoked %v", revoked)
	}
	s5, err := e.s.CreateSession(e.ctx, bob.ID, []byte("bob-5"))
	must(t, "CreateSession(enabled again)", err)
	if got, err := e.s.SessionByToken(e.ctx, []byte("bob-5")); err != nil || got.ID != s5.ID || got.User != bob {
		t.Fatalf("session after enable: %+v, %v", got, err)
	}
	ids, err = e.s.DisabledUserIDs(e.ctx)
	must(t, "DisabledUserIDs", err)
	if len(ids) != 0 {
		t.Fatalf("DisabledUserIDs after enable = %v", ids)
	}

	_, err = e.s.SetUserDisabled(e.ctx, "u_nobody", true)
	wantErr(t, "SetUserDisabled(unknown)", err, store.ErrNotFound)
}
