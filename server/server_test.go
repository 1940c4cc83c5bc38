package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/rs/zerolog"
	"go.uber.org/goleak"

	"minichat/server"
	"minichat/server/protocol"
	"minichat/server/protocol/frametest"
	"minichat/server/store/pgtest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// net/http keeps idle client connections' goroutines around briefly.
		goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
		goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"),
	)
}

// env is an in-process server on a real SQLite file, reached over real HTTP
// and WebSocket connections.
type env struct {
	t   *testing.T
	srv *server.Server
	ts  *httptest.Server
	cfg server.Config
	// hc, when set, makes the test's HTTP and WebSocket requests (useTLS);
	// nil means http.DefaultClient.
	hc *http.Client
}

// useTLS serves the env's server over TLS from here on: its requests and
// sockets trust the test certificate.
func (e *env) useTLS() {
	e.ts.Close()
	e.ts = httptest.NewTLSServer(e.srv.Handler())
	e.hc = e.ts.Client()
}

func (e *env) client() *http.Client {
	if e.hc != nil {
		return e.hc
	}
	return http.DefaultClient
}

func newEnv(t *testing.T, mod ...func(*server.Config)) *env {
	t.Helper()
	cfg := server.Config{
		DataDir:   t.TempDir(),
		Heartbeat: time.Minute,
		Rate:      1000,
		Burst:     1000,
		LoginRate: -1, // tests sign many people up from one address
		APIRate:   -1,
		// Tests sign many people up, and make rooms faster than people do;
		// the tests of these limits set them.
		Registration:   "open",
		CreateRoomRate: -1, JoinRate: -1, InviteRate: -1, DMRate: -1,
		// A loaded machine under the race detector may queue a send for
		// seconds; only the tests of the deadline shorten it.
		SendTimeout:   time.Minute,
		PresenceGrace: 300 * time.Millisecond,
		TypingTimeout: 300 * time.Millisecond,
		ShutdownGrace: 2 * time.Second,
		Version:       "test",
	}
	if os.Getenv(storeEnv) == "postgres" {
		cfg.Database, _ = pgtest.Schema(t)
	}
	for _, m := range mod {
		m(&cfg)
	}
	return startEnv(t, cfg)
}

// storeEnv, set to "postgres", runs every test of this package on the
// Postgres store (a schema of its own per test, on the server named by
// MINICHAT_TEST_POSTGRES) instead of a SQLite file in the data dir.
const storeEnv = "MINICHAT_TEST_SERVER_STORE"

func startEnv(t *testing.T, cfg server.Config) *env {
	t.Helper()
	srv, err := server.New(cfg, zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel), nil)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, srv: srv, ts: httptest.NewServer(srv.Handler()), cfg: cfg}
	t.Cleanup(e.stop)
	return e
}

func (e *env) stop() {
	if err := e.srv.Close(); err != nil {
		e.t.Error(err)
	}
	e.ts.CloseClientConnections()
	e.ts.Close()
	http.DefaultClient.CloseIdleConnections()
}

type user struct {
	ID, Name, Token string
}

// call makes an HTTP request with an optional bearer token and JSON body,
// and decodes the JSON answer.
func (e *env) call(method, path, token string, body any) (int, map[string]any) {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		if s, ok := body.(string); ok {
			rd = strings.NewReader(s)
		} else {
			b, _ := json.Marshal(body)
			rd = bytes.NewReader(b)
		}
	}
	req, _ := http.NewRequest(method, e.ts.URL+path, rd)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := e.client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if len(raw) > 0 && strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(raw, &out); err != nil {
			e.t.Fatalf("%s %s: bad JSON %q", method, path, raw)
		}
	}
	return resp.StatusCode, out
}

func (e *env) register(name string) user {
	e.t.Helper()
	st, out := e.call("POST", "/api/users", "", map[string]string{"username": name, "password": "correct horse"})
	if st != http.StatusCreated {
		e.t.Fatalf("register %s: %d %v", name, st, out)
	}
	u := out["user"].(map[string]any)
	return user{ID: u["id"].(string), Name: name, Token: out["token"].(string)}
}

// aliceAndBob registers alice and bob and connects both; general is the
// room every account joins.
func (e *env) aliceAndBob() (alice, bob user, a, b *client, general string) {
	e.t.Helper()
	alice, bob = e.register("alice"), e.register("bob")
	general = e.roomID(alice, "general")
	a, b = e.dial(alice), e.dial(bob)
	return alice, bob, a, b, general
}

func (e *env) roomID(u user, name string) string {
	e.t.Helper()
	_, out := e.call("GET", "/api/rooms", u.Token, nil)
	for _, r := range out["rooms"].([]any) {
		r := r.(map[string]any)
		if r["name"] == name {
			return r["id"].(string)
		}
	}
	e.t.Fatalf("%s sees no room %q in %v", u.Name, name, out)
	return ""
}

