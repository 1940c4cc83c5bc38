package server_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"minichat/server"
	"minichat/server/protocol"
	"minichat/server/protocol/frametest"
)

func TestWelcomeDescribesSessionRoomsAndLimits(t *testing.T) {
	e := newEnv(t)
	alice := e.register("alice")
	c, err := e.tryDial(alice.Token, nil)
	if err != nil {
		t.Fatal(err)
	}
	w := c.next("welcome").Welcome
	if w.Session == "" || w.User.Name != "alice" {
		t.Fatalf("welcome %+v", w)
	}
	if len(w.Rooms) != 1 || w.Rooms[0].Name != "general" {
		t.Fatalf("rooms %+v", w.Rooms)
	}
	if w.HeartbeatMS != time.Minute.Milliseconds() {
		t.Fatalf("heartbeat_ms %v", w.HeartbeatMS)
	}
	if l := w.Limits; l.MaxFrameBytes <= 0 || l.MaxTextChars <= 0 || l.MessagesPerSecond <= 0 || l.Burst <= 0 {
		t.Fatalf("limits %+v", l)
	}
	if w.Server.Version != "test" {
		t.Fatalf("server %+v", w.Server)
	}
	if len(w.Online) != 1 || w.Online[0].Status != "online" {
		t.Fatalf("online %+v", w.Online)
	}
}

func TestUpgradeNeedsAuthAndSameOrigin(t *testing.T) {
	e := newEnv(t, func(c *server.Config) { c.AllowedOrigins = []string{"https://chat.example.com"} })
	alice := e.register("alice")
	if _, err := e.tryDial("", nil); err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("anonymous upgrade: %v, want 401", err)
	}
	if _, err := e.tryDial("not-a-token", nil); err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("bad token: %v, want 401", err)
	}
	if _, err := e.tryDial(alice.Token, http.Header{"Origin": {"https://evil.example"}}); err == nil || !strings.Contains(err.Error(), "403") {
		t.Fatalf("cross-origin upgrade: %v, want 403", err)
	}
	c, err := e.tryDial(alice.Token, http.Header{"Origin": {"https://chat.example.com"}})
	if err != nil {
		t.Fatalf("allowed origin refused: %v", err)
	}
	c.next("welcome")
	same := http.Header{"Origin": {e.ts.URL}}
	c2, err := e.tryDial(alice.Token, same)
	if err != nil {
		t.Fatalf("same origin refused: %v", err)
	}
	c2.next("welcome")
}

func TestSendAckMessageAndHistory(t *testing.T) {
	e := newEnv(t)
	_, bob, a, b, general := e.aliceAndBob()
	a.send(map[string]any{"type": "send", "room": general, "text": "  hello bob  ", "client_id": "c-1", "ref": "r1"})
	ack := ackAndMessage(a)
	if ack.Ref() != "r1" || ack.Msg().Text != "hello bob" || ack.Msg().ClientID != "c-1" {
		t.Fatalf("ack %+v", ack)
	}
	for _, c := range []*client{b} {
		m := c.next("message").Msg()
		if m.ID != ack.Msg().ID || m.Sender == nil || m.Sender.Name != "alice" || m.Kind != "chat" {
			t.Fatalf("%s got %v", c.name, m)
		}
		if ts := m.TS; len(ts) != len("2006-01-02T15:04:05.000Z") || !strings.HasSuffix(ts, "Z") {
			t.Fatalf("ts %q is not RFC 3339 with milliseconds in UTC", ts)
		}
	}
	b.send(map[string]any{"type": "history", "room": general, "limit": 2, "ref": "h"})
	h := b.next("history")
	msgs := h.History.Messages
	if h.Ref() != "h" || len(msgs) != 2 || !h.History.HasMore {
		t.Fatalf("history %+v", h)
	}
	if msgs[1].Text != "hello bob" || msgs[0].Kind != "system" {
		t.Fatalf("history order %v", msgs)
	}
	// The same over HTTP, paged.
	st, out := e.call("GET", "/api/rooms/"+general+"/messages?limit=1", bob.Token, nil)
	if st != 200 || len(out["messages"].([]any)) != 1 || out["has_more"] != true {
		t.Fatalf("%d %v", st, out)
	}
	st, out = e.call("GET", "/api/rooms/"+general+"/messages?before=2", bob.Token, nil)
	if st != 200 || len(out["messages"].([]any)) != 1 || out["has_more"] != false {
		t.Fatalf("%d %v", st, out)
	}
}

// A history page far larger than one write (here ~240 KB: the frame's
// length takes the 64-bit form) reaches the client whole, and the socket
// carries on with the next frame.
func TestLargeHistoryPageArrivesWhole(t *testing.T) {
	e := newEnv(t)
	_, _, a, b, general := e.aliceAndBob()
	const n = 30
	texts := make([]string, n)
	for i := range texts {
		texts[i] = fmt.Sprintf("%02d ", i) + strings.Repeat("é", protocol.MaxTextChars-3) // 2 bytes each
		a.send(map[string]any{"type": "send", "room": general, "text": texts[i], "ref": fmt.Sprint(i)})
		ackAndMessage(a)
		b.next("message")
	}
	b.send(map[string]any{"type": "history", "room": general, "limit": n, "ref": "h"})
	msgs := b.next("history").History.Messages
	if len(msgs) != n {
		t.Fatalf("history has %d messages, want %d", len(msgs), n)
	}
	for i, m := range msgs {
		if got := m.Text; got != texts[i] {
			t.Fatalf("message %d arrived with %d bytes of text, want %d", i, len(got), len(texts[i]))
		}
	}
	a.send(map[string]any{"type": "send", "room": general, "text": "after", "ref": "x"})
	if m := b.next("message").Msg(); m.Text != "after" {
		t.Fatalf("the next message after the large page: %v", m)
	}
}

