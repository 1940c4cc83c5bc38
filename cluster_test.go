package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"

	"minichat/server/broker/natstest"
	"minichat/server/protocol/frametest"
	"minichat/server/store/pgtest"
)

// clusterEnv turns the three-node cluster test on. It needs haproxy on the
// PATH, a Postgres server (MINICHAT_TEST_POSTGRES) and, optionally, a NATS
// server (MINICHAT_TEST_NATS; one in this process otherwise). With the
// variable set, anything missing fails the test rather than skipping it.
const clusterEnv = "MINICHAT_TEST_CLUSTER"

// TestClusterBehindHAProxy runs three minichat processes on one Postgres
// schema and one NATS server behind HAProxy (least connections, no stickiness).
// Users on different nodes chat and see each other's typing and presence;
// one node is killed with SIGKILL in the middle of the traffic and another
// shut down gracefully; their clients reconnect through HAProxy, resume
// with hello and resend what was not acknowledged. In the end every
// acknowledged message has reached every member once (after de-duplication
// by seq, which the protocol allows on reconnect), in seq order, without a
// gap.
func TestClusterBehindHAProxy(t *testing.T) {
	if os.Getenv(clusterEnv) == "" {
		t.Skip(clusterEnv + " is not set: the three-node cluster test (HAProxy, Postgres, NATS) was NOT run; .ci/run runs it")
	}
	haproxy, err := exec.LookPath("haproxy")
	if err != nil {
		t.Fatalf("%s is set but haproxy is not installed (apt-get install haproxy): %v", clusterEnv, err)
	}
	if os.Getenv(pgtest.Env) == "" {
		t.Fatalf("%s is set but %s is not: the cluster needs a shared Postgres", clusterEnv, pgtest.Env)
	}
	dbURL, _ := pgtest.Schema(t)
	natsURL := natstest.URL(t)

	// The first node creates the schema; the others find it.
	flags := []string{"--database", dbURL, "--nats", natsURL, "--presence-grace", "1s", "--shutdown-grace", "3s"}
	nodes := []*child{startChild(t, t.TempDir(), flags...)}
	nodes = append(nodes, startChild(t, t.TempDir(), flags...), startChild(t, t.TempDir(), flags...))
	lb := startHAProxy(t, haproxy, nodes)

	// Six users chat through the balancer, which spreads their sockets.
	var clients []*clusterClient
	for i := range 6 {
		token := registerAt(t, lb, fmt.Sprintf("user%d", i))
		clients = append(clients, newClusterClient(t, fmt.Sprintf("user%d", i), token, lb, true))
	}
	room := clients[0].room
	on := map[string][]*clusterClient{}
	for _, c := range clients {
		waitFor(t, c.name+" synced", func() bool { return c.get(func() bool { return c.synced }) })
		on[c.currentNode()] = append(on[c.currentNode()], c)
	}
	if len(on["n1"]) == 0 || len(on["n2"]) == 0 || len(on["n3"]) == 0 {
		t.Fatalf("clients per node %v: the balancer should have used every node", nodeNames(on))
	}

	// Presence is cluster-wide: everyone sees everyone online, and a
	// welcome lists the users of every node.
	for _, c := range clients {
		waitFor(t, c.name+" sees everyone online", func() bool {
			return c.get(func() bool {
				for _, o := range clients {
					if c.online[o.name] != "online" {
						return false
					}
				}
				return true
			})
		})
	}
	watcher := newClusterClient(t, "watcher", registerAt(t, lb, "watcher"), nodes[0], false)
	waitFor(t, "watcher synced", func() bool { return watcher.get(func() bool { return watcher.synced }) })
	watcher.get(func() bool {
		for _, o := range clients {
			if !slices.Contains(watcher.welcomeOnline, o.name) {
				t.Fatalf("watcher's welcome on n1 lists %v: %s (on %s) is missing", watcher.welcomeOnline, o.name, o.nodes[0])
			}
		}
		return true
	})
	// A user only ever connected to n2, who will not reconnect.
	ghost := newClusterClient(t, "ghost", registerAt(t, lb, "ghost"), nodes[1], false)
	waitFor(t, "watcher sees ghost online", func() bool { return watcher.get(func() bool { return watcher.online["ghost"] == "online" }) })

	// Typing on one node shows on the others.
	typist := on["n1"][0]
	typist.write(map[string]any{"type": "typing", "room": room, "active": true})
	for _, c := range []*clusterClient{on["n2"][0], on["n3"][0]} {
		waitFor(t, c.name+" sees "+typist.name+" typing", func() bool { return c.get(func() bool { return c.typing[typist.name] }) })
	}

	// Traffic, and n2 is killed in the middle of it.
	var wg sync.WaitGroup
	burst := func(from, n int) {
		for _, c := range clients {
			wg.Add(1)
			go func() { defer wg.Done(); c.sendMany(from, n, 15*time.Millisecond) }()
		}
	}
	burst(0, 40)
	waitFor(t, "a third of the first burst acknowledged", func() bool { return totalAcked(clients) >= 80 })
	if err := nodes[1].cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-nodes[1].done
	wg.Wait()
	// The dead node's user goes offline elsewhere once its heartbeats stop.
	waitFor(t, "watcher sees ghost offline", func() bool { return watcher.get(func() bool { return watcher.online["ghost"] == "offline" }) })
	ghost.close()

	// More traffic, and n3 shuts down gracefully in the middle of it.
	burst(40, 30)
	waitFor(t, "a third of the second burst acknowledged", func() bool { return totalAcked(clients) >= 240+60 })
	if err := nodes[2].cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	select {
	case <-nodes[2].done:
		if nodes[2].err != nil {
			t.Fatalf("n3 exited with %v after SIGTERM", nodes[2].err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("n3 did not exit after SIGTERM")
	}

	// Every message is acknowledged (resent after a reconnect where
	// needed) and every client has caught up to the last one.
	all := map[int64]string{} // seq -> message id, of every acknowledged message
	waitFor(t, "every message acknowledged", func() bool { return totalAcked(clients) == 6*70 })
	var last int64
	for _, c := range clients {
		c.get(func() bool {
			for cid, seq := range c.acked {
				if id, ok := all[seq]; ok && id != c.ids[cid] {
					t.Fatalf("seq %d acknowledged as %s and %s", seq, id, c.ids[cid])
				}
				all[seq] = c.ids[cid]
				last = max(last, seq)
			}
			return true
		})
	}
	members := append(slices.Clone(clients), watcher)
	for _, c := range members {
		waitFor(t, fmt.Sprintf("%s caught up to seq %d", c.name, last), func() bool { return c.get(func() bool { return c.max >= last }) })
	}
	for _, c := range members {
		c.get(func() bool {
			if c.err != nil {
				t.Fatalf("%s: %v", c.name, c.err)
			}
			for seq, id := range all {
				if seq > c.start && c.got[seq] != id {
					t.Fatalf("%s: acknowledged message %s (seq %d) delivered as %q", c.name, id, seq, c.got[seq])
				}
			}
			return true
		})
	}
	// The clients of the stopped nodes moved: the killed node's saw their
	// socket drop, the stopped node's got 1001, and all resumed elsewhere.
	for node, cs := range on {
		for _, c := range cs {
			c.get(func() bool {
				moved := len(c.nodes) > 1
				if node != "n1" && !moved {
					t.Fatalf("%s was on %s but never reconnected (nodes %v)", c.name, node, c.nodes)
				}
				if node == "n3" && !slices.Contains(c.codes, int(websocket.StatusGoingAway)) {
					t.Fatalf("%s on n3 saw close codes %v, want 1001", c.name, c.codes)
				}
				if moved && slices.Contains(c.nodes[1:], node) && node != "n1" {
					t.Fatalf("%s went back to its stopped node: %v", c.name, c.nodes)
				}
				return true
			})
		}
	}
	t.Logf("%d messages, clients per node %v, reconnections %v", len(all), nodeNames(on), reconnections(clients))
}

func nodeNames(on map[string][]*clusterClient) map[string][]string {
	out := map[string][]string{}
	for n, cs := range on {
		for _, c := range cs {
			out[n] = append(out[n], c.name)
		}
	}
	return out
}

func reconnections(cs []*clusterClient) map[string][]string {
	out := map[string][]string{}
	for _, c := range cs {
		c.get(func() bool { out[c.name] = slices.Clone(c.nodes); return true })
	}
	return out
}

func totalAcked(cs []*clusterClient) int {
	n := 0
	for _, c := range cs {
		c.get(func() bool { n += len(c.acked); return true })
	}
	return n
}

// waitFor polls cond until it holds; the bound only keeps a broken run
// from hanging.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting: %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// startHAProxy balances the nodes by least connections (no stickiness) with fast
// health checks, and names the node of each response in X-Minichat-Node.
func startHAProxy(t *testing.T, haproxy string, nodes []*child) *child {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	var servers strings.Builder
	for i, n := range nodes {
		fmt.Fprintf(&servers, "  server n%d %s check\n", i+1, strings.TrimPrefix(n.url, "http://"))
	}
	cfg := fmt.Sprintf(`global
  maxconn 2000
defaults
  mode http
  timeout connect 1s
  timeout client 60s
  timeout server 60s
  timeout tunnel 60s
  retries 3
  option redispatch
frontend minichat
  bind %s
  default_backend nodes
backend nodes
  balance leastconn
  option httpchk GET /healthz
  http-check expect status 200
  default-server inter 200ms fall 1 rise 2
  http-response set-header X-Minichat-Node %%[srv_name]
%s`, addr, servers.String())
	path := filepath.Join(t.TempDir(), "haproxy.cfg")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(haproxy, "-f", path, "-db")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-done
		if t.Failed() {
			t.Logf("haproxy output:\n%s", out.String())
		}
	})
	lb := &child{t: t, url: "http://" + addr, done: done}
	waitFor(t, "haproxy serving every node", func() bool {
		select {
		case <-done:
			t.Fatalf("haproxy exited:\n%s", out.String())
		default:
		}
		seen := map[string]bool{}
		for range 6 {
			resp, err := http.Get(lb.url + "/healthz")
			if err != nil {
				return false
			}
			resp.Body.Close()
			seen[resp.Header.Get("X-Minichat-Node")] = resp.StatusCode == 200
		}
		return seen["n1"] && seen["n2"] && seen["n3"]
	})
	return lb
}

