package server_test

import (
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"minichat/server"
	"minichat/server/broker/natstest"
	"minichat/server/store/pgtest"
)

func TestUnreachableNATSRefusesToStart(t *testing.T) {
	_, err := server.New(server.Config{DataDir: t.TempDir(), NATS: "nats://127.0.0.1:1"}, zerolog.Nop(), nil)
	if err == nil || !strings.Contains(err.Error(), "nats://127.0.0.1:1") {
		t.Fatalf("New with an unreachable NATS: %v, want an error naming it", err)
	}
}

// TestTwoNodesOnPostgresAndNATS runs two servers of this process on one
// Postgres schema and one NATS server: a message sent on one node reaches a
// member connected to the other, presence crosses, and a sign-out on one
// node closes the session's socket on the other.
func TestTwoNodesOnPostgresAndNATS(t *testing.T) {
	dbURL, _ := pgtest.Schema(t)
	natsURL := natstest.URL(t)
	cluster := func(c *server.Config) { c.Database, c.NATS = dbURL, natsURL }
	n1 := newEnv(t, cluster)
	n2 := newEnv(t, cluster)
	alice, bob := n1.register("alice"), n1.register("bob")
	general := n1.roomID(alice, "general")

	b := n2.dial(bob)
	a := n1.dial(alice)
	waitPresence(t, b, "alice", "online")
	for i := range 20 {
		a.send(map[string]any{"type": "send", "room": general, "text": "hello", "client_id": "c" + string(rune('a'+i)), "ref": "r"})
	}
	var first int64
	for i := range 20 {
		m := b.next("message")
		if i == 0 {
			first = m.Seq()
		} else if m.Seq() != first+int64(i) {
			t.Fatalf("bob on node 2 got seq %d, want %d", m.Seq(), first+int64(i))
		}
	}

	if st, _ := n1.call("DELETE", "/api/session", bob.Token, nil); st != 204 {
		t.Fatalf("logout on node 1: %d", st)
	}
	if code := b.waitClose(5 * time.Second); code != 4401 {
		t.Fatalf("bob's socket on node 2 closed with %d, want 4401", code)
	}
	waitPresence(t, a, "bob", "offline")
}