// The library answers a client's WebSocket pings through the socket the
// flushers write messages to: while messages stream to a client that keeps
// pinging, every pong comes back and every message arrives whole and in
// order.
func TestPingsAreAnsweredWhileMessagesStream(t *testing.T) {
	e := newEnv(t)
	_, _, a, b, general := e.aliceAndBob()
	var pings atomic.Int64
	first, stop, stopped := make(chan struct{}), make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		for {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			err := b.c.Ping(ctx)
			cancel()
			select {
			case <-stop:
				return
			default:
			}
			if err != nil {
				t.Errorf("ping %d: %v", pings.Load()+1, err)
				return
			}
			if pings.Add(1) == 1 {
				close(first)
			}
		}
	}()
	// Stop pinging before the sockets close (cleanups run last first).
	t.Cleanup(func() { close(stop); <-stopped })
	select {
	case <-first:
	case <-time.After(5 * time.Second):
		t.Fatal("no pong within 5 s")
	}
	// 100 sends at once of 2 KB each: far more than the library's 256-byte
	// buffer per write, and well under the 1 MiB a connection may have
	// queued (the sender receives every message and its ack).
	const n = 100
	text := strings.Repeat("x", 2000)
	before := pings.Load()
	for i := range n {
		a.send(map[string]any{"type": "send", "room": general, "text": fmt.Sprintf("%03d %s", i, text), "ref": fmt.Sprint(i)})
	}
	for i := range n {
		got := b.next("message").Msg().Text
		if want := fmt.Sprintf("%03d %s", i, text); got != want {
			t.Fatalf("message %d: %.12q… (%d bytes), want %.12q… (%d bytes)", i, got, len(got), want, len(want))
		}
	}
	t.Logf("%d pings answered while %d messages streamed", pings.Load()-before, n)
	for i := range n { // and the sender had every one acknowledged, in order
		if ack := a.next("ack"); ack.Ref() != fmt.Sprint(i) {
			t.Fatalf("ack %d: %v", i, ack.Ref())
		}
	}
}

