package storetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"testing"

	"minichat/server/protocol"
	"minichat/server/store"
)

func testSend(t *testing.T, e *env) {
	alice := e.user("alice")
	bob := e.user("bob")
	pub := e.room(alice, "pub", protocol.RoomPublic)
	priv := e.room(alice, "priv", protocol.RoomPrivate)
	e.rec.take()

	m, dup, err := e.s.Send(e.ctx, store.SendRequest{RoomID: pub.ID, SenderID: alice.ID, Text: "hello <b>world</b>", ClientID: "c1"})
	must(t, "Send", err)
	if dup {
		t.Fatal("first send reported dup")
	}
	if m.ID[:2] != "m_" || m.Room != pub.ID || m.Seq != 2 || m.Kind != protocol.KindChat || m.Text != "hello <b>world</b>" ||
		m.ClientID != "c1" || m.Sender == nil || *m.Sender != alice || m.Deleted || m.EditedAt != "" || len(m.Reactions) != 0 {
		t.Fatalf("sent message %+v", m)
	}
	if _, err := protocolTime(m.TS); err != nil {
		t.Fatal(err)
	}
	evs := e.rec.take()
	wantEvents(t, evs, "message chat hello <b>world</b>")
	if evs[0].Seq != 2 || evs[0].RoomID != pub.ID || !reflect.DeepEqual(evs[0].Message, m) {
		t.Fatalf("send event %+v, want message %+v", evs[0], m)
	}
	// What History returns is what Send returned.
	page, _, err := e.s.History(e.ctx, pub.ID, 0, 1)
	must(t, "History", err)
	if len(page) != 1 || !reflect.DeepEqual(page[0], m) {
		t.Fatalf("History = %+v, want %+v", page, m)
	}

	_, _, err = e.s.Send(e.ctx, store.SendRequest{RoomID: pub.ID, SenderID: bob.ID, Text: "not a member"})
	wantErr(t, "Send(non-member, public)", err, store.ErrForbidden)
	_, _, err = e.s.Send(e.ctx, store.SendRequest{RoomID: priv.ID, SenderID: bob.ID, Text: "not a member"})
	wantErr(t, "Send(non-member, private)", err, store.ErrForbidden)
	_, _, err = e.s.Send(e.ctx, store.SendRequest{RoomID: "r_nothing", SenderID: alice.ID, Text: "x"})
	wantErr(t, "Send(unknown room)", err, store.ErrNotFound)
	if evs := e.rec.take(); len(evs) != 0 {
		t.Fatalf("refused sends produced %q", describe(evs))
	}
	if r := e.roomOf(pub.ID, alice); r.LastSeq != 2 {
		t.Fatalf("refused sends took seqs: last_seq %d", r.LastSeq)
	}
}

func testSendIdempotent(t *testing.T, e *env) {
	alice := e.user("alice")
	bob := e.user("bob")
	g := e.general(alice)
	e.rec.take()

	req := store.SendRequest{RoomID: g.ID, SenderID: alice.ID, Text: "once", ClientID: "abc"}
	m1, dup, err := e.s.Send(e.ctx, req)
	must(t, "Send", err)
	if dup {
		t.Fatal("first send is dup")
	}
	e.rec.take()

	req.Text = "retry with other text"
	m2, dup, err := e.s.Send(e.ctx, req)
	must(t, "Send(retry)", err)
	if !dup || !reflect.DeepEqual(m1, m2) {
		t.Fatalf("retry = %+v dup %v, want the original %+v and dup", m2, dup, m1)
	}
	if evs := e.rec.take(); len(evs) != 0 {
		t.Fatalf("retry produced %q", describe(evs))
	}
	if r := e.roomOf(g.ID, alice); r.LastSeq != m1.Seq {
		t.Fatalf("retry took a seq: last_seq %d, want %d", r.LastSeq, m1.Seq)
	}
	// The retry returns the original in its current state.
	_, err = e.s.Edit(e.ctx, g.ID, m1.ID, alice.ID, false, "edited")
	must(t, "Edit", err)
	m3, dup, err := e.s.Send(e.ctx, req)
	must(t, "Send(retry after edit)", err)
	if !dup || m3.ID != m1.ID || m3.Text != "edited" {
		t.Fatalf("retry after edit = %+v dup %v", m3, dup)
	}

	// client_id is unique per sender: another sender may use the same one.
	mb, dup, err := e.s.Send(e.ctx, store.SendRequest{RoomID: g.ID, SenderID: bob.ID, Text: "bob's", ClientID: "abc"})
	must(t, "Send(other sender)", err)
	if dup || mb.ID == m1.ID {
		t.Fatalf("other sender's send = %+v dup %v", mb, dup)
	}
	// Without client_id every send is new.
	a := e.send(alice, g.ID, "same")
	b := e.send(alice, g.ID, "same")
	if a.ID == b.ID || b.Seq != a.Seq+1 || a.ClientID != "" {
		t.Fatalf("sends without client_id: %+v %+v", a, b)
	}
}

