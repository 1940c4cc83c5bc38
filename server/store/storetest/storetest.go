// Package storetest is the conformance suite every store.Store
// implementation runs: the data behaviour written in the doc comments of
// package store — seqs without gaps, group commit, events in commit order,
// idempotent sends, history, replay, search, read markers, files, reopen,
// close — checked one by one against a real database. Who may do what is
// package chat's, tested there; the suite's sends go through a rule that
// lets everything through, or one that records the facts it was shown.
//
// An implementation's test calls Run with an Open function:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T, dir string, opts store.Options) store.Store {
//			s, err := sqlstore.OpenSQLite(filepath.Join(dir, "minichat.db"), opts)
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
		{"Sessions", testSessions},
		{"Write", testWrite},
		{"WriteAfterClose", testWriteAfterClose},
		{"CreateRoom", testCreateRoom},
		{"RoomFacts", testRoomFacts},
		{"RoomsListing", testRoomsListing},
		{"Members", testMembers},
		{"Send", testSend},
		{"SendFacts", testSendFacts},
		{"SendIdempotent", testSendIdempotent},
		{"SendAsync", testSendAsync},
		{"SeqNoGaps", testSeqNoGaps},
		{"Changes", testChanges},
		{"React", testReact},
		{"History", testHistory},
		{"Pages", testPages},
		{"Mentions", testMentions},
		{"MentionCases", testMentionCases},
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
		{"SessionUse", testSessionUse},
		{"Settings", testSettings},
		{"Directory", testDirectory},
		{"UploadQuota", testUploadQuota},
		{"Profiles", testProfiles},
		{"SearchUsers", testSearchUsers},
		{"RoomChanges", testRoomChanges},
		{"AdminPrimitives", testAdminPrimitives},
		{"Integrations", testIntegrations},
		{"Hooks", testHooks},
		{"MessageExtras", testMessageExtras},
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

// write runs fn in a write, failing the test on an error.
func (e *env) write(fn func(tx store.Tx) ([]store.Event, error)) {
	e.t.Helper()
	if err := e.s.Write(e.ctx, nil, fn); err != nil {
		e.t.Fatalf("Write: %v", err)
	}
}

// user creates an account, a member of general.
func (e *env) user(name string) protocol.User {
	e.t.Helper()
	var u protocol.User
	e.write(func(tx store.Tx) (_ []store.Event, err error) {
		if u, err = tx.CreateUser(store.NewUser{Name: name, Role: protocol.RoleMember, PasswordHash: "hash-of-" + name}); err != nil {
			return nil, err
		}
		g, err := tx.RoomByName(protocol.DefaultRoom)
		if err != nil {
			return nil, err
		}
		return nil, tx.AddMember(g.ID, u.ID)
	})
	return u
}

// room creates a room of creator's, whose log starts with a system message
// at seq 1; it returns the room as creator sees it.
func (e *env) room(creator protocol.User, name, kind string) protocol.Room {
	e.t.Helper()
	var r protocol.Room
	e.write(func(tx store.Tx) ([]store.Event, error) {
		id, err := tx.CreateRoom(store.NewRoom{Name: name, Kind: kind})
		if err != nil {
			return nil, err
		}
		if err := tx.AddMember(id, creator.ID); err != nil {
			return nil, err
		}
		if _, err := tx.AppendSystem(id, "created"); err != nil {
			return nil, err
		}
		r, err = tx.View(id, creator.ID)
		return nil, err
	})
	return r
}

// dm creates the direct-message room of a and b.
func (e *env) dm(a, b protocol.User) protocol.Room {
	e.t.Helper()
	var r protocol.Room
	e.write(func(tx store.Tx) ([]store.Event, error) {
		id, err := tx.CreateRoom(store.NewRoom{Kind: protocol.RoomDM, DMKey: a.ID + "|" + b.ID})
		if err != nil {
			return nil, err
		}
		for _, u := range []protocol.User{a, b} {
			if err := tx.AddMember(id, u.ID); err != nil {
				return nil, err
			}
		}
		r, err = tx.View(id, a.ID)
		return nil, err
	})
	return r
}