func TestConcurrentSendersEveryoneSeesEverythingInOrder(t *testing.T) {
	e := newEnv(t)
	const clients, perClient = 8, 40
	users := make([]user, clients)
	conns := make([]*client, clients)
	for i := range users {
		users[i] = e.register(fmt.Sprintf("user%d", i))
	}
	general := e.roomID(users[0], "general")
	for i := range users {
		conns[i] = e.dial(users[i])
	}
	// Everyone knows where the room's log stands before the burst.
	_, out := e.call("GET", "/api/rooms/"+general+"/messages?limit=1", users[0].Token, nil)
	start := int64(out["messages"].([]any)[0].(map[string]any)["seq"].(float64))
	var wg sync.WaitGroup
	for i, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < perClient; j++ {
				if err := c.c.Write(t.Context(), websocket.MessageText, fmt.Appendf(nil,
					`{"type":"send","room":%q,"text":"m %d %d","client_id":"%d-%d"}`, general, i, j, i, j)); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	total := int64(clients * perClient)
	for _, c := range conns {
		want := start + 1
		acks := 0
		for want <= start+total || acks < perClient {
			f := c.next("message", "ack", "error")
			switch f.Type {
			case "error":
				t.Fatalf("%s: %v", c.name, f)
			case "ack":
				acks++
			case "message":
				if got := f.Seq(); got != want {
					t.Fatalf("%s: got seq %d, want %d", c.name, got, want)
				}
				want++
			}
		}
	}
}

func TestResumeAfterDisconnect(t *testing.T) {
	e := newEnv(t)
	alice, bob := e.register("alice"), e.register("bob")
	general := e.roomID(alice, "general")
	b := e.dial(bob)
	b.send(map[string]any{"type": "send", "room": general, "text": "before", "client_id": "b1"})
	last := b.next("message").Seq()
	b.close()
	for i := 0; i < 5; i++ {
		e.call("POST", "/api/rooms/"+general+"/messages", alice.Token, map[string]any{"text": fmt.Sprint("missed ", i)})
	}
	b2 := e.dial(bob)
	b2.send(map[string]any{"type": "hello", "since": map[string]int64{general: last}})
	for i := 0; i < 5; i++ {
		f := b2.next("message")
		if f.Seq() != last+1+int64(i) || f.Msg().Text != fmt.Sprint("missed ", i) {
			t.Fatalf("replay %d: %v", i, f)
		}
	}
	s := b2.next("synced")
	if s.Synced.Room != general || s.Synced.LastSeq != last+5 {
		t.Fatalf("synced %v", s)
	}
	// Live frames follow the replay.
	e.call("POST", "/api/rooms/"+general+"/messages", alice.Token, map[string]any{"text": "live"})
	if f := b2.next("message"); f.Seq() != last+6 {
		t.Fatalf("live %v", f)
	}
}

// A client further behind than replay_max gets the newest replay_max
// entries, and synced names the range it left out; the stream is complete
// from there, so live frames follow without another hello.
func TestReplayFarBehindSendsTheNewestAndNamesTheSkippedRange(t *testing.T) {
	e := newEnv(t)
	alice := e.register("alice")
	general := e.roomID(alice, "general")
	a := e.dial(alice)
	if a.welcome.Limits.ReplayMax != 500 {
		t.Fatalf("welcome limits %+v, want replay_max 500", a.welcome.Limits)
	}
	for i := 0; i < 520; i++ {
		a.send(map[string]any{"type": "send", "room": general, "text": fmt.Sprint(i), "client_id": fmt.Sprint(i)})
	}
	var last int64
	for i := 0; i < 520; i++ {
		last = max(last, a.next("ack").Seq())
	}
	a.close()
	b := e.dial(alice)
	b.send(map[string]any{"type": "hello", "since": map[string]int64{general: 0}})
	for want := last - 499; want <= last; want++ {
		if f := b.next("message", "synced"); f.Type != "message" || f.Seq() != want {
			t.Fatalf("replay: %v, want seq %d", f, want)
		}
	}
	s := b.next("message", "synced")
	if s.Type != "synced" || s.Synced.LastSeq != last || s.Synced.Skipped == nil ||
		s.Synced.Skipped.From != 1 || s.Synced.Skipped.To != last-500 {
		t.Fatalf("synced %v, want last_seq %d and skipped 1..%d", s, last, last-500)
	}
	b.send(map[string]any{"type": "send", "room": general, "text": "live", "client_id": "live"})
	if f := b.next("message"); f.Seq() != last+1 {
		t.Fatalf("live %v, want seq %d", f, last+1)
	}
	// Within replay_max: everything after since, nothing named skipped.
	c := e.dial(alice)
	c.send(map[string]any{"type": "hello", "since": map[string]int64{general: last - 3}})
	for want := last - 2; want <= last+1; want++ {
		if f := c.next("message", "synced"); f.Seq() != want {
			t.Fatalf("replay: %v, want seq %d", f, want)
		}
	}
	if s := c.next("message", "synced"); s.Type != "synced" || s.Synced.Skipped != nil || s.Synced.LastSeq != last+1 {
		t.Fatalf("synced %v", s)
	}
}

// While messages flow, a client resuming a little behind receives the
// room's log after since, then synced, then the live frames: nothing live
// before synced, no gap and no repeat after it.
func TestResumeNearBehindWithLiveTraffic(t *testing.T) {
	e := newEnv(t)
	alice, bob := e.register("alice"), e.register("bob")
	general := e.roomID(alice, "general")
	a := e.dial(alice)
	var last int64
	for i := 0; i < 30; i++ {
		a.send(map[string]any{"type": "send", "room": general, "text": fmt.Sprint(i), "client_id": fmt.Sprint("pre", i)})
		last = max(last, a.next("ack").Seq())
	}
	stop := make(chan struct{})
	sent := make(chan int, 1)
	go func() {
		n := 0
		defer func() { sent <- n }()
		tick := time.NewTicker(4 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				b, _ := json.Marshal(map[string]any{"type": "send", "room": general, "text": fmt.Sprint("live", n), "client_id": fmt.Sprint("live", n)})
				if a.c.Write(context.Background(), websocket.MessageText, b) != nil {
					return
				}
				n++
			}
		}
	}()
	for round := 0; round < 5; round++ {
		b := e.dial(bob)
		since := last - 10
		b.send(map[string]any{"type": "hello", "since": map[string]int64{general: since}})
		want := since + 1
		synced := false
		for seen := 0; seen < 40; {
			f := b.next("message", "update", "synced")
			if f.Type == "synced" {
				if synced || f.Synced.LastSeq != want-1 || f.Synced.Skipped != nil {
					t.Fatalf("round %d: synced %v after seq %d", round, f, want-1)
				}
				synced = true
				continue
			}
			if got := f.Seq(); got != want {
				t.Fatalf("round %d: seq %d, want %d (synced seen: %v)", round, got, want, synced)
			}
			want++
			if synced {
				seen++
			}
		}
		last = want - 1
		b.close()
	}
	close(stop)
	<-sent
}

func TestIdempotentResend(t *testing.T) {
	e := newEnv(t)
	alice := e.register("alice")
	general := e.roomID(alice, "general")
	a := e.dial(alice)
	a.send(map[string]any{"type": "send", "room": general, "text": "once", "client_id": "same"})
	first := ackAndMessage(a).Msg()
	a.close()
	a2 := e.dial(alice)
	a2.send(map[string]any{"type": "send", "room": general, "text": "once", "client_id": "same", "ref": "again"})
	second := a2.next("ack")
	if second.Msg().ID != first.ID || second.Msg().Seq != first.Seq || second.Ref() != "again" {
		t.Fatalf("resend acked %v, want the original %v", second, first)
	}
	a2.none(200*time.Millisecond, "message")
	// Over HTTP too.
	_, out := e.call("POST", "/api/rooms/"+general+"/messages", alice.Token, map[string]any{"text": "once", "client_id": "same"})
	if msgOf(out)["id"] != first.ID {
		t.Fatalf("REST resend %v", out)
	}
	_, hist := e.call("GET", "/api/rooms/"+general+"/messages", alice.Token, nil)
	if n := len(hist["messages"].([]any)); n != 2 { // "alice joined" and "once"
		t.Fatalf("%d messages stored, want 2", n)
	}
}