func registerAt(t *testing.T, c *child, name string) string {
	t.Helper()
	st, out := c.post("/api/users", fmt.Sprintf(`{"username":%q,"password":"password1"}`, name))
	if st != http.StatusCreated {
		t.Fatalf("register %s: %d %v", name, st, out)
	}
	return out["token"].(string)
}

// clusterClient is a chat client in the general room: it resumes with
// hello after every reconnection (when reconnect is set), resends what was
// not acknowledged, and checks each frame of the room's log against what
// it has: a seq at or below its latest is a duplicate (allowed after a
// reconnect, and must be the same message), the next seq extends the log,
// anything further is a gap. Frames that arrive before a replay's synced
// are held and checked together once it comes, as a real client does.
type clusterClient struct {
	t         *testing.T
	name      string
	token     string
	url       string
	reconnect bool
	room      string

	mu            sync.Mutex
	ws            *websocket.Conn
	nodes         []string // the node of each connection, in order
	codes         []int    // close codes seen
	synced        bool
	held          []logEntry
	start         int64            // the room's last seq at the first welcome
	max           int64            // latest seq of the contiguous log
	got           map[int64]string // seq -> message id
	err           error
	sent          []string         // client ids, in order
	acked         map[string]int64 // client id -> seq
	ids           map[string]string
	online        map[string]string // name -> status, from welcome and presence frames
	welcomeOnline []string          // the first welcome's online names
	typing        map[string]bool
	stop          chan struct{}
	done          chan struct{}
}

