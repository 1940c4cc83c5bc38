package hub

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"minichat/server/protocol"
	"minichat/server/store"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fake is a connection whose "transport" is a goroutine that drains the
// queue into a channel, as the ws writer does.
type fake struct {
	c      *Conn
	frames chan map[string]any
	closed chan int // receives the close code
	stop   chan struct{}
}

func newFake(t *testing.T, h *Hub, user protocol.User, session string, rooms ...string) *fake {
	t.Helper()
	f := startFake(t, NewConn("c_"+user.Name+session, user, session, 0))
	if !h.Register(f.c, Registration{RoomIDs: rooms, Welcome: protocol.Welcome{User: user}}) {
		t.Fatal("register after shutdown")
	}
	w := f.next(t)
	if w["type"] != "welcome" {
		t.Fatalf("first frame %v, want welcome", w)
	}
	t.Cleanup(func() { f.shutdown(h) })
	return f
}

func startFake(t *testing.T, c *Conn) *fake {
	f := &fake{c: c, frames: make(chan map[string]any, 10000), closed: make(chan int, 1), stop: make(chan struct{})}
	go func() {
		var batch [][]byte
		for {
			select {
			case <-c.Wake():
				batch, _ = c.Take(batch[:0], 0)
				for _, b := range batch {
					var m map[string]any
					if err := json.Unmarshal(b, &m); err != nil {
						panic(err)
					}
					if m["type"] != "presence_batch" {
						f.frames <- m
						continue
					}
					// A batch reads as its changes, each a presence frame.
					for _, u := range m["users"].([]any) {
						p := u.(map[string]any)
						p["type"] = "presence"
						f.frames <- p
					}
				}
			case <-c.Done():
				code, _ := c.CloseCode()
				f.closed <- code
				return
			case <-f.stop:
				return
			}
		}
	}()
	return f
}

func (f *fake) shutdown(h *Hub) {
	select {
	case <-f.stop:
	default:
		close(f.stop)
		h.Unregister(f.c)
	}
}

// next returns the next frame, skipping presence frames unless asked for.
func (f *fake) next(t *testing.T, types ...string) map[string]any {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case m := <-f.frames:
			if len(types) == 0 && m["type"] == "presence" {
				continue
			}
			for _, ty := range types {
				if m["type"] == ty {
					return m
				}
			}
			if len(types) == 0 {
				return m
			}
		case <-deadline:
			t.Fatalf("%s: no frame of type %v", f.c.User.Name, types)
			return nil
		}
	}
}

// none asserts that no frame of the given types arrives within d.
func (f *fake) none(t *testing.T, d time.Duration, types ...string) {
	t.Helper()
	timeout := time.After(d)
	for {
		select {
		case m := <-f.frames:
			for _, ty := range types {
				if m["type"] == ty {
					t.Fatalf("%s: unexpected %v", f.c.User.Name, m)
				}
			}
		case <-timeout:
			return
		}
	}
}

func user(name string) protocol.User {
	return protocol.User{ID: "u_" + name, Name: name, Role: "member"}
}

func msgEvent(room string, seq int64, from protocol.User, text string) store.Event {
	return store.Event{Kind: store.EventMessage, RoomID: room, Seq: seq, Message: protocol.Message{
		ID: fmt.Sprintf("m_%s_%d", room, seq), Room: room, Seq: seq, Kind: "chat", Sender: &from, Text: text}}
}

func newHub(t *testing.T, opts Options) *Hub {
	h := New(opts)
	t.Cleanup(func() {
		if err := h.Shutdown(context.Background()); err != nil {
			t.Error(err)
		}
	})
	return h
}

