package server_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/rs/zerolog"

	"minichat/server"
)

func TestRESTErrorsAndStatuses(t *testing.T) {
	e := newEnv(t)
	alice := e.register("alice")
	bob := e.register("bob")
	general := e.roomID(alice, "general")
	_, out := e.call("POST", "/api/rooms", alice.Token, map[string]any{"name": "private-club", "private": true})
	club := out["room"].(map[string]any)["id"].(string)
	_, out = e.call("POST", "/api/rooms", bob.Token, map[string]any{"name": "bobs-corner"})
	random := out["room"].(map[string]any)["id"].(string)

	tests := []struct {
		name, method, path, token string
		body                      any
		status                    int
		code                      string
	}{
		{"register: bad name", "POST", "/api/users", "", map[string]string{"username": "no spaces", "password": "password1"}, 400, "bad_request"},
		{"register: long name", "POST", "/api/users", "", map[string]string{"username": strings.Repeat("a", 33), "password": "password1"}, 400, "bad_request"},
		{"register: short password", "POST", "/api/users", "", map[string]string{"username": "carol", "password": "short"}, 400, "bad_request"},
		{"register: taken, any case", "POST", "/api/users", "", map[string]string{"username": "ALICE", "password": "password1"}, 409, "conflict"},
		{"register: not JSON", "POST", "/api/users", "", "{", 400, "bad_request"},
		{"login: wrong password", "POST", "/api/session", "", map[string]string{"username": "alice", "password": "wrong password"}, 401, "unauthorized"},
		{"login: no such user", "POST", "/api/session", "", map[string]string{"username": "nobody", "password": "wrong password"}, 401, "unauthorized"},
		{"login: any case", "POST", "/api/session", "", map[string]string{"username": "Alice", "password": "correct horse"}, 200, ""},
		{"me: anonymous", "GET", "/api/me", "", nil, 401, "unauthorized"},
		{"me: bad token", "GET", "/api/me", "garbage", nil, 401, "unauthorized"},
		{"me", "GET", "/api/me", alice.Token, nil, 200, ""},
		{"rooms: anonymous", "GET", "/api/rooms", "", nil, 401, "unauthorized"},
		{"create room: bad name", "POST", "/api/rooms", alice.Token, map[string]any{"name": "a b"}, 400, "bad_request"},
		{"create room: taken", "POST", "/api/rooms", bob.Token, map[string]any{"name": "GENERAL"}, 409, "conflict"},
		{"create room", "POST", "/api/rooms", bob.Token, map[string]any{"name": "random"}, 201, ""},
		{"join private uninvited", "POST", "/api/rooms/" + club + "/join", bob.Token, nil, 404, "not_found"},
		{"join unknown", "POST", "/api/rooms/r_nope/join", bob.Token, nil, 404, "not_found"},
		{"join public", "POST", "/api/rooms/" + general + "/join", bob.Token, nil, 200, ""},
		{"leave not a member", "POST", "/api/rooms/" + club + "/leave", bob.Token, nil, 404, "not_found"},
		{"invite by non-member", "POST", "/api/rooms/" + club + "/invite", bob.Token, map[string]string{"username": "bob"}, 404, "not_found"},
		{"invite unknown user", "POST", "/api/rooms/" + club + "/invite", alice.Token, map[string]string{"username": "nobody"}, 404, "not_found"},
		{"dm yourself", "POST", "/api/dms", alice.Token, map[string]string{"username": "alice"}, 400, "bad_request"},
		{"dm unknown", "POST", "/api/dms", alice.Token, map[string]string{"username": "nobody"}, 404, "not_found"},
		{"history: bad limit", "GET", "/api/rooms/" + general + "/messages?limit=500", alice.Token, nil, 400, "bad_request"},
		{"history: limit 0", "GET", "/api/rooms/" + general + "/messages?limit=0", alice.Token, nil, 400, "bad_request"},
		{"history: bad before", "GET", "/api/rooms/" + general + "/messages?before=x", alice.Token, nil, 400, "bad_request"},
		{"history: private", "GET", "/api/rooms/" + club + "/messages", bob.Token, nil, 404, "not_found"},
		{"send: empty", "POST", "/api/rooms/" + general + "/messages", alice.Token, map[string]string{"text": " \n "}, 400, "bad_request"},
		{"send: no text", "POST", "/api/rooms/" + general + "/messages", alice.Token, map[string]string{}, 400, "bad_request"},
		{"send: too long", "POST", "/api/rooms/" + general + "/messages", alice.Token, map[string]string{"text": strings.Repeat("x", 4001)}, 413, "too_large"},
		{"send: 4000 code points", "POST", "/api/rooms/" + general + "/messages", alice.Token, map[string]string{"text": strings.Repeat("ü", 4000)}, 201, ""},
		{"send: huge body", "POST", "/api/rooms/" + general + "/messages", alice.Token, `{"text":"` + strings.Repeat("x", 70000) + `"}`, 413, "too_large"},
		{"send: private", "POST", "/api/rooms/" + club + "/messages", bob.Token, map[string]string{"text": "hi"}, 404, "not_found"},
		{"send: public, not joined", "POST", "/api/rooms/" + random + "/messages", alice.Token, map[string]string{"text": "hi"}, 403, "forbidden"},
		{"unknown api path", "GET", "/api/nothing/here", alice.Token, nil, 404, "not_found"},
		{"wrong method", "PUT", "/api/me", alice.Token, nil, 405, "bad_request"},
		{"file: unknown", "GET", "/files/f_nope", alice.Token, nil, 404, "not_found"},
		{"file: anonymous", "GET", "/files/f_nope", "", nil, 401, "unauthorized"},
		{"file: not a file path", "GET", "/files/f_nope/more", alice.Token, nil, 404, "not_found"},
		{"search: anonymous", "GET", "/api/search?q=x", "", nil, 401, "unauthorized"},
		{"search: no q", "GET", "/api/search", alice.Token, nil, 400, "bad_request"},
		{"search: private room", "GET", "/api/search?q=x&room=" + club, bob.Token, nil, 404, "not_found"},
		{"upload: anonymous", "POST", "/api/uploads", "", nil, 401, "unauthorized"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st, out := e.call(tc.method, tc.path, tc.token, tc.body)
			if st != tc.status {
				t.Fatalf("status %d, want %d (%v)", st, tc.status, out)
			}
			if tc.code == "" {
				return
			}
			errObj, _ := out["error"].(map[string]any)
			if errObj["code"] != tc.code || errObj["message"] == "" {
				t.Fatalf("body %v, want error code %s with a message", out, tc.code)
			}
		})
	}
}