func testReplyTo(t *testing.T, e *env) {
	alice := e.user("alice")
	g := e.general(alice)
	other := e.room(alice, "other", protocol.RoomPublic)
	parent := e.send(alice, g.ID, "parent")
	elsewhere := e.send(alice, other.ID, "elsewhere")

	m, _, err := e.s.Send(e.ctx, store.SendRequest{RoomID: g.ID, SenderID: alice.ID, Text: "child", ReplyTo: parent.ID})
	must(t, "Send(reply)", err)
	if m.ReplyTo != parent.ID {
		t.Fatalf("reply_to %q, want %q", m.ReplyTo, parent.ID)
	}
	page, _, err := e.s.History(e.ctx, g.ID, 0, 1)
	must(t, "History", err)
	if page[0].ReplyTo != parent.ID {
		t.Fatalf("stored reply_to %q", page[0].ReplyTo)
	}
	e.rec.take()
	_, _, err = e.s.Send(e.ctx, store.SendRequest{RoomID: g.ID, SenderID: alice.ID, Text: "x", ReplyTo: elsewhere.ID})
	wantErr(t, "Send(reply_to in another room)", err, store.ErrNotFound)
	_, _, err = e.s.Send(e.ctx, store.SendRequest{RoomID: g.ID, SenderID: alice.ID, Text: "x", ReplyTo: "m_nothing"})
	wantErr(t, "Send(unknown reply_to)", err, store.ErrNotFound)
	if evs := e.rec.take(); len(evs) != 0 {
		t.Fatalf("refused replies produced %q", describe(evs))
	}
}

// checkLog fails unless a room's log is seqs 1..n with no gap, each entry
// carrying its room, and returns it.
func checkLog(t *testing.T, e *env, roomID string) []store.Event {
	t.Helper()
	evs := e.log(roomID)
	for i, ev := range evs {
		if ev.Seq != int64(i+1) || ev.RoomID != roomID || ev.Message.Room != roomID {
			t.Fatalf("log entry %d: seq %d room %s (message room %s): %q", i, ev.Seq, ev.RoomID, ev.Message.Room, describe(evs))
		}
		if ev.Kind == store.EventMessage && ev.Message.Seq != ev.Seq {
			t.Fatalf("log entry %d: message seq %d, log seq %d", i, ev.Message.Seq, ev.Seq)
		}
	}
	if r, err := e.s.Room(e.ctx, roomID, ""); err == nil && r.LastSeq != int64(len(evs)) {
		t.Fatalf("last_seq %d, log has %d entries", r.LastSeq, len(evs))
	}
	return evs
}

func testSeqNoGaps(t *testing.T, e *env) {
	alice := e.user("alice")
	bob := e.user("bob")
	r := e.room(alice, "r", protocol.RoomPublic) // 1: created
	_, err := e.s.Join(e.ctx, r.ID, bob.ID)      // 2: bob joined
	must(t, "Join", err)
	m := e.send(bob, r.ID, "hi")                               // 3
	_, err = e.s.React(e.ctx, r.ID, m.ID, alice.ID, "👍", true) // 4
	must(t, "React", err)
	_, err = e.s.Edit(e.ctx, r.ID, m.ID, bob.ID, false, "hey") // 5
	must(t, "Edit", err)
	must(t, "Leave", e.s.Leave(e.ctx, r.ID, bob.ID))       // 6: bob left
	e.send(alice, r.ID, "bye")                             // 7
	_, err = e.s.Delete(e.ctx, r.ID, m.ID, alice.ID, true) // 8
	must(t, "Delete", err)

	evs := checkLog(t, e, r.ID)
	wantEvents(t, evs,
		"message system alice created the room", "message system bob joined", "message chat ",
		"update "+m.ID, "update "+m.ID, "message system bob left", "message chat bye", "update "+m.ID)
	// Another room's seqs are its own.
	other := e.room(alice, "other", protocol.RoomPublic)
	if o := e.send(alice, other.ID, "x"); o.Seq != 2 {
		t.Fatalf("other room's second seq %d", o.Seq)
	}
}

