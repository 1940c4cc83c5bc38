//go:build soak

// The long leak and soak tests: make soak (go test -tags soak). They run on
// loopback only, each bounded in time; docs/benchmarks.md keeps their last
// results.

package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"minichat/server"
	"minichat/server/protocol/frametest"
)

func soakEnv(t *testing.T) *env {
	return newEnv(t, func(c *server.Config) {
		c.MaxConnsPerIP, c.MaxConnsPerUser = -1, -1 // every client is 127.0.0.1
		c.Heartbeat = 20 * time.Second
	})
}

func TestSoakConnectDisconnect10k(t *testing.T) {
	e := soakEnv(t)
	checkNoLeak(t, e, 10_000, 4<<20)
}

// leanClient is a socket with a reader that only keeps what the soak
// needs: the last seq per room, counts, and how it closed.
type leanClient struct {
	ws       *websocket.Conn
	mu       sync.Mutex
	last     map[string]int64
	synced   chan struct{}
	messages atomic.Int64
	errors   atomic.Int64
	done     chan struct{}
}

func (e *env) leanDial(ctx context.Context, u user) (*leanClient, error) {
	ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(e.ts.URL, "http")+"/ws", &websocket.DialOptions{
		HTTPHeader: http.Header{"Authorization": {"Bearer " + u.Token}},
	})
	if err != nil {
		return nil, err
	}
	ws.SetReadLimit(1 << 24)
	c := &leanClient{ws: ws, last: map[string]int64{}, synced: make(chan struct{}, 64), done: make(chan struct{})}
	welcome := make(chan struct{})
	go func() {
		defer close(c.done)
		seen := false
		for {
			_, data, err := ws.Read(context.Background())
			if err != nil {
				if !seen {
					close(welcome)
				}
				return
			}
			for _, line := range bytes.Split(data, []byte("\n")) {
				f, err := frametest.Decode(line)
				if err != nil {
					panic(fmt.Sprintf("server sent a frame that is not the protocol's: %v: %q", err, line))
				}
				switch f.Type {
				case "welcome":
					seen = true
					close(welcome)
				case "message":
					c.messages.Add(1)
					c.mu.Lock()
					m := f.Msg()
					c.last[m.Room] = max(c.last[m.Room], m.Seq)
					c.mu.Unlock()
				case "synced":
					select {
					case c.synced <- struct{}{}:
					default:
					}
				case "ping":
					_ = ws.Write(context.Background(), websocket.MessageText, []byte(`{"type":"pong"}`))
				case "error":
					c.errors.Add(1)
				}
			}
		}
	}()
	select {
	case <-welcome:
	case <-ctx.Done():
		_ = ws.CloseNow()
		<-c.done
		return nil, ctx.Err()
	}
	return c, nil
}

func (c *leanClient) close() {
	_ = c.ws.CloseNow()
	<-c.done
}

// parallel runs fn for 0..n-1 with at most width running at once.
func parallel(n, width int, fn func(i int)) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, width)
	for i := 0; i < n; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			fn(i)
		}()
	}
	wg.Wait()
}

// A storm: thousands of clients connect at once, go away while messages
// are posted, and come back at once with hello; each one receives its
// replay, and afterwards goroutines and memory are back to the baseline.
func TestSoakReconnectStorm(t *testing.T) {
	e := soakEnv(t)
	const n, nUsers = 3000, 100
	users := make([]user, nUsers)
	for i := range users {
		users[i] = e.register(fmt.Sprint("storm", i))
	}
	general := e.roomID(users[0], "general")
	e.cycles(users, 100)
	baseG, baseH := quiet(), liveHeap()

	clients := make([]*leanClient, n)
	connect := func(phase string) time.Duration {
		start := time.Now()
		var failed atomic.Int64
		parallel(n, 200, func(i int) {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			c, err := e.leanDial(ctx, users[i%nUsers])
			if err != nil {
				failed.Add(1)
				return
			}
			clients[i] = c
		})
		if failed.Load() > 0 {
			t.Fatalf("%s: %d of %d connections failed", phase, failed.Load(), n)
		}
		return time.Since(start)
	}
	first := connect("first connect")
	peakH := liveHeap()
	_, out := e.call("GET", "/api/rooms", users[0].Token, nil)
	var since int64
	for _, r := range out["rooms"].([]any) {
		if r := r.(map[string]any); r["id"] == general {
			since = int64(r["last_seq"].(float64))
		}
	}
	for _, c := range clients {
		c.close()
	}
	for i := 0; i < 50; i++ {
		if st, _ := e.call("POST", "/api/rooms/"+general+"/messages", users[i%nUsers].Token, map[string]string{"text": fmt.Sprint("while away ", i)}); st != 201 {
			t.Fatalf("post: %d", st)
		}
	}
	again := connect("reconnect")
	hello := []byte(fmt.Sprintf(`{"type":"hello","since":{%q:%d}}`, general, since))
	start := time.Now()
	parallel(n, 200, func(i int) {
		c := clients[i]
		if err := c.ws.Write(context.Background(), websocket.MessageText, hello); err != nil {
			t.Errorf("hello: %v", err)
			return
		}
		select {
		case <-c.synced:
		case <-time.After(60 * time.Second):
			t.Errorf("client %d: no synced", i)
		}
	})
	replay := time.Since(start)
	var short int
	for _, c := range clients {
		c.mu.Lock()
		if c.last[general] < since+50 {
			short++
		}
		c.mu.Unlock()
	}
	if short > 0 {
		t.Fatalf("%d of %d clients missed messages in their replay", short, n)
	}
	for _, c := range clients {
		c.close()
	}
	clear(clients)
	g := settle(t, baseG)
	h := liveHeap()
	t.Logf("SOAK storm: %d clients (%d users): connect %v, reconnect %v, hello→synced for all %v; live heap %.1f MiB before, %.1f with %d open, %.1f after; goroutines %d → %d",
		n, nUsers, first.Round(time.Millisecond), again.Round(time.Millisecond), replay.Round(time.Millisecond),
		mib(baseH), mib(peakH), n, mib(h), baseG, g)
	if g > baseG {
		t.Fatalf("%d goroutines after the storm, %d before", g, baseG)
	}
	if h > baseH+8<<20 {
		t.Fatalf("live heap %.1f MiB after the storm, %.1f before", mib(h), mib(baseH))
	}
}

