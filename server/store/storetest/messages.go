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
	e.rec.take()

	m, dup, err := e.sendReq(store.SendRequest{RoomID: pub.ID, SenderID: alice.ID, Text: "hello <b>world</b>", ClientID: "c1"})
	must(t, "send", err)
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
	// What History returns is what the send returned.
	page, _, err := e.s.History(e.ctx, pub.ID, 0, 1)
	if err != nil || len(page) != 1 || !reflect.DeepEqual(page[0], m) {
		t.Fatalf("History = %+v, %v; want %+v", page, err, m)
	}

	// A send the rule refuses stores nothing, and its sender gets the
	// rule's own error.
	refused := errors.New("refused by the rule")
	_, _, err = e.sendRule(store.SendRequest{RoomID: pub.ID, SenderID: bob.ID, Text: "no"},
		func(*store.SendRequest, *store.SendFacts) error { return refused })
	if err != refused {
		t.Fatalf("refused send: %v, want the rule's error", err)
	}
	// What no rule can allow: a room, a sender or a file that do not exist.
	for _, req := range []store.SendRequest{
		{RoomID: "r_nothing", SenderID: alice.ID, Text: "x"},
		{RoomID: pub.ID, SenderID: "u_nobody", Text: "x"},
		{RoomID: pub.ID, SenderID: alice.ID, Attachments: []string{"f_nothing"}},
	} {
		_, _, err := e.sendReq(req)
		wantErr(t, fmt.Sprintf("send %+v", req), err, store.ErrNotFound)
	}
	if evs := e.rec.take(); len(evs) != 0 {
		t.Fatalf("refused sends produced %q", describe(evs))
	}
	if r := e.roomOf(pub.ID, alice); r.LastSeq != 2 {
		t.Fatalf("refused sends took seqs: last_seq %d", r.LastSeq)
	}
	// A sender need not be a member as far as the store is concerned.
	mb := e.send(bob, pub.ID, "from outside")
	if mb.Seq != 3 || mb.Sender.ID != bob.ID {
		t.Fatalf("send of a non-member %+v", mb)
	}
}