func testEditDelete(t *testing.T, e *env) {
	admin := e.user("admin")
	alice := e.user("alice")
	bob := e.user("bob")
	g := e.general(alice)
	other := e.room(alice, "other", protocol.RoomPublic)
	m := e.send(alice, g.ID, "original")
	e.rec.take()

	ed, err := e.s.Edit(e.ctx, g.ID, m.ID, alice.ID, false, "edited")
	must(t, "Edit", err)
	if ed.ID != m.ID || ed.Seq != m.Seq || ed.Text != "edited" || ed.EditedAt == "" || ed.TS != m.TS || *ed.Sender != alice {
		t.Fatalf("edited %+v (original %+v)", ed, m)
	}
	if _, err := protocolTime(ed.EditedAt); err != nil {
		t.Fatal(err)
	}
	evs := e.rec.take()
	wantEvents(t, evs, "update "+m.ID)
	if evs[0].Seq != m.Seq+1 || evs[0].RoomID != g.ID || !reflect.DeepEqual(evs[0].Message, ed) {
		t.Fatalf("edit event %+v", evs[0])
	}

	_, err = e.s.Edit(e.ctx, g.ID, m.ID, bob.ID, false, "hijack")
	wantErr(t, "Edit(not sender)", err, store.ErrForbidden)
	_, err = e.s.Delete(e.ctx, g.ID, m.ID, bob.ID, false)
	wantErr(t, "Delete(not sender)", err, store.ErrForbidden)
	_, err = e.s.Edit(e.ctx, g.ID, "m_nothing", alice.ID, false, "x")
	wantErr(t, "Edit(unknown)", err, store.ErrNotFound)
	_, err = e.s.Edit(e.ctx, other.ID, m.ID, alice.ID, false, "x")
	wantErr(t, "Edit(wrong room)", err, store.ErrNotFound)
	_, err = e.s.Delete(e.ctx, other.ID, m.ID, alice.ID, false)
	wantErr(t, "Delete(wrong room)", err, store.ErrNotFound)
	if evs := e.rec.take(); len(evs) != 0 {
		t.Fatalf("refused changes produced %q", describe(evs))
	}

	// An admin may edit anyone's message.
	ed, err = e.s.Edit(e.ctx, g.ID, m.ID, admin.ID, true, "moderated")
	must(t, "Edit(admin)", err)
	if ed.Text != "moderated" || *ed.Sender != alice {
		t.Fatalf("admin edit %+v", ed)
	}
	_, err = e.s.React(e.ctx, g.ID, m.ID, bob.ID, "🎉", true)
	must(t, "React", err)
	e.rec.take()

	del, err := e.s.Delete(e.ctx, g.ID, m.ID, alice.ID, false)
	must(t, "Delete", err)
	if !del.Deleted || del.Text != "" || len(del.Reactions) != 0 || del.ID != m.ID || del.Seq != m.Seq {
		t.Fatalf("tombstone %+v", del)
	}
	evs = e.rec.take()
	wantEvents(t, evs, "update "+m.ID)
	if !reflect.DeepEqual(evs[0].Message, del) {
		t.Fatalf("delete event %+v, want %+v", evs[0].Message, del)
	}
	// Deleting twice is not an error and changes nothing.
	again, err := e.s.Delete(e.ctx, g.ID, m.ID, alice.ID, false)
	must(t, "Delete(again)", err)
	if !reflect.DeepEqual(again, del) {
		t.Fatalf("second delete returned %+v", again)
	}
	if evs := e.rec.take(); len(evs) != 0 {
		t.Fatalf("second delete produced %q", describe(evs))
	}
	_, err = e.s.Edit(e.ctx, g.ID, m.ID, alice.ID, false, "zombie")
	wantErr(t, "Edit(deleted)", err, store.ErrNotFound)
	_, err = e.s.React(e.ctx, g.ID, m.ID, bob.ID, "👍", true)
	wantErr(t, "React(deleted)", err, store.ErrNotFound)

	// An admin may delete anyone's message.
	m2 := e.send(bob, g.ID, "spam")
	del2, err := e.s.Delete(e.ctx, g.ID, m2.ID, admin.ID, true)
	must(t, "Delete(admin)", err)
	if !del2.Deleted {
		t.Fatalf("admin delete %+v", del2)
	}
	// History shows the current state.
	page, _, err := e.s.History(e.ctx, g.ID, 0, 200)
	must(t, "History", err)
	for _, pm := range page {
		if (pm.ID == m.ID || pm.ID == m2.ID) && (!pm.Deleted || pm.Text != "" || len(pm.Reactions) != 0) {
			t.Fatalf("History shows %+v, want a tombstone", pm)
		}
	}
	checkLog(t, e, g.ID)
}