// join makes u a member of a room and appends a system message.
func (e *env) join(roomID string, u protocol.User) {
	e.t.Helper()
	e.write(func(tx store.Tx) ([]store.Event, error) {
		if err := tx.AddMember(roomID, u.ID); err != nil {
			return nil, err
		}
		_, err := tx.AppendSystem(roomID, u.Name+" joined")
		return nil, err
	})
}

// leave appends a system message and ends u's membership of a room.
func (e *env) leave(roomID string, u protocol.User) {
	e.t.Helper()
	e.write(func(tx store.Tx) ([]store.Event, error) {
		if _, err := tx.AppendSystem(roomID, u.Name+" left"); err != nil {
			return nil, err
		}
		return nil, tx.RemoveMember(roomID, u.ID)
	})
}

// change runs a change of a message (apply) and appends its update; it
// returns the message's new state, or its state when apply changed nothing.
func (e *env) change(roomID, msgID string, apply func(tx store.Tx) (bool, error)) (protocol.Message, error) {
	var m protocol.Message
	err := e.s.Write(e.ctx, []string{roomID}, func(tx store.Tx) ([]store.Event, error) {
		changed, err := apply(tx)
		if err != nil {
			return nil, err
		}
		if !changed {
			m, err = tx.Message(msgID)
			return nil, err
		}
		seq, err := tx.AppendUpdate(roomID, msgID)
		if err != nil {
			return nil, err
		}
		m, err = tx.Message(msgID)
		return []store.Event{{Kind: store.EventUpdate, RoomID: roomID, Seq: seq, Message: m}}, err
	})
	return m, err
}

func (e *env) edit(roomID, msgID, text string) protocol.Message {
	e.t.Helper()
	m, err := e.change(roomID, msgID, func(tx store.Tx) (bool, error) { return true, tx.SetText(msgID, text) })
	must(e.t, "edit", err)
	return m
}

func (e *env) del(roomID, msgID string) protocol.Message {
	e.t.Helper()
	m, err := e.change(roomID, msgID, func(tx store.Tx) (bool, error) { return true, tx.Tombstone(msgID) })
	must(e.t, "delete", err)
	return m
}

func (e *env) react(roomID, msgID string, u protocol.User, emoji string, on bool) protocol.Message {
	e.t.Helper()
	m, err := e.change(roomID, msgID, func(tx store.Tx) (bool, error) { return tx.React(msgID, u.ID, emoji, on) })
	must(e.t, "react", err)
	return m
}

func (e *env) setRead(roomID string, u protocol.User, seq int64) error {
	return e.s.Write(e.ctx, nil, func(tx store.Tx) ([]store.Event, error) { return nil, tx.SetRead(roomID, u.ID, seq) })
}

// allow is the suite's SendRule: the store decides nothing about sends, so
// every send passes.
func allow(*store.SendRequest, *store.SendFacts) error { return nil }

type sent struct {
	msg protocol.Message
	dup bool
	err error
}

// sendRule sends req through rule and waits for the answer.
func (e *env) sendRule(req store.SendRequest, rule store.SendRule) (protocol.Message, bool, error) {
	res := make(chan sent, 1)
	e.s.SendAsync(e.ctx, req, rule, func(m protocol.Message, dup bool, err error) { res <- sent{m, dup, err} })
	r := <-res
	return r.msg, r.dup, r.err
}

func (e *env) sendReq(req store.SendRequest) (protocol.Message, bool, error) {
	return e.sendRule(req, allow)
}

func (e *env) send(u protocol.User, roomID, text string) protocol.Message {
	e.t.Helper()
	m, dup, err := e.sendReq(store.SendRequest{RoomID: roomID, SenderID: u.ID, Text: text})
	if err != nil || dup {
		e.t.Fatalf("send(%s, %q) = dup %v, %v", u.Name, text, dup, err)
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
	g, err := e.s.RoomByName(e.ctx, protocol.DefaultRoom)
	if err != nil {
		e.t.Fatalf("RoomByName(general): %v", err)
	}
	return e.roomOf(g.ID, u)
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
			out = append(out, "member "+ev.UserID)
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