func TestFanOutReachesMembersOnlyInOrder(t *testing.T) {
	h := newHub(t, Options{})
	alice, bob, carol := user("alice"), user("bob"), user("carol")
	a := newFake(t, h, alice, "s1", "r_general", "r_dm")
	b := newFake(t, h, bob, "s2", "r_general", "r_dm")
	c := newFake(t, h, carol, "s3", "r_general")

	for i := int64(1); i <= 100; i++ {
		h.Publish([]store.Event{msgEvent("r_general", i, alice, "hi")})
	}
	h.Publish([]store.Event{msgEvent("r_dm", 1, alice, "secret")})
	for _, f := range []*fake{a, b, c} {
		for i := 1; i <= 100; i++ {
			m := f.next(t)
			if got := m["message"].(map[string]any)["seq"].(float64); got != float64(i) {
				t.Fatalf("%s got seq %v, want %d", f.c.User.Name, got, i)
			}
		}
	}
	if m := b.next(t); m["message"].(map[string]any)["text"] != "secret" {
		t.Fatalf("bob got %v", m)
	}
	c.none(t, 100*time.Millisecond, "message")
}

func TestSlowClientIsDroppedOthersKeepReceiving(t *testing.T) {
	h := newHub(t, Options{})
	fast := newFake(t, h, user("fast"), "s1", "r1")
	// The slow connection's queue is never drained.
	slow := NewConn("c_slow", user("slow"), "s2", 4096)
	if !h.Register(slow, Registration{RoomIDs: []string{"r1"}}) {
		t.Fatal("register")
	}
	defer h.Unregister(slow)
	text := string(make([]byte, 200))
	for i := int64(1); i <= 200; i++ {
		h.Publish([]store.Event{msgEvent("r1", i, user("fast"), text)})
	}
	for i := 1; i <= 200; i++ {
		fast.next(t, "message")
	}
	select {
	case <-slow.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("slow connection was not closed")
	}
	if code, _ := slow.CloseCode(); code != protocol.CloseTooSlow {
		t.Fatalf("close code %d, want %d", code, protocol.CloseTooSlow)
	}
}

func TestEveryCallReturnsAfterShutdown(t *testing.T) {
	h := New(Options{})
	f := startFake(t, NewConn("c1", user("alice"), "s1", 0))
	if !h.Register(f.c, Registration{RoomIDs: []string{"r1"}}) {
		t.Fatal("register")
	}
	if err := h.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if code := <-f.closed; code != protocol.CloseGoingAway {
		t.Fatalf("close code %d, want 1001", code)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		c := NewConn("c2", user("bob"), "s2", 0)
		if h.Register(c, Registration{}) {
			t.Error("register succeeded after shutdown")
		}
		h.Unregister(c)
		h.Publish([]store.Event{msgEvent("r1", 1, user("bob"), "x")})
		h.Typing(c, "r1", true)
		h.SetStatus(c, "away", "")
		h.IsMember(c, "r1")
		h.CloseSession("s1", 4401, "")
		h.CloseUser("u_alice", 4401, "")
		h.Stats()
		h.Conns(func(*Conn) {})
		_ = h.Shutdown(context.Background())
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("a hub call blocked after Shutdown")
	}
}

func TestPresenceGrace(t *testing.T) {
	h := newHub(t, Options{PresenceGrace: 200 * time.Millisecond})
	alice, bob := user("alice"), user("bob")
	a := newFake(t, h, alice, "s1", "r1")
	b1 := newFake(t, h, bob, "s2", "r1")
	for {
		m := a.next(t, "presence")
		if m["user"].(map[string]any)["name"] == "bob" {
			if m["status"] != "online" {
				t.Fatalf("alice got %v, want bob online", m)
			}
			break
		}
	}
	// A second tab, then a reload of the first: no offline, no new online.
	b2 := newFake(t, h, bob, "s2", "r1")
	b1.shutdown(h)
	b2.shutdown(h)
	b3 := newFake(t, h, bob, "s2", "r1")
	a.none(t, 400*time.Millisecond, "presence")
	// The last tab closes: offline after the grace period.
	b3.shutdown(h)
	start := time.Now()
	m := a.next(t, "presence")
	if m["status"] != "offline" {
		t.Fatalf("got %v, want bob offline", m)
	}
	if waited := time.Since(start); waited < 150*time.Millisecond {
		t.Fatalf("offline after %v, before the grace period", waited)
	}
}