func testReact(t *testing.T, e *env) {
	alice := e.user("alice")
	bob := e.user("bob")
	carol := e.user("carol")
	g := e.general(alice)
	priv := e.room(alice, "priv", protocol.RoomPrivate)
	m := e.send(alice, g.ID, "react to me")
	e.rec.take()

	react := func(u protocol.User, emoji string, on bool) protocol.Message {
		t.Helper()
		got, err := e.s.React(e.ctx, g.ID, m.ID, u.ID, emoji, on)
		if err != nil {
			t.Fatalf("React(%s, %s, %v): %v", u.Name, emoji, on, err)
		}
		return got
	}
	react(bob, "👍", true)
	react(alice, "🎉", true)
	react(carol, "👍", true)
	got := react(alice, "👍", true)
	want := []protocol.Reaction{{Emoji: "👍", Users: []string{"bob", "carol", "alice"}}, {Emoji: "🎉", Users: []string{"alice"}}}
	if !reflect.DeepEqual(got.Reactions, want) {
		t.Fatalf("reactions %+v, want %+v", got.Reactions, want)
	}
	evs := e.rec.take()
	if len(evs) != 4 || !reflect.DeepEqual(evs[3].Message, got) || evs[3].Seq != m.Seq+4 {
		t.Fatalf("react events %q", describe(evs))
	}

	// A change that changes nothing emits nothing.
	same := react(bob, "👍", true)
	if !reflect.DeepEqual(same.Reactions, want) {
		t.Fatalf("no-op react changed reactions: %+v", same.Reactions)
	}
	react(bob, "🚀", false)
	if evs := e.rec.take(); len(evs) != 0 {
		t.Fatalf("no-op reacts produced %q", describe(evs))
	}

	got = react(bob, "👍", false)
	got = react(alice, "🎉", false)
	want = []protocol.Reaction{{Emoji: "👍", Users: []string{"carol", "alice"}}}
	if !reflect.DeepEqual(got.Reactions, want) {
		t.Fatalf("reactions after removal %+v, want %+v", got.Reactions, want)
	}
	page, _, err := e.s.History(e.ctx, g.ID, 0, 1)
	must(t, "History", err)
	if !reflect.DeepEqual(page[0].Reactions, want) {
		t.Fatalf("History reactions %+v, want %+v", page[0].Reactions, want)
	}
	got = react(carol, "👍", false)
	got = react(alice, "👍", false)
	if len(got.Reactions) != 0 {
		t.Fatalf("reactions after removing all: %+v", got.Reactions)
	}
	e.rec.take()

	// The user must be a member of the room; the message must be in it.
	pm := e.send(alice, priv.ID, "private")
	_, err = e.s.React(e.ctx, priv.ID, pm.ID, bob.ID, "👍", true)
	wantErr(t, "React(non-member)", err, store.ErrForbidden)
	_, err = e.s.React(e.ctx, g.ID, pm.ID, bob.ID, "👍", true)
	wantErr(t, "React(message of another room)", err, store.ErrNotFound)
	_, err = e.s.React(e.ctx, g.ID, "m_nothing", bob.ID, "👍", true)
	wantErr(t, "React(unknown message)", err, store.ErrNotFound)
	checkLog(t, e, g.ID)
}

