package hub

import (
	"context"
	"math/rand/v2"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"minichat/server/auth"
	"minichat/server/chat"
	"minichat/server/protocol"
	"minichat/server/store"
	"minichat/server/store/sqlstore"
)

// logStore is a real SQLite store whose commits are collected instead of
// being handed to a hub, so a test can play broker: deliver them late,
// twice, out of order or not at all.
type logStore struct {
	store.Store
	chat   *chat.Service
	mu     sync.Mutex
	events []store.Event
	user   protocol.User
	room   string
}

func newLogStore(t *testing.T) *logStore {
	t.Helper()
	ls := &logStore{}
	st, err := sqlstore.OpenSQLite(filepath.Join(t.TempDir(), "gap.db"), store.Options{OnCommit: func(evs []store.Event) {
		ls.mu.Lock()
		ls.events = append(ls.events, evs...)
		ls.mu.Unlock()
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ls.Store = st
	ctx := context.Background()
	ls.chat = &chat.Service{Store: st, Passwords: auth.NewPasswords(auth.Params{Time: 1, MemoryKiB: 8 * 1024, Threads: 1, KeyLen: 32, SaltLen: 16}, 1)}
	if ls.user, err = ls.chat.CreateAccount(ctx, "alice", "password", false); err != nil {
		t.Fatal(err)
	}
	r, err := ls.chat.CreateRoom(ctx, ls.user, "gaps", false)
	if err != nil {
		t.Fatal(err)
	}
	ls.room = r.ID
	return ls
}

// send commits n chat messages and returns their events, in seq order.
func (ls *logStore) send(t *testing.T, n int) []store.Event {
	t.Helper()
	ls.mu.Lock()
	ls.events = nil
	ls.mu.Unlock()
	for range n {
		if _, err := ls.chat.Send(context.Background(), ls.user, chat.SendParams{Room: ls.room, Text: "hi"}); err != nil {
			t.Fatal(err)
		}
	}
	ls.mu.Lock()
	defer ls.mu.Unlock()
	if len(ls.events) != n {
		t.Fatalf("%d events for %d sends", len(ls.events), n)
	}
	return ls.events
}

func (ls *logStore) lastSeq(t *testing.T) int64 {
	r, err := ls.Room(context.Background(), ls.room, ls.user.ID)
	if err != nil {
		t.Fatal(err)
	}
	return r.LastSeq
}

// gapHub is a clustered hub filling gaps from ls, with a connection of
// bob in ls's room that joined at the room's current seq.
func gapHub(t *testing.T, ls *logStore) (*Hub, *fake) {
	t.Helper()
	h := newHub(t, Options{Fill: ls.Since, GapWait: 20 * time.Millisecond})
	bob := user("bob")
	f := startFake(t, NewConn("c_bob", bob, "s_bob", 0))
	welcome := protocol.Welcome{User: bob, Rooms: []protocol.Room{{ID: ls.room, LastSeq: ls.lastSeq(t), Member: true}}}
	if !h.Register(f.c, Registration{RoomIDs: []string{ls.room}, Welcome: welcome}) {
		t.Fatal("register")
	}
	if w := f.next(t); w["type"] != "welcome" {
		t.Fatalf("first frame %v", w)
	}
	t.Cleanup(func() { f.shutdown(h) })
	return h, f
}

// expectSeqs asserts that f receives the room's messages from..to, each
// once and in order, and nothing after.
func expectSeqs(t *testing.T, f *fake, from, to int64) {
	t.Helper()
	for want := from; want <= to; want++ {
		m := f.next(t, "message")
		if got := int64(m["message"].(map[string]any)["seq"].(float64)); got != want {
			t.Fatalf("got seq %d, want %d", got, want)
		}
	}
	f.none(t, 100*time.Millisecond, "message")
}

func TestGapFillerRecoversDroppedAndReorderedBrokerMessages(t *testing.T) {
	ls := newLogStore(t)
	h, f := gapHub(t, ls)
	base := ls.lastSeq(t)
	evs := ls.send(t, 60)

	// The broker loses every fifth event, swaps neighbours and repeats
	// some; the first is delivered last.
	var delivered []store.Event
	for i := 1; i < len(evs); i++ {
		switch {
		case i%5 == 0:
		case i%7 == 0 && i+1 < len(evs):
			delivered = append(delivered, evs[i+1], evs[i])
			i++
		case i%11 == 0:
			delivered = append(delivered, evs[i], evs[i])
		default:
			delivered = append(delivered, evs[i])
		}
	}
	delivered = append(delivered, evs[0])
	for _, ev := range delivered {
		h.Publish([]store.Event{ev})
	}
	expectSeqs(t, f, base+1, base+60)
}

func TestGapFillerShufflesAndDropsAtRandom(t *testing.T) {
	ls := newLogStore(t)
	h, f := gapHub(t, ls)
	base := ls.lastSeq(t)
	evs := ls.send(t, 200)
	rng := rand.New(rand.NewPCG(1, 2))
	delivered := make([]store.Event, 0, len(evs))
	for _, ev := range evs {
		if rng.IntN(4) != 0 { // a quarter is lost
			delivered = append(delivered, ev)
		}
	}
	// Events travel out of order within windows of eight.
	for i := 0; i < len(delivered); i += 8 {
		w := delivered[i:min(i+8, len(delivered))]
		rng.Shuffle(len(w), func(a, b int) { w[a], w[b] = w[b], w[a] })
	}
	// The last event always arrives, so the end is known.
	delivered = append(delivered, evs[len(evs)-1])
	for _, ev := range delivered {
		h.Publish([]store.Event{ev})
	}
	expectSeqs(t, f, base+1, base+200)
}

func TestLostTailIsFilledFromHeadsAndResync(t *testing.T) {
	ls := newLogStore(t)
	h, f := gapHub(t, ls)
	base := ls.lastSeq(t)
	evs := ls.send(t, 5)
	h.Publish(evs[:2])
	expectSeqs(t, f, base+1, base+2)
	// Nothing follows the lost tail: no gap to see until another node's
	// heartbeat names the room's head.
	h.RemoteHeads(map[string]int64{ls.room: evs[4].Seq})
	expectSeqs(t, f, base+3, base+5)

	// After a broker reconnection every active room is read again.
	ls.send(t, 3)
	f.none(t, 50*time.Millisecond, "message")
	h.Resync()
	expectSeqs(t, f, base+6, base+8)
}

func TestSingleNodeHubDeliversWithoutOrdering(t *testing.T) {
	// Without Fill, the hub trusts the store's commit order as before:
	// nothing is held, nothing is read.
	h := newHub(t, Options{})
	alice := user("alice")
	a := newFake(t, h, alice, "s1", "r1")
	h.Publish([]store.Event{msgEvent("r1", 5, alice, "")})
	if m := a.next(t, "message"); m["message"].(map[string]any)["seq"].(float64) != 5 {
		t.Fatalf("got %v", m)
	}
}

func TestResyncReadsMoreThanOnePage(t *testing.T) {
	ls := newLogStore(t)
	h, f := gapHub(t, ls)
	base := ls.lastSeq(t)
	// More than one read's worth is committed while the broker is away.
	ls.send(t, fillLimit+120)
	h.Resync()
	expectSeqs(t, f, base+1, base+fillLimit+120)
}

func TestClusteredHubSkipsMembershipItsWelcomeHad(t *testing.T) {
	ls := newLogStore(t)
	h, f := gapHub(t, ls)
	bob := f.c.User
	// bob's join of the room, committed on another node before he
	// connected here, arrives late: his welcome already listed the room.
	h.Publish([]store.Event{{Kind: store.EventMember, RoomID: ls.room, UserID: bob.ID, Joined: true, Room: protocol.Room{ID: ls.room}}})
	f.none(t, 100*time.Millisecond, "room")
	// A join he has not seen yet is told.
	h.Publish([]store.Event{{Kind: store.EventMember, RoomID: "r_new", UserID: bob.ID, Joined: true, Room: protocol.Room{ID: "r_new"}}})
	if m := f.next(t, "room"); m["event"] != "joined" {
		t.Fatalf("room frame %v", m)
	}
}