func TestRegistrationClosedAndFirstUserAdmin(t *testing.T) {
	e := newEnv(t)
	first := e.register("root")
	_, me := e.call("GET", "/api/me", first.Token, nil)
	if me["user"].(map[string]any)["role"] != "admin" {
		t.Fatalf("first user %v, want admin", me)
	}
	second := e.register("member")
	_, me = e.call("GET", "/api/me", second.Token, nil)
	if me["user"].(map[string]any)["role"] != "member" {
		t.Fatalf("second user %v, want member", me)
	}
	closed := newEnv(t, func(c *server.Config) { c.Registration = "closed" })
	// The first account of an empty instance can always be made.
	if st, out := closed.call("POST", "/api/users", "", map[string]string{"username": "root", "password": "password1"}); st != 201 {
		t.Fatalf("first account on a closed instance: %d %v", st, out)
	}
	st, out := closed.call("POST", "/api/users", "", map[string]string{"username": "x", "password": "password1"})
	if st != 403 || out["error"].(map[string]any)["code"] != "forbidden" {
		t.Fatalf("%d %v", st, out)
	}
}

func TestSessionCookie(t *testing.T) {
	e := newEnv(t)
	resp, err := http.Post(e.ts.URL+"/api/users", "application/json", strings.NewReader(`{"username":"alice","password":"password1"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var cookie *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == "minichat_session" {
			cookie = c
		}
	}
	if cookie == nil || !cookie.HttpOnly || cookie.SameSite != http.SameSiteLaxMode || cookie.Path != "/" {
		t.Fatalf("session cookie %+v", cookie)
	}
	req, _ := http.NewRequest("GET", e.ts.URL+"/api/me", nil)
	req.AddCookie(cookie)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("cookie auth: %d", resp.StatusCode)
	}
}

func TestStaticClientAndHealth(t *testing.T) {
	e := newEnv(t)
	if st, out := e.call("GET", "/healthz", "", nil); st != 200 || out["status"] != "ok" {
		t.Fatalf("%d %v", st, out)
	}
	for _, path := range []string{"/", "/rooms/general", "/some/client/route"} {
		resp, err := http.Get(e.ts.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(body), "<html") {
			t.Fatalf("%s: %d %q", path, resp.StatusCode, body)
		}
		if resp.Header.Get("Cache-Control") != "no-cache" || resp.Header.Get("Content-Security-Policy") == "" {
			t.Fatalf("%s headers %v", path, resp.Header)
		}
	}
}

func TestEmbeddedClientCaching(t *testing.T) {
	web := fstest.MapFS{
		"index.html":            {Data: []byte("<!doctype html><html><script type=module src=/assets/app-3f2a1c.js></script></html>")},
		"assets/app-3f2a1c.js":  {Data: []byte("console.log(1)")},
		"assets/app-3f2a1c.css": {Data: []byte("body{}")},
		"favicon.svg":           {Data: []byte("<svg/>")},
	}
	srv, err := server.New(server.Config{DataDir: t.TempDir()}, zerolog.Nop(), web)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(func() { srv.Close(); ts.Close() })
	get := func(path string) (*http.Response, string) {
		resp, err := http.Get(ts.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp, string(b)
	}
	resp, body := get("/assets/app-3f2a1c.js")
	if resp.StatusCode != 200 || body != "console.log(1)" || !strings.Contains(resp.Header.Get("Cache-Control"), "immutable") {
		t.Fatalf("asset: %d %q %v", resp.StatusCode, body, resp.Header)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.Contains(ct, "javascript") {
		t.Fatalf("asset content type %q", ct)
	}
	for _, path := range []string{"/", "/index.html", "/room/general"} {
		resp, body = get(path)
		if resp.StatusCode != 200 || !strings.Contains(body, "app-3f2a1c.js") || resp.Header.Get("Cache-Control") != "no-cache" {
			t.Fatalf("%s: %d %q %v", path, resp.StatusCode, body, resp.Header)
		}
	}
	if resp, _ = get("/assets/app-old.js"); resp.StatusCode != 404 {
		t.Fatalf("missing asset: %d, want 404", resp.StatusCode)
	}
	if resp, body = get("/api/unknown"); resp.StatusCode != 404 || !strings.Contains(body, `"not_found"`) {
		t.Fatalf("unknown api path: %d %q", resp.StatusCode, body)
	}
}

func TestSessionCookieIsSecureUnderTLS(t *testing.T) {
	srv, err := server.New(server.Config{DataDir: t.TempDir()}, zerolog.Nop(), nil)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewTLSServer(srv.Handler())
	t.Cleanup(func() { srv.Close(); ts.Close() })
	resp, err := ts.Client().Post(ts.URL+"/api/users", "application/json", strings.NewReader(`{"username":"alice","password":"password1"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	for _, c := range resp.Cookies() {
		if c.Name == "minichat_session" && c.Secure && c.HttpOnly {
			return
		}
	}
	t.Fatalf("no Secure session cookie in %v", resp.Header.Values("Set-Cookie"))
}

// lineWriter hands log lines to a channel, so a test can wait for one; it
// drops lines while the channel is full rather than block the server.
type lineWriter chan []byte

func (w lineWriter) Write(p []byte) (int, error) {
	select {
	case w <- append([]byte(nil), p...):
	default:
	}
	return len(p), nil
}

func TestForwardedHeadersFromTrustedProxy(t *testing.T) {
	signUp := func(t *testing.T, trusted string, log zerolog.Logger) *http.Cookie {
		t.Helper()
		srv, err := server.New(server.Config{DataDir: t.TempDir(), TrustedProxies: []string{trusted}}, log, nil)
		if err != nil {
			t.Fatal(err)
		}
		ts := httptest.NewServer(srv.Handler()) // the peer is 127.0.0.1
		t.Cleanup(func() { srv.Close(); ts.Close() })
		req, _ := http.NewRequest("POST", ts.URL+"/api/users", strings.NewReader(`{"username":"alice","password":"password1"}`))
		req.Header.Set("X-Forwarded-For", "203.0.113.7")
		req.Header.Set("X-Forwarded-Proto", "https")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("sign-up: %d", resp.StatusCode)
		}
		for _, c := range resp.Cookies() {
			if c.Name == "minichat_session" {
				return c
			}
		}
		t.Fatalf("no session cookie in %v", resp.Header.Values("Set-Cookie"))
		return nil
	}

	t.Run("trusted peer", func(t *testing.T) {
		lines := make(lineWriter, 100)
		if c := signUp(t, "127.0.0.1/32", zerolog.New(lines)); !c.Secure {
			t.Fatalf("cookie %+v behind an HTTPS proxy is not Secure", c)
		}
		for {
			select {
			case b := <-lines:
				var l struct{ Message, Remote string }
				_ = json.Unmarshal(b, &l)
				if l.Message != "request" {
					continue
				}
				if l.Remote != "203.0.113.7" {
					t.Fatalf("access log remote %q, want the forwarded client 203.0.113.7", l.Remote)
				}
				return
			case <-time.After(5 * time.Second):
				t.Fatal("no access log line")
			}
		}
	})
	t.Run("untrusted peer", func(t *testing.T) {
		if c := signUp(t, "10.0.0.0/8", zerolog.Nop()); c.Secure {
			t.Fatalf("cookie %+v: X-Forwarded-Proto believed from an untrusted peer", c)
		}
	})
}