func testHistory(t *testing.T, e *env) {
	alice := e.user("alice")
	r := e.room(alice, "r", protocol.RoomPublic) // seq 1: system
	var sent []protocol.Message
	for i := range 25 {
		sent = append(sent, e.send(alice, r.ID, fmt.Sprint("m", i))) // seqs 2..26
	}
	edited, err := e.s.Edit(e.ctx, r.ID, sent[3].ID, alice.ID, false, "changed") // seq 27
	must(t, "Edit", err)

	page, more, err := e.s.History(e.ctx, r.ID, 0, 10)
	must(t, "History(newest)", err)
	if !more || len(page) != 10 || page[0].Seq != 17 || page[9].Seq != 26 {
		t.Fatalf("newest page: %d messages %d..%d more %v", len(page), page[0].Seq, page[len(page)-1].Seq, more)
	}
	// Walk back to the start: oldest first, seq < before, nothing missed.
	var all []protocol.Message
	before := int64(0)
	for {
		page, more, err := e.s.History(e.ctx, r.ID, before, 10)
		must(t, "History", err)
		for i := 1; i < len(page); i++ {
			if page[i].Seq != page[i-1].Seq+1 {
				t.Fatalf("page not oldest first: %d after %d", page[i].Seq, page[i-1].Seq)
			}
		}
		if before > 0 && len(page) > 0 && page[len(page)-1].Seq >= before {
			t.Fatalf("page ends at %d, before %d", page[len(page)-1].Seq, before)
		}
		all = append(page, all...)
		if !more {
			break
		}
		before = page[0].Seq
	}
	if len(all) != 26 || all[0].Seq != 1 || all[0].Kind != protocol.KindSystem {
		t.Fatalf("paged %d messages from seq %d", len(all), all[0].Seq)
	}
	if !reflect.DeepEqual(all[4], edited) {
		t.Fatalf("History shows %+v, want the edited state %+v", all[4], edited)
	}
	page, more, err = e.s.History(e.ctx, r.ID, 3, 10)
	must(t, "History(before 3)", err)
	if more || len(page) != 2 || page[0].Seq != 1 {
		t.Fatalf("before 3: %d messages, more %v", len(page), more)
	}
	page, more, err = e.s.History(e.ctx, r.ID, 1, 10)
	must(t, "History(before 1)", err)
	if more || len(page) != 0 {
		t.Fatalf("before 1: %+v more %v", page, more)
	}
	page, more, err = e.s.History(e.ctx, r.ID, 12, 10)
	must(t, "History(exactly full)", err)
	if !more || len(page) != 10 || page[0].Seq != 2 {
		t.Fatalf("before 12: %d messages from %d, more %v", len(page), page[0].Seq, more)
	}
	page, more, err = e.s.History(e.ctx, r.ID, 11, 10)
	must(t, "History(all of it)", err)
	if more || len(page) != 10 || page[0].Seq != 1 {
		t.Fatalf("before 11: %d messages, more %v", len(page), more)
	}
	empty := e.room(alice, "empty", protocol.RoomPrivate)
	page, more, err = e.s.History(e.ctx, empty.ID, 0, 10)
	must(t, "History(one message)", err)
	if more || len(page) != 1 {
		t.Fatalf("new room history %+v more %v", page, more)
	}
}

func testSince(t *testing.T, e *env) {
	alice := e.user("alice")
	r := e.room(alice, "r", protocol.RoomPublic)                    // 1
	m1 := e.send(alice, r.ID, "one")                                // 2
	m2 := e.send(alice, r.ID, "two")                                // 3
	_, err := e.s.Edit(e.ctx, r.ID, m1.ID, alice.ID, false, "one!") // 4
	must(t, "Edit", err)
	e.send(alice, r.ID, "three")                                // 5
	_, err = e.s.React(e.ctx, r.ID, m2.ID, alice.ID, "👍", true) // 6
	must(t, "React", err)

	evs, err := e.s.Since(e.ctx, r.ID, 1, 100)
	must(t, "Since", err)
	wantEvents(t, evs, "message chat one!", "message chat two", "update "+m1.ID, "message chat three", "update "+m2.ID)
	for i, ev := range evs {
		if ev.Seq != int64(i+2) {
			t.Fatalf("Since entry %d has seq %d", i, ev.Seq)
		}
	}
	// Messages and updates both carry the current state.
	if evs[0].Message.Text != "one!" || evs[2].Message.Text != "one!" || evs[2].Message.Seq != m1.Seq {
		t.Fatalf("edited message in Since: %+v / %+v", evs[0].Message, evs[2].Message)
	}
	if len(evs[4].Message.Reactions) != 1 || len(evs[1].Message.Reactions) != 1 {
		t.Fatalf("reactions in Since: %+v", evs[4].Message)
	}

	evs, err = e.s.Since(e.ctx, r.ID, 2, 2)
	must(t, "Since(limit)", err)
	wantEvents(t, evs, "message chat two", "update "+m1.ID)
	evs, err = e.s.Since(e.ctx, r.ID, 3, 1)
	must(t, "Since(limit 1 on an update)", err)
	if len(evs) != 1 || evs[0].Seq != 4 || evs[0].Kind != store.EventUpdate {
		t.Fatalf("Since(3, 1) = %q", describe(evs))
	}
	evs, err = e.s.Since(e.ctx, r.ID, 6, 10)
	must(t, "Since(end)", err)
	if len(evs) != 0 {
		t.Fatalf("Since(last) = %q", describe(evs))
	}
	evs, err = e.s.Since(e.ctx, "r_nothing", 0, 10)
	if err == nil && len(evs) != 0 {
		t.Fatalf("Since(unknown room) = %q", describe(evs))
	}
}

