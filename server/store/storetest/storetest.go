// Package storetest is the conformance suite every store.Store
// implementation runs: the rules written in the doc comments of package
// store, checked one by one against a real database.
//
// An implementation's test calls Run with an Open function:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T, dir string, opts store.Options) store.Store {
//			s, err := sqlite.Open(filepath.Join(dir, "minichat.db"), opts)
//			if err != nil {
//				t.Fatal(err)
//			}
//			return s
//		})
//	}
//
// dir names the persistent location of one test's data: the suite passes a
// fresh t.TempDir() for every subtest, and passes the same dir again after
// closing the store when it checks that data survives a reopen. A store that
// does not live in files (Postgres) maps dir to a namespace of its own, e.g.
// a schema derived from it, and must start empty for a new dir. The suite
// closes every store it opens; Open need not register a Close.
//
// Subtests do not run in parallel with each other, so an implementation may
// share a server between them.
package storetest

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"minichat/server/protocol"
	"minichat/server/store"
)

// Open opens the store whose data lives at dir (see the package doc).
type Open func(t *testing.T, dir string, opts store.Options) store.Store

// Run runs the whole suite as subtests of t.
func Run(t *testing.T, open Open) {
	tests := []struct {
		name string
		fn   func(t *testing.T, e *env)
	}{
		{"Users", testUsers},
		{"FirstUserEvents", testFirstUserEvents},
		{"Sessions", testSessions},
		{"CreateRoom", testCreateRoom},
		{"Visibility", testVisibility},
		{"RoomsListing", testRoomsListing},
		{"Join", testJoin},
		{"Leave", testLeave},
		{"Invite", testInvite},
		{"DM", testDM},
		{"Send", testSend},
		{"SendIdempotent", testSendIdempotent},
		{"SendAsync", testSendAsync},
		{"ReplyTo", testReplyTo},
		{"SeqNoGaps", testSeqNoGaps},
		{"EditDelete", testEditDelete},
		{"React", testReact},
		{"History", testHistory},
		{"Since", testSince},
		{"Files", testFiles},
		{"Attachments", testAttachments},
		{"Search", testSearch},
		{"ReadMarkers", testReadMarkers},
		{"UnreadCap", testUnreadCap},
		{"ConcurrentSends", testConcurrentSends},
		{"Reopen", testReopen},
		{"Closed", testClosed},
		{"CancelledContext", testCancelledContext},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, newEnv(t, open))
		})
	}
}

// clockStart is the time of the suite's clock: every store it opens reads
// this fixed instant, plus one millisecond per call, from Options.Now.
var clockStart = time.Date(2025, 3, 14, 15, 9, 26, 535_000_000, time.UTC)

// env is one subtest's store, its persistent location and the events it
// committed.
type env struct {
	t    *testing.T
	ctx  context.Context
	open Open
	dir  string
	s    store.Store
	rec  *recorder

	clockMu sync.Mutex // guards now
	now     time.Time
}

func newEnv(t *testing.T, open Open) *env {
	e := &env{t: t, ctx: t.Context(), open: open, dir: t.TempDir(), rec: &recorder{}, now: clockStart}
	e.s = e.openStore()
	return e
}

func (e *env) tick() time.Time {
	e.clockMu.Lock()
	defer e.clockMu.Unlock()
	e.now = e.now.Add(time.Millisecond)
	return e.now
}

func (e *env) openStore() store.Store {
	s := e.open(e.t, e.dir, store.Options{OnCommit: e.rec.add, Now: e.tick})
	e.t.Cleanup(func() { _ = s.Close() })
	return s
}

// reopen closes the store and opens it again on the same location.
func (e *env) reopen() {
	e.t.Helper()
	if err := e.s.Close(); err != nil {
		e.t.Fatalf("Close: %v", err)
	}
	e.s = e.openStore()
}

// recorder keeps the events of every commit, in commit order.
type recorder struct {
	mu     sync.Mutex // guards events
	events []store.Event
}

func (r *recorder) add(evs []store.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, evs...)
}

// take returns the events recorded since the last take. The store calls
// OnCommit before the writers of a commit return, so after a write returns
// its events are here: no waiting needed.
func (r *recorder) take() []store.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	evs := r.events
	r.events = nil
	return evs
}

func (e *env) user(name string) protocol.User {
	e.t.Helper()
	u, err := e.s.CreateUser(e.ctx, store.NewUser{Name: name, PasswordHash: "hash-of-" + name})
	if err != nil {
		e.t.Fatalf("CreateUser(%s): %v", name, err)
	}
	return u
}

func (e *env) room(creator protocol.User, name, kind string) protocol.Room {
	e.t.Helper()
	r, err := e.s.CreateRoom(e.ctx, creator.ID, name, kind)
	if err != nil {
		e.t.Fatalf("CreateRoom(%s): %v", name, err)
	}
	return r
}

func (e *env) send(u protocol.User, roomID, text string) protocol.Message {
	e.t.Helper()
	m, dup, err := e.s.Send(e.ctx, store.SendRequest{RoomID: roomID, SenderID: u.ID, Text: text})
	if err != nil || dup {
		e.t.Fatalf("Send(%s, %q) = dup %v, %v", u.Name, text, dup, err)
	}
	return m
}

func (e *env) roomOf(roomID string, viewer protocol.User) protocol.Room {
	e.t.Helper()
	r, err := e.s.Room(e.ctx, roomID, viewer.ID)
	if err != nil {
		e.t.Fatalf("Room(%s) as %s: %v", roomID, viewer.Name, err)
	}
	return r
}

// general returns the general room as u sees it.
func (e *env) general(u protocol.User) protocol.Room {
	e.t.Helper()
	rooms, err := e.s.Rooms(e.ctx, u.ID)
	if err != nil {
		e.t.Fatalf("Rooms: %v", err)
	}
	for _, r := range rooms {
		if r.Name == protocol.DefaultRoom && r.Kind == protocol.RoomPublic {
			return r
		}
	}
	e.t.Fatalf("no %q room in %+v", protocol.DefaultRoom, rooms)
	return protocol.Room{}
}

// log returns the whole log of a room.
func (e *env) log(roomID string) []store.Event {
	e.t.Helper()
	evs, err := e.s.Since(e.ctx, roomID, 0, 100000)
	if err != nil {
		e.t.Fatalf("Since: %v", err)
	}
	return evs
}

// wantErr fails unless err wraps want.
func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: error %v, want %v", what, err, want)
	}
}

func must(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// describe renders events compactly for comparisons and failure messages.
func describe(evs []store.Event) []string {
	var out []string
	for _, ev := range evs {
		switch ev.Kind {
		case store.EventMessage:
			out = append(out, "message "+ev.Message.Kind+" "+ev.Message.Text)
		case store.EventUpdate:
			out = append(out, "update "+ev.Message.ID)
		case store.EventMember:
			s := "member left"
			if ev.Joined {
				s = "member joined"
			}
			if ev.Created {
				s += " created"
			}
			out = append(out, s)
		default:
			out = append(out, "unknown event kind")
		}
	}
	return out
}

func wantEvents(t *testing.T, got []store.Event, want ...string) {
	t.Helper()
	if d := describe(got); !slices.Equal(d, want) {
		t.Fatalf("events\n got %q\nwant %q", d, want)
	}
}
