package chaos

import (
	"strings"
	"testing"
	"time"
)

// fakeClient is a Client with recorded state and no goroutines, for the
// checks.
func fakeClient(name string, peers ...string) *Client {
	return &Client{Name: name, peers: peers, log: newRoomLog(time.Now), pending: map[string]*outgoing{},
		acked: map[string]Acked{}, presence: map[string]string{}}
}

var t0 = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

func at(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }

// conn records a connection to node from a to b (b 0: still open).
func (c *Client) addConn(node string, a, b float64, reason string) {
	rec := &ConnRecord{Node: node, Dialed: at(a), Welcomed: at(a), LastFrame: at(b), Reason: reason}
	if b > 0 {
		rec.Ended = at(b)
	} else {
		rec.LastFrame = at(a)
	}
	c.conns = append(c.conns, rec)
}

func failures(r Result) string { return strings.Join(r.Failures, "\n") }

// Offline is due once a user has been away for the grace period; shown
// earlier, or for a user who never left, it is a flap.
func TestCheckFlap(t *testing.T) {
	away := fakeClient("away")
	away.addConn("n1", 0, 10, "client")
	away.addConn("n2", 18, 0, "") // away from 10 to 18
	stay := fakeClient("stay")
	stay.addConn("n1", 0, 0, "")
	watcher := fakeClient("watcher", "away", "stay")
	watcher.offline = []PresenceObs{
		{At: at(15.5), User: "away"}, // 5.5 s into an 8 s absence: due
		{At: at(12), User: "away"},   // 2 s in: a flap
		{At: at(13), User: "stay"},   // never left: a flap
		{At: at(-1), User: "stay"},   // before the traffic: setup, ignored
	}
	in := CheckInput{Clients: []*Client{away, stay, watcher}, Cluster: &Cluster{Grace: 5 * time.Second}, Traffic: t0}
	r := checkFlap(in)
	got := failures(r)
	if !strings.Contains(got, "shown 2 times") || !strings.Contains(got, "away offline at 12:00:12.000") || !strings.Contains(got, "stay offline at 12:00:13.000") {
		t.Fatalf("flaps:\n%s", got)
	}
}

// A send waits for the database while it is down, and for a node that
// froze under it; anywhere else over 3 s is a failure.
func TestCheckAckTime(t *testing.T) {
	c := fakeClient("u1")
	c.acked = map[string]Acked{
		"quick":       {Sent: at(1), At: at(1.01), SentNode: "n1"},
		"db-down":     {Sent: at(20), At: at(31), SentNode: "n1"},
		"frozen-node": {Sent: at(40), At: at(46), SentNode: "n2"},
		"slow":        {Sent: at(60), At: at(64), SentNode: "n1"},
	}
	in := CheckInput{Clients: []*Client{c}, Faults: []Fault{
		{Kind: "pg-stop", Start: at(19), End: at(30)},
		{Kind: "node-freeze", Node: "n2", Start: at(39), End: at(45)},
	}}
	r := checkAckTime(in)
	if got := failures(r); !strings.Contains(got, "1 of 2 sends") || !strings.Contains(got, "slow sent at") {
		t.Fatalf("ack times:\n%s", got)
	}
}

// A socket may end on a node under fault, or by the client's hand; any
// other end on a healthy node is a failure.
func TestCheckSockets(t *testing.T) {
	c := fakeClient("u1")
	c.addConn("n2", 0, 14, "silent")  // n2 frozen at 10
	c.addConn("n3", 14, 20, "client") // paused
	c.addConn("n1", 21, 30, "closed 1011")
	c.addConn("n1", 31, 0, "")
	in := CheckInput{Clients: []*Client{c}, Cluster: &Cluster{Heartbeat: 2 * time.Second},
		Faults: []Fault{{Kind: "node-freeze", Node: "n2", Start: at(10), End: at(25)}}}
	r := checkSockets(in)
	if len(r.Failures) != 1 || !strings.Contains(r.Failures[0], "healthy n1") || !strings.Contains(r.Failures[0], "closed 1011") {
		t.Fatalf("sockets:\n%s", failures(r))
	}
}

// unavailable and rate_limited are retryable when they say when; anything
// else, or either without retry_after_ms, is a failure.
func TestCheckErrors(t *testing.T) {
	c := fakeClient("u1")
	c.errors = []ErrorFrame{
		{Code: "unavailable", RetryAfterMS: 500},
		{Code: "rate_limited", RetryAfterMS: 100},
		{Code: "internal", Message: "internal error"},
		{Code: "internal"},
		{Code: "unavailable"},
	}
	r := checkErrors(CheckInput{Clients: []*Client{c}})
	got := failures(r)
	if len(r.Failures) != 2 || !strings.Contains(got, "2 × internal") || !strings.Contains(got, "1 × unavailable without retry_after_ms") {
		t.Fatalf("errors:\n%s", got)
	}
}