type logEntry struct {
	seq int64
	id  string
}

func newClusterClient(t *testing.T, name, token string, at *child, reconnect bool) *clusterClient {
	c := &clusterClient{t: t, name: name, token: token, url: "ws" + strings.TrimPrefix(at.url, "http") + "/ws", reconnect: reconnect,
		got: map[int64]string{}, acked: map[string]int64{}, ids: map[string]string{}, online: map[string]string{}, typing: map[string]bool{},
		stop: make(chan struct{}), done: make(chan struct{})}
	_, rooms := at.request("GET", "/api/rooms", token, "")
	for _, r := range rooms["rooms"].([]any) {
		if r := r.(map[string]any); r["name"] == "general" {
			c.room = r["id"].(string)
		}
	}
	go c.run()
	t.Cleanup(c.close)
	return c
}

func (c *clusterClient) get(f func() bool) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return f()
}

func (c *clusterClient) currentNode() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nodes[len(c.nodes)-1]
}

func (c *clusterClient) close() {
	select {
	case <-c.stop:
	default:
		close(c.stop)
		c.mu.Lock()
		if c.ws != nil {
			_ = c.ws.CloseNow()
		}
		c.mu.Unlock()
	}
	<-c.done
}

func (c *clusterClient) run() {
	defer close(c.done)
	first := true
	for {
		select {
		case <-c.stop:
			return
		default:
		}
		ws, resp, err := websocket.Dial(context.Background(), c.url, &websocket.DialOptions{
			HTTPHeader: http.Header{"Authorization": {"Bearer " + c.token}},
		})
		if err != nil {
			if !c.reconnect && !first {
				return
			}
			time.Sleep(50 * time.Millisecond)
			continue
		}
		ws.SetReadLimit(1 << 24)
		c.mu.Lock()
		c.ws = ws
		c.nodes = append(c.nodes, resp.Header.Get("X-Minichat-Node"))
		c.synced, c.held = false, nil
		c.mu.Unlock()
		code := c.read(ws, first)
		first = false
		c.mu.Lock()
		c.ws = nil
		c.codes = append(c.codes, code)
		c.mu.Unlock()
		if !c.reconnect || code == 4401 {
			return
		}
	}
}

