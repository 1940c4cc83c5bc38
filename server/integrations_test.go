package server_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"minichat/server"
	"minichat/server/protocol"
)

// newToken creates an API token with the session token of u; path is
// /api/tokens or a bot's /api/bots/{id}/tokens.
func (e *env) newToken(sessionToken, path string, body map[string]any) (string, string) {
	e.t.Helper()
	st, out := e.call("POST", path, sessionToken, body)
	if st != http.StatusCreated {
		e.t.Fatalf("create token %v: %d %v", body, st, out)
	}
	tok := out["token"].(string)
	if !strings.HasPrefix(tok, "mct_") {
		e.t.Fatalf("token %q lacks the mct_ prefix", tok)
	}
	return tok, out["record"].(map[string]any)["id"].(string)
}

func TestAPITokens(t *testing.T) {
	e := newEnv(t, func(c *server.Config) { c.MaxAPITokens = 3 })
	alice, bob := e.register("alice"), e.register("bob")
	general := e.roomID(alice, "general")
	reader, _ := e.newToken(alice.Token, "/api/tokens", map[string]any{"name": "dashboard", "scope": "read"})
	writer, writerID := e.newToken(alice.Token, "/api/tokens", map[string]any{"name": "deploy script", "scope": "write"})

	// Read scope reads and cannot write, over REST and over the socket.
	if st, out := e.call("GET", "/api/rooms/"+general+"/messages", reader, nil); st != 200 {
		t.Fatalf("read token reading: %d %v", st, out)
	}
	if st, out := e.call("POST", "/api/rooms/"+general+"/messages", reader, map[string]any{"text": "hi"}); st != 403 || errCodeOf(out) != "forbidden" {
		t.Fatalf("read token sending: %d %v", st, out)
	}
	rs := e.dial(user{Name: "alice-reader", Token: reader})
	rs.send(map[string]any{"type": "send", "room": general, "text": "over the socket", "ref": "r1"})
	if f := rs.errorFrame(); f.Code != protocol.CodeForbidden {
		t.Fatalf("read token's socket send: %+v", f)
	}

	// Write scope sends, as alice.
	st, out := e.call("POST", "/api/rooms/"+general+"/messages", writer, map[string]any{"text": "deployed v2"})
	if st != 201 || msgOf(out)["sender"].(map[string]any)["name"] != "alice" {
		t.Fatalf("write token sending: %d %v", st, out)
	}

	// Tokens cannot manage tokens; the list shows name, scope, use.
	if st, out := e.call("POST", "/api/tokens", writer, map[string]any{"name": "more", "scope": "write"}); st != 403 {
		t.Fatalf("a token minting a token: %d %v", st, out)
	}
	_, out = e.call("GET", "/api/tokens", alice.Token, nil)
	list := out["tokens"].([]any)
	if len(list) != 2 {
		t.Fatalf("tokens %v", out)
	}
	for _, x := range list {
		x := x.(map[string]any)
		if x["name"] == "deploy script" && (x["scope"] != "write" || x["last_used"] == nil) {
			t.Fatalf("the used write token: %v", x)
		}
		if _, ok := x["token"]; ok {
			t.Fatalf("the list shows a token: %v", x)
		}
	}
	if _, out := e.call("GET", "/api/tokens", bob.Token, nil); len(out["tokens"].([]any)) != 0 {
		t.Fatalf("bob sees %v", out)
	}

	// Revoked: the next request is refused, the open socket closed 4401.
	ws := e.dial(user{Name: "alice-writer", Token: writer})
	if st, _ := e.call("DELETE", "/api/tokens/"+writerID, bob.Token, nil); st != 404 {
		t.Fatalf("bob revoking alice's token: %d", st)
	}
	if st, _ := e.call("DELETE", "/api/tokens/"+writerID, alice.Token, nil); st != 204 {
		t.Fatalf("revoke: %d", st)
	}
	if st, _ := e.call("GET", "/api/me", writer, nil); st != 401 {
		t.Fatalf("a revoked token: %d", st)
	}
	if code := ws.waitClose(5 * time.Second); code != 4401 {
		t.Fatalf("the revoked token's socket closed with %d, want 4401", code)
	}

	// Expiry is honoured; bad expiries and scopes are refused.
	if st, _ := e.call("POST", "/api/tokens", alice.Token, map[string]any{"name": "x", "scope": "write", "expires": "2001-01-01T00:00:00Z"}); st != 400 {
		t.Fatalf("an expiry in the past: %d", st)
	}
	if st, _ := e.call("POST", "/api/tokens", alice.Token, map[string]any{"name": "x", "scope": "admin"}); st != 400 {
		t.Fatalf("scope admin: %d", st)
	}
	soon := time.Now().Add(1500 * time.Millisecond).UTC().Format(time.RFC3339Nano)
	short, _ := e.newToken(alice.Token, "/api/tokens", map[string]any{"name": "short", "scope": "read", "expires": soon})
	if st, _ := e.call("GET", "/api/me", short, nil); st != 200 {
		t.Fatalf("a token before its expiry: %d", st)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		st, out := e.call("GET", "/api/me", short, nil)
		if st == 401 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a token past its expiry: %d %v", st, out)
		}
		time.Sleep(200 * time.Millisecond)
	}

	// The per-account limit (3 here: reader, short and a third; the
	// revoked one no longer counts).
	e.newToken(alice.Token, "/api/tokens", map[string]any{"name": "third", "scope": "read"})
	if st, out := e.call("POST", "/api/tokens", alice.Token, map[string]any{"name": "fourth", "scope": "read"}); errCodeOf(out) != "quota_exceeded" {
		t.Fatalf("a fourth token: %d %v", st, out)
	}
}

