package storetest

import (
	"fmt"
	"testing"
	"time"

	"minichat/server/protocol"
	"minichat/server/store"
)

// protocolTime parses a wire timestamp and checks it comes from the suite's
// clock.
func protocolTime(s string) (time.Time, error) {
	ts, err := time.Parse(protocol.TimeFormat, s)
	if err != nil {
		return ts, err
	}
	if ts.Before(clockStart) || ts.After(clockStart.Add(time.Hour)) {
		return ts, fmt.Errorf("%s is not from Options.Now (%s)", s, protocol.FormatTime(clockStart))
	}
	return ts, nil
}

func testCreateRoom(t *testing.T, e *env) {
	alice := e.user("alice")
	e.rec.take()
	r := e.room(alice, "Design", protocol.RoomPublic)
	if r.ID[:2] != "r_" || r.Name != "Design" || r.Kind != protocol.RoomPublic || !r.Member ||
		r.Members != 1 || r.LastSeq != 1 || r.Unread != 0 {
		t.Fatalf("created room %+v", r)
	}
	evs := e.rec.take()
	wantEvents(t, evs, "member joined created", "message system alice created the room")
	if evs[0].UserID != alice.ID || evs[0].Room.ID != r.ID || !evs[0].Room.Member || evs[1].Seq != 1 || evs[1].RoomID != r.ID {
		t.Fatalf("create events %+v", evs)
	}

	p := e.room(alice, "secret", protocol.RoomPrivate)
	if p.Kind != protocol.RoomPrivate || !p.Member || p.Members != 1 {
		t.Fatalf("private room %+v", p)
	}
	for _, name := range []string{"design", "DESIGN", "Secret", "GENERAL"} {
		for _, kind := range []string{protocol.RoomPublic, protocol.RoomPrivate} {
			_, err := e.s.CreateRoom(e.ctx, alice.ID, name, kind)
			wantErr(t, "CreateRoom("+name+", "+kind+")", err, store.ErrConflict)
		}
	}
	_, err := e.s.CreateRoom(e.ctx, alice.ID, "dms", protocol.RoomDM)
	wantErr(t, "CreateRoom(kind dm)", err, store.ErrInvalid)
	e.rec.take()
	_, err = e.s.CreateRoom(e.ctx, "u_nobody", "orphan", protocol.RoomPublic)
	wantErr(t, "CreateRoom(unknown creator)", err, store.ErrNotFound)
	if evs := e.rec.take(); len(evs) != 0 {
		t.Fatalf("failed creates produced events %q", describe(evs))
	}
}

func testVisibility(t *testing.T, e *env) {
	alice := e.user("alice")
	bob := e.user("bob")
	pub := e.room(alice, "pub", protocol.RoomPublic)
	priv := e.room(alice, "priv", protocol.RoomPrivate)
	dm, err := e.s.DM(e.ctx, alice.ID, bob.ID)
	must(t, "DM", err)
	carol := e.user("carol")

	if r := e.roomOf(pub.ID, bob); r.Member || r.Members != 1 || r.Name != "pub" {
		t.Fatalf("public room as a non-member: %+v", r)
	}
	_, err = e.s.Room(e.ctx, priv.ID, bob.ID)
	wantErr(t, "Room(private, non-member)", err, store.ErrNotFound)
	_, err = e.s.Room(e.ctx, dm.ID, carol.ID)
	wantErr(t, "Room(dm, non-member)", err, store.ErrNotFound)
	_, err = e.s.Room(e.ctx, "r_nothing", alice.ID)
	wantErr(t, "Room(unknown)", err, store.ErrNotFound)
	if r := e.roomOf(priv.ID, alice); !r.Member {
		t.Fatalf("private room as its member: %+v", r)
	}
	if r := e.roomOf(dm.ID, bob); r.Name != "alice" || r.Kind != protocol.RoomDM {
		t.Fatalf("dm as bob: %+v", r)
	}
	rooms, err := e.s.Rooms(e.ctx, carol.ID)
	must(t, "Rooms", err)
	for _, r := range rooms {
		if r.ID == priv.ID || r.ID == dm.ID {
			t.Fatalf("Rooms(carol) lists %+v", r)
		}
	}
}