func mib(b uint64) float64 { return float64(b) / (1 << 20) }

// Mixed traffic for a bounded time (MINICHAT_SOAK_DURATION, default 3m):
// 200 sockets of 20 users in two rooms; senders, typing, history reads and
// a steady churn of reconnects with hello. The live heap is sampled every
// 15 s after a warm-up and must stay flat; at the end everything is back
// to the baseline.
func TestSoakMixedTraffic(t *testing.T) {
	d := 3 * time.Minute
	if s := os.Getenv("MINICHAT_SOAK_DURATION"); s != "" {
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			t.Fatal(err)
		}
	}
	e := soakEnv(t)
	const nConns, nUsers = 200, 20
	users := make([]user, nUsers)
	for i := range users {
		users[i] = e.register(fmt.Sprint("soak", i))
	}
	general := e.roomID(users[0], "general")
	_, out := e.call("POST", "/api/rooms", users[0].Token, map[string]any{"name": "second"})
	second := out["room"].(map[string]any)["id"].(string)
	for _, u := range users[1:] {
		e.call("POST", "/api/rooms/"+second+"/join", u.Token, nil)
	}
	rooms := []string{general, second}
	e.cycles(users, 100)
	baseG, baseH := quiet(), liveHeap()

	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var (
		mu      sync.Mutex
		clients = make([]*leanClient, nConns)
		sent    atomic.Int64
		churned atomic.Int64
	)
	for i := range clients {
		c, err := e.leanDial(context.Background(), users[i%nUsers])
		if err != nil {
			t.Fatal(err)
		}
		clients[i] = c
	}
	var wg sync.WaitGroup
	// Ten senders, 20 messages a second in all, with typing before each.
	for s := 0; s < 10; s++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tick := time.NewTicker(500 * time.Millisecond)
			defer tick.Stop()
			for n := 0; ; n++ {
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
				}
				mu.Lock()
				c := clients[s]
				mu.Unlock()
				room := rooms[n%2]
				_ = c.ws.Write(ctx, websocket.MessageText, fmt.Appendf(nil, `{"type":"typing","room":%q,"active":true}`, room))
				if c.ws.Write(ctx, websocket.MessageText, fmt.Appendf(nil, `{"type":"send","room":%q,"text":"soak %d %d","client_id":"s%d-%d"}`, room, s, n, s, n)) == nil {
					sent.Add(1)
				}
			}
		}()
	}
	// Churn: every 200 ms a socket (not a sender's) goes away and comes
	// back with hello; now and then one reads history.
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			i := 10 + rand.IntN(nConns-10)
			mu.Lock()
			old := clients[i]
			mu.Unlock()
			old.close()
			old.mu.Lock()
			since, _ := json.Marshal(old.last)
			old.mu.Unlock()
			c, err := e.leanDial(context.Background(), users[i%nUsers])
			if err != nil {
				t.Errorf("reconnect: %v", err)
				return
			}
			_ = c.ws.Write(context.Background(), websocket.MessageText, fmt.Appendf(nil, `{"type":"hello","since":%s}`, since))
			_ = c.ws.Write(context.Background(), websocket.MessageText, fmt.Appendf(nil, `{"type":"history","room":%q,"limit":50}`, rooms[i%2]))
			mu.Lock()
			clients[i] = c
			mu.Unlock()
			churned.Add(1)
		}
	}()
	var samples []float64
	warm := time.NewTimer(min(30*time.Second, d/4))
	<-warm.C
	tick := time.NewTicker(15 * time.Second)
sampling:
	for {
		samples = append(samples, mib(liveHeap()))
		select {
		case <-ctx.Done():
			break sampling
		case <-tick.C:
		}
	}
	tick.Stop()
	wg.Wait()
	var errs int64
	for _, c := range clients {
		errs += c.errors.Load()
		c.close()
	}
	g := settle(t, baseG)
	h := liveHeap()
	t.Logf("SOAK mixed: %v, %d sockets of %d users, %d sends, %d reconnects, %d error frames; live heap MiB by 15 s: %v; baseline %.1f, after %.1f; goroutines %d → %d",
		d, nConns, nUsers, sent.Load(), churned.Load(), errs, fmtSamples(samples), mib(baseH), mib(h), baseG, g)
	if errs > 0 {
		t.Errorf("%d error frames during the soak", errs)
	}
	if g > baseG {
		t.Fatalf("%d goroutines after the soak, %d before", g, baseG)
	}
	if len(samples) >= 2 {
		if last := samples[len(samples)-1]; last > samples[0]*1.25+8 {
			t.Fatalf("live heap grew from %.1f to %.1f MiB under steady traffic", samples[0], last)
		}
	}
	if h > baseH+8<<20 {
		t.Fatalf("live heap %.1f MiB after the soak, %.1f before", mib(h), mib(baseH))
	}
}

func fmtSamples(s []float64) string {
	parts := make([]string, len(s))
	for i, v := range s {
		parts[i] = fmt.Sprintf("%.1f", v)
	}
	return "[" + strings.Join(parts, " ") + "]"
}