// testSendFacts checks what the store shows a send's rule.
func testSendFacts(t *testing.T, e *env) {
	alice := e.user("alice")
	bob := e.user("bob")
	pub := e.room(alice, "pub", protocol.RoomPublic)
	priv := e.room(alice, "priv", protocol.RoomPrivate)
	parent := e.send(alice, pub.ID, "parent")
	elsewhere := e.send(alice, priv.ID, "elsewhere")
	_, _, err := e.sendReq(store.SendRequest{RoomID: pub.ID, SenderID: alice.ID, Text: "once", ClientID: "k"})
	must(t, "send", err)
	var file store.File
	e.write(func(tx store.Tx) (_ []store.Event, err error) {
		file, err = tx.CreateFile(store.NewFile{Name: "a.png", Size: 1, Type: "image/png", SHA256: "aa", UploaderID: bob.ID})
		return nil, err
	})

	facts := func(req store.SendRequest) store.SendFacts {
		t.Helper()
		var f store.SendFacts
		stop := errors.New("stop")
		_, _, err := e.sendRule(req, func(r *store.SendRequest, sf *store.SendFacts) error {
			if !reflect.DeepEqual(*r, req) {
				t.Errorf("rule shown %+v, want %+v", *r, req)
			}
			f = *sf
			return stop
		})
		if err != stop {
			t.Fatalf("send %+v: %v", req, err)
		}
		return f
	}
	cases := []struct {
		name string
		req  store.SendRequest
		want store.SendFacts
	}{
		{"member", store.SendRequest{RoomID: pub.ID, SenderID: alice.ID},
			store.SendFacts{Room: protocol.Room{Kind: protocol.RoomPublic, Member: true}, Sender: alice}},
		{"non-member", store.SendRequest{RoomID: priv.ID, SenderID: bob.ID},
			store.SendFacts{Room: protocol.Room{Kind: protocol.RoomPrivate}, Sender: bob}},
		{"unknown room", store.SendRequest{RoomID: "r_nothing", SenderID: bob.ID},
			store.SendFacts{Sender: bob}},
		{"unknown sender", store.SendRequest{RoomID: pub.ID, SenderID: "u_nobody"},
			store.SendFacts{Room: protocol.Room{Kind: protocol.RoomPublic}}},
		{"duplicate", store.SendRequest{RoomID: priv.ID, SenderID: alice.ID, ClientID: "k"},
			store.SendFacts{Room: protocol.Room{Kind: protocol.RoomPrivate, Member: true}, Sender: alice, Duplicate: true}},
		{"another sender's client_id", store.SendRequest{RoomID: pub.ID, SenderID: bob.ID, ClientID: "k"},
			store.SendFacts{Room: protocol.Room{Kind: protocol.RoomPublic}, Sender: bob}},
		{"reply", store.SendRequest{RoomID: pub.ID, SenderID: alice.ID, ReplyTo: parent.ID},
			store.SendFacts{Room: protocol.Room{Kind: protocol.RoomPublic, Member: true}, Sender: alice, ReplyRoom: pub.ID}},
		{"reply elsewhere", store.SendRequest{RoomID: pub.ID, SenderID: alice.ID, ReplyTo: elsewhere.ID},
			store.SendFacts{Room: protocol.Room{Kind: protocol.RoomPublic, Member: true}, Sender: alice, ReplyRoom: priv.ID}},
		{"reply to nothing", store.SendRequest{RoomID: pub.ID, SenderID: alice.ID, ReplyTo: "m_nothing"},
			store.SendFacts{Room: protocol.Room{Kind: protocol.RoomPublic, Member: true}, Sender: alice}},
		{"attachments", store.SendRequest{RoomID: pub.ID, SenderID: alice.ID, Attachments: []string{"f_nothing", file.ID}},
			store.SendFacts{Room: protocol.Room{Kind: protocol.RoomPublic, Member: true}, Sender: alice, Files: []store.File{{}, file}}},
	}
	for _, tc := range cases {
		if got := facts(tc.req); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: facts\n got %+v\nwant %+v", tc.name, got, tc.want)
		}
	}
}

func testSendIdempotent(t *testing.T, e *env) {
	alice := e.user("alice")
	bob := e.user("bob")
	g := e.general(alice)
	e.rec.take()

	req := store.SendRequest{RoomID: g.ID, SenderID: alice.ID, Text: "once", ClientID: "abc"}
	m1, dup, err := e.sendReq(req)
	if err != nil || dup {
		t.Fatalf("first send: dup %v, %v", dup, err)
	}
	e.rec.take()

	req.Text = "retry with other text"
	m2, dup, err := e.sendReq(req)
	if err != nil || !dup || !reflect.DeepEqual(m1, m2) {
		t.Fatalf("retry = %+v dup %v %v, want the original %+v and dup", m2, dup, err, m1)
	}
	if evs := e.rec.take(); len(evs) != 0 {
		t.Fatalf("retry produced %q", describe(evs))
	}
	if r := e.roomOf(g.ID, alice); r.LastSeq != m1.Seq {
		t.Fatalf("retry took a seq: last_seq %d, want %d", r.LastSeq, m1.Seq)
	}
	// The retry returns the original in its current state.
	e.edit(g.ID, m1.ID, "edited")
	m3, dup, err := e.sendReq(req)
	if err != nil || !dup || m3.ID != m1.ID || m3.Text != "edited" {
		t.Fatalf("retry after edit = %+v dup %v %v", m3, dup, err)
	}
	// client_id is unique per sender: another sender may use the same one.
	mb, dup, err := e.sendReq(store.SendRequest{RoomID: g.ID, SenderID: bob.ID, Text: "bob's", ClientID: "abc"})
	if err != nil || dup || mb.ID == m1.ID {
		t.Fatalf("other sender's send = %+v dup %v %v", mb, dup, err)
	}
	// Without client_id every send is new.
	a := e.send(alice, g.ID, "same")
	b := e.send(alice, g.ID, "same")
	if a.ID == b.ID || b.Seq != a.Seq+1 || a.ClientID != "" {
		t.Fatalf("sends without client_id: %+v %+v", a, b)
	}
	// The same client_id twice in one batch: the second is the first's
	// duplicate.
	res := make(chan sent, 2)
	for range 2 {
		e.s.SendAsync(e.ctx, store.SendRequest{RoomID: g.ID, SenderID: bob.ID, Text: "twice", ClientID: "both"}, allow,
			func(m protocol.Message, dup bool, err error) { res <- sent{m, dup, err} })
	}
	first, second := <-res, <-res
	if first.err != nil || second.err != nil || first.dup || !second.dup || first.msg.ID != second.msg.ID {
		t.Fatalf("one client_id twice in a row: %+v then %+v", first, second)
	}
}

