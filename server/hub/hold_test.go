package hub

import (
	"testing"
	"time"
)

// TestHoldNodesKeepsRemoteUsersThroughTheBrokersSilence: a node not heard
// from while the broker was down is held on its return, so an expiry run
// before it restates its users takes nobody offline; its next full
// heartbeat then reconciles (here: bob left meanwhile).
func TestHoldNodesKeepsRemoteUsersThroughTheBrokersSilence(t *testing.T) {
	h := newHub(t, Options{})
	alice, bob, carol := user("alice"), user("bob"), user("carol")
	a := newFake(t, h, alice, "s1", "r1")
	t0 := time.Unix(1000, 0)
	// presence is the next presence frame alice gets about someone else.
	presence := func() (string, any) {
		t.Helper()
		for {
			m := a.next(t, "presence")
			if name := m["user"].(map[string]any)["name"].(string); name != "alice" {
				return name, m["status"]
			}
		}
	}

	h.RemotePresence("n2", []UserPresence{{User: bob, Status: "online", Rooms: []string{"r1"}}}, true, t0.Add(6*time.Second))
	if name, st := presence(); name != "bob" || st != "online" {
		t.Fatalf("got %s %v, want bob online", name, st)
	}
	// The broker was down from t0 to t0+20 s: n2's expiry passed unheard.
	// Back at t0+20 s, the broker holds every node for a heartbeat's time.
	h.HoldNodes(t0.Add(26 * time.Second))
	h.ExpireNodes(t0.Add(21 * time.Second))
	// A marker: the next presence frame alice gets must be carol's, not
	// bob going offline.
	h.RemotePresence("n3", []UserPresence{{User: carol, Status: "online", Rooms: []string{"r1"}}}, true, t0.Add(27*time.Second))
	if name, st := presence(); name != "carol" || st != "online" {
		t.Fatalf("got %s %v after the hold, want carol online (bob held)", name, st)
	}
	// n2's first full heartbeat after the outage no longer lists bob.
	h.RemotePresence("n2", nil, true, t0.Add(27*time.Second))
	if name, st := presence(); name != "bob" || st != "offline" {
		t.Fatalf("got %s %v, want bob offline, reconciled", name, st)
	}
	// Without a hold, a silent node's users expire.
	h.ExpireNodes(t0.Add(40 * time.Second))
	if name, st := presence(); name != "carol" || st != "offline" {
		t.Fatalf("got %s %v, want carol offline once n3 expired", name, st)
	}
}
