package server_test

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"minichat/server"
)

// lockDatabase takes SQLite's write lock on the server's database from a
// connection of its own, as another process (a backup, an admin's sqlite3
// shell) can: the server's writer then stalls, a real store stall. The
// returned function releases the lock.
func lockDatabase(t *testing.T, dataDir string) (release func()) {
	t.Helper()
	if os.Getenv(storeEnv) == "postgres" {
		t.Skip("this fault is a lock on the SQLite file, which a run on Postgres does not have")
	}
	path := filepath.Join(dataDir, "minichat.db")
	db, err := sql.Open("sqlite", "file:"+(&url.URL{Path: path}).EscapedPath()+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	conn, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(context.Background(), "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	done := false
	release = func() {
		if done {
			return
		}
		done = true
		if _, err := conn.ExecContext(context.Background(), "ROLLBACK"); err != nil {
			t.Error(err)
		}
		conn.Close()
		db.Close()
	}
	t.Cleanup(release)
	return release
}

// While the store stalls, writes fail with internal errors after the send
// deadline instead of hanging; the socket keeps answering; once the store
// moves again a retry with the same client_id stores the message exactly
// once and the log has no gap.
func TestStalledStoreTimesOutWritesAndRecovers(t *testing.T) {
	e := newEnv(t, func(c *server.Config) { c.SendTimeout = 300 * time.Millisecond })
	alice, bob, a, b, general := e.aliceAndBob()
	a.send(map[string]any{"type": "send", "room": general, "text": "before", "client_id": "before", "ref": "0"})
	id := ackAndMessage(a).Msg().ID

	release := lockDatabase(t, e.cfg.DataDir)
	a.send(map[string]any{"type": "send", "room": general, "text": "during", "client_id": "ws-1", "ref": "1"})
	if f := a.next("ack", "error"); f.Type != "error" || f.Error.Code != "internal" || f.Ref() != "1" {
		t.Fatalf("send to a stalled store: %v, want an internal error", f)
	}
	a.send(map[string]any{"type": "edit", "room": general, "id": id, "text": "edited", "ref": "2"})
	if f := a.next("update", "error"); f.Type != "error" || f.Error.Code != "internal" || f.Ref() != "2" {
		t.Fatalf("edit on a stalled store: %v, want an internal error", f)
	}
	st, out := e.call("POST", "/api/rooms/"+general+"/messages", bob.Token, map[string]any{"text": "rest during", "client_id": "rest-1"})
	if st != 500 || errCode(out) != "internal" {
		t.Fatalf("REST send to a stalled store: %d %v", st, out)
	}
	// Reads and the socket itself still work.
	a.send(map[string]any{"type": "history", "room": general, "limit": 5, "ref": "h"})
	if f := a.next("history", "error"); f.Type != "history" {
		t.Fatalf("history while the store stalls: %v", f)
	}
	b.send(map[string]any{"type": "typing", "room": general, "active": true})
	a.next("typing")

	release()
	a.send(map[string]any{"type": "send", "room": general, "text": "during", "client_id": "ws-1", "ref": "3"})
	if f := a.next("ack", "error"); f.Type != "ack" || f.Ref() != "3" {
		t.Fatalf("retried send: %v", f)
	}
	if st, out := e.call("POST", "/api/rooms/"+general+"/messages", bob.Token, map[string]any{"text": "rest during", "client_id": "rest-1"}); st != 201 {
		t.Fatalf("retried REST send: %d %v", st, out)
	}
	a.send(map[string]any{"type": "send", "room": general, "text": "after", "client_id": "after", "ref": "4"})
	for f := a.next("ack"); f.Ref() != "4"; f = a.next("ack") {
	}
	_, hist := e.call("GET", "/api/rooms/"+general+"/messages?limit=200", alice.Token, nil)
	count := map[string]int{}
	var prev int64
	for _, m := range hist["messages"].([]any) {
		m := m.(map[string]any)
		count[fmt.Sprint(m["text"])]++
		if s := int64(m["seq"].(float64)); prev != 0 && s <= prev {
			t.Fatalf("history out of order: %d after %d", s, prev)
		} else {
			prev = s
		}
	}
	for _, text := range []string{"before", "during", "rest during", "after"} {
		if count[text] != 1 {
			t.Fatalf("%q stored %d times, want once: %v", text, count[text], count)
		}
	}
	checkSeqs(t, e, alice, general)
}

// checkSeqs asserts that the room's log — messages and updates — has every
// seq from 1 to its last, by replaying it from 0.
func checkSeqs(t *testing.T, e *env, u user, room string) {
	t.Helper()
	_, out := e.call("GET", "/api/rooms", u.Token, nil)
	var last int64
	for _, r := range out["rooms"].([]any) {
		if r := r.(map[string]any); r["id"] == room {
			last = int64(r["last_seq"].(float64))
		}
	}
	c := e.dial(u)
	for from := int64(1); from <= last; from += 500 {
		c.send(map[string]any{"type": "hello", "since": map[string]int64{room: from - 1}})
		for s := from; s <= min(from+499, last); s++ {
			if f := c.next("message", "update"); f.Seq() != s {
				t.Fatalf("log: seq %d, want %d", f.Seq(), s)
			}
		}
		c.next("synced")
	}
	c.close()
}