// testSendAsync pipelines sends from one caller: each is answered once, in
// submission order, with gap-free seqs.
func testSendAsync(t *testing.T, e *env) {
	alice := e.user("alice")
	r := e.room(alice, "r", protocol.RoomPrivate) // seq 1
	const n = 200
	results := make(chan sent, n+2)
	done := func(m protocol.Message, dup bool, err error) { results <- sent{m, dup, err} }
	for i := 0; i < n; i++ {
		e.s.SendAsync(e.ctx, store.SendRequest{RoomID: r.ID, SenderID: alice.ID, Text: fmt.Sprint(i), ClientID: fmt.Sprint("a", i)}, allow, done)
	}
	for i := 0; i < n; i++ {
		res := <-results
		must(t, "SendAsync", res.err)
		if res.msg.Text != fmt.Sprint(i) || res.msg.Seq != int64(i+2) || res.dup {
			t.Fatalf("answer %d: %+v dup=%v, want text %d at seq %d", i, res.msg, res.dup, i, i+2)
		}
	}
	e.s.SendAsync(e.ctx, store.SendRequest{RoomID: r.ID, SenderID: alice.ID, Text: "again", ClientID: "a7"}, allow, done)
	if res := <-results; res.err != nil || !res.dup || res.msg.Seq != 9 {
		t.Fatalf("retry: %+v", res)
	}
	checkLog(t, e, r.ID)
	must(t, "Close", e.s.Close())
	e.s.SendAsync(e.ctx, store.SendRequest{RoomID: r.ID, SenderID: alice.ID, Text: "late"}, allow, done)
	if res := <-results; res.err == nil {
		t.Fatal("SendAsync after Close succeeded")
	}
	e.s = e.openStore()
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
	e.join(r.ID, bob)                            // 2: bob joined
	m := e.send(bob, r.ID, "hi")                 // 3
	e.react(r.ID, m.ID, alice, "👍", true)        // 4
	e.edit(r.ID, m.ID, "hey")                    // 5
	e.leave(r.ID, bob)                           // 6: bob left
	e.send(alice, r.ID, "bye")                   // 7
	e.del(r.ID, m.ID)                            // 8

	evs := checkLog(t, e, r.ID)
	wantEvents(t, evs,
		"message system created", "message system bob joined", "message chat ",
		"update "+m.ID, "update "+m.ID, "message system bob left", "message chat bye", "update "+m.ID)
	// Another room's seqs are its own.
	other := e.room(alice, "other", protocol.RoomPublic)
	if o := e.send(alice, other.ID, "x"); o.Seq != 2 {
		t.Fatalf("other room's second seq %d", o.Seq)
	}
	_, err := e.change("r_nothing", m.ID, func(store.Tx) (bool, error) { return true, nil })
	wantErr(t, "AppendUpdate(unknown room)", err, store.ErrNotFound)
	err = e.s.Write(e.ctx, nil, func(tx store.Tx) ([]store.Event, error) {
		_, err := tx.AppendSystem("r_nothing", "x")
		return nil, err
	})
	wantErr(t, "AppendSystem(unknown room)", err, store.ErrNotFound)
}

