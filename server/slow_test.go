package server_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"

	"minichat/server/hub"
	"minichat/server/protocol/frametest"
)

// dialStalled opens a socket for u that never reads: the test holds it and
// reads only when it chooses. Its receive buffer is small so the kernel
// absorbs little before the server's writes block.
func (e *env) dialStalled(u user) *websocket.Conn {
	e.t.Helper()
	d := &net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) { serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
		if err != nil {
			return err
		}
		return serr
	}}
	hc := &http.Client{Transport: &http.Transport{DialContext: d.DialContext}}
	ws, _, err := websocket.Dial(context.Background(), "ws"+strings.TrimPrefix(e.ts.URL, "http")+"/ws", &websocket.DialOptions{
		HTTPClient: hc,
		HTTPHeader: http.Header{"Authorization": {"Bearer " + u.Token}},
	})
	if err != nil {
		e.t.Fatal(err)
	}
	ws.SetReadLimit(1 << 24)
	e.t.Cleanup(func() { _ = ws.CloseNow() })
	return ws
}

// hubConn returns the server's view of the one connection of a user.
func (e *env) hubConn(name string) *hub.Conn {
	var found *hub.Conn
	e.srv.Hub().Conns(func(c *hub.Conn) {
		if c.User.Name == name {
			found = c
		}
	})
	return found
}

// waitHubConn waits for the hub to list the connection of a user whose
// socket does not read (its welcome cannot tell when it is registered).
func (e *env) waitHubConn(name string) *hub.Conn {
	e.t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if c := e.hubConn(name); c != nil {
			return c
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("the socket of %s is not registered", name)
		}
	}
}

// A client that stops reading must not slow anyone down or make the server
// hold unbounded memory for it: its queue stays under the limit, it is
// closed with 4429, everyone else receives every message meanwhile, and
// after a reconnect it resumes without a gap.
func TestSlowReaderIsClosedWhileOthersReceiveEverything(t *testing.T) {
	e := newEnv(t)
	pub, f1, f2, slow := e.register("pub"), e.register("fast1"), e.register("fast2"), e.register("slow")
	// More sockets that never read than the server has goroutines writing
	// for all connections: one that waited for any of them would leave
	// the fast readers unserved.
	var stuckUsers []user
	for i := range runtime.GOMAXPROCS(0) + 1 {
		stuckUsers = append(stuckUsers, e.register(fmt.Sprint("stuck", i)))
	}
	general := e.roomID(pub, "general")
	p := e.dial(pub)
	fast := []*client{e.dial(f1), e.dial(f2)}
	stalled := e.dialStalled(slow)
	sc := e.waitHubConn("slow")
	stuck := []*hub.Conn{sc}
	for _, u := range stuckUsers {
		e.dialStalled(u)
		stuck = append(stuck, e.waitHubConn(u.Name))
	}
	allClosed := func() bool {
		for _, c := range stuck {
			if !c.Closed() {
				return false
			}
		}
		return true
	}
	_, out := e.call("GET", "/api/rooms/"+general+"/messages?limit=1", pub.Token, nil)
	first := int64(out["messages"].([]any)[0].(map[string]any)["seq"].(float64)) + 1

	text := strings.Repeat("x", 3990)
	const round = 25
	next := first
	for sent := 0; !allClosed(); sent += round {
		if sent > 20_000 {
			t.Fatalf("the stalled socket was not closed after %d messages (%d bytes queued)", sent, sc.Queued())
		}
		for i := 0; i < round; i++ {
			p.send(map[string]any{"type": "send", "room": general, "text": fmt.Sprint(sent+i, text), "client_id": fmt.Sprint(sent + i)})
		}
		for i := 0; i < round; i++ {
			p.next("ack")
		}
		// Lockstep: every reader has the round before the next one is
		// sent, so a server held up by the stalled socket would stall here.
		for _, c := range fast {
			for s := next; s < next+round; s++ {
				if f := c.next("message"); f.Seq() != s {
					t.Fatalf("%s: seq %d, want %d", c.name, f.Seq(), s)
				}
			}
		}
		next += round
		for _, c := range stuck {
			if q := c.Queued(); q > hub.DefaultMaxQueueBytes {
				t.Fatalf("a stalled socket holds %d bytes queued, over the %d limit", q, hub.DefaultMaxQueueBytes)
			}
		}
	}
	for _, c := range stuck {
		if code, reason := c.CloseCode(); code != 4429 {
			t.Fatalf("stalled socket of %s closed with %d %q, want 4429", c.User.Name, code, reason)
		}
	}

	// The client reads again: what it got is gap-free, and it ends with 4429.
	last := int64(0)
	for {
		_, data, err := stalled.Read(t.Context())
		if err != nil {
			if code := websocket.CloseStatus(err); code != 4429 {
				t.Fatalf("read after the stall: %v, want close 4429", err)
			}
			break
		}
		for _, line := range bytes.Split(data, []byte("\n")) {
			f, err := frametest.Decode(line)
			if err != nil {
				t.Fatalf("bad frame %q: %v", line, err)
			}
			if f.Type != "message" {
				continue
			}
			s := f.Seq()
			if last != 0 && s != last+1 {
				t.Fatalf("the slow client got seq %d after %d", s, last)
			}
			last = s
		}
	}
	if last >= next-1 {
		t.Fatalf("the slow client got everything (%d of %d): it was never behind", last, next-1)
	}
	t.Logf("closed after %d messages; the slow client had read %d of them", next-first, last-first+1)
	if last == 0 {
		last = first - 1
	}

	// It reconnects and resumes from where it stopped.
	r := e.dial(slow)
	for from := last + 1; from < next; from += 500 {
		r.send(map[string]any{"type": "hello", "since": map[string]int64{general: from - 1}})
		for s := from; s < min(from+500, next); s++ {
			if f := r.next("message"); f.Seq() != s {
				t.Fatalf("resume: seq %d, want %d", f.Seq(), s)
			}
		}
		r.next("synced")
	}
	for _, c := range fast {
		select {
		case code := <-c.closed:
			t.Fatalf("%s was closed (%d)", c.name, code)
		default:
		}
	}
}

// Over TLS the server cannot write to the socket without waiting (the
// record layer has no such write), so every message goes out through a
// goroutine of its own: the frames must still arrive whole, once each and
// in order, and every send be answered.
func TestManyMessagesOverTLSArriveInOrder(t *testing.T) {
	e := newEnv(t)
	e.useTLS()
	alice, _, a, b, general := e.aliceAndBob()
	_, out := e.call("GET", "/api/rooms/"+general+"/messages?limit=1", alice.Token, nil)
	first := int64(out["messages"].([]any)[0].(map[string]any)["seq"].(float64)) + 1
	const n = 300
	text := strings.Repeat("tls ", 300) // over the 1 KiB write buffer
	for i := range n {
		a.send(map[string]any{"type": "send", "room": general, "text": fmt.Sprint(i, text), "client_id": fmt.Sprint("t", i)})
	}
	for i := range n {
		f := a.next("ack")
		if m := f.Msg(); m.ClientID != fmt.Sprint("t", i) {
			t.Fatalf("ack %d is for %q", i, m.ClientID)
		}
	}
	for s := first; s < first+n; s++ {
		f := b.next("message")
		text := f.Msg().Text
		if f.Seq() != s || !strings.HasPrefix(text, fmt.Sprint(s-first, "tls ")) {
			t.Fatalf("bob got seq %d %.20q, want seq %d", f.Seq(), text, s)
		}
	}
}