func TestTypingRelayAndExpiry(t *testing.T) {
	e := newEnv(t)
	_, _, a, b, general := e.aliceAndBob()
	a.send(map[string]any{"type": "typing", "room": general, "active": true})
	f := b.next("typing")
	if !f.Typing.Active || f.Typing.Room != general || f.Typing.User.Name != "alice" {
		t.Fatalf("typing %v", f)
	}
	start := time.Now()
	if f := b.next("typing"); f.Typing.Active != false {
		t.Fatalf("typing %v", f)
	}
	if d := time.Since(start); d < 200*time.Millisecond {
		t.Fatalf("typing expired after %v, before the timeout", d)
	}
	// Explicit stop, and stop on send.
	a.send(map[string]any{"type": "typing", "room": general, "active": true})
	b.next("typing")
	a.send(map[string]any{"type": "send", "room": general, "text": "x", "client_id": "x"})
	if f := b.next("typing", "message"); f.Type != "typing" || f.Typing.Active != false {
		t.Fatalf("want typing stop before the message, got %v", f)
	}
	// Typing in a room alice is not in is refused.
	a.send(map[string]any{"type": "typing", "room": "r_nope", "active": true, "ref": "t"})
	if f := a.next("error"); f.Error.Code != "not_found" || f.Ref() != "t" {
		t.Fatalf("%v", f)
	}
}

func TestPresenceGraceAndStatus(t *testing.T) {
	e := newEnv(t)
	alice, bob := e.register("alice"), e.register("bob")
	a := e.dial(alice)
	b := e.dial(bob)
	waitPresence(t, a, "bob", "online")
	// A reload within the grace period announces nothing.
	b.close()
	b = e.dial(bob)
	a.none(500*time.Millisecond, "presence")
	b.send(map[string]any{"type": "status", "status": "away", "text": "in a meeting"})
	p := waitPresence(t, a, "bob", "away")
	if p.Text != "in a meeting" {
		t.Fatalf("%v", p)
	}
	b.close()
	start := time.Now()
	waitPresence(t, a, "bob", "offline")
	if d := time.Since(start); d < 200*time.Millisecond {
		t.Fatalf("offline after %v, within the grace period", d)
	}
}

// ackAndMessage returns the ack of the sender's last send after also taking
// the message frame of it, which may come before or after the ack.
func ackAndMessage(c *client) frametest.Frame {
	c.t.Helper()
	var ack, msg frametest.Frame
	for ack.Type == "" || msg.Type == "" {
		f := c.next("ack", "message")
		if f.Type == "ack" {
			ack = f
		} else {
			msg = f
		}
	}
	if ack.Msg().ID != msg.Msg().ID {
		c.t.Fatalf("ack %+v and message %+v differ", ack, msg)
	}
	return ack
}

func waitPresence(t *testing.T, c *client, name, status string) protocol.PresenceFrame {
	t.Helper()
	for {
		p := c.next("presence").Presence
		if p.User.Name == name && p.Status == status {
			return p
		}
	}
}