// botServer is a bot's webhook on loopback: it checks the signature with
// secret, hands each payload to got, and answers with answer.
type botServer struct {
	*httptest.Server
	secret atomic.Pointer[string]
	got    chan protocol.WebhookPayload
	calls  atomic.Int32
}

func newBotServer(t *testing.T, answer func(w http.ResponseWriter, p protocol.WebhookPayload)) *botServer {
	b := &botServer{got: make(chan protocol.WebhookPayload, 10)}
	b.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.calls.Add(1)
		body, _ := io.ReadAll(r.Body)
		sig := r.Header.Get("X-Minichat-Signature")
		ts, v1, _ := strings.Cut(strings.TrimPrefix(sig, "t="), ",v1=")
		mac := hmac.New(sha256.New, []byte(*b.secret.Load()))
		mac.Write([]byte(ts + "." + string(body)))
		sec, _ := strconv.ParseInt(ts, 10, 64)
		if !hmac.Equal([]byte(v1), []byte(hex.EncodeToString(mac.Sum(nil)))) || time.Since(time.Unix(sec, 0)).Abs() > 5*time.Minute {
			t.Errorf("bad signature %q", sig)
			w.WriteHeader(401)
			return
		}
		var p protocol.WebhookPayload
		if err := json.Unmarshal(body, &p); err != nil {
			t.Errorf("payload %q: %v", body, err)
		}
		b.got <- p
		answer(w, p)
	}))
	t.Cleanup(b.Close)
	return b
}

func (e *env) createBot(admin user, body map[string]any) (id, secret string) {
	e.t.Helper()
	st, out := e.call("POST", "/api/bots", admin.Token, body)
	if st != http.StatusCreated {
		e.t.Fatalf("create bot: %d %v", st, out)
	}
	b := out["bot"].(map[string]any)
	return b["user"].(map[string]any)["id"].(string), b["secret"].(string)
}

