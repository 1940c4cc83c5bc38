package storetest

import (
	"errors"
	"testing"

	"minichat/server/protocol"
	"minichat/server/store"
)

// testRoomChanges checks what members change of a room itself — topic,
// name, archive — with the creator a room records, and the listing of its
// members.
func testRoomChanges(t *testing.T, e *env) {
	alice := e.user("alice")
	bob := e.user("bob")
	carol := e.user("carol")
	var id string
	e.write(func(tx store.Tx) (_ []store.Event, err error) {
		id, err = tx.CreateRoom(store.NewRoom{Name: "plans", Kind: protocol.RoomPublic, CreatedBy: alice.ID})
		if err != nil {
			return nil, err
		}
		return nil, tx.AddMember(id, alice.ID)
	})
	if r := e.roomOf(id, bob); r.CreatedBy != alice.ID || r.Topic != "" || r.Archived {
		t.Fatalf("new room %+v", r)
	}
	e.write(func(tx store.Tx) ([]store.Event, error) {
		if err := tx.SetTopic(id, "Ship it — by Friday"); err != nil {
			return nil, err
		}
		if err := tx.SetRoomName(id, "Roadmap"); err != nil {
			return nil, err
		}
		if err := tx.SetArchived(id, true); err != nil {
			return nil, err
		}
		r, err := tx.Room(id, alice.ID)
		if err != nil || !r.Archived || r.CreatedBy != alice.ID || r.Name != "Roadmap" || !r.Member {
			t.Errorf("Tx.Room after the changes = %+v, %v", r, err)
		}
		return nil, err
	})
	r := e.roomOf(id, bob)
	if r.ID != id || r.Name != "Roadmap" || r.Topic != "Ship it — by Friday" || !r.Archived {
		t.Fatalf("room after the changes %+v", r)
	}
	if found, err := e.s.RoomByName(e.ctx, "roadmap"); err != nil || found.ID != id {
		t.Fatalf("RoomByName(new name) = %+v, %v", found, err)
	}
	_, err := e.s.RoomByName(e.ctx, "plans")
	wantErr(t, "RoomByName(old name)", err, store.ErrNotFound)
	// Archived rooms are out of the directory.
	dir, err := e.s.Directory(e.ctx, bob.ID, "", "", 50)
	must(t, "Directory", err)
	for _, d := range dir {
		if d.ID == id {
			t.Fatalf("archived room listed in the directory: %+v", d)
		}
	}
	// The send facts say the room is archived.
	_, _, err = e.sendRule(store.SendRequest{RoomID: id, SenderID: alice.ID, Text: "x"}, func(_ *store.SendRequest, f *store.SendFacts) error {
		if !f.Room.Archived || !f.Room.Member {
			t.Errorf("send facts of an archived room: %+v", f.Room)
		}
		return errors.New("stop")
	})
	if err == nil {
		t.Fatal("the rule's refusal was not returned")
	}
	change := func(fn func(tx store.Tx) error) error {
		return e.s.Write(e.ctx, nil, func(tx store.Tx) ([]store.Event, error) { return nil, fn(tx) })
	}
	wantErr(t, "SetRoomName(taken)", change(func(tx store.Tx) error { return tx.SetRoomName(id, "GENERAL") }), store.ErrConflict)
	wantErr(t, "SetTopic(unknown)", change(func(tx store.Tx) error { return tx.SetTopic("r_nothing", "x") }), store.ErrNotFound)
	wantErr(t, "SetArchived(unknown)", change(func(tx store.Tx) error { return tx.SetArchived("r_nothing", false) }), store.ErrNotFound)
	must(t, "SetArchived(false)", change(func(tx store.Tx) error { return tx.SetArchived(id, false) }))
	if r := e.roomOf(id, bob); r.Archived {
		t.Fatalf("unarchived room %+v", r)
	}

	// Members: by name without regard to case, paged.
	zed := e.user("Zed")
	for _, u := range []protocol.User{carol, zed, bob} {
		e.join(id, u)
	}
	page, err := e.s.Members(e.ctx, id, "", 3)
	must(t, "Members", err)
	if names(page) != "alice bob carol" {
		t.Fatalf("Members page 1 = %q", names(page))
	}
	page, err = e.s.Members(e.ctx, id, "carol", 3)
	must(t, "Members after carol", err)
	if names(page) != "Zed" {
		t.Fatalf("Members page 2 = %q", names(page))
	}
	e.write(func(tx store.Tx) ([]store.Event, error) {
		ids, err := tx.MemberIDs(id)
		if err == nil && len(ids) != 4 {
			t.Errorf("MemberIDs = %v", ids)
		}
		return nil, err
	})

	// A direct-message room of several people is named, per viewer, after
	// the others.
	var g string
	e.write(func(tx store.Tx) (_ []store.Event, err error) {
		if g, err = tx.CreateRoom(store.NewRoom{Kind: protocol.RoomDM, DMKey: "x|y|z"}); err != nil {
			return nil, err
		}
		for _, u := range []protocol.User{alice, carol, bob} {
			if err := tx.AddMember(g, u.ID); err != nil {
				return nil, err
			}
		}
		return nil, nil
	})
	if r := e.roomOf(g, alice); r.Name != "bob, carol" || r.Members != 3 || r.CreatedBy != "" {
		t.Fatalf("group dm as alice: %+v", r)
	}
	if r := e.roomOf(g, carol); r.Name != "alice, bob" {
		t.Fatalf("group dm as carol: %+v", r)
	}
}

func names(us []protocol.User) string {
	s := ""
	for i, u := range us {
		if i > 0 {
			s += " "
		}
		s += u.Name
	}
	return s
}