// read handles the frames of one connection until it closes, and returns
// the close code (-1 when the connection just dropped).
func (c *clusterClient) read(ws *websocket.Conn, first bool) int {
	for {
		_, data, err := ws.Read(context.Background())
		if err != nil {
			return int(websocket.CloseStatus(err))
		}
		for _, line := range bytes.Split(data, []byte("\n")) {
			f, err := frametest.Decode(line)
			if err != nil {
				c.mu.Lock()
				c.fail(fmt.Errorf("undecodable frame %s: %v", line, err))
				c.mu.Unlock()
				continue
			}
			for _, f := range f.Split() {
				c.frame(ws, first, &f)
			}
		}
	}
}

func (c *clusterClient) frame(ws *websocket.Conn, first bool, f *frametest.Frame) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch f.Type {
	case "welcome":
		var names []string
		for _, p := range f.Welcome.Online {
			c.online[p.User.Name] = p.Status
			names = append(names, p.User.Name)
		}
		if first {
			c.welcomeOnline = names
			for _, r := range f.Welcome.Rooms {
				if r.ID == c.room {
					c.start, c.max = r.LastSeq, r.LastSeq
				}
			}
		}
		c.writeLocked(ws, map[string]any{"type": "hello", "since": map[string]int64{c.room: c.max}})
	case "message", "update":
		e := logEntry{f.Seq(), f.Msg().ID}
		if f.Msg().Room != c.room {
			return
		}
		if !c.synced {
			c.held = append(c.held, e)
			return
		}
		c.apply(e)
	case "synced":
		if f.Synced.Room != c.room {
			return
		}
		slices.SortStableFunc(c.held, func(a, b logEntry) int { return int(a.seq - b.seq) })
		for _, e := range c.held {
			c.apply(e)
		}
		c.held, c.synced = nil, true
		// Resend what the last connection did not get acknowledged; the
		// client ids make a resend that was committed a duplicate.
		for _, cid := range c.sent {
			if _, ok := c.acked[cid]; !ok {
				c.writeLocked(ws, sendFrame(c.room, cid))
			}
		}
	case "ack":
		c.acked[f.Ack.Ref], c.ids[f.Ack.Ref] = f.Ack.Message.Seq, f.Ack.Message.ID
	case "presence":
		c.online[f.Presence.User.Name] = f.Presence.Status
	case "typing":
		c.typing[f.Typing.User.Name] = f.Typing.Active
	case "error":
		c.fail(fmt.Errorf("error frame %s for %s", f.Error.Code, f.Error.Ref))
	}
}

func (c *clusterClient) apply(e logEntry) {
	switch {
	case e.seq <= c.max:
		if id, ok := c.got[e.seq]; ok && id != e.id {
			c.fail(fmt.Errorf("seq %d is %s, earlier %s", e.seq, e.id, id))
		}
	case e.seq == c.max+1:
		c.max = e.seq
		c.got[e.seq] = e.id
	default:
		c.fail(fmt.Errorf("gap: seq %d after %d", e.seq, c.max))
	}
}

func (c *clusterClient) fail(err error) {
	if c.err == nil {
		c.err = err
	}
}

func sendFrame(room, cid string) map[string]any {
	return map[string]any{"type": "send", "room": room, "text": "message " + cid, "client_id": cid, "ref": cid}
}

func (c *clusterClient) writeLocked(ws *websocket.Conn, frame map[string]any) {
	data, _ := json.Marshal(frame)
	// A failed write shows as a failed read: the reconnection resends.
	_ = ws.Write(context.Background(), websocket.MessageText, data)
}

func (c *clusterClient) write(frame map[string]any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ws != nil {
		c.writeLocked(c.ws, frame)
	}
}

// sendMany sends messages from..from+n-1, one every pause; one sent while
// the client is between connections goes out with the resends.
func (c *clusterClient) sendMany(from, n int, pause time.Duration) {
	for i := from; i < from+n; i++ {
		cid := fmt.Sprintf("%s-%d", c.name, i)
		c.mu.Lock()
		c.sent = append(c.sent, cid)
		if c.ws != nil && c.synced {
			c.writeLocked(c.ws, sendFrame(c.room, cid))
		}
		c.mu.Unlock()
		time.Sleep(pause)
	}
}
