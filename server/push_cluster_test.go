package server_test

import (
	"fmt"
	"testing"
	"time"

	"minichat/server"
	"minichat/server/broker/natstest"
	"minichat/server/push/pushtest"
	"minichat/server/store/pgtest"
)

// TestPushTwoNodes runs two servers on one Postgres schema and one NATS
// server: both sign with the one VAPID key, each message sent on either
// node is pushed exactly once to each device, and a user connected to one
// node is not pushed to for a message sent on the other.
func TestPushTwoNodes(t *testing.T) {
	dbURL, _ := pgtest.Schema(t)
	natsURL := natstest.URL(t)
	svc := pushtest.New(t)
	cluster := func(c *server.Config) {
		c.Database, c.NATS = dbURL, natsURL
		c.AllowPrivateTargets, c.PushPoll = true, 50*time.Millisecond
	}
	n1 := newEnv(t, cluster)
	n2 := newEnv(t, cluster)
	alice, bob := n1.register("alice"), n1.register("bob")
	_, k1 := n1.call("GET", "/api/push/key", bob.Token, nil)
	_, k2 := n2.call("GET", "/api/push/key", bob.Token, nil)
	if k1["public_key"] == nil || k1["public_key"] != k2["public_key"] {
		t.Fatalf("nodes have keys %v and %v, want one", k1, k2)
	}
	svc.ExpectKey(k1["public_key"].(string))
	n1.subscribe(svc, bob, "phone")
	n2.subscribe(svc, bob, "laptop")
	dm := n1.dmRoom(alice, "bob")

	const perNode = 10
	sent := map[string]bool{}
	for i := range perNode {
		sent[n1.postText(alice, dm, fmt.Sprintf("from node 1, %d", i))] = true
		sent[n2.postText(alice, dm, fmt.Sprintf("from node 2, %d", i))] = true
	}
	got := map[string]int{}
	for range 2 * len(sent) {
		p := svc.Next(15 * time.Second)
		pl := payloadOf(t, p)
		if !sent[pl.MessageID] {
			t.Fatalf("push of an unknown message %+v", pl)
		}
		got[pl.MessageID+" to "+p.Device]++
	}
	for k, n := range got {
		if n != 1 {
			t.Errorf("%s: %d pushes", k, n)
		}
	}
	if len(got) != 2*len(sent) {
		t.Errorf("%d (message, device) pushes, want %d", len(got), 2*len(sent))
	}

	// Bob on node 2, alice writing on node 1: no push while he is there.
	b := n2.dial(bob)
	waitFor(t, "node 1 sees bob connected", func() bool { return n1.srv.Hub().Connected([]string{bob.ID})[bob.ID] })
	n1.postText(alice, dm, "bob is on node 2")
	b.close()
	waitFor(t, "node 1 sees bob gone", func() bool { return !n1.srv.Hub().Connected([]string{bob.ID})[bob.ID] })
	m := n1.postText(alice, dm, "bob has left")
	for range 2 {
		nextFor(t, svc, m)
	}
	svc.None(time.Second) // and no second push of anything
}
