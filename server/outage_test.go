package server_test

import (
	"bytes"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/rs/zerolog"

	"minichat/server"
	"minichat/server/chaos"
	"minichat/server/store/pgtest"
)

// logLines is a log sink the test reads back: every line the server logs,
// also passed to the test's own log.
type logLines struct {
	mu    sync.Mutex
	lines []map[string]any
	t     *testing.T
}

func (l *logLines) Write(p []byte) (int, error) {
	l.t.Logf("%s", bytes.TrimSpace(p))
	var m map[string]any
	if err := json.Unmarshal(p, &m); err == nil {
		l.mu.Lock()
		l.lines = append(l.lines, m)
		l.mu.Unlock()
	}
	return len(p), nil
}

// count returns how many lines at level or above have a message that
// contains msg.
func (l *logLines) count(msg string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, m := range l.lines {
		if s, _ := m["message"].(string); strings.Contains(s, msg) {
			n++
		}
	}
	return n
}

// errors returns the lines logged at error level other than those whose
// message contains one of allowed.
func (l *logLines) errors(allowed ...string) []map[string]any {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
next:
	for _, m := range l.lines {
		if m["level"] != "error" {
			continue
		}
		s, _ := m["message"].(string)
		for _, a := range allowed {
			if strings.Contains(s, a) {
				continue next
			}
		}
		out = append(out, m)
	}
	return out
}

// startLogged is startEnv with the server's log (info and above) kept.
func startLogged(t *testing.T, cfg server.Config) (*env, *logLines) {
	t.Helper()
	logs := &logLines{t: t}
	srv, err := server.New(cfg, zerolog.New(logs).Level(zerolog.InfoLevel), nil)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, srv: srv, ts: httptest.NewServer(srv.Handler()), cfg: cfg}
	t.Cleanup(e.stop)
	return e, logs
}

// proxiedPostgres returns a schema of its own on the test Postgres, reached
// through a proxy the test can take down.
func proxiedPostgres(t *testing.T) (dbURL string, p *chaos.Proxy) {
	t.Helper()
	raw, _ := pgtest.Schema(t)
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	p, err = chaos.NewProxy(u.Host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	u.Host = p.Addr()
	return u.String(), p
}

func (e *env) readyz() (int, map[string]any) {
	e.t.Helper()
	return e.call("GET", "/readyz", "", nil)
}

// TestDatabaseOutageAnswersUnavailableAndRecovers takes the database away
// from a node: sends are refused with unavailable and a retry hint (over
// the socket, which stays open, and over HTTP with 503), /readyz says 503,
// the log says so once; when the database is back, /readyz says 200, the
// log says so once, and the same sends, retried, are stored once each.
func TestDatabaseOutageAnswersUnavailableAndRecovers(t *testing.T) {
	dbURL, proxy := proxiedPostgres(t)
	e, logs := startLogged(t, server.Config{
		DataDir: t.TempDir(), Database: dbURL, Heartbeat: time.Minute, Rate: 1000, Burst: 1000,
		LoginRate: -1, APIRate: -1, SendTimeout: time.Minute, ShutdownGrace: 2 * time.Second, Version: "test",
	})
	alice := e.register("alice")
	general := e.roomID(alice, "general")
	a := e.dial(alice)
	a.send(map[string]any{"type": "send", "room": general, "text": "before", "client_id": "c0", "ref": "r0"})
	if ack := a.next("ack", "error"); ack.Type != "ack" {
		t.Fatalf("send before the outage: %v", ack)
	}

	proxy.SetDown(true)
	const refused = 20
	for i := range refused {
		ref := "r" + string(rune('a'+i))
		a.send(map[string]any{"type": "send", "room": general, "text": "during", "client_id": "c" + ref, "ref": ref})
		f := a.next("ack", "error")
		if f.Type != "error" || f.Error.Code != "unavailable" || f.Ref() != ref {
			t.Fatalf("send %d during the outage: %v, want error unavailable", i, f)
		}
		if ms := f.Error.RetryAfterMS; ms < 1000 || ms > 6250 {
			t.Fatalf("retry_after_ms %v, want 1000..6250", ms)
		}
	}
	st, body := e.call("POST", "/api/rooms/"+general+"/messages", alice.Token, map[string]string{"text": "over http", "client_id": "h1"})
	if code, _ := body["error"].(map[string]any)["code"].(string); st != http.StatusServiceUnavailable || code != "unavailable" {
		t.Fatalf("HTTP send during the outage: %d %v, want 503 unavailable", st, body)
	}
	if st, body := e.readyz(); st != http.StatusServiceUnavailable {
		t.Fatalf("/readyz during the outage: %d %v, want 503", st, body)
	}

	proxy.SetDown(false)
	deadline := time.Now().Add(30 * time.Second)
	for {
		st, body := e.readyz()
		if st == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz still %d %v 30 s after the database came back", st, body)
		}
		time.Sleep(100 * time.Millisecond) // polling for the recovery, not asserting a time
	}
	// The same sends again, on the same socket, as a client honouring the
	// hint does: each is stored now.
	seen := map[int64]bool{}
	for i := range refused {
		ref := "r" + string(rune('a'+i))
		a.send(map[string]any{"type": "send", "room": general, "text": "during", "client_id": "c" + ref, "ref": ref})
		f := a.next("ack", "error")
		if f.Type != "ack" || f.Ref() != ref {
			t.Fatalf("send %d after the outage: %v, want its ack", i, f)
		}
		seen[f.Seq()] = true
	}
	if len(seen) != refused {
		t.Fatalf("%d distinct seqs for %d sends", len(seen), refused)
	}
	if st, _ := e.call("POST", "/api/rooms/"+general+"/messages", alice.Token, map[string]string{"text": "over http", "client_id": "h1"}); st != http.StatusCreated && st != http.StatusOK {
		t.Fatalf("HTTP send after the outage: %d", st)
	}

	if n := logs.count("database unavailable"); n != 1 {
		t.Errorf("%d lines say the database went away, want 1", n)
	}
	if n := logs.count("database is back"); n != 1 {
		t.Errorf("%d lines say the database is back, want 1", n)
	}
	if errs := logs.errors("database unavailable"); len(errs) > 0 {
		t.Errorf("other error lines: %v", errs)
	}
}