func TestStatusAwayWithText(t *testing.T) {
	h := newHub(t, Options{})
	a := newFake(t, h, user("alice"), "s1", "r1")
	b := newFake(t, h, user("bob"), "s2", "r1")
	h.SetStatus(b.c, "away", "lunch")
	for _, f := range []*fake{a, b} {
		for {
			m := f.next(t, "presence")
			if m["status"] == "away" {
				if m["text"] != "lunch" {
					t.Fatalf("text %v", m["text"])
				}
				break
			}
		}
	}
	// A newcomer's welcome lists bob as away.
	c := startFake(t, NewConn("c3", user("carol"), "s3", 0))
	h.Register(c.c, Registration{RoomIDs: []string{"r1"}})
	w := c.next(t)
	found := false
	for _, p := range w["online"].([]any) {
		p := p.(map[string]any)
		if p["user"].(map[string]any)["name"] == "bob" && p["status"] == "away" && p["text"] == "lunch" {
			found = true
		}
	}
	if !found {
		t.Fatalf("welcome online list %v lacks bob away", w["online"])
	}
	c.shutdown(h)
}

func TestTypingExpiresStopsOnSendAndOnDisconnect(t *testing.T) {
	h := newHub(t, Options{TypingTimeout: 150 * time.Millisecond})
	alice, bob := user("alice"), user("bob")
	a := newFake(t, h, alice, "s1", "r1")
	b := newFake(t, h, bob, "s2", "r1")

	// Expiry.
	if !h.Typing(a.c, "r1", true) {
		t.Fatal("typing refused")
	}
	if m := b.next(t, "typing"); m["active"] != true {
		t.Fatalf("%v", m)
	}
	start := time.Now()
	if m := b.next(t, "typing"); m["active"] != false {
		t.Fatalf("%v", m)
	}
	if time.Since(start) < 100*time.Millisecond {
		t.Fatal("typing ended before its timeout")
	}
	a.none(t, 50*time.Millisecond, "typing") // the typist is not told about itself

	// Sending a message ends it.
	h.Typing(a.c, "r1", true)
	b.next(t, "typing")
	h.Publish([]store.Event{msgEvent("r1", 1, alice, "done")})
	if m := b.next(t, "typing", "message"); m["type"] != "typing" || m["active"] != false {
		t.Fatalf("want typing stop before the message, got %v", m)
	}

	// Disconnecting ends it.
	h.Typing(a.c, "r1", true)
	b.next(t, "typing")
	a.shutdown(h)
	if m := b.next(t, "typing"); m["active"] != false {
		t.Fatalf("%v", m)
	}

	// Not a member: refused.
	if h.Typing(b.c, "r_other", true) {
		t.Fatal("typing in a room bob is not in was accepted")
	}
}

func TestMembershipEvents(t *testing.T) {
	h := newHub(t, Options{})
	alice, bob := user("alice"), user("bob")
	a := newFake(t, h, alice, "s1", "r1")
	b := newFake(t, h, bob, "s2")
	h.Publish([]store.Event{
		{Kind: store.EventMember, RoomID: "r1", UserID: bob.ID, Joined: true, Room: protocol.Room{ID: "r1", Name: "r1"}},
		msgEvent("r1", 5, alice, "welcome bob"),
	})
	if m := b.next(t); m["type"] != "room" || m["event"] != "joined" {
		t.Fatalf("%v", m)
	}
	if m := b.next(t); m["type"] != "message" {
		t.Fatalf("%v", m)
	}
	a.next(t, "message")
	h.Publish([]store.Event{
		{Kind: store.EventMember, RoomID: "r1", UserID: bob.ID, Joined: false, Room: protocol.Room{ID: "r1", Name: "r1"}},
		msgEvent("r1", 6, alice, "bye bob"),
	})
	if m := b.next(t); m["type"] != "room" || m["event"] != "left" {
		t.Fatalf("%v", m)
	}
	a.next(t, "message")
	b.none(t, 100*time.Millisecond, "message")
}