// testChanges checks the changes of a message: SetText, Tombstone, and
// Message reading the current state.
func testChanges(t *testing.T, e *env) {
	alice := e.user("alice")
	bob := e.user("bob")
	g := e.general(alice)
	m := e.send(alice, g.ID, "original")
	e.rec.take()

	ed := e.edit(g.ID, m.ID, "edited")
	if ed.ID != m.ID || ed.Seq != m.Seq || ed.Text != "edited" || ed.EditedAt == "" || ed.TS != m.TS || *ed.Sender != alice {
		t.Fatalf("edited %+v (original %+v)", ed, m)
	}
	if _, err := protocolTime(ed.EditedAt); err != nil {
		t.Fatal(err)
	}
	evs := e.rec.take()
	wantEvents(t, evs, "update "+m.ID)
	if evs[0].Seq != m.Seq+1 || !reflect.DeepEqual(evs[0].Message, ed) {
		t.Fatalf("edit event %+v", evs[0])
	}
	for what, apply := range map[string]func(store.Tx) error{
		"SetText":   func(tx store.Tx) error { return tx.SetText("m_nothing", "x") },
		"Tombstone": func(tx store.Tx) error { return tx.Tombstone("m_nothing") },
		"Message":   func(tx store.Tx) error { _, err := tx.Message("m_nothing"); return err },
	} {
		err := e.s.Write(e.ctx, nil, func(tx store.Tx) ([]store.Event, error) { return nil, apply(tx) })
		wantErr(t, what+"(unknown)", err, store.ErrNotFound)
	}

	e.react(g.ID, m.ID, bob, "🎉", true)
	del := e.del(g.ID, m.ID)
	if !del.Deleted || del.Text != "" || len(del.Reactions) != 0 || del.ID != m.ID || del.Seq != m.Seq || del.EditedAt != ed.EditedAt {
		t.Fatalf("tombstone %+v", del)
	}
	page, _, err := e.s.History(e.ctx, g.ID, m.Seq+1, 1)
	if err != nil || len(page) != 1 || !reflect.DeepEqual(page[0], del) {
		t.Fatalf("History shows %+v, %v; want the tombstone %+v", page, err, del)
	}
	checkLog(t, e, g.ID)
}

func testReact(t *testing.T, e *env) {
	alice := e.user("alice")
	bob := e.user("bob")
	carol := e.user("carol")
	g := e.general(alice)
	m := e.send(alice, g.ID, "react to me")
	e.rec.take()

	e.react(g.ID, m.ID, bob, "👍", true)
	e.react(g.ID, m.ID, alice, "🎉", true)
	e.react(g.ID, m.ID, carol, "👍", true)
	got := e.react(g.ID, m.ID, alice, "👍", true)
	want := []protocol.Reaction{{Emoji: "👍", Users: []string{"bob", "carol", "alice"}}, {Emoji: "🎉", Users: []string{"alice"}}}
	if !reflect.DeepEqual(got.Reactions, want) {
		t.Fatalf("reactions %+v, want %+v", got.Reactions, want)
	}
	if evs := e.rec.take(); len(evs) != 4 || !reflect.DeepEqual(evs[3].Message, got) || evs[3].Seq != m.Seq+4 {
		t.Fatalf("react events %q", describe(evs))
	}
	// A reaction that is already there, or not there, changes nothing.
	var did []bool
	e.write(func(tx store.Tx) ([]store.Event, error) {
		for _, on := range []bool{true, false} {
			changed, err := tx.React(m.ID, bob.ID, map[bool]string{true: "👍", false: "🚀"}[on], on)
			if err != nil {
				return nil, err
			}
			did = append(did, changed)
		}
		return nil, nil
	})
	if !slices.Equal(did, []bool{false, false}) {
		t.Fatalf("React of what is already so reported changes %v", did)
	}
	e.react(g.ID, m.ID, bob, "👍", false)
	got = e.react(g.ID, m.ID, alice, "🎉", false)
	want = []protocol.Reaction{{Emoji: "👍", Users: []string{"carol", "alice"}}}
	if !reflect.DeepEqual(got.Reactions, want) {
		t.Fatalf("reactions after removal %+v, want %+v", got.Reactions, want)
	}
	page, _, err := e.s.History(e.ctx, g.ID, 0, 1)
	if err != nil || !reflect.DeepEqual(page[0].Reactions, want) {
		t.Fatalf("History reactions %+v, %v; want %+v", page[0].Reactions, err, want)
	}
	e.react(g.ID, m.ID, carol, "👍", false)
	if got = e.react(g.ID, m.ID, alice, "👍", false); len(got.Reactions) != 0 {
		t.Fatalf("reactions after removing all: %+v", got.Reactions)
	}
	checkLog(t, e, g.ID)
}