func testRoomsListing(t *testing.T, e *env) {
	alice := e.user("alice")
	bob := e.user("bob")
	carol := e.user("carol")
	zed := e.room(alice, "zed", protocol.RoomPublic)
	apple := e.room(bob, "Apple", protocol.RoomPublic)
	priv := e.room(alice, "priv", protocol.RoomPrivate)
	_ = e.room(bob, "bobs", protocol.RoomPrivate) // invisible to alice
	dmCarol, err := e.s.DM(e.ctx, alice.ID, carol.ID)
	must(t, "DM", err)
	dmBob, err := e.s.DM(e.ctx, bob.ID, alice.ID)
	must(t, "DM", err)
	g := e.general(alice)

	e.send(bob, g.ID, "hello")
	e.send(alice, g.ID, "hi") // own messages are never unread
	e.send(bob, dmBob.ID, "psst")
	e.send(bob, apple.ID, "apples") // alice is not a member: no unread

	rooms, err := e.s.Rooms(e.ctx, alice.ID)
	must(t, "Rooms", err)
	type row struct {
		id, name, kind  string
		member          bool
		members         int
		unread, lastSeq int64
	}
	want := []row{
		{apple.ID, "Apple", protocol.RoomPublic, false, 1, 0, 2},
		{g.ID, "general", protocol.RoomPublic, true, 3, 1, g.LastSeq + 2},
		{zed.ID, "zed", protocol.RoomPublic, true, 1, 0, 1},
		{priv.ID, "priv", protocol.RoomPrivate, true, 1, 0, 1},
		{dmBob.ID, "bob", protocol.RoomDM, true, 2, 1, 1},
		{dmCarol.ID, "carol", protocol.RoomDM, true, 2, 0, 0},
	}
	if len(rooms) != len(want) {
		t.Fatalf("Rooms(alice) = %+v, want %d rooms", rooms, len(want))
	}
	for i, r := range rooms {
		got := row{r.ID, r.Name, r.Kind, r.Member, r.Members, r.Unread, r.LastSeq}
		if got != want[i] {
			t.Errorf("Rooms(alice)[%d] = %+v, want %+v", i, got, want[i])
		}
	}
	// The DM's name is the other user's, as each viewer sees it.
	if r := e.roomOf(dmBob.ID, bob); r.Name != "alice" || r.Unread != 0 {
		t.Fatalf("dm as bob: %+v", r)
	}
	if r := e.roomOf(dmCarol.ID, carol); r.Name != "alice" {
		t.Fatalf("dm as carol: %+v", r)
	}
}

func testJoin(t *testing.T, e *env) {
	alice := e.user("alice")
	bob := e.user("bob")
	pub := e.room(alice, "pub", protocol.RoomPublic)
	priv := e.room(alice, "priv", protocol.RoomPrivate)
	dm, err := e.s.DM(e.ctx, alice.ID, bob.ID)
	must(t, "DM", err)
	carol := e.user("carol")
	e.rec.take()

	r, err := e.s.Join(e.ctx, pub.ID, bob.ID)
	must(t, "Join", err)
	if !r.Member || r.Members != 2 || r.LastSeq != 2 || r.ID != pub.ID {
		t.Fatalf("joined room %+v", r)
	}
	evs := e.rec.take()
	wantEvents(t, evs, "member joined", "message system bob joined")
	if evs[0].UserID != bob.ID || !evs[0].Room.Member || evs[0].Room.Members != 2 || evs[1].Seq != 2 {
		t.Fatalf("join events %+v", evs)
	}
	if ok, _ := e.s.IsMember(e.ctx, pub.ID, bob.ID); !ok {
		t.Fatal("IsMember after Join is false")
	}

	// Joining again changes nothing.
	r, err = e.s.Join(e.ctx, pub.ID, bob.ID)
	must(t, "Join(again)", err)
	if r.Members != 2 || r.LastSeq != 2 || !r.Member {
		t.Fatalf("joined twice: %+v", r)
	}
	if evs := e.rec.take(); len(evs) != 0 {
		t.Fatalf("second join produced %q", describe(evs))
	}
	// A member "joining" a private room they are in also changes nothing.
	if _, err := e.s.Join(e.ctx, priv.ID, alice.ID); err != nil {
		t.Fatalf("Join(private, member): %v", err)
	}

	_, err = e.s.Join(e.ctx, priv.ID, bob.ID)
	wantErr(t, "Join(private)", err, store.ErrForbidden)
	_, err = e.s.Join(e.ctx, dm.ID, carol.ID)
	wantErr(t, "Join(dm)", err, store.ErrForbidden)
	_, err = e.s.Join(e.ctx, "r_nothing", bob.ID)
	wantErr(t, "Join(unknown)", err, store.ErrNotFound)
	if evs := e.rec.take(); len(evs) != 0 {
		t.Fatalf("refused joins produced %q", describe(evs))
	}
}

func testLeave(t *testing.T, e *env) {
	alice := e.user("alice")
	bob := e.user("bob")
	pub := e.room(alice, "pub", protocol.RoomPublic)
	_, err := e.s.Join(e.ctx, pub.ID, bob.ID)
	must(t, "Join", err)
	dm, err := e.s.DM(e.ctx, alice.ID, bob.ID)
	must(t, "DM", err)
	e.rec.take()

	must(t, "Leave", e.s.Leave(e.ctx, pub.ID, bob.ID))
	evs := e.rec.take()
	wantEvents(t, evs, "message system bob left", "member left")
	if evs[0].Seq != 3 || evs[1].UserID != bob.ID || evs[1].Room.Member || evs[1].Room.Members != 1 || evs[1].RoomID != pub.ID {
		t.Fatalf("leave events %+v", evs)
	}
	if ok, _ := e.s.IsMember(e.ctx, pub.ID, bob.ID); ok {
		t.Fatal("IsMember after Leave is true")
	}
	if r := e.roomOf(pub.ID, bob); r.Member || r.Members != 1 || r.LastSeq != 3 {
		t.Fatalf("room after leave: %+v", r)
	}
	wantErr(t, "Leave(again)", e.s.Leave(e.ctx, pub.ID, bob.ID), store.ErrNotFound)
	wantErr(t, "Leave(unknown room)", e.s.Leave(e.ctx, "r_nothing", bob.ID), store.ErrNotFound)
	wantErr(t, "Leave(dm)", e.s.Leave(e.ctx, dm.ID, bob.ID), store.ErrForbidden)
	if evs := e.rec.take(); len(evs) != 0 {
		t.Fatalf("refused leaves produced %q", describe(evs))
	}
	// Leaving and joining again works.
	if _, err := e.s.Join(e.ctx, pub.ID, bob.ID); err != nil {
		t.Fatalf("rejoin: %v", err)
	}
}