func TestCloseSession(t *testing.T) {
	h := newHub(t, Options{})
	a1 := newFake(t, h, user("alice"), "s1", "r1")
	a2 := newFake(t, h, user("alice"), "s9", "r1")
	h.CloseSession("s1", protocol.CloseUnauthenticated, "signed out")
	if code := <-a1.closed; code != protocol.CloseUnauthenticated {
		t.Fatalf("code %d", code)
	}
	if a2.c.Closed() {
		t.Fatal("another session was closed")
	}
}

// A replay and live fan-out race: the connection must see 1..N once each,
// in order, whatever the interleaving.
func TestReplayMergesWithLiveFramesInOrder(t *testing.T) {
	h := newHub(t, Options{})
	alice := user("alice")
	a := newFake(t, h, alice, "s1", "r1")
	const n = 300
	frame := func(seq int64) []byte {
		return protocol.Encode(protocol.MessageFrame{Type: "message", Message: protocol.Message{Room: "r1", Seq: seq}})
	}
	// Messages 1..100 are "in the store"; the replay reads them while 101..n
	// are published live.
	a.c.BeginReplay("r1", 0)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := int64(90); i <= n; i++ { // overlaps the replay: 90..100 twice
			h.Publish([]store.Event{msgEvent("r1", i, alice, "")})
		}
	}()
	var replay []LogFrame
	for i := int64(1); i <= 100; i++ {
		replay = append(replay, LogFrame{Seq: i, Frame: frame(i)})
	}
	time.Sleep(time.Millisecond) // let some live frames be held; correctness does not depend on it
	a.c.EndReplay("r1", replay, syncedFrame("r1"))
	wg.Wait()
	want := int64(1)
	for want <= n {
		m := a.next(t)
		if m["type"] == "synced" {
			continue
		}
		if got := int64(m["message"].(map[string]any)["seq"].(float64)); got != want {
			t.Fatalf("got seq %d, want %d", got, want)
		}
		want++
	}
	a.none(t, 50*time.Millisecond, "message")
}

func TestLiveFramesFlowAfterATruncatedReplay(t *testing.T) {
	h := newHub(t, Options{})
	alice := user("alice")
	a := newFake(t, h, alice, "s1", "r1")
	a.c.BeginReplay("r1", 0)
	h.Publish([]store.Event{msgEvent("r1", 700, alice, "")}) // held during the replay
	a.c.EndReplay("r1", []LogFrame{{1, protocol.Encode(protocol.MessageFrame{Type: "message", Message: protocol.Message{Seq: 1}})}},
		syncedFrame("r1"))
	h.Publish([]store.Event{msgEvent("r1", 701, alice, "")})
	for _, want := range []string{"message:1", "synced:1", "message:700", "message:701"} {
		m := a.next(t)
		got := fmt.Sprint(m["type"], ":")
		if m["type"] == "synced" {
			got += fmt.Sprint(m["last_seq"])
		} else {
			got += fmt.Sprint(m["message"].(map[string]any)["seq"])
		}
		if got != want {
			t.Fatalf("got %s, want %s", got, want)
		}
	}
	// Another hello pages forward from where the replay stopped; seqs the
	// client already has may come again (clients de-duplicate).
	a.c.BeginReplay("r1", 1)
	a.c.EndReplay("r1", []LogFrame{{2, protocol.Encode(protocol.MessageFrame{Type: "message", Message: protocol.Message{Seq: 2}})}},
		syncedFrame("r1"))
	if m := a.next(t); m["message"].(map[string]any)["seq"].(float64) != 2 {
		t.Fatalf("%v", m)
	}
}