// client is a WebSocket connection whose frames are collected by a reader
// goroutine, split on newlines as the protocol says.
type client struct {
	t      *testing.T
	name   string
	c      *websocket.Conn
	frames chan *frametest.Frame
	closed chan websocket.StatusCode
	done   chan struct{}
	// welcome is the first frame, as dial read it.
	welcome protocol.Welcome
}

func (e *env) dial(u user) *client {
	e.t.Helper()
	c, err := e.tryDial(u.Token, nil)
	if err != nil {
		e.t.Fatalf("dial %s: %v", u.Name, err)
	}
	c.name = u.Name
	if f := c.next(); f.Type != protocol.TypeWelcome {
		e.t.Fatalf("first frame %+v", f)
	} else {
		c.welcome = f.Welcome
	}
	return c
}

func (e *env) tryDial(token string, header http.Header) (*client, error) {
	if header == nil {
		header = http.Header{}
	}
	if token != "" {
		header.Set("Authorization", "Bearer "+token)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ws, resp, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(e.ts.URL, "http")+"/ws", &websocket.DialOptions{HTTPHeader: header, HTTPClient: e.hc})
	if err != nil {
		if resp != nil {
			return nil, fmt.Errorf("%w (status %d)", err, resp.StatusCode)
		}
		return nil, err
	}
	ws.SetReadLimit(1 << 24)
	// Pointers, so that the buffer of a client that reads nothing costs
	// 800 KB rather than a copy of 100,000 frames.
	c := &client{t: e.t, c: ws, frames: make(chan *frametest.Frame, 100000), closed: make(chan websocket.StatusCode, 1), done: make(chan struct{})}
	go func() {
		defer close(c.done)
		for {
			_, data, err := ws.Read(context.Background())
			if err != nil {
				c.closed <- websocket.CloseStatus(err)
				return
			}
			for _, line := range bytes.Split(data, []byte("\n")) {
				f, err := frametest.Decode(line)
				if err != nil {
					panic(fmt.Sprintf("server sent a frame that is not the protocol's: %v: %q", err, line))
				}
				for _, f := range f.Split() {
					c.frames <- &f
				}
			}
		}
	}()
	e.t.Cleanup(func() { c.close() })
	return c, nil
}

func (c *client) close() {
	_ = c.c.CloseNow()
	<-c.done
}

func (c *client) send(frame any) {
	c.t.Helper()
	var b []byte
	if s, ok := frame.(string); ok {
		b = []byte(s)
	} else {
		b, _ = json.Marshal(frame)
	}
	if err := c.c.Write(context.Background(), websocket.MessageText, b); err != nil {
		c.t.Fatalf("%s write: %v", c.name, err)
	}
}

// next returns the next frame of one of the types (any type when none is
// given), skipping the others; presence and ping frames are skipped unless
// asked for.
func (c *client) next(types ...string) frametest.Frame {
	c.t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case f := <-c.frames:
			if len(types) == 0 {
				if f.Type == protocol.TypePresence || f.Type == protocol.TypePing {
					continue
				}
				return *f
			}
			if slices.Contains(types, f.Type) {
				return *f
			}
		case code := <-c.closed:
			c.t.Fatalf("%s: closed (%d) while waiting for %v", c.name, code, types)
		case <-deadline:
			c.t.Fatalf("%s: no %v frame within 10s", c.name, types)
		}
	}
}

// msgOf is the message of a REST answer ({"message": {...}}).
func msgOf(out map[string]any) map[string]any { m, _ := out["message"].(map[string]any); return m }

// message, ack, update and errorFrame return the next frame of their type.
func (c *client) message() protocol.Message {
	c.t.Helper()
	return c.next(protocol.TypeMessage).Message.Message
}
func (c *client) ack() protocol.Ack       { c.t.Helper(); return c.next(protocol.TypeAck).Ack }
func (c *client) update() protocol.Update { c.t.Helper(); return c.next(protocol.TypeUpdate).Update }
func (c *client) errorFrame() protocol.Error {
	c.t.Helper()
	return c.next(protocol.TypeError).Error
}

// none asserts that no frame of the types arrives within d.
func (c *client) none(d time.Duration, types ...string) {
	c.t.Helper()
	timeout := time.After(d)
	for {
		select {
		case f := <-c.frames:
			if slices.Contains(types, f.Type) {
				c.t.Fatalf("%s: unexpected frame %+v", c.name, f)
			}
		case <-timeout:
			return
		}
	}
}

// waitClose waits for the server to close the connection and returns the code.
func (c *client) waitClose(d time.Duration) websocket.StatusCode {
	c.t.Helper()
	timeout := time.After(d)
	for {
		select {
		case <-c.frames:
		case code := <-c.closed:
			return code
		case <-timeout:
			c.t.Fatalf("%s: not closed within %v", c.name, d)
			return 0
		}
	}
}