func testInvite(t *testing.T, e *env) {
	alice := e.user("alice")
	bob := e.user("bob")
	carol := e.user("carol")
	priv := e.room(alice, "priv", protocol.RoomPrivate)
	dm, err := e.s.DM(e.ctx, alice.ID, bob.ID)
	must(t, "DM", err)
	e.rec.take()

	must(t, "Invite", e.s.Invite(e.ctx, priv.ID, alice.ID, bob.ID))
	evs := e.rec.take()
	wantEvents(t, evs, "member joined", "message system bob joined")
	if evs[0].UserID != bob.ID || !evs[0].Room.Member || evs[0].Room.Kind != protocol.RoomPrivate || evs[1].Seq != 2 {
		t.Fatalf("invite events %+v", evs)
	}
	if r := e.roomOf(priv.ID, bob); !r.Member || r.Members != 2 {
		t.Fatalf("private room as invitee: %+v", r)
	}
	// Members of a private room may invite.
	must(t, "Invite(by invitee)", e.s.Invite(e.ctx, priv.ID, bob.ID, carol.ID))
	e.rec.take()
	// Inviting a member again changes nothing.
	must(t, "Invite(again)", e.s.Invite(e.ctx, priv.ID, alice.ID, carol.ID))
	if evs := e.rec.take(); len(evs) != 0 {
		t.Fatalf("second invite produced %q", describe(evs))
	}

	dave := e.user("dave")
	erin := e.user("erin")
	e.rec.take()
	wantErr(t, "Invite(by non-member)", e.s.Invite(e.ctx, priv.ID, dave.ID, erin.ID), store.ErrNotFound)
	wantErr(t, "Invite(unknown room)", e.s.Invite(e.ctx, "r_nothing", alice.ID, erin.ID), store.ErrNotFound)
	wantErr(t, "Invite(dm)", e.s.Invite(e.ctx, dm.ID, alice.ID, erin.ID), store.ErrForbidden)
	wantErr(t, "Invite(unknown user)", e.s.Invite(e.ctx, priv.ID, alice.ID, "u_nobody"), store.ErrNotFound)
	if evs := e.rec.take(); len(evs) != 0 {
		t.Fatalf("refused invites produced %q", describe(evs))
	}
	if ok, _ := e.s.IsMember(e.ctx, priv.ID, erin.ID); ok {
		t.Fatal("refused invite made a member")
	}
}

func testDM(t *testing.T, e *env) {
	alice := e.user("alice")
	bob := e.user("bob")
	e.rec.take()

	r1, err := e.s.DM(e.ctx, alice.ID, bob.ID)
	must(t, "DM", err)
	if r1.Kind != protocol.RoomDM || r1.Name != "bob" || !r1.Member || r1.Members != 2 || r1.LastSeq != 0 {
		t.Fatalf("DM as alice: %+v", r1)
	}
	evs := e.rec.take()
	wantEvents(t, evs, "member joined created", "member joined")
	if evs[0].UserID != alice.ID || evs[0].Room.Name != "bob" || evs[1].UserID != bob.ID || evs[1].Room.Name != "alice" {
		t.Fatalf("DM events %+v", evs)
	}

	r2, err := e.s.DM(e.ctx, bob.ID, alice.ID)
	must(t, "DM(other side)", err)
	if r2.ID != r1.ID || r2.Name != "alice" {
		t.Fatalf("DM as bob: %+v, want id %s named alice", r2, r1.ID)
	}
	r3, err := e.s.DM(e.ctx, alice.ID, bob.ID)
	must(t, "DM(again)", err)
	if r3.ID != r1.ID {
		t.Fatalf("DM again: id %s, want %s", r3.ID, r1.ID)
	}
	if evs := e.rec.take(); len(evs) != 0 {
		t.Fatalf("existing DM produced %q", describe(evs))
	}

	_, err = e.s.DM(e.ctx, alice.ID, alice.ID)
	wantErr(t, "DM(self)", err, store.ErrInvalid)
	_, err = e.s.DM(e.ctx, alice.ID, "u_nobody")
	wantErr(t, "DM(unknown)", err, store.ErrNotFound)

	m := e.send(bob, r1.ID, "hi alice")
	if m.Seq != 1 {
		t.Fatalf("first DM message seq %d", m.Seq)
	}
}