func testReadMarkers(t *testing.T, e *env) {
	alice := e.user("alice")
	bob := e.user("bob")
	r := e.room(alice, "r", protocol.RoomPublic) // 1
	_, err := e.s.Join(e.ctx, r.ID, bob.ID)      // 2
	must(t, "Join", err)
	if got := e.roomOf(r.ID, bob); got.Unread != 0 || got.ReadSeq != 1 {
		t.Fatalf("new member: unread %d read_seq %d, want 0 and the last seq before joining", got.Unread, got.ReadSeq)
	}
	a1 := e.send(alice, r.ID, "a1")                             // 3
	e.send(bob, r.ID, "b1")                                     // 4: own, never unread
	a2 := e.send(alice, r.ID, "a2")                             // 5
	a3 := e.send(alice, r.ID, "a3")                             // 6
	_, err = e.s.React(e.ctx, r.ID, a1.ID, alice.ID, "👍", true) // 7: an update, not a message
	must(t, "React", err)
	unread := func(want int64) {
		t.Helper()
		if got := e.roomOf(r.ID, bob); got.Unread != want {
			t.Fatalf("unread %d, want %d (read_seq %d)", got.Unread, want, got.ReadSeq)
		}
	}
	unread(3)
	_, err = e.s.Delete(e.ctx, r.ID, a3.ID, alice.ID, false) // 8: deleted messages are not unread
	must(t, "Delete", err)
	unread(2)
	must(t, "Leave", e.s.Leave(e.ctx, r.ID, alice.ID)) // 9: system messages are not unread
	unread(2)

	must(t, "SetRead", e.s.SetRead(e.ctx, r.ID, bob.ID, a1.Seq))
	unread(1)
	if got := e.roomOf(r.ID, bob); got.ReadSeq != a1.Seq {
		t.Fatalf("read_seq %d, want %d", got.ReadSeq, a1.Seq)
	}
	// Never backwards.
	must(t, "SetRead(backwards)", e.s.SetRead(e.ctx, r.ID, bob.ID, 1))
	if got := e.roomOf(r.ID, bob); got.ReadSeq != a1.Seq || got.Unread != 1 {
		t.Fatalf("after SetRead backwards: %+v", got)
	}
	must(t, "SetRead", e.s.SetRead(e.ctx, r.ID, bob.ID, a2.Seq))
	unread(0)
	// Never past the room's last seq.
	must(t, "SetRead(future)", e.s.SetRead(e.ctx, r.ID, bob.ID, 1000))
	got := e.roomOf(r.ID, bob)
	if got.ReadSeq != got.LastSeq || got.LastSeq != 9 {
		t.Fatalf("after SetRead past the end: read_seq %d last_seq %d", got.ReadSeq, got.LastSeq)
	}
	// So what comes next is unread.
	_, err = e.s.Join(e.ctx, r.ID, alice.ID)
	must(t, "Join", err)
	e.send(alice, r.ID, "new")
	unread(1)
	wantErr(t, "SetRead(non-member)", e.s.SetRead(e.ctx, "r_nothing", bob.ID, 1), store.ErrNotFound)
}