func TestBotAnswersMentionsAndDirectMessages(t *testing.T) {
	e := newEnv(t, func(c *server.Config) { c.AllowPrivateTargets = true })
	alice, bob, _, b, general := e.aliceAndBob()
	hook := newBotServer(t, func(w http.ResponseWriter, p protocol.WebhookPayload) {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "pong to "+p.Sender.Name)
	})
	if st, _ := e.call("POST", "/api/bots", bob.Token, map[string]any{"name": "nope"}); st != 403 {
		t.Fatalf("a member creating a bot: %d", st)
	}
	botID, secret := e.createBot(alice, map[string]any{"name": "echo", "display_name": "Echo", "webhook_url": hook.URL + "/hook"})
	hook.secret.Store(&secret)
	if st, _ := e.call("POST", "/api/session", "", map[string]string{"username": "echo", "password": ""}); st != 401 && st != 400 {
		t.Fatalf("a bot signing in with a password: %d", st)
	}
	if st, out := e.call("POST", "/api/rooms/"+general+"/invite", alice.Token, map[string]string{"username": "echo"}); st != 204 {
		t.Fatalf("invite the bot: %d %v", st, out)
	}

	// A mention by bob reaches the bot, signed; its answer is its reply.
	b.send(map[string]any{"type": "send", "room": general, "text": "@echo ping", "ref": "1"})
	asked := b.ack().Message
	p := <-hook.got
	if p.Message.ID != asked.ID || p.Sender.Name != "bob" || p.Bot.Name != "echo" || p.Room.ID != general || p.Room.Name != "general" {
		t.Fatalf("payload %+v", p)
	}
	for {
		m := b.message()
		if m.Sender == nil || m.Sender.Name != "echo" {
			continue
		}
		if !m.Sender.Bot || m.Text != "pong to bob" || m.ReplyTo != asked.ID {
			t.Fatalf("the bot's reply %+v", m)
		}
		break
	}

	// A message that does not mention it is not sent to it; a direct
	// message is.
	b.send(map[string]any{"type": "send", "room": general, "text": "echo without the at", "ref": "2"})
	b.ack()
	st, out := e.call("POST", "/api/dms", bob.Token, map[string]string{"username": "echo"})
	if st != 200 {
		t.Fatalf("dm the bot: %d %v", st, out)
	}
	dm := out["room"].(map[string]any)["id"].(string)
	if st, out := e.call("POST", "/api/rooms/"+dm+"/messages", bob.Token, map[string]any{"text": "hello there"}); st != 201 {
		t.Fatalf("dm: %d %v", st, out)
	}
	if p := <-hook.got; p.Message.Text != "hello there" || p.Room.Kind != "dm" {
		t.Fatalf("dm payload %+v", p)
	}

	// The owner reads the deliveries; a member cannot.
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, out := e.call("GET", "/api/bots/"+botID+"/deliveries", alice.Token, nil)
		ds, _ := out["deliveries"].([]any)
		if len(ds) == 2 {
			for _, d := range ds {
				d := d.(map[string]any)
				if d["ok"] != true || d["status"] != 200.0 || d["attempts"] != 1.0 {
					t.Fatalf("delivery %v", d)
				}
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("deliveries %v", out)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if st, _ := e.call("GET", "/api/bots/"+botID+"/deliveries", bob.Token, nil); st != 404 {
		t.Fatalf("bob reading deliveries: %d", st)
	}
	if hook.calls.Load() != 2 {
		t.Fatalf("the webhook was called %d times, want 2", hook.calls.Load())
	}

	// The bot's own token: it posts as the bot, marked as one.
	tok, _ := e.newToken(alice.Token, "/api/bots/"+botID+"/tokens", map[string]any{"name": "runner", "scope": "write"})
	st, out = e.call("POST", "/api/rooms/"+general+"/messages", tok, map[string]any{"text": "I am a bot"})
	if sender := msgOf(out)["sender"].(map[string]any); st != 201 || sender["name"] != "echo" || sender["bot"] != true {
		t.Fatalf("the bot's token sending: %d %v", st, out)
	}

	// Deleted: its tokens stop working at once.
	if st, _ := e.call("DELETE", "/api/bots/"+botID, alice.Token, nil); st != 204 {
		t.Fatalf("delete bot: %d", st)
	}
	if st, _ := e.call("GET", "/api/me", tok, nil); st != 401 {
		t.Fatalf("a deleted bot's token: %d", st)
	}
}

func TestBotWebhookTimeoutIsRetriedAndReported(t *testing.T) {
	e := newEnv(t, func(c *server.Config) {
		c.AllowPrivateTargets = true
		c.WebhookTimeout = 200 * time.Millisecond
	})
	alice := e.register("alice")
	general := e.roomID(alice, "general")
	release := make(chan struct{})
	hook := newBotServer(t, func(w http.ResponseWriter, p protocol.WebhookPayload) { <-release })
	defer close(release) // before the server's Close waits for the handlers
	botID, secret := e.createBot(alice, map[string]any{"name": "sleepy", "webhook_url": hook.URL})
	hook.secret.Store(&secret)
	e.call("POST", "/api/rooms/"+general+"/invite", alice.Token, map[string]string{"username": "sleepy"})
	if st, _ := e.call("POST", "/api/rooms/"+general+"/messages", alice.Token, map[string]any{"text": "@sleepy wake up"}); st != 201 {
		t.Fatal(st)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, out := e.call("GET", "/api/bots/"+botID+"/deliveries", alice.Token, nil)
		if ds, _ := out["deliveries"].([]any); len(ds) == 1 {
			d := ds[0].(map[string]any)
			if d["ok"] != false || d["attempts"] != 3.0 || d["error"] == nil || d["status"] != 0.0 {
				t.Fatalf("delivery %v", d)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no delivery recorded: %v", out)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if n := hook.calls.Load(); n != 3 {
		t.Fatalf("the webhook was tried %d times, want 3", n)
	}
}

func TestBotWebhookRefusesPrivateTargetsByDefault(t *testing.T) {
	e := newEnv(t)
	alice := e.register("alice")
	general := e.roomID(alice, "general")
	hook := newBotServer(t, func(w http.ResponseWriter, p protocol.WebhookPayload) {})
	botID, secret := e.createBot(alice, map[string]any{"name": "inside", "webhook_url": hook.URL})
	hook.secret.Store(&secret)
	e.call("POST", "/api/rooms/"+general+"/invite", alice.Token, map[string]string{"username": "inside"})
	e.call("POST", "/api/rooms/"+general+"/messages", alice.Token, map[string]any{"text": "@inside hello"})
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, out := e.call("GET", "/api/bots/"+botID+"/deliveries", alice.Token, nil)
		if ds, _ := out["deliveries"].([]any); len(ds) == 1 {
			if d := ds[0].(map[string]any); d["ok"] != false || !strings.Contains(d["error"].(string), "not allowed") {
				t.Fatalf("delivery %v", d)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no delivery recorded: %v", out)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if n := hook.calls.Load(); n != 0 {
		t.Fatalf("a loopback webhook was called %d times", n)
	}
}

func TestExpiredTokenSocketCloses(t *testing.T) {
	e := newEnv(t, func(c *server.Config) { c.Heartbeat = 500 * time.Millisecond })
	alice := e.register("alice")
	soon := time.Now().Add(1500 * time.Millisecond).UTC().Format(time.RFC3339Nano)
	tok, _ := e.newToken(alice.Token, "/api/tokens", map[string]any{"name": "short", "scope": "read", "expires": soon})
	sock := e.dial(user{Name: "alice-short", Token: tok})
	// A live client answers pings (its writes fail once the server has
	// closed the socket).
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
				_ = sock.c.Write(t.Context(), 1, []byte(`{"type":"pong"}`))
			}
		}
	}()
	if code := sock.waitClose(15 * time.Second); code != 4401 {
		t.Fatalf("the expired token's socket closed with %d, want 4401", code)
	}
	if st, _ := e.call("GET", "/api/me", tok, nil); st != 401 {
		t.Fatalf("an expired token: %d", st)
	}
}