func TestPrivateRoomsAndDMsAreInvisibleToOthers(t *testing.T) {
	e := newEnv(t)
	alice, bob, carol := e.register("alice"), e.register("bob"), e.register("carol")
	a, b, c := e.dial(alice), e.dial(bob), e.dial(carol)

	st, out := e.call("POST", "/api/dms", alice.Token, map[string]string{"username": "bob"})
	if st != 200 {
		t.Fatalf("dm: %d %v", st, out)
	}
	dm := out["room"].(map[string]any)
	if dm["kind"] != "dm" || dm["name"] != "bob" {
		t.Fatalf("dm as alice sees it: %v", dm)
	}
	_, again := e.call("POST", "/api/dms", bob.Token, map[string]string{"username": "ALICE"})
	if again["room"].(map[string]any)["id"] != dm["id"] {
		t.Fatalf("dm from the other side: %v, want %v", again, dm)
	}
	dmID := dm["id"].(string)
	b.next("room")
	a.send(map[string]any{"type": "send", "room": dmID, "text": "psst", "client_id": "p"})
	a.next("ack")
	if f := b.next("message"); f.Msg().Text != "psst" {
		t.Fatalf("%v", f)
	}

	st, out = e.call("POST", "/api/rooms", alice.Token, map[string]any{"name": "secret", "private": true})
	if st != 201 {
		t.Fatalf("create: %d %v", st, out)
	}
	secret := out["room"].(map[string]any)["id"].(string)
	if f := a.next("room"); f.Room.Event != "created" {
		t.Fatalf("%v", f)
	}
	a.send(map[string]any{"type": "send", "room": secret, "text": "hidden", "client_id": "h"})
	a.next("ack")

	c.none(300*time.Millisecond, "message", "room", "typing")
	for _, room := range []string{dmID, secret} {
		if st, _ := e.call("GET", "/api/rooms/"+room+"/messages", carol.Token, nil); st != 404 && st != 403 {
			t.Fatalf("carol reads %s: %d", room, st)
		}
		if st, _ := e.call("POST", "/api/rooms/"+room+"/messages", carol.Token, map[string]string{"text": "hi"}); st != 404 && st != 403 {
			t.Fatalf("carol posts to %s: %d", room, st)
		}
		if st, _ := e.call("POST", "/api/rooms/"+room+"/join", carol.Token, nil); st != 404 && st != 403 {
			t.Fatalf("carol joins %s: %d", room, st)
		}
		c.send(map[string]any{"type": "history", "room": room, "ref": "h"})
		if f := c.next("history", "error"); f.Type != "error" {
			t.Fatalf("carol's history of %s: %v", room, f)
		}
		c.send(map[string]any{"type": "hello", "since": map[string]int64{room: 0}})
		if f := c.next("message", "error", "synced"); f.Type != "error" {
			t.Fatalf("carol's replay of %s: %v", room, f)
		}
		c.send(map[string]any{"type": "send", "room": room, "text": "hi", "client_id": "c" + room})
		if f := c.next("ack", "error"); f.Type != "error" {
			t.Fatalf("carol's send to %s: %v", room, f)
		}
	}
	_, rooms := e.call("GET", "/api/rooms", carol.Token, nil)
	for _, r := range rooms["rooms"].([]any) {
		if id := r.(map[string]any)["id"]; id == dmID || id == secret {
			t.Fatalf("carol's room list shows %v", r)
		}
	}
	// An invitation lets carol in.
	if st, _ := e.call("POST", "/api/rooms/"+secret+"/invite", alice.Token, map[string]string{"username": "carol"}); st != 204 {
		t.Fatalf("invite: %d", st)
	}
	if f := c.next("room"); f.Room.Event != "joined" || f.Room.Room.ID != secret {
		t.Fatalf("%v", f)
	}
	if f := c.next("message"); f.Msg().Kind != "system" {
		t.Fatalf("%v", f)
	}
}

func TestHeartbeatMissedCloses4408(t *testing.T) {
	// 300 ms: silence is judged after 2.5 heartbeats, and a pong of the
	// polite client must not miss that on a loaded machine under -race.
	e := newEnv(t, func(c *server.Config) { c.Heartbeat = 300 * time.Millisecond })
	alice := e.register("alice")
	quiet := e.dial(alice) // never answers ping
	polite := e.dial(alice)
	stop := make(chan struct{})
	go func() {
		for {
			select {
			case <-stop:
				return
			case f := <-polite.frames:
				if f.Type == "ping" {
					_ = polite.c.Write(t.Context(), websocket.MessageText, []byte(`{"type":"pong"}`))
				}
			}
		}
	}()
	if code := quiet.waitClose(5 * time.Second); code != 4408 {
		t.Fatalf("close code %d, want 4408", code)
	}
	select {
	case code := <-polite.closed:
		t.Fatalf("a client answering pings was closed (%d)", code)
	case <-time.After(900 * time.Millisecond):
	}
	close(stop)
}

// TestPingsAreSpreadOverTheHeartbeat: every connection is pinged within a
// heartbeat, but not all in the same instant: the answers of thousands of
// sockets pinged at once held up every delivery for a second.
func TestPingsAreSpreadOverTheHeartbeat(t *testing.T) {
	const hb = 500 * time.Millisecond
	e := newEnv(t, func(c *server.Config) { c.Heartbeat = hb; c.MaxConnsPerUser = -1 })
	alice := e.register("alice")
	const n = 30
	first := make(chan time.Time, n)
	for range n {
		c := e.dial(alice)
		go func() {
			timeout := time.After(3 * hb)
			for {
				select {
				case f := <-c.frames:
					if f.Type == "ping" {
						first <- time.Now()
						return
					}
				case <-timeout:
					first <- time.Time{}
					return
				}
			}
		}()
	}
	var lo, hi time.Time
	for i := range n {
		at := <-first
		if at.IsZero() {
			t.Fatal("a connection had no ping within three heartbeats")
		}
		if i == 0 || at.Before(lo) {
			lo = at
		}
		if at.After(hi) {
			hi = at
		}
	}
	if spread := hi.Sub(lo); spread < hb/3 {
		t.Fatalf("the first pings of %d connections came within %v; want them spread over the %v heartbeat", n, spread, hb)
	}
}

func TestOversizedFrameCloses1009(t *testing.T) {
	e := newEnv(t, func(c *server.Config) { c.MaxFrameBytes = 1024 })
	alice := e.register("alice")
	a := e.dial(alice)
	a.send(map[string]any{"type": "send", "room": "r", "text": strings.Repeat("x", 2000)})
	if code := a.waitClose(3 * time.Second); code != websocket.StatusMessageTooBig {
		t.Fatalf("close code %d, want 1009", code)
	}
}