func testUnreadCap(t *testing.T, e *env) {
	alice := e.user("alice")
	bob := e.user("bob")
	g := e.general(bob)
	var wg sync.WaitGroup
	const senders = 10
	per := (store.MaxUnread + senders) / senders // just over the cap in all
	for i := range senders {
		wg.Go(func() {
			for j := range per {
				if _, _, err := e.s.Send(e.ctx, store.SendRequest{RoomID: g.ID, SenderID: alice.ID, Text: fmt.Sprint(i, "/", j)}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if r := e.roomOf(g.ID, bob); r.Unread != store.MaxUnread {
		t.Fatalf("unread %d after %d messages, want the cap %d", r.Unread, senders*per, store.MaxUnread)
	}
	must(t, "SetRead", e.s.SetRead(e.ctx, g.ID, bob.ID, e.roomOf(g.ID, bob).LastSeq-5))
	if r := e.roomOf(g.ID, bob); r.Unread != 5 {
		t.Fatalf("unread %d, want 5", r.Unread)
	}
}

func testConcurrentSends(t *testing.T, e *env) {
	const senders, each = 20, 25
	alice := e.user("alice")
	r := e.room(alice, "busy", protocol.RoomPublic) // seq 1
	users := make([]protocol.User, senders)
	for i := range users {
		users[i] = e.user(fmt.Sprint("u", i))
		if _, err := e.s.Join(e.ctx, r.ID, users[i].ID); err != nil {
			t.Fatal(err)
		}
	}
	base := e.roomOf(r.ID, alice).LastSeq
	e.rec.take()

	var wg sync.WaitGroup
	errs := make(chan error, senders*each)
	seqs := make(chan int64, senders*each)
	for i, u := range users {
		wg.Go(func() {
			for j := range each {
				// Every other send also retries, which must store nothing.
				req := store.SendRequest{RoomID: r.ID, SenderID: u.ID, Text: fmt.Sprint(i, "/", j), ClientID: fmt.Sprint("c", j)}
				m, dup, err := e.s.Send(e.ctx, req)
				if err != nil || dup {
					errs <- fmt.Errorf("send %d/%d: dup %v, %w", i, j, dup, err)
					return
				}
				seqs <- m.Seq
				if j%2 == 0 {
					if again, dup, err := e.s.Send(e.ctx, req); err != nil || !dup || again.ID != m.ID {
						errs <- fmt.Errorf("retry %d/%d: dup %v, %v", i, j, dup, err)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	close(seqs)
	for err := range errs {
		t.Fatal(err)
	}
	var got []int64
	for s := range seqs {
		got = append(got, s)
	}
	slices.Sort(got)
	for i, s := range got {
		if s != base+int64(i)+1 {
			t.Fatalf("seqs after sorting: position %d holds %d, want %d (gap or duplicate)", i, s, base+int64(i)+1)
		}
	}
	if len(got) != senders*each {
		t.Fatalf("%d sends acknowledged, want %d", len(got), senders*each)
	}
	// OnCommit saw them all, in seq order.
	evs := e.rec.take()
	if len(evs) != senders*each {
		t.Fatalf("OnCommit got %d events, want %d", len(evs), senders*each)
	}
	for i, ev := range evs {
		if ev.Seq != base+int64(i)+1 || ev.Kind != store.EventMessage {
			t.Fatalf("event %d has seq %d, want %d: not in commit order", i, ev.Seq, base+int64(i)+1)
		}
	}
	checkLog(t, e, r.ID)
}

func testReopen(t *testing.T, e *env) {
	alice := e.user("alice")
	bob := e.user("bob")
	r := e.room(alice, "keep", protocol.RoomPrivate)
	must(t, "Invite", e.s.Invite(e.ctx, r.ID, alice.ID, bob.ID))
	m := e.send(bob, r.ID, "survives")
	_, err := e.s.React(e.ctx, r.ID, m.ID, alice.ID, "👍", true)
	must(t, "React", err)
	must(t, "SetRead", e.s.SetRead(e.ctx, r.ID, alice.ID, m.Seq))
	sess, err := e.s.CreateSession(e.ctx, bob.ID, []byte("tok"))
	must(t, "CreateSession", err)
	dm, err := e.s.DM(e.ctx, alice.ID, bob.ID)
	must(t, "DM", err)
	g := e.general(alice)
	before := e.log(r.ID)
	roomsBefore, err := e.s.Rooms(e.ctx, alice.ID)
	must(t, "Rooms", err)

	e.reopen()

	if u, _, err := e.s.UserByName(e.ctx, "ALICE"); err != nil || u != alice {
		t.Fatalf("user after reopen: %+v, %v", u, err)
	}
	if s, err := e.s.SessionByToken(e.ctx, []byte("tok")); err != nil || s.ID != sess.ID {
		t.Fatalf("session after reopen: %+v, %v", s, err)
	}
	if after := e.log(r.ID); !reflect.DeepEqual(after, before) {
		t.Fatalf("log after reopen:\n%+v\nwant\n%+v", after, before)
	}
	roomsAfter, err := e.s.Rooms(e.ctx, alice.ID)
	must(t, "Rooms", err)
	if !reflect.DeepEqual(roomsAfter, roomsBefore) {
		t.Fatalf("rooms after reopen:\n%+v\nwant\n%+v", roomsAfter, roomsBefore)
	}
	if e.general(alice).ID != g.ID {
		t.Fatal("general changed id after reopen")
	}
	if d, err := e.s.DM(e.ctx, bob.ID, alice.ID); err != nil || d.ID != dm.ID {
		t.Fatalf("DM after reopen: %+v, %v", d, err)
	}
	// seq continues where it stopped; client_ids are still remembered.
	next := e.send(alice, r.ID, "after")
	if next.Seq != int64(len(before))+1 {
		t.Fatalf("seq after reopen %d, want %d", next.Seq, len(before)+1)
	}
	if _, dup, err := e.s.Send(e.ctx, store.SendRequest{RoomID: r.ID, SenderID: bob.ID, Text: "x", ClientID: "cid"}); err != nil || dup {
		t.Fatalf("send: dup %v, %v", dup, err)
	}
	e.reopen()
	if _, dup, err := e.s.Send(e.ctx, store.SendRequest{RoomID: r.ID, SenderID: bob.ID, Text: "x", ClientID: "cid"}); err != nil || !dup {
		t.Fatalf("retry after reopen: dup %v, %v", dup, err)
	}
	if _, err := e.s.CreateUser(e.ctx, store.NewUser{Name: "carol", PasswordHash: "h"}); err != nil {
		t.Fatal(err)
	}
	if u, _, _ := e.s.UserByName(e.ctx, "carol"); u.Role != protocol.RoleMember {
		t.Fatalf("a user created after reopen is %q, want member", u.Role)
	}
	checkLog(t, e, r.ID)
}

func testClosed(t *testing.T, e *env) {
	alice := e.user("alice")
	g := e.general(alice)
	must(t, "Ping", e.s.Ping(e.ctx))
	must(t, "Close", e.s.Close())
	// Calls after Close fail; none hangs.
	if _, _, err := e.s.Send(e.ctx, store.SendRequest{RoomID: g.ID, SenderID: alice.ID, Text: "late"}); err == nil {
		t.Fatal("Send after Close succeeded")
	}
	if _, err := e.s.CreateUser(e.ctx, store.NewUser{Name: "late", PasswordHash: "h"}); err == nil {
		t.Fatal("CreateUser after Close succeeded")
	}
	if err := e.s.Ping(e.ctx); err == nil {
		t.Fatal("Ping after Close succeeded")
	}
	if _, err := e.s.UserByID(e.ctx, alice.ID); err == nil {
		t.Fatal("UserByID after Close succeeded")
	}
	// Nothing submitted after Close was stored.
	e.s = e.openStore()
	if _, _, err := e.s.UserByName(e.ctx, "late"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("user created after Close: %v", err)
	}
}

func testCancelledContext(t *testing.T, e *env) {
	alice := e.user("alice")
	g := e.general(alice)
	last := g.LastSeq
	e.rec.take()
	ctx, cancel := context.WithCancel(e.ctx)
	cancel()
	_, _, err := e.s.Send(ctx, store.SendRequest{RoomID: g.ID, SenderID: alice.ID, Text: "never"})
	wantErr(t, "Send(cancelled ctx)", err, context.Canceled)
	_, err = e.s.CreateRoom(ctx, alice.ID, "never", protocol.RoomPublic)
	wantErr(t, "CreateRoom(cancelled ctx)", err, context.Canceled)
	if got := e.general(alice).LastSeq; got != last {
		t.Fatalf("a cancelled send was stored: last_seq %d, want %d", got, last)
	}
	if evs := e.rec.take(); len(evs) != 0 {
		t.Fatalf("cancelled writes produced %q", describe(evs))
	}
}

// testSendAsync pipelines sends from one caller: each is answered once, in
// submission order, with gap-free seqs; errors and retries behave as Send's.
func testSendAsync(t *testing.T, e *env) {
	alice := e.user("alice")
	bob := e.user("bob")
	r := e.room(alice, "r", protocol.RoomPrivate) // seq 1: created
	type result struct {
		msg protocol.Message
		dup bool
		err error
	}
	const n = 200
	results := make(chan result, n+3)
	done := func(m protocol.Message, dup bool, err error) { results <- result{m, dup, err} }
	for i := 0; i < n; i++ {
		e.s.SendAsync(e.ctx, store.SendRequest{RoomID: r.ID, SenderID: alice.ID, Text: fmt.Sprint(i), ClientID: fmt.Sprint("a", i)}, done)
	}
	for i := 0; i < n; i++ {
		res := <-results
		must(t, "SendAsync", res.err)
		if res.msg.Text != fmt.Sprint(i) || res.msg.Seq != int64(i+2) || res.dup {
			t.Fatalf("answer %d: %+v dup=%v, want text %d at seq %d", i, res.msg, res.dup, i, i+2)
		}
	}
	// A retry answers with the original; a non-member is refused.
	e.s.SendAsync(e.ctx, store.SendRequest{RoomID: r.ID, SenderID: alice.ID, Text: "again", ClientID: "a7"}, done)
	if res := <-results; res.err != nil || !res.dup || res.msg.Seq != 9 {
		t.Fatalf("retry: %+v", res)
	}
	e.s.SendAsync(e.ctx, store.SendRequest{RoomID: r.ID, SenderID: bob.ID, Text: "let me in"}, done)
	if res := <-results; !errors.Is(res.err, store.ErrForbidden) {
		t.Fatalf("non-member: %v, want ErrForbidden", res.err)
	}
	checkLog(t, e, r.ID)
	must(t, "Close", e.s.Close())
	e.s.SendAsync(e.ctx, store.SendRequest{RoomID: r.ID, SenderID: alice.ID, Text: "late"}, done)
	if res := <-results; res.err == nil {
		t.Fatal("SendAsync after Close succeeded")
	}
	e.s = e.openStore()
}
