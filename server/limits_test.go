package server_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/rs/zerolog"

	"minichat/server"
)

// raw makes an HTTP request with the given headers and returns the status,
// the headers and the decoded JSON body.
func (e *env) raw(method, path string, header http.Header, body string) (int, http.Header, map[string]any) {
	e.t.Helper()
	req, _ := http.NewRequest(method, e.ts.URL+path, strings.NewReader(body))
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(b, &out); err != nil {
			e.t.Fatalf("%s %s: bad JSON %q", method, path, b)
		}
	}
	return resp.StatusCode, resp.Header, out
}

// upgrade asks for a WebSocket upgrade without completing one: a refusal
// comes back as a plain HTTP answer with its JSON error.
func (e *env) upgrade(token string, header http.Header) (int, http.Header, map[string]any) {
	e.t.Helper()
	h := http.Header{
		"Connection":            {"Upgrade"},
		"Upgrade":               {"websocket"},
		"Sec-Websocket-Version": {"13"},
		"Sec-Websocket-Key":     {"dGhlIHNhbXBsZSBub25jZQ=="},
		"Authorization":         {"Bearer " + token},
	}
	for k, v := range header {
		h[k] = v
	}
	st, hdr, out := e.raw("GET", "/ws", h, "")
	return st, hdr, out
}

func errCode(out map[string]any) string {
	e, _ := out["error"].(map[string]any)
	c, _ := e["code"].(string)
	return c
}

// wantLimited asserts a 429 rate_limited answer with a message and a
// Retry-After of at least a second.
func wantLimited(t *testing.T, what string, st int, hdr http.Header, out map[string]any) {
	t.Helper()
	if st != http.StatusTooManyRequests || errCode(out) != "rate_limited" {
		t.Fatalf("%s: %d %v, want 429 rate_limited", what, st, out)
	}
	if msg, _ := out["error"].(map[string]any)["message"].(string); msg == "" {
		t.Fatalf("%s: no message in %v", what, out)
	}
	if s, err := strconv.Atoi(hdr.Get("Retry-After")); err != nil || s < 1 {
		t.Fatalf("%s: Retry-After %q", what, hdr.Get("Retry-After"))
	}
}