func TestLogoutCloses4401AndRevokesToken(t *testing.T) {
	e := newEnv(t)
	alice := e.register("alice")
	_, other := e.call("POST", "/api/session", "", map[string]string{"username": "alice", "password": "correct horse"})
	otherToken := other["token"].(string)
	a := e.dial(alice)
	keep := e.dial(user{Name: "alice", Token: otherToken})
	if st, _ := e.call("DELETE", "/api/session", alice.Token, nil); st != 204 {
		t.Fatalf("logout: %d", st)
	}
	if code := a.waitClose(3 * time.Second); code != 4401 {
		t.Fatalf("close code %d, want 4401", code)
	}
	if st, _ := e.call("GET", "/api/me", alice.Token, nil); st != 401 {
		t.Fatalf("token still works: %d", st)
	}
	if _, err := e.tryDial(alice.Token, nil); err == nil {
		t.Fatal("revoked token opened a socket")
	}
	// The other session is untouched.
	keep.send(map[string]any{"type": "status", "status": "away"})
	keep.next("presence")
	if st, _ := e.call("GET", "/api/me", otherToken, nil); st != 200 {
		t.Fatalf("other session: %d", st)
	}
}

func TestBadFramesGetErrorsAndTheConnectionStaysUsable(t *testing.T) {
	e := newEnv(t)
	alice := e.register("alice")
	general := e.roomID(alice, "general")
	a := e.dial(alice)
	cases := []struct {
		frame string
		code  string
	}{
		{`not json`, "bad_request"},
		{`[]`, "bad_request"},
		{`{}`, "bad_request"},
		{`{"type":"launch","ref":"x"}`, "bad_request"},
		{`{"type":"send","ref":"x"}`, "bad_request"},
		{`{"type":"send","room":5,"text":"x","ref":"x"}`, "bad_request"},
		{`{"type":"send","room":"` + general + `","text":"   ","ref":"x"}`, "bad_request"},
		{`{"type":"send","room":"` + general + `","text":"a\u0000b","ref":"x"}`, "bad_request"},
		{`{"type":"send","room":"` + general + `","text":"` + strings.Repeat("é", 4001) + `","ref":"x"}`, "too_large"},
		{`{"type":"send","room":"` + general + `","text":"x","client_id":"` + strings.Repeat("c", 65) + `","ref":"x"}`, "bad_request"},
		{`{"type":"send","room":"r_missing","text":"x","ref":"x"}`, "not_found"},
		{`{"type":"history","room":"` + general + `","limit":0,"ref":"x"}`, "bad_request"},
		{`{"type":"history","room":"` + general + `","limit":201,"ref":"x"}`, "bad_request"},
		{`{"type":"typing","room":"` + general + `","ref":"x"}`, "bad_request"},
		{`{"type":"read","room":"` + general + `","seq":-1,"ref":"x"}`, "bad_request"},
		{`{"type":"status","status":"busy","ref":"x"}`, "bad_request"},
		{`{"type":"edit","room":"` + general + `","id":"m_none","text":"x","ref":"x"}`, "not_found"},
		{`{"type":"react","room":"` + general + `","id":"m_none","emoji":"👍","ref":"x"}`, "bad_request"},
		{`{"type":"hello","since":{"` + general + `":-4},"ref":"x"}`, "bad_request"},
	}
	for _, tc := range cases {
		a.send(tc.frame)
		f := a.next("error")
		if f.Error.Code != tc.code {
			t.Errorf("%s: code %v, want %s (%v)", tc.frame, f.Error.Code, tc.code, f.Error.Message)
		}
		if strings.Contains(tc.frame, `"ref":"x"`) && tc.frame[0] == '{' && f.Ref() != "x" && tc.code != "bad_request" {
			t.Errorf("%s: ref %v not echoed", tc.frame, f.Ref())
		}
		if f.Error.Message == "" {
			t.Errorf("%s: no message", tc.frame)
		}
	}
	if err := a.c.Write(t.Context(), websocket.MessageBinary, []byte{1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	a.next("error")
	a.send(map[string]any{"type": "send", "room": general, "text": "still here", "client_id": "ok", "ref": "ok"})
	if f := a.next("ack"); f.Ref() != "ok" {
		t.Fatalf("%v", f)
	}
}

func TestRateLimitAnswersRateLimited(t *testing.T) {
	e := newEnv(t, func(c *server.Config) { c.Rate, c.Burst = 1, 3 })
	alice := e.register("alice")
	general := e.roomID(alice, "general")
	a := e.dial(alice)
	for i := 0; i < 5; i++ {
		a.send(map[string]any{"type": "send", "room": general, "text": "x", "client_id": fmt.Sprint(i), "ref": fmt.Sprint(i)})
	}
	acks, limited := 0, 0
	for acks+limited < 5 {
		f := a.next("ack", "error")
		if f.Type == "ack" {
			acks++
			continue
		}
		if f.Error.Code != "rate_limited" || f.Error.RetryAfterMS <= 0 {
			t.Fatalf("%v", f)
		}
		limited++
	}
	if acks != 3 || limited != 2 {
		t.Fatalf("%d acks, %d limited; want 3 and 2", acks, limited)
	}
}

func TestEditDeleteReactTakeTheNextSeq(t *testing.T) {
	e := newEnv(t)
	_, bob, a, b, general := e.aliceAndBob()
	a.send(map[string]any{"type": "send", "room": general, "text": "draft", "client_id": "d"})
	m := ackAndMessage(a).Msg()
	id, seq := m.ID, m.Seq
	b.next("message")

	a.send(map[string]any{"type": "edit", "room": general, "id": id, "text": "final"})
	a.next("update")
	u := b.next("update")
	if u.Seq() != seq+1 || u.Msg().Text != "final" || u.Msg().EditedAt == "" || u.Msg().Seq != seq {
		t.Fatalf("edit update %v", u)
	}
	b.send(map[string]any{"type": "edit", "room": general, "id": id, "text": "hijack", "ref": "e"})
	if f := b.next("error"); f.Error.Code != "forbidden" {
		t.Fatalf("%v", f)
	}
	b.send(map[string]any{"type": "react", "room": general, "id": id, "emoji": "👍", "on": true})
	u = a.next("update")
	if u.Seq() != seq+2 {
		t.Fatalf("react update %v", u)
	}
	if r := u.Msg().Reactions; len(r) != 1 || r[0].Emoji != "👍" || len(r[0].Users) != 1 || r[0].Users[0] != "bob" {
		t.Fatalf("reactions %v", r)
	}
	a.send(map[string]any{"type": "delete", "room": general, "id": id})
	b.next("update") // bob's own reaction
	u = b.next("update")
	if !u.Msg().Deleted || u.Msg().Text != "" || u.Seq() != seq+3 {
		t.Fatalf("delete update %v", u)
	}
	// Replay carries both kinds in log order; history shows the current state.
	c := e.dial(bob)
	c.send(map[string]any{"type": "hello", "since": map[string]int64{general: seq - 1}})
	want := []string{"message", "update", "update", "update"}
	for i, ty := range want {
		f := c.next("message", "update")
		if f.Type != ty || f.Seq() != seq+int64(i) {
			t.Fatalf("replay %d: %v", i, f)
		}
	}
	_, h := e.call("GET", "/api/rooms/"+general+"/messages", bob.Token, nil)
	msgs := h["messages"].([]any)
	last := msgs[len(msgs)-1].(map[string]any)
	if last["id"] != id || last["deleted"] != true {
		t.Fatalf("history shows %v", last)
	}
}

func TestReadMarkerAndUnread(t *testing.T) {
	e := newEnv(t)
	alice, bob := e.register("alice"), e.register("bob")
	general := e.roomID(alice, "general")
	for i := 0; i < 3; i++ {
		e.call("POST", "/api/rooms/"+general+"/messages", alice.Token, map[string]string{"text": "hi"})
	}
	unread := func() float64 {
		_, out := e.call("GET", "/api/rooms", bob.Token, nil)
		for _, r := range out["rooms"].([]any) {
			if r.(map[string]any)["id"] == general {
				return r.(map[string]any)["unread"].(float64)
			}
		}
		return -1
	}
	if n := unread(); n != 3 {
		t.Fatalf("unread %v, want 3", n)
	}
	b := e.dial(bob)
	_, out := e.call("GET", "/api/rooms/"+general+"/messages?limit=1", bob.Token, nil)
	last := out["messages"].([]any)[0].(map[string]any)["seq"].(float64)
	b.send(map[string]any{"type": "read", "room": general, "seq": last, "ref": "r"})
	b.send(map[string]any{"type": "history", "room": general, "limit": 1, "ref": "sync"})
	b.next("history") // frames are handled in order: the read is done
	if n := unread(); n != 0 {
		t.Fatalf("unread %v after read, want 0", n)
	}
}

// While a room has connected members the hub keeps its latest frames and
// replays a returning connection from them; further back it reads the
// store. Either way the client gets every seq once, in order.
func TestResumeFromRecentFramesAndFromTheStore(t *testing.T) {
	e := newEnv(t)
	alice, bob := e.register("alice"), e.register("bob")
	general := e.roomID(alice, "general")
	a := e.dial(alice) // keeps the room active in the hub
	b := e.dial(bob)
	b.send(map[string]any{"type": "send", "room": general, "text": "mark", "client_id": "m"})
	last := ackAndMessage(b).Seq()
	b.close()
	send := func(n int, prefix string) {
		for i := 0; i < n; i++ {
			a.send(map[string]any{"type": "send", "room": general, "text": fmt.Sprint(prefix, i), "client_id": fmt.Sprint(prefix, i)})
		}
		for i := 0; i < n; i++ {
			a.next("ack")
		}
	}
	send(20, "short")
	b = e.dial(bob)
	b.send(map[string]any{"type": "hello", "since": map[string]int64{general: last}})
	for i := int64(1); i <= 20; i++ {
		if f := b.next("message"); f.Seq() != last+i || f.Msg().Text != fmt.Sprint("short", i-1) {
			t.Fatalf("replay %d: %v", i, f)
		}
	}
	if s := b.next("synced"); s.Synced.LastSeq != last+20 {
		t.Fatalf("synced %v", s)
	}
	last += 20
	b.close()
	// Further back than the hub keeps: the room goes idle (the hub forgets
	// its frames), one message is posted, then 599 more while alice is
	// back. The replay of 600 is capped at the newest 500, which the hub
	// still keeps.
	a.close()
	if st, _ := e.call("POST", "/api/rooms/"+general+"/messages", alice.Token, map[string]string{"text": "while idle"}); st != 201 {
		t.Fatalf("REST send: %d", st)
	}
	a = e.dial(alice)
	send(599, "long")
	b = e.dial(bob)
	b.send(map[string]any{"type": "hello", "since": map[string]int64{general: last}})
	for i := int64(101); i <= 600; i++ {
		if f := b.next("message"); f.Seq() != last+i {
			t.Fatalf("replay %d: seq %d", i, f.Seq())
		}
	}
	s := b.next("synced")
	if sk := s.Synced.Skipped; s.Synced.LastSeq != last+600 || sk == nil ||
		sk.From != last+1 || sk.To != last+100 {
		t.Fatalf("synced %v, want last_seq %d and skipped %d..%d", s, last+600, last+1, last+100)
	}
}

// rawFrame is a client text frame as RFC 6455 wants it: masked.
func rawFrame(payload string) []byte {
	key := [4]byte{0x1b, 0x7e, 0x33, 0xa5}
	b := []byte{0x81}
	switch n := len(payload); {
	case n < 126:
		b = append(b, 0x80|byte(n))
	default:
		b = append(b, 0x80|126, byte(n>>8), byte(n))
	}
	b = append(b, key[:]...)
	for i := range len(payload) {
		b = append(b, payload[i]^key[i%4])
	}
	return b
}

// rawReader reads unmasked server messages and splits them into frames
// (one message may carry several, separated by newlines).
type rawReader struct {
	br      *bufio.Reader
	pending []frametest.Frame
}

// next returns the next frame of type want, skipping the others.
func (r *rawReader) next(t *testing.T, want string) frametest.Frame {
	t.Helper()
	for {
		for len(r.pending) > 0 {
			f := r.pending[0]
			r.pending = r.pending[1:]
			if f.Type == want {
				return f
			}
		}
		var h [2]byte
		if _, err := io.ReadFull(r.br, h[:]); err != nil {
			t.Fatalf("waiting for %s: %v", want, err)
		}
		n := int(h[1] & 0x7f)
		switch n {
		case 126:
			var l [2]byte
			_, _ = io.ReadFull(r.br, l[:])
			n = int(l[0])<<8 | int(l[1])
		case 127:
			var l [8]byte
			_, _ = io.ReadFull(r.br, l[:])
			n = int(binary.BigEndian.Uint64(l[:]))
		}
		payload := make([]byte, n)
		if _, err := io.ReadFull(r.br, payload); err != nil {
			t.Fatalf("waiting for %s: %v", want, err)
		}
		if h[0]&0x0f != 1 {
			continue
		}
		for _, line := range bytes.Split(payload, []byte("\n")) {
			f, err := frametest.Decode(line)
			if err != nil {
				t.Fatalf("bad frame %q: %v", line, err)
			}
			r.pending = append(r.pending, f.Split()...)
		}
	}
}

// A client may send its first frames in the same packet as the upgrade
// request, before the server has answered it; and a connection that has
// been idle must be served as soon as it speaks again (an idle connection
// waits on a small goroutine of its own, see ws.idleWaiter).
func TestFramesBeforeUpgradeAnswerAndAfterIdleAreServed(t *testing.T) {
	e := newEnv(t)
	alice := e.register("alice")
	general := e.roomID(alice, "general")
	for _, early := range []bool{true, false} {
		t.Run(fmt.Sprintf("early=%v", early), func(t *testing.T) {
			nc, err := net.Dial("tcp", strings.TrimPrefix(e.ts.URL, "http://"))
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
			req := "GET /ws HTTP/1.1\r\nHost: " + strings.TrimPrefix(e.ts.URL, "http://") + "\r\n" +
				"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n" +
				"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nAuthorization: Bearer " + alice.Token + "\r\n\r\n"
			hello := rawFrame(fmt.Sprintf(`{"type":"hello","since":{%q:0}}`, general))
			out := []byte(req)
			if early {
				out = append(out, hello...)
			}
			if _, err := nc.Write(out); err != nil {
				t.Fatal(err)
			}
			br := bufio.NewReader(nc)
			frames := &rawReader{br: br}
			resp, err := http.ReadResponse(br, nil)
			if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
				t.Fatalf("upgrade: %v %v", resp, err)
			}
			frames.next(t, "welcome")
			if !early {
				time.Sleep(100 * time.Millisecond) // idle: nothing sent yet
				if _, err := nc.Write(hello); err != nil {
					t.Fatal(err)
				}
			}
			frames.next(t, "synced")
			for i := range 3 {
				time.Sleep(50 * time.Millisecond) // idle again between frames
				send := fmt.Sprintf(`{"type":"send","room":%q,"text":"after idle %d","client_id":"raw-%v-%d","ref":"r%d"}`, general, i, early, i, i)
				if _, err := nc.Write(rawFrame(send)); err != nil {
					t.Fatal(err)
				}
				ack := frames.next(t, "ack")
				if ack.Ref() != fmt.Sprintf("r%d", i) {
					t.Fatalf("ack %v, want ref r%d", ack, i)
				}
			}
		})
	}
}
