package storetest

import (
	"fmt"
	"slices"
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

func (e *env) createRoom(r store.NewRoom) (string, error) {
	var id string
	err := e.s.Write(e.ctx, nil, func(tx store.Tx) (_ []store.Event, err error) {
		id, err = tx.CreateRoom(r)
		return nil, err
	})
	return id, err
}

func testCreateRoom(t *testing.T, e *env) {
	alice := e.user("alice")
	r := e.room(alice, "Design", protocol.RoomPublic)
	if r.ID[:2] != "r_" || r.Name != "Design" || r.Kind != protocol.RoomPublic || !r.Member ||
		r.Members != 1 || r.LastSeq != 1 || r.Unread != 0 || r.ReadSeq != 0 {
		t.Fatalf("created room %+v", r)
	}
	e.room(alice, "secret", protocol.RoomPrivate)
	// Names of public and private rooms are unique without regard to case.
	for _, name := range []string{"design", "DESIGN", "Secret", "GENERAL"} {
		for _, kind := range []string{protocol.RoomPublic, protocol.RoomPrivate} {
			_, err := e.createRoom(store.NewRoom{Name: name, Kind: kind})
			wantErr(t, "CreateRoom("+name+", "+kind+")", err, store.ErrConflict)
		}
	}
	// Direct-message rooms have no names of their own, and one key each.
	_, err := e.createRoom(store.NewRoom{Kind: protocol.RoomDM, DMKey: "a|b"})
	must(t, "CreateRoom(dm)", err)
	_, err = e.createRoom(store.NewRoom{Kind: protocol.RoomDM, DMKey: "a|c"})
	must(t, "CreateRoom(another dm)", err)
	_, err = e.createRoom(store.NewRoom{Kind: protocol.RoomDM, DMKey: "a|b"})
	wantErr(t, "CreateRoom(a dm's key again)", err, store.ErrConflict)

	found, err := e.s.RoomByName(e.ctx, "DESIGN")
	if err != nil || found.ID != r.ID || found.Name != "Design" || found.Kind != protocol.RoomPublic || found.LastSeq != 1 {
		t.Fatalf("RoomByName = %+v, %v", found, err)
	}
	_, err = e.s.RoomByName(e.ctx, "nothing")
	wantErr(t, "RoomByName(unknown)", err, store.ErrNotFound)
	_, err = e.s.RoomByName(e.ctx, "")
	wantErr(t, "RoomByName(a dm's empty name)", err, store.ErrNotFound)
	e.write(func(tx store.Tx) ([]store.Event, error) {
		if got, err := tx.RoomByName("secret"); err != nil || got.Kind != protocol.RoomPrivate {
			t.Errorf("Tx.RoomByName = %+v, %v", got, err)
		}
		if _, err := tx.DMRoom("a|b"); err != nil {
			t.Errorf("DMRoom: %v", err)
		}
		_, err := tx.DMRoom("b|a")
		wantErr(t, "DMRoom(unknown key)", err, store.ErrNotFound)
		return nil, nil
	})
	if evs := e.rec.take(); len(evs) != 0 {
		t.Fatalf("writes without events produced %q", describe(evs))
	}
}

// testRoomFacts checks the two ways a write reads a room — its own row with
// one user's membership, and the whole view of a viewer — and that Room
// shows any room to any viewer: whether they may see it is chat's call.
func testRoomFacts(t *testing.T, e *env) {
	alice := e.user("alice")
	bob := e.user("bob")
	priv := e.room(alice, "priv", protocol.RoomPrivate)
	dm := e.dm(alice, bob)
	e.write(func(tx store.Tx) ([]store.Event, error) {
		r, err := tx.Room(priv.ID, alice.ID)
		if err != nil || r != (protocol.Room{ID: priv.ID, Name: "priv", Kind: protocol.RoomPrivate, LastSeq: 1, Member: true}) {
			t.Errorf("Room(priv) as alice = %+v, %v", r, err)
		}
		r, err = tx.Room(priv.ID, bob.ID)
		if err != nil || r.Member || r.Kind != protocol.RoomPrivate {
			t.Errorf("Room(priv) as bob = %+v, %v", r, err)
		}
		r, err = tx.Room(dm.ID, bob.ID)
		if err != nil || !r.Member || r.Kind != protocol.RoomDM || r.Name != "" {
			t.Errorf("Room(dm) as bob = %+v, %v", r, err)
		}
		_, err = tx.Room("r_nothing", alice.ID)
		wantErr(t, "Room(unknown)", err, store.ErrNotFound)
		v, err := tx.View(dm.ID, bob.ID)
		if err != nil || v.Name != "alice" || v.Members != 2 || !v.Member {
			t.Errorf("View(dm) as bob = %+v, %v", v, err)
		}
		return nil, nil
	})
	if r := e.roomOf(priv.ID, bob); r.Member || r.Members != 1 || r.Name != "priv" {
		t.Fatalf("private room as a non-member: %+v", r)
	}
	if r := e.roomOf(dm.ID, alice); r.Name != "bob" || r.Kind != protocol.RoomDM || !r.Member {
		t.Fatalf("dm as alice: %+v", r)
	}
	_, err := e.s.Room(e.ctx, "r_nothing", alice.ID)
	wantErr(t, "Room(unknown)", err, store.ErrNotFound)
}

func testRoomsListing(t *testing.T, e *env) {
	alice := e.user("alice")
	bob := e.user("bob")
	carol := e.user("carol")
	zed := e.room(alice, "zed", protocol.RoomPublic)
	apple := e.room(bob, "Apple", protocol.RoomPublic)
	priv := e.room(alice, "priv", protocol.RoomPrivate)
	_ = e.room(bob, "bobs", protocol.RoomPrivate) // not alice's
	dmCarol := e.dm(alice, carol)
	dmBob := e.dm(bob, alice)
	g := e.general(alice)

	e.send(bob, g.ID, "hello")
	e.send(alice, g.ID, "hi") // own messages are never unread
	e.send(bob, dmBob.ID, "psst")
	e.send(bob, apple.ID, "apples") // alice is not a member: no unread

	type row struct {
		id, name, kind  string
		member          bool
		members         int
		unread, lastSeq int64
	}
	list := func(sc store.Scope) []row {
		t.Helper()
		rooms, err := e.s.Rooms(e.ctx, sc)
		must(t, "Rooms", err)
		var out []row
		for _, r := range rooms {
			out = append(out, row{r.ID, r.Name, r.Kind, r.Member, r.Members, r.Unread, r.LastSeq})
		}
		return out
	}
	mine := []row{
		{g.ID, "general", protocol.RoomPublic, true, 3, 1, g.LastSeq + 2},
		{zed.ID, "zed", protocol.RoomPublic, true, 1, 0, 1},
		{priv.ID, "priv", protocol.RoomPrivate, true, 1, 0, 1},
		{dmBob.ID, "bob", protocol.RoomDM, true, 2, 1, 1},
		{dmCarol.ID, "carol", protocol.RoomDM, true, 2, 0, 0},
	}
	if got := list(store.Scope{UserID: alice.ID}); !slices.Equal(got, mine) {
		t.Fatalf("alice's rooms\n got %+v\nwant %+v", got, mine)
	}
	// With the public rooms: ordered by kind, then name without regard to
	// case.
	withPublic := append([]row{{apple.ID, "Apple", protocol.RoomPublic, false, 1, 0, 2}}, mine...)
	if got := list(store.Scope{UserID: alice.ID, Public: true}); !slices.Equal(got, withPublic) {
		t.Fatalf("alice's rooms and the public ones\n got %+v\nwant %+v", got, withPublic)
	}
	// The DM's name is the other user's, as each viewer sees it.
	if r := e.roomOf(dmBob.ID, bob); r.Name != "alice" || r.Unread != 0 {
		t.Fatalf("dm as bob: %+v", r)
	}
	if r := e.roomOf(dmCarol.ID, carol); r.Name != "alice" {
		t.Fatalf("dm as carol: %+v", r)
	}
}

func testMembers(t *testing.T, e *env) {
	alice := e.user("alice")
	bob := e.user("bob")
	pub := e.room(alice, "pub", protocol.RoomPublic) // seq 1
	e.send(alice, pub.ID, "before bob")              // 2
	e.join(pub.ID, bob)                              // 3
	r := e.roomOf(pub.ID, bob)
	// The read marker starts at the room's end when the member joins.
	if !r.Member || r.Members != 2 || r.ReadSeq != 2 || r.Unread != 0 {
		t.Fatalf("joined room %+v", r)
	}
	if ok, err := e.s.IsMember(e.ctx, pub.ID, bob.ID); err != nil || !ok {
		t.Fatalf("IsMember after AddMember: %v, %v", ok, err)
	}
	g := e.general(bob)
	ids, err := e.s.MemberRoomIDs(e.ctx, bob.ID)
	want := []string{g.ID, pub.ID}
	slices.Sort(want)
	if err != nil || !slices.Equal(ids, want) {
		t.Fatalf("MemberRoomIDs = %v, %v; want %v (byte order)", ids, err, want)
	}
	lasts, err := e.s.LastSeqs(e.ctx, bob.ID)
	if err != nil || len(lasts) != 2 || lasts[pub.ID] != 3 || lasts[g.ID] != g.LastSeq {
		t.Fatalf("LastSeqs = %v, %v; want %s:3 and %s:%d", lasts, err, pub.ID, g.ID, g.LastSeq)
	}
	add := func(roomID string, u protocol.User) error {
		return e.s.Write(e.ctx, nil, func(tx store.Tx) ([]store.Event, error) { return nil, tx.AddMember(roomID, u.ID) })
	}
	wantErr(t, "AddMember(again)", add(pub.ID, bob), store.ErrConflict)
	wantErr(t, "AddMember(unknown room)", add("r_nothing", bob), store.ErrNotFound)

	e.leave(pub.ID, bob)
	if ok, _ := e.s.IsMember(e.ctx, pub.ID, bob.ID); ok {
		t.Fatal("IsMember after RemoveMember is true")
	}
	if r := e.roomOf(pub.ID, bob); r.Member || r.Members != 1 || r.LastSeq != 4 || r.Unread != 0 {
		t.Fatalf("room after leaving: %+v", r)
	}
	err = e.s.Write(e.ctx, nil, func(tx store.Tx) ([]store.Event, error) { return nil, tx.RemoveMember(pub.ID, bob.ID) })
	wantErr(t, "RemoveMember(again)", err, store.ErrNotFound)
	// Leaving and joining again works.
	must(t, "AddMember(rejoin)", add(pub.ID, bob))
}