// startNATS runs an embedded NATS server on port (0: any) and returns it.
func startNATS(t *testing.T, port int) *natsserver.Server {
	t.Helper()
	if port == 0 {
		port = -1
	}
	ns, err := natsserver.NewServer(&natsserver.Options{Host: "127.0.0.1", Port: port, NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats server did not start")
	}
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	return ns
}

// TestBrokerOutageHoldsPresence stops the NATS server of two nodes for
// longer than a dead node takes to expire: a user connected to the other
// node stays online for the whole outage (no offline, then online again),
// messages sent meanwhile still arrive once it is back, and presence
// changes made during the outage are reconciled.
func TestBrokerOutageHoldsPresence(t *testing.T) {
	dbURL, _ := pgtest.Schema(t)
	ns := startNATS(t, 0)
	port := ns.Addr().(*net.TCPAddr).Port
	cluster := func(c *server.Config) { c.Database, c.NATS = dbURL, ns.ClientURL() }
	n1, logs1 := startLogged(t, clusterConfig(t, cluster))
	n2 := newEnv(t, cluster)
	alice, bob, carol := n1.register("alice"), n1.register("bob"), n1.register("carol")
	general := n1.roomID(alice, "general")

	a := n1.dial(alice)
	b := n2.dial(bob)
	c := n2.dial(carol)
	waitPresence(t, a, "bob", "online")
	waitPresence(t, a, "carol", "online")

	ns.Shutdown()
	ns.WaitForShutdown()
	// Carol leaves while the broker is down; alice's node cannot know.
	c.close()
	// The fault lasts longer than (Misses+1) × Heartbeat (8 s by default),
	// after which the users of a node not heard from go offline.
	time.Sleep(10 * time.Second)
	startNATS(t, port)
	// Once it is back, carol goes offline (reconciled); bob, whose node
	// alice's could not hear for the whole outage, never did: a flap would
	// have reached alice before carol's change.
	for {
		p := a.next("presence")
		name := p.Presence.User.Name
		if name == "bob" {
			t.Fatalf("bob's presence flapped after the outage: %v", p)
		}
		if name == "carol" && p.Presence.Status == "offline" {
			break
		}
	}
	// Messages flow across again.
	a.send(map[string]any{"type": "send", "room": general, "text": "after", "client_id": "x1", "ref": "x"})
	ack := a.next("ack")
	for {
		m := b.next("message")
		if m.Seq() == ack.Seq() {
			break
		}
	}
	if n := logs1.count("nats down"); n != 1 {
		t.Errorf("%d lines say NATS is down, want 1", n)
	}
	if n := logs1.count("nats back"); n != 1 {
		t.Errorf("%d lines say NATS is back, want 1", n)
	}
}

// clusterConfig is newEnv's configuration with mods applied.
func clusterConfig(t *testing.T, mods ...func(*server.Config)) server.Config {
	cfg := server.Config{
		DataDir: t.TempDir(), Heartbeat: time.Minute, Rate: 1000, Burst: 1000, LoginRate: -1, APIRate: -1,
		SendTimeout: time.Minute, PresenceGrace: 300 * time.Millisecond, TypingTimeout: 300 * time.Millisecond,
		ShutdownGrace: 2 * time.Second, Version: "test",
		Registration: "open", CreateRoomRate: -1, JoinRate: -1, InviteRate: -1, DMRate: -1,
	}
	for _, m := range mods {
		m(&cfg)
	}
	return cfg
}