// dialEventually dials until the server has let go of a closed socket's
// slot; it fails the test if that does not happen.
func (e *env) dialEventually(u user, header http.Header) *client {
	e.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := e.tryDial(u.Token, header)
		if err == nil {
			c.name = u.Name
			c.next("welcome")
			return c
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("dial %s: %v", u.Name, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestConnectionCapsPerUserAndPerAddress(t *testing.T) {
	e := newEnv(t, func(c *server.Config) {
		c.MaxConnsPerUser, c.MaxConnsPerIP = 2, 3
		c.TrustedProxies = []string{"127.0.0.1"}
	})
	alice, bob := e.register("alice"), e.register("bob")
	from := func(ip string) http.Header { return http.Header{"X-Forwarded-For": {ip}} }

	a1 := e.dial(alice)
	e.dial(alice)
	st, hdr, out := e.upgrade(alice.Token, nil)
	wantLimited(t, "third socket of alice", st, hdr, out)
	if !strings.Contains(out["error"].(map[string]any)["message"].(string), "account") {
		t.Fatalf("message does not say which cap: %v", out)
	}
	// The per-address cap counts sockets of everyone at that address.
	b, err := e.tryDial(bob.Token, nil)
	if err != nil {
		t.Fatalf("bob's first socket: %v", err)
	}
	b.next("welcome")
	st, hdr, out = e.upgrade(bob.Token, nil)
	wantLimited(t, "fourth socket from 127.0.0.1", st, hdr, out)
	// Another client address behind the trusted proxy has its own count.
	c, err := e.tryDial(bob.Token, from("203.0.113.9"))
	if err != nil {
		t.Fatalf("bob from another address: %v", err)
	}
	c.next("welcome")
	// A closed socket gives its slot back; the open ones were untouched.
	a1.close()
	e.dialEventually(alice, nil)
	b.send(map[string]any{"type": "status", "status": "away"})
	waitPresence(t, c, "bob", "away")
}

func TestFloodIsClosed4429AndOtherSocketsStay(t *testing.T) {
	e := newEnv(t, func(c *server.Config) { c.Rate, c.Burst = 1, 1 }) // flood limit: 50/s, bursts of 100
	alice := e.register("alice")
	general := e.roomID(alice, "general")
	flood, calm := e.dial(alice), e.dial(alice)
	for i := 0; i < 400; i++ {
		if err := flood.c.Write(t.Context(), websocket.MessageText, []byte(`{"type":"typing","room":"`+general+`","active":true}`)); err != nil {
			break // closed under us: that is the point
		}
	}
	if code := flood.waitClose(10 * time.Second); code != 4429 {
		t.Fatalf("flooding socket closed with %d, want 4429", code)
	}
	calm.send(map[string]any{"type": "send", "room": general, "text": "still fine", "client_id": "calm", "ref": "c"})
	if f := calm.next("ack", "error"); f.Type != "ack" {
		t.Fatalf("the other socket of the same user: %v", f)
	}
}

func TestRESTSendsAreRateLimitedPerUser(t *testing.T) {
	e := newEnv(t, func(c *server.Config) { c.APIRate, c.APIBurst = 0.01, 2 })
	alice, bob := e.register("alice"), e.register("bob")
	general := e.roomID(alice, "general")
	post := func(u user, text string) (int, http.Header, map[string]any) {
		return e.raw("POST", "/api/rooms/"+general+"/messages", http.Header{"Authorization": {"Bearer " + u.Token}}, `{"text":"`+text+`"}`)
	}
	for i := 0; i < 2; i++ {
		if st, _, out := post(alice, fmt.Sprint("burst ", i)); st != 201 {
			t.Fatalf("send %d: %d %v", i, st, out)
		}
	}
	st, hdr, out := post(alice, "one too many")
	wantLimited(t, "third send", st, hdr, out)
	if st, _, out := post(bob, "bob has his own bucket"); st != 201 {
		t.Fatalf("bob: %d %v", st, out)
	}
	_, hist := e.call("GET", "/api/rooms/"+general+"/messages", alice.Token, nil)
	for _, m := range hist["messages"].([]any) {
		if m.(map[string]any)["text"] == "one too many" {
			t.Fatal("a refused send was stored")
		}
	}
}

func TestSignInAndSignUpAreRateLimited(t *testing.T) {
	e := newEnv(t, func(c *server.Config) {
		c.LoginRate = 3 // per minute, bursts of 3
		c.TrustedProxies = []string{"127.0.0.1"}
	})
	from := func(ip string) http.Header {
		return http.Header{"X-Forwarded-For": {ip}, "Content-Type": {"application/json"}}
	}
	signIn := func(ip, name, password string) (int, http.Header, map[string]any) {
		return e.raw("POST", "/api/session", from(ip), `{"username":"`+name+`","password":"`+password+`"}`)
	}
	signUp := func(ip, name string) (int, http.Header, map[string]any) {
		return e.raw("POST", "/api/users", from(ip), `{"username":"`+name+`","password":"correct horse"}`)
	}
	for _, name := range []string{"alice", "bob"} {
		if st, _, out := signUp("198.51.100.1", name); st != 201 {
			t.Fatalf("sign-up %s: %d %v", name, st, out)
		}
	}

	t.Run("per address", func(t *testing.T) {
		for i := 0; i < 3; i++ {
			if st, _, _ := signIn("198.51.100.2", fmt.Sprint("guess", i), "wrong password"); st != 401 {
				t.Fatalf("attempt %d: %d, want 401", i, st)
			}
		}
		st, hdr, out := signIn("198.51.100.2", "bob", "correct horse")
		wantLimited(t, "fourth attempt from one address", st, hdr, out)
		if st, _, out := signIn("198.51.100.3", "bob", "correct horse"); st != 200 {
			t.Fatalf("another address: %d %v", st, out)
		}
	})
	t.Run("per account, from many addresses", func(t *testing.T) {
		for _, name := range []string{"alice", "ghost"} { // a real account and none
			for i := 0; i < 3; i++ {
				if st, _, _ := signIn(fmt.Sprintf("192.0.2.%d", 10*len(name)+i), name, "wrong password"); st != 401 {
					t.Fatalf("%s attempt %d: %d, want 401", name, i, st)
				}
			}
			// Locked: even the right password waits, and an account that
			// does not exist answers exactly like one that does.
			st, hdr, out := signIn("192.0.2.99", name, "correct horse")
			wantLimited(t, name+" after three failures", st, hdr, out)
			if out["error"].(map[string]any)["message"] != "too many failed sign-ins for this account; try again later" {
				t.Fatalf("%s: %v", name, out)
			}
		}
		if st, _, out := signIn("192.0.2.200", "bob", "correct horse"); st != 200 {
			t.Fatalf("other accounts are not locked: %d %v", st, out)
		}
	})
	t.Run("sign-up per address", func(t *testing.T) {
		for i := 0; i < 3; i++ {
			if st, _, out := signUp("198.51.100.7", fmt.Sprint("new", i)); st != 201 {
				t.Fatalf("sign-up %d: %d %v", i, st, out)
			}
		}
		st, hdr, out := signUp("198.51.100.7", "new3")
		wantLimited(t, "fourth sign-up from one address", st, hdr, out)
		if st, _, _ := signIn("198.51.100.8", "new3", "correct horse"); st != 401 {
			t.Fatalf("the refused sign-up created an account: %d", st)
		}
	})
}

func TestCrossSiteWritesAreRefused(t *testing.T) {
	e := newEnv(t, func(c *server.Config) { c.AllowedOrigins = []string{"https://app.example.com"} })
	alice := e.register("alice")
	resp, err := http.Post(e.ts.URL+"/api/session", "application/json", strings.NewReader(`{"username":"alice","password":"correct horse"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var cookie string
	for _, c := range resp.Cookies() {
		if c.Name == "minichat_session" {
			cookie = c.Name + "=" + c.Value
		}
	}
	if cookie == "" {
		t.Fatal("no session cookie")
	}
	withCookie := func(extra ...string) http.Header {
		h := http.Header{"Cookie": {cookie}, "Content-Type": {"application/json"}}
		for i := 0; i+1 < len(extra); i += 2 {
			h.Set(extra[i], extra[i+1])
		}
		return h
	}
	room := func(name string) string { return `{"name":"` + name + `"}` }
	cases := []struct {
		name   string
		header http.Header
		body   string
		status int
	}{
		{"foreign Origin", withCookie("Origin", "https://evil.example"), room("evil1"), 403},
		{"null Origin", withCookie("Origin", "null"), room("evil2"), 403},
		{"cross-site fetch without Origin", withCookie("Sec-Fetch-Site", "cross-site"), room("evil3"), 403},
		{"sibling subdomain without Origin", withCookie("Sec-Fetch-Site", "same-site"), room("evil4"), 403},
		{"own Origin", withCookie("Origin", e.ts.URL, "Sec-Fetch-Site", "same-origin"), room("mine1"), 201},
		{"allowed Origin", withCookie("Origin", "https://app.example.com"), room("mine2"), 201},
		{"no browser headers", withCookie(), room("mine3"), 201},
		{"bearer token with a foreign Origin", http.Header{"Authorization": {"Bearer " + alice.Token}, "Origin": {"https://evil.example"}}, room("bot1"), 201},
	}
	for _, tc := range cases {
		st, _, out := e.raw("POST", "/api/rooms", tc.header, tc.body)
		if st != tc.status {
			t.Fatalf("%s: %d %v, want %d", tc.name, st, out, tc.status)
		}
		if st == 403 && errCode(out) != "forbidden" {
			t.Fatalf("%s: %v, want a forbidden JSON error", tc.name, out)
		}
	}
	_, rooms := e.call("GET", "/api/rooms", alice.Token, nil)
	for _, r := range rooms["rooms"].([]any) {
		if strings.HasPrefix(r.(map[string]any)["name"].(string), "evil") {
			t.Fatalf("a refused request created %v", r)
		}
	}
	// Sign-out and sign-in are writes too (login CSRF).
	if st, _, _ := e.raw("DELETE", "/api/session", withCookie("Origin", "https://evil.example"), ""); st != 403 {
		t.Fatalf("cross-site sign-out: %d", st)
	}
	if st, _, _ := e.raw("GET", "/api/me", withCookie(), ""); st != 200 {
		t.Fatalf("the session did not survive a refused sign-out: %d", st)
	}
	if st, _, _ := e.raw("POST", "/api/session", http.Header{"Origin": {"https://evil.example"}}, `{"username":"alice","password":"correct horse"}`); st != 403 {
		t.Fatalf("cross-site sign-in: %d", st)
	}
	// Reads stay open to cross-site GETs (SameSite and CORS guard them).
	if st, _, _ := e.raw("GET", "/api/me", withCookie("Origin", "https://evil.example"), ""); st != 200 {
		t.Fatalf("GET with a foreign Origin: %d", st)
	}
}

func TestSecurityHeadersOnEveryKindOfResponse(t *testing.T) {
	e := newEnv(t)
	alice := e.register("alice")
	for _, path := range []string{"/", "/some/client/route", "/api/me", "/api/nothing", "/healthz", "/files/f_x"} {
		for _, token := range []string{"", alice.Token} {
			req, _ := http.NewRequest("GET", e.ts.URL+path, nil)
			if token != "" {
				req.Header.Set("Authorization", "Bearer "+token)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			h := resp.Header
			csp := h.Get("Content-Security-Policy")
			for _, want := range []string{"default-src 'self'", "script-src 'self'", "object-src 'none'", "frame-ancestors 'none'", "base-uri 'none'"} {
				if !strings.Contains(csp, want) {
					t.Errorf("%s: CSP %q lacks %s", path, csp, want)
				}
			}
			if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
				t.Errorf("%s: CSP %q allows inline code", path, csp)
			}
			if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Referrer-Policy") == "" || h.Get("X-Frame-Options") != "DENY" {
				t.Errorf("%s: headers %v", path, h)
			}
		}
	}
}

func TestEveryJSONBodyIsBounded(t *testing.T) {
	e := newEnv(t)
	alice := e.register("alice")
	general := e.roomID(alice, "general")
	deep := strings.Repeat("[", 100) + strings.Repeat("]", 100)
	endpoints := []struct{ path, valid string }{
		{"/api/users", `{"username":"newbie","password":"correct horse"}`},
		{"/api/session", `{"username":"alice","password":"correct horse"}`},
		{"/api/rooms", `{"name":"fresh"}`},
		{"/api/rooms/" + general + "/invite", `{"username":"alice"}`},
		{"/api/dms", `{"username":"alice"}`},
		{"/api/rooms/" + general + "/messages", `{"text":"hi"}`},
	}
	before := historyLen(e, alice, general)
	for _, ep := range endpoints {
		for _, tc := range []struct {
			name, body string
			status     int
			code       string
		}{
			{"deep nesting", `{"x":` + deep + `}`, 400, "bad_request"},
			{"deep nesting in a string is fine for the depth check", `{"text":"` + deep + `","username":"` + deep + `"}`, 400, ""},
			{"larger than 64 KiB", `{"text":"` + strings.Repeat("x", 70_000) + `"}`, 413, "too_large"},
			{"trailing data", ep.valid + ` {"more":1}`, 400, "bad_request"},
			{"not an object", `["a"]`, 400, "bad_request"},
			{"not JSON", `{"text":`, 400, "bad_request"},
		} {
			st, _, out := e.raw("POST", ep.path, http.Header{"Authorization": {"Bearer " + alice.Token}}, tc.body)
			if tc.code == "" {
				// Not refused for depth; the body is still invalid for the
				// endpoint in some other way (a bad name, text too long, a
				// DM with yourself), or a valid message.
				if st >= 500 || (st >= 400 && errCode(out) == "") {
					t.Errorf("%s %s: %d %v", ep.path, tc.name, st, out)
				}
				continue
			}
			if st != tc.status || errCode(out) != tc.code {
				t.Errorf("%s %s: %d %v, want %d %s", ep.path, tc.name, st, out, tc.status, tc.code)
			}
		}
	}
	// Only the one accepted message (the long text in the depth case is a
	// valid message) was stored; every refused body changed nothing.
	if n := historyLen(e, alice, general); n != before+1 {
		t.Fatalf("history grew from %d to %d, want one message", before, n)
	}
	if st, _ := e.call("GET", "/api/rooms", alice.Token, nil); st != 200 {
		t.Fatal(st)
	}
}

func historyLen(e *env, u user, room string) int {
	e.t.Helper()
	_, out := e.call("GET", "/api/rooms/"+room+"/messages?limit=200", u.Token, nil)
	return len(out["messages"].([]any))
}

// A sign-in for a name that does not exist must cost what a wrong password
// for a real account costs, or its speed tells which names exist. The cost
// of argon2id is its memory, so the test counts bytes allocated: no clock.
func TestUnknownNameSignInDoesTheWorkOfARealOne(t *testing.T) {
	e := newEnv(t)
	e.register("alice")
	h := e.srv.Handler()
	signIn := func(name string) (uint64, int, string) {
		req := httptest.NewRequest("POST", "/api/session", strings.NewReader(`{"username":"`+name+`","password":"wrong password"}`))
		rec := httptest.NewRecorder()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		h.ServeHTTP(rec, req)
		runtime.ReadMemStats(&after)
		return after.TotalAlloc - before.TotalAlloc, rec.Code, rec.Body.String()
	}
	signIn("warm-up") // the dummy hash is made on first use
	known, st1, body1 := signIn("alice")
	unknown, st2, body2 := signIn("nobody")
	if st1 != 401 || st2 != 401 || body1 != body2 {
		t.Fatalf("answers differ: %d %s / %d %s", st1, body1, st2, body2)
	}
	const argonMemory = 36 << 20 // auth.DefaultParams
	if known < argonMemory || unknown < argonMemory {
		t.Fatalf("allocated %d bytes for a real account and %d for an unknown name; both must hash (%d)", known, unknown, argonMemory)
	}
}

func TestUploadsAreRateLimitedPerUser(t *testing.T) {
	e := newEnv(t, func(c *server.Config) { c.APIRate, c.APIBurst = 0.01, 2 })
	alice, bob := e.register("alice"), e.register("bob")
	for i := 0; i < 2; i++ {
		if st, out := e.upload(alice.Token, fmt.Sprint(i, ".txt"), []byte("data")); st != 201 {
			t.Fatalf("upload %d: %d %v", i, st, out)
		}
	}
	if st, out := e.upload(alice.Token, "more.txt", []byte("data")); st != 429 || errCode(out) != "rate_limited" {
		t.Fatalf("third upload: %d %v, want 429", st, out)
	}
	if st, _ := e.upload(bob.Token, "bob.txt", []byte("data")); st != 201 {
		t.Fatalf("bob's upload: %d", st)
	}
	// Sends have a bucket of their own.
	general := e.roomID(alice, "general")
	if st, out := e.call("POST", "/api/rooms/"+general+"/messages", alice.Token, map[string]string{"text": "hi"}); st != 201 {
		t.Fatalf("send after the uploads: %d %v", st, out)
	}
}

// A client that sends its request body too slowly is cut off at the read
// timeout, before it has finished; an upload may take longer.
func TestSlowRequestBodiesAreCutOffExceptUploads(t *testing.T) {
	srv, err := server.New(server.Config{DataDir: t.TempDir(), ReadTimeout: 300 * time.Millisecond, LoginRate: -1}, zerolog.Nop(), nil)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx, ln, nil) }()
	t.Cleanup(func() { cancel(); <-served })
	base := "http://" + ln.Addr().String()
	resp, err := http.Post(base+"/api/users", "application/json", strings.NewReader(`{"username":"alice","password":"correct horse"}`))
	if err != nil {
		t.Fatal(err)
	}
	var reg struct{ Token string }
	_ = json.NewDecoder(resp.Body).Decode(&reg)
	resp.Body.Close()

	// trickle sends head, then body one chunk every 100 ms, and returns the
	// status line the server answered with and whether the body was all sent.
	trickle := func(head string, chunks []string) (string, bool) {
		conn, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		var finished atomic.Bool
		go func() {
			if _, err := io.WriteString(conn, head); err != nil {
				return
			}
			for _, c := range chunks {
				time.Sleep(100 * time.Millisecond)
				if _, err := io.WriteString(conn, c); err != nil {
					return
				}
			}
			finished.Store(true)
		}()
		line, err := bufio.NewReader(conn).ReadString('\n')
		if err != nil {
			return "", finished.Load()
		}
		return strings.TrimSpace(line), finished.Load()
	}
	body := `{"name":"slowly-created-room"}`
	chunks := strings.Split(body, "")
	line, finished := trickle(fmt.Sprintf("POST /api/rooms HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Length: %d\r\n\r\n", reg.Token, len(body)), chunks)
	if finished || !strings.Contains(line, " 400 ") {
		t.Fatalf("a body trickled over %d00 ms was accepted (%q) with a %v read timeout", len(chunks), line, 300*time.Millisecond)
	}

	var mp strings.Builder
	mw := multipart.NewWriter(&mp)
	fw, _ := mw.CreateFormFile("file", "slow.txt")
	fw.Write([]byte(strings.Repeat("z", 2000)))
	mw.Close()
	parts := make([]string, 0, 10)
	for s := mp.String(); len(s) > 0; {
		n := min(len(s), mp.Len()/8+1)
		parts = append(parts, s[:n])
		s = s[n:]
	}
	line, finished = trickle(fmt.Sprintf("POST /api/uploads HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n",
		reg.Token, mw.FormDataContentType(), mp.Len()), parts)
	if !finished || !strings.Contains(line, " 201 ") {
		t.Fatalf("a slow upload: %q (body all sent: %v), want 201", line, finished)
	}
}