func testHistory(t *testing.T, e *env) {
	alice := e.user("alice")
	r := e.room(alice, "r", protocol.RoomPublic) // seq 1: system
	var sent []protocol.Message
	for i := range 25 {
		sent = append(sent, e.send(alice, r.ID, fmt.Sprint("m", i))) // seqs 2..26
	}
	edited := e.edit(r.ID, sent[3].ID, "changed") // seq 27

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
	for _, tc := range []struct {
		before      int64
		n           int
		first       int64
		wantMore    bool
		description string
	}{
		{3, 2, 1, false, "before 3"},
		{1, 0, 0, false, "before 1"},
		{12, 10, 2, true, "exactly full"},
		{11, 10, 1, false, "all of it"},
	} {
		page, more, err := e.s.History(e.ctx, r.ID, tc.before, 10)
		must(t, "History("+tc.description+")", err)
		if more != tc.wantMore || len(page) != tc.n || (tc.n > 0 && page[0].Seq != tc.first) {
			t.Fatalf("%s: %d messages, more %v", tc.description, len(page), more)
		}
	}
	page, more, err = e.s.History(e.ctx, "r_nothing", 0, 10)
	if err == nil && (more || len(page) != 0) {
		t.Fatalf("History(unknown room) = %+v", page)
	}
}

func testSince(t *testing.T, e *env) {
	alice := e.user("alice")
	r := e.room(alice, "r", protocol.RoomPublic) // 1
	m1 := e.send(alice, r.ID, "one")             // 2
	m2 := e.send(alice, r.ID, "two")             // 3
	e.edit(r.ID, m1.ID, "one!")                  // 4
	e.send(alice, r.ID, "three")                 // 5
	e.react(r.ID, m2.ID, alice, "👍", true)       // 6

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
	if err != nil || len(evs) != 1 || evs[0].Seq != 4 || evs[0].Kind != store.EventUpdate {
		t.Fatalf("Since(3, 1) = %q, %v", describe(evs), err)
	}
	if evs, err = e.s.Since(e.ctx, r.ID, 6, 10); err != nil || len(evs) != 0 {
		t.Fatalf("Since(last) = %q, %v", describe(evs), err)
	}
	if evs, err = e.s.Since(e.ctx, "r_nothing", 0, 10); err == nil && len(evs) != 0 {
		t.Fatalf("Since(unknown room) = %q", describe(evs))
	}
}

