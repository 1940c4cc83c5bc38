package server_test

import (
	"testing"
	"time"

	"minichat/server"
	"minichat/server/broker/natstest"
	"minichat/server/protocol"
	"minichat/server/store/pgtest"
)

// In a cluster only the node that stored a message fetches its link: the
// page is fetched once, and the preview reaches a member on the other node.
func TestLinkPreviewFetchedOnceInACluster(t *testing.T) {
	dbURL, _ := pgtest.Schema(t)
	natsURL := natstest.URL(t)
	site, hits := pages(t)
	cluster := func(c *server.Config) {
		c.Database, c.NATS = dbURL, natsURL
		withPreviews(c)
	}
	n1 := newEnv(t, cluster)
	n2 := newEnv(t, cluster)
	alice, bob := n1.register("alice"), n1.register("bob")
	general := n1.roomID(alice, "general")
	b := n2.dial(bob)
	a := n1.dial(alice)
	a.send(map[string]any{"type": "send", "room": general, "text": site.URL + "/page", "client_id": "c1"})
	m := b.message()
	up := b.update()
	if up.Message.ID != m.ID || up.Message.Preview == nil || up.Message.Preview.Title != "Release notes 2.0" {
		t.Fatalf("bob on node 2: %+v", up)
	}
	// Neither node fetches it again.
	b.none(300*time.Millisecond, protocol.TypeUpdate)
	if n := hits.Load(); n != 1 {
		t.Fatalf("the page was fetched %d times, want once", n)
	}
}