// A replay queued in pages merges with live frames like a whole one.
func TestPagedReplayMergesWithLiveFrames(t *testing.T) {
	h := newHub(t, Options{})
	alice := user("alice")
	a := newFake(t, h, alice, "s1", "r1")
	frame := func(seq int64) []byte {
		return protocol.Encode(protocol.MessageFrame{Type: "message", Message: protocol.Message{Room: "r1", Seq: seq}})
	}
	page := func(from, to int64) []LogFrame {
		var out []LogFrame
		for i := from; i <= to; i++ {
			out = append(out, LogFrame{Seq: i, Frame: frame(i)})
		}
		return out
	}
	a.c.BeginReplay("r1", 0)
	a.c.ReplayFrames("r1", page(1, 50))
	h.Publish([]store.Event{msgEvent("r1", 101, alice, "")}) // live, held
	a.c.ReplayFrames("r1", page(40, 100))                    // overlaps the first page
	// Queued counts replayed frames (the fake above drains its queue as it
	// fills, so ask a connection nobody drains).
	idle := NewConn("c_idle", alice, "s2", 0)
	idle.BeginReplay("r1", 0)
	idle.ReplayFrames("r1", page(1, 50))
	if idle.Queued() == 0 {
		t.Fatal("Queued reports nothing while 50 replayed frames wait")
	}
	a.c.EndReplay("r1", nil, syncedFrame("r1"))
	h.Publish([]store.Event{msgEvent("r1", 102, alice, "")})
	for want := int64(1); want <= 102; want++ {
		m := a.next(t)
		if m["type"] == "synced" {
			if want != 101 {
				t.Fatalf("synced before seq %d", want)
			}
			m = a.next(t)
		}
		if got := int64(m["message"].(map[string]any)["seq"].(float64)); got != want {
			t.Fatalf("got seq %d, want %d", got, want)
		}
	}
}

func TestTailCoversTheNewestContiguousSeqs(t *testing.T) {
	h := newHub(t, Options{})
	alice := user("alice")
	a := newFake(t, h, alice, "s1", "r1")
	if _, _, ok := h.Tail("r1", 0, 10); ok {
		t.Fatal("Tail answered before anything was fanned out")
	}
	for i := int64(1); i <= 3*RecentFrames; i++ {
		h.Publish([]store.Event{msgEvent("r1", i, alice, "")})
	}
	for i := 0; i < 3*RecentFrames; i++ {
		a.next(t, "message")
	}
	last := int64(3 * RecentFrames)
	frames, from, ok := h.Tail("r1", last-10, 500)
	if !ok || from != last-10 || len(frames) != 10 || frames[0].Seq != last-9 || frames[9].Seq != last {
		t.Fatalf("last ten: ok=%v from=%d %d frames", ok, from, len(frames))
	}
	// More than max after since: the newest max, and where they start.
	frames, from, ok = h.Tail("r1", last-RecentFrames, 100)
	if !ok || from != last-100 || len(frames) != 100 || frames[0].Seq != last-99 || frames[99].Seq != last {
		t.Fatalf("capped: ok=%v from=%d %d frames", ok, from, len(frames))
	}
	if frames, from, ok = h.Tail("r1", 1, 10); !ok || from != last-10 || len(frames) != 10 {
		t.Fatalf("far behind, capped within the kept frames: ok=%v from=%d %d frames", ok, from, len(frames))
	}
	if _, _, ok = h.Tail("r1", 1, 3*RecentFrames-2); ok {
		t.Fatal("Tail claimed seqs it no longer keeps")
	}
	if frames, from, ok = h.Tail("r1", last, 10); !ok || from != last || len(frames) != 0 {
		t.Fatalf("nothing new: ok=%v %d frames", ok, len(frames))
	}
	// A gap (another node's seq, say) restarts the kept run.
	h.Publish([]store.Event{msgEvent("r1", last+5, alice, "")})
	a.next(t, "message")
	if _, _, ok = h.Tail("r1", last, 10); ok {
		t.Fatal("Tail answered across a gap")
	}
}

// syncedFrame builds a room's synced frame at the last seq queued.
func syncedFrame(room string) func(int64) []byte {
	return func(last int64) []byte {
		return protocol.Encode(protocol.Synced{Type: "synced", Room: room, LastSeq: last})
	}
}

func TestTakeBoundsABatchAndKeepsTheRest(t *testing.T) {
	c := NewConn("c1", user("alice"), "s1", 0)
	for i := 0; i < 10; i++ {
		c.Send(make([]byte, 100))
	}
	c.Send(make([]byte, 1000))
	got, _ := c.Take(nil, 350)
	if len(got) != 3 || c.Queued() != 7*100+1000 {
		t.Fatalf("took %d frames, %d bytes left", len(got), c.Queued())
	}
	got, _ = c.Take(nil, 0)
	if len(got) != 8 || c.Queued() != 0 {
		t.Fatalf("took %d frames, %d bytes left", len(got), c.Queued())
	}
	c.Send(make([]byte, 1000))
	if got, _ = c.Take(nil, 10); len(got) != 1 {
		t.Fatalf("an oversized frame: took %d", len(got))
	}
}