func testReadMarkers(t *testing.T, e *env) {
	alice := e.user("alice")
	bob := e.user("bob")
	r := e.room(alice, "r", protocol.RoomPublic) // 1
	e.join(r.ID, bob)                            // 2
	if got := e.roomOf(r.ID, bob); got.Unread != 0 || got.ReadSeq != 1 {
		t.Fatalf("new member: unread %d read_seq %d, want 0 and the last seq before joining", got.Unread, got.ReadSeq)
	}
	a1 := e.send(alice, r.ID, "a1")        // 3
	e.send(bob, r.ID, "b1")                // 4: own, never unread
	a2 := e.send(alice, r.ID, "a2")        // 5
	a3 := e.send(alice, r.ID, "a3")        // 6
	e.react(r.ID, a1.ID, alice, "👍", true) // 7: an update, not a message
	unread := func(want int64) {
		t.Helper()
		if got := e.roomOf(r.ID, bob); got.Unread != want {
			t.Fatalf("unread %d, want %d (read_seq %d)", got.Unread, want, got.ReadSeq)
		}
	}
	unread(3)
	e.del(r.ID, a3.ID) // 8: deleted messages are not unread
	unread(2)
	e.leave(r.ID, alice) // 9: system messages are not unread
	unread(2)

	must(t, "SetRead", e.setRead(r.ID, bob, a1.Seq))
	unread(1)
	if got := e.roomOf(r.ID, bob); got.ReadSeq != a1.Seq {
		t.Fatalf("read_seq %d, want %d", got.ReadSeq, a1.Seq)
	}
	// Never backwards.
	must(t, "SetRead(backwards)", e.setRead(r.ID, bob, 1))
	if got := e.roomOf(r.ID, bob); got.ReadSeq != a1.Seq || got.Unread != 1 {
		t.Fatalf("after SetRead backwards: %+v", got)
	}
	must(t, "SetRead", e.setRead(r.ID, bob, a2.Seq))
	unread(0)
	// Never past the room's last seq.
	must(t, "SetRead(future)", e.setRead(r.ID, bob, 1000))
	got := e.roomOf(r.ID, bob)
	if got.ReadSeq != got.LastSeq || got.LastSeq != 9 {
		t.Fatalf("after SetRead past the end: read_seq %d last_seq %d", got.ReadSeq, got.LastSeq)
	}
	// So what comes next is unread.
	e.join(r.ID, alice) // 10
	e.send(alice, r.ID, "new")
	unread(1)
	wantErr(t, "SetRead(non-member)", e.setRead(r.ID, e.user("carol"), 1), store.ErrNotFound)
	wantErr(t, "SetRead(unknown room)", e.setRead("r_nothing", bob, 1), store.ErrNotFound)
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
				if _, _, err := e.sendReq(store.SendRequest{RoomID: g.ID, SenderID: alice.ID, Text: fmt.Sprint(i, "/", j)}); err != nil {
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
	must(t, "SetRead", e.setRead(g.ID, bob, e.roomOf(g.ID, bob).LastSeq-5))
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
		e.join(r.ID, users[i])
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
				m, dup, err := e.sendReq(req)
				if err != nil || dup {
					errs <- fmt.Errorf("send %d/%d: dup %v, %w", i, j, dup, err)
					return
				}
				seqs <- m.Seq
				if j%2 == 0 {
					if again, dup, err := e.sendReq(req); err != nil || !dup || again.ID != m.ID {
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
	e.join(r.ID, bob)
	m := e.send(bob, r.ID, "survives")
	e.react(r.ID, m.ID, alice, "👍", true)
	must(t, "SetRead", e.setRead(r.ID, alice, m.Seq))
	dm := e.dm(alice, bob)
	g := e.general(alice)
	before := e.log(r.ID)
	roomsBefore, err := e.s.Rooms(e.ctx, store.Scope{UserID: alice.ID, Public: true})
	must(t, "Rooms", err)

	e.reopen()

	if a, err := e.s.UserByName(e.ctx, "ALICE"); err != nil || a.User != alice {
		t.Fatalf("user after reopen: %+v, %v", a, err)
	}
	if after := e.log(r.ID); !reflect.DeepEqual(after, before) {
		t.Fatalf("log after reopen:\n%+v\nwant\n%+v", after, before)
	}
	roomsAfter, err := e.s.Rooms(e.ctx, store.Scope{UserID: alice.ID, Public: true})
	must(t, "Rooms", err)
	if !reflect.DeepEqual(roomsAfter, roomsBefore) {
		t.Fatalf("rooms after reopen:\n%+v\nwant\n%+v", roomsAfter, roomsBefore)
	}
	if e.general(alice).ID != g.ID {
		t.Fatal("general changed id after reopen")
	}
	e.write(func(tx store.Tx) ([]store.Event, error) {
		if id, err := tx.DMRoom(alice.ID + "|" + bob.ID); err != nil || id != dm.ID {
			t.Errorf("DM after reopen: %s, %v", id, err)
		}
		return nil, nil
	})
	// seq continues where it stopped; client_ids are still remembered.
	next := e.send(alice, r.ID, "after")
	if next.Seq != int64(len(before))+1 {
		t.Fatalf("seq after reopen %d, want %d", next.Seq, len(before)+1)
	}
	req := store.SendRequest{RoomID: r.ID, SenderID: bob.ID, Text: "x", ClientID: "cid"}
	if _, dup, err := e.sendReq(req); err != nil || dup {
		t.Fatalf("send: dup %v, %v", dup, err)
	}
	e.reopen()
	if _, dup, err := e.sendReq(req); err != nil || !dup {
		t.Fatalf("retry after reopen: dup %v, %v", dup, err)
	}
	checkLog(t, e, r.ID)
}

func testClosed(t *testing.T, e *env) {
	alice := e.user("alice")
	g := e.general(alice)
	must(t, "Ping", e.s.Ping(e.ctx))
	must(t, "Close", e.s.Close())
	// Calls after Close fail; none hangs.
	if _, _, err := e.sendReq(store.SendRequest{RoomID: g.ID, SenderID: alice.ID, Text: "late"}); err == nil {
		t.Fatal("send after Close succeeded")
	}
	err := e.s.Write(e.ctx, nil, func(tx store.Tx) ([]store.Event, error) {
		_, err := tx.CreateUser(store.NewUser{Name: "late", Role: protocol.RoleMember, PasswordHash: "h"})
		return nil, err
	})
	if err == nil {
		t.Fatal("Write after Close succeeded")
	}
	if err := e.s.Ping(e.ctx); err == nil {
		t.Fatal("Ping after Close succeeded")
	}
	if _, err := e.s.UserByID(e.ctx, alice.ID); err == nil {
		t.Fatal("UserByID after Close succeeded")
	}
	// Nothing submitted after Close was stored.
	e.s = e.openStore()
	if _, err := e.s.UserByName(e.ctx, "late"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("user created after Close: %v", err)
	}
	if r := e.general(alice); r.LastSeq != g.LastSeq {
		t.Fatalf("a send after Close was stored: last_seq %d, was %d", r.LastSeq, g.LastSeq)
	}
}

func testCancelledContext(t *testing.T, e *env) {
	alice := e.user("alice")
	g := e.general(alice)
	e.rec.take()
	ctx, cancel := context.WithCancel(e.ctx)
	cancel()
	res := make(chan error, 1)
	e.s.SendAsync(ctx, store.SendRequest{RoomID: g.ID, SenderID: alice.ID, Text: "never"}, allow,
		func(_ protocol.Message, _ bool, err error) { res <- err })
	wantErr(t, "SendAsync(cancelled ctx)", <-res, context.Canceled)
	ran := false
	err := e.s.Write(ctx, nil, func(store.Tx) ([]store.Event, error) { ran = true; return nil, nil })
	wantErr(t, "Write(cancelled ctx)", err, context.Canceled)
	if ran {
		t.Fatal("the fn of a cancelled Write ran")
	}
	if got := e.general(alice).LastSeq; got != g.LastSeq {
		t.Fatalf("a cancelled send was stored: last_seq %d, want %d", got, g.LastSeq)
	}
	if evs := e.rec.take(); len(evs) != 0 {
		t.Fatalf("cancelled writes produced %q", describe(evs))
	}
}
