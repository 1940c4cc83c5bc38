package storetest

import (
	"errors"
	"fmt"
	"testing"

	"minichat/server/protocol"
	"minichat/server/store"
)

// seqs lists the seqs of a page's messages.
func seqs(ms []protocol.Message) []int64 {
	out := make([]int64, len(ms))
	for i, m := range ms {
		out[i] = m.Seq
	}
	return out
}

func testPages(t *testing.T, e *env) {
	alice := e.user("alice")
	r := e.room(alice, "r", protocol.RoomPublic) // seq 1: system
	var sent []protocol.Message
	for i := range 20 {
		sent = append(sent, e.send(alice, r.ID, fmt.Sprint("m", i))) // seqs 2..21
	}
	e.edit(r.ID, sent[5].ID, "changed") // seq 22, an update: no message has it
	e.send(alice, r.ID, "last")         // seq 23

	span := func(from, to int64) []int64 {
		var out []int64
		for s := from; s <= to; s++ {
			if s != 22 {
				out = append(out, s)
			}
		}
		return out
	}
	for _, tc := range []struct {
		name         string
		req          store.PageRequest
		want         []int64
		older, newer bool
	}{
		{"newest", store.PageRequest{Limit: 5}, span(18, 23), true, false},
		{"before", store.PageRequest{Before: 10, Limit: 5}, span(5, 9), true, true},
		{"before the start", store.PageRequest{Before: 3, Limit: 5}, span(1, 2), false, true},
		{"after", store.PageRequest{After: 10, Limit: 5}, span(11, 15), true, true},
		{"after, to the end across an update", store.PageRequest{After: 19, Limit: 5}, span(20, 23), true, false},
		{"after the end", store.PageRequest{After: 23, Limit: 5}, nil, true, false},
		{"after the start", store.PageRequest{After: 1, Limit: 3}, span(2, 4), true, true},
		{"around", store.PageRequest{Around: 10, Limit: 5}, span(8, 12), true, true},
		{"around the start", store.PageRequest{Around: 2, Limit: 5}, span(1, 5), false, true},
		{"around the end", store.PageRequest{Around: 23, Limit: 4}, span(19, 23), true, false},
		{"around an update's seq", store.PageRequest{Around: 22, Limit: 4}, span(19, 23), true, false},
		{"around an id", store.PageRequest{AroundID: sent[0].ID, Limit: 4}, span(1, 4), false, true},
		{"around it all", store.PageRequest{Around: 12, Limit: 200}, span(1, 23), false, false},
	} {
		tc.req.RoomID = r.ID
		p, err := e.s.Page(e.ctx, tc.req)
		must(t, "Page("+tc.name+")", err)
		if got := seqs(p.Messages); fmt.Sprint(got) != fmt.Sprint(tc.want) || p.HasOlder != tc.older || p.HasNewer != tc.newer {
			t.Errorf("%s: seqs %v older %v newer %v, want %v older %v newer %v",
				tc.name, got, p.HasOlder, p.HasNewer, tc.want, tc.older, tc.newer)
		}
	}
	// Pages carry messages in their current state.
	p, err := e.s.Page(e.ctx, store.PageRequest{RoomID: r.ID, AroundID: sent[5].ID, Limit: 1})
	must(t, "Page(around the edited one)", err)
	if len(p.Messages) != 1 || p.Messages[0].ID != sent[5].ID || p.Messages[0].Text != "changed" {
		t.Fatalf("around the edited message: %+v", p.Messages)
	}
	// Walking forward from the start meets every message once.
	var all []int64
	for after := int64(0); ; {
		p, err := e.s.Page(e.ctx, store.PageRequest{RoomID: r.ID, After: after, Limit: 7})
		must(t, "Page(walk)", err)
		if after == 0 { // After 0 is the newest page: start from seq 1 instead
			p, err = e.s.Page(e.ctx, store.PageRequest{RoomID: r.ID, Around: 1, Limit: 7})
			must(t, "Page(walk start)", err)
		}
		all = append(all, seqs(p.Messages)...)
		if !p.HasNewer {
			break
		}
		after = p.Messages[len(p.Messages)-1].Seq
	}
	if fmt.Sprint(all) != fmt.Sprint(span(1, 23)) {
		t.Fatalf("walked forward %v", all)
	}
	// A message of another room, or none, is not found.
	other := e.room(alice, "other", protocol.RoomPublic)
	om := e.send(alice, other.ID, "elsewhere")
	for _, id := range []string{om.ID, "m_nothing"} {
		_, err := e.s.Page(e.ctx, store.PageRequest{RoomID: r.ID, AroundID: id, Limit: 5})
		if !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("Page(around %s of another room) = %v, want ErrNotFound", id, err)
		}
	}
}

func testMentions(t *testing.T, e *env) {
	alice := e.user("alice")
	bob := e.user("bob_x")
	r := e.room(alice, "r", protocol.RoomPublic)
	e.join(r.ID, bob)
	e.send(alice, r.ID, "hi @bob_x")
	e.send(alice, r.ID, "HI @BOB_X, twice @bob_x") // counts once
	e.send(alice, r.ID, "mail bob_x without the at")
	e.send(alice, r.ID, "@bobax is someone else") // the _ is no wildcard
	gone := e.send(alice, r.ID, "@bob_x deleted")
	e.del(r.ID, gone.ID)
	e.send(bob, r.ID, "me, @bob_x, to myself") // not counted
	must(t, "SetRead", e.setRead(r.ID, bob, 1))
	if got := e.roomOf(r.ID, bob); got.Mentions != 2 || got.Unread != 4 {
		t.Fatalf("mentions %d unread %d, want 2 of 4", got.Mentions, got.Unread)
	}
	if got := e.roomOf(r.ID, alice); got.Mentions != 0 {
		t.Fatalf("alice's mentions %d, want 0", got.Mentions)
	}
	must(t, "SetRead", e.setRead(r.ID, bob, e.roomOf(r.ID, bob).LastSeq))
	if got := e.roomOf(r.ID, bob); got.Mentions != 0 {
		t.Fatalf("mentions %d after reading it all", got.Mentions)
	}
}