// An idle connection of an account in many rooms keeps delivery state only
// for the rooms that have sent it something: an account in 100 rooms would
// otherwise hold 100 entries on every socket from the moment it opens.
func TestQuietRoomsCostAConnectionNoState(t *testing.T) {
	h := newHub(t, Options{})
	alice := user("alice")
	rooms := make([]string, 100)
	for i := range rooms {
		rooms[i] = fmt.Sprintf("r%d", i)
	}
	a := newFake(t, h, alice, "s1", rooms...) // registered: its welcome has come
	state := func() int {
		a.c.mu.Lock()
		defer a.c.mu.Unlock()
		return len(a.c.rooms)
	}
	if n := state(); n != 0 {
		t.Fatalf("a new connection holds state for %d rooms, want 0", n)
	}
	h.Publish([]store.Event{msgEvent("r7", 1, alice, "hi")})
	if m := a.next(t, "message"); m["message"].(map[string]any)["room"] != "r7" {
		t.Fatalf("%v", m)
	}
	if n := state(); n != 1 {
		t.Fatalf("after one message in one room the connection holds state for %d rooms, want 1", n)
	}
}

// A typing flood reaches the other members as at most one frame per
// RelayInterval, and the state they end with is the typist's last one.
func TestTypingFloodIsRelayedOncePerInterval(t *testing.T) {
	h := newHub(t, Options{TypingTimeout: time.Minute})
	alice, bob := user("alice"), user("bob")
	a := newFake(t, h, alice, "s1", "r1")
	b := newFake(t, h, bob, "s2", "r1")
	for i := 0; i < 200; i++ {
		h.Typing(a.c, "r1", i%2 == 0) // on, off, on, ... off
	}
	var got []any
	for {
		m := b.next(t, "typing")
		got = append(got, m["active"])
		if m["active"] == false {
			break
		}
	}
	// Whatever else is queued for bob arrives before this message.
	h.Publish([]store.Event{msgEvent("r1", 1, alice, "sentinel")})
	for {
		m := b.next(t, "typing", "message")
		if m["type"] == "message" {
			break
		}
		got = append(got, m["active"])
	}
	if len(got) != 2 || got[0] != true || got[1] != false {
		t.Fatalf("bob saw typing %v, want [true false]", got)
	}
	_ = a
}

// A status flood changes the user's presence at most once per interval,
// and the last status wins.
func TestStatusFloodIsRelayedOncePerInterval(t *testing.T) {
	h := newHub(t, Options{})
	alice, bob := user("alice"), user("bob")
	a := newFake(t, h, alice, "s1", "r1")
	b := newFake(t, h, bob, "s2", "r1")
	for i := 0; i < 100; i++ {
		status := "away"
		if i%2 == 1 {
			status = "online"
		}
		h.SetStatus(a.c, status, fmt.Sprint("text ", i))
	}
	var got []string
	for {
		m := b.next(t, "presence")
		if m["user"].(map[string]any)["name"] != "alice" {
			continue
		}
		got = append(got, fmt.Sprint(m["status"], "/", m["text"]))
		if m["text"] == "text 99" {
			break
		}
	}
	h.Publish([]store.Event{msgEvent("r1", 1, alice, "sentinel")})
	for {
		m := b.next(t, "presence", "message")
		if m["type"] == "message" {
			break
		}
		if m["user"].(map[string]any)["name"] == "alice" {
			got = append(got, fmt.Sprint(m["status"], "/", m["text"]))
		}
	}
	if len(got) != 2 || got[0] != "away/text 0" || got[1] != "online/text 99" {
		t.Fatalf("bob saw alice's status %v, want [away/text 0 online/text 99]", got)
	}
}
