package server_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"minichat/server"
	"minichat/server/chat"
	"minichat/server/protocol"
)

// postRaw posts body to path with a content type and headers, and returns
// the status, the response headers and the body.
func (e *env) postRaw(path, contentType, body string, header map[string]string) (int, http.Header, string) {
	e.t.Helper()
	req, _ := http.NewRequest("POST", e.ts.URL+path, strings.NewReader(body))
	req.Header.Set("Content-Type", contentType)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := e.client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(raw)
}

// newHook makes a hook in a room as u and returns its id and its path.
func (e *env) newHook(u user, roomID, name string) (id, path string) {
	e.t.Helper()
	st, out := e.call("POST", "/api/rooms/"+roomID+"/hooks", u.Token, map[string]any{"name": name})
	if st != http.StatusCreated {
		e.t.Fatalf("create hook: %d %v", st, out)
	}
	h := out["hook"].(map[string]any)
	u2, err := url.Parse(h["url"].(string))
	if err != nil || !strings.HasPrefix(u2.Path, "/hooks/") {
		e.t.Fatalf("hook url %v", h["url"])
	}
	return h["id"].(string), u2.Path
}

const slackPayload = `{
	"text": "Deploy of <https://ci.example.com/run/42|run 42> finished",
	"username": "CI bot",
	"icon_url": "https://ci.example.com/icon.png",
	"attachments": [{
		"fallback": "not shown when there is more",
		"pretext": "Summary",
		"title": "Build 42",
		"title_link": "https://ci.example.com/42",
		"text": "All green",
		"fields": [{"title": "Branch", "value": "main", "short": true}],
		"color": "good"
	}],
	"blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "ignored: text is given"}}]
}`

// A Slack payload posted to a room's hook reaches its members as a message
// of the hook's creator, via the hook, with attachments reduced to text.
func TestIncomingWebhookPostsSlackPayloads(t *testing.T) {
	e := newEnv(t)
	alice, _, _, b, general := e.aliceAndBob()
	_, path := e.newHook(alice, general, "CI")

	st, _, body := e.postRaw(path, "application/json", slackPayload, nil)
	if st != http.StatusOK {
		t.Fatalf("post: %d %s", st, body)
	}
	m := b.message()
	want := "Deploy of run 42 (https://ci.example.com/run/42) finished\nSummary\nBuild 42 (https://ci.example.com/42)\nAll green\nBranch: main"
	if m.Text != want {
		t.Errorf("text\n%q, want\n%q", m.Text, want)
	}
	if m.Sender == nil || m.Sender.Name != "alice" || m.Via == nil || m.Via.Hook != "CI" || m.Via.Name != "CI bot" ||
		m.Via.IconURL != "https://ci.example.com/icon.png" || m.Room != general {
		t.Errorf("message %+v via %+v", m, m.Via)
	}

	// Blocks when there is no text, and the form encoding Slack accepts.
	blocks := `{"blocks":[{"type":"header","text":{"type":"plain_text","text":"Alert"}},
		{"type":"section","text":{"type":"mrkdwn","text":"*CPU* high on <https://h.example|host1>"}},
		{"type":"divider"},
		{"type":"context","elements":[{"type":"mrkdwn","text":"<!here> now"}]}]}`
	st, _, body = e.postRaw(path, "application/x-www-form-urlencoded", "payload="+url.QueryEscape(blocks), nil)
	if st != http.StatusOK {
		t.Fatalf("form post: %d %s", st, body)
	}
	if m := b.message(); m.Text != "Alert\n*CPU* high on host1 (https://h.example)\n@here now" || m.Via.Name != "" {
		t.Errorf("blocks: %q via %+v", m.Text, m.Via)
	}

	// minichat's own {"text"}.
	if st, _, body := e.postRaw(path, "application/json", `{"text":"plain"}`, nil); st != http.StatusOK {
		t.Fatalf("plain: %d %s", st, body)
	}
	if m := b.message(); m.Text != "plain" || m.Via.Hook != "CI" {
		t.Errorf("plain: %+v", m)
	}
	// The history keeps via.
	_, out := e.call("GET", "/api/rooms/"+general+"/messages", alice.Token, nil)
	msgs := out["messages"].([]any)
	if v, _ := msgs[len(msgs)-1].(map[string]any)["via"].(map[string]any); v["hook"] != "CI" {
		t.Errorf("history: %v", msgs[len(msgs)-1])
	}
}

// A repeat with the same Idempotency-Key returns the first message and
// posts nothing; a bad payload is a 400 with a JSON error; an unknown
// secret a 404.
func TestIncomingWebhookIdempotencyAndErrors(t *testing.T) {
	e := newEnv(t)
	alice, _, _, b, general := e.aliceAndBob()
	_, path := e.newHook(alice, general, "CI")

	key := map[string]string{"Idempotency-Key": "deploy-42"}
	st, _, first := e.postRaw(path, "application/json", `{"text":"once"}`, key)
	if st != http.StatusOK {
		t.Fatalf("post: %d %s", st, first)
	}
	m := b.message()
	st, _, again := e.postRaw(path, "application/json", `{"text":"once"}`, key)
	if st != http.StatusOK || !strings.Contains(again, m.ID) {
		t.Fatalf("repeat: %d %s, want message %s", st, again, m.ID)
	}
	if st, _, body := e.postRaw(path, "application/json", `{"text":"next"}`, nil); st != http.StatusOK {
		t.Fatalf("next: %d %s", st, body)
	}
	if n := b.message(); n.Text != "next" {
		t.Fatalf("after the repeat, %q arrived, want next", n.Text)
	}

	for _, c := range []struct{ ct, body, want string }{
		{"application/json", `not json`, "JSON object"},
		{"application/json", `{"text":""}`, "no text"},
		{"application/json", `{"attachments":[{"color":"red"}]}`, "no text"},
		{"application/x-www-form-urlencoded", `text=hi`, "payload"},
		{"application/json", `{"text": 5}`, "JSON object"},
	} {
		st, hdr, body := e.postRaw(path, c.ct, c.body, nil)
		if st != http.StatusBadRequest || !strings.HasPrefix(hdr.Get("Content-Type"), "application/json") ||
			!strings.Contains(body, `"bad_request"`) || !strings.Contains(body, c.want) {
			t.Errorf("%s %q: %d %s", c.ct, c.body, st, body)
		}
	}
	if st, _, body := e.postRaw("/hooks/"+strings.Repeat("x", 43), "application/json", `{"text":"x"}`, nil); st != http.StatusNotFound {
		t.Errorf("unknown secret: %d %s", st, body)
	}
	b.none(200*1e6, protocol.TypeMessage)
}

// Each hook has its own rate: past the burst, 429 with Retry-After.
func TestIncomingWebhookRateLimit(t *testing.T) {
	e := newEnv(t, func(c *server.Config) { c.HookRate, c.HookBurst = 0.001, 2 })
	alice := e.register("alice")
	general := e.roomID(alice, "general")
	_, path := e.newHook(alice, general, "one")
	_, other := e.newHook(alice, general, "two")
	for i := 0; i < 2; i++ {
		if st, _, body := e.postRaw(path, "application/json", `{"text":"x"}`, nil); st != http.StatusOK {
			t.Fatalf("post %d: %d %s", i, st, body)
		}
	}
	st, hdr, body := e.postRaw(path, "application/json", `{"text":"x"}`, nil)
	if st != http.StatusTooManyRequests || hdr.Get("Retry-After") == "" || !strings.Contains(body, "rate_limited") {
		t.Fatalf("third post: %d %v %s", st, hdr, body)
	}
	if st, _, body := e.postRaw(other, "application/json", `{"text":"x"}`, nil); st != http.StatusOK {
		t.Fatalf("another hook: %d %s", st, body)
	}
}

// Hooks are listed to the room's members and to admins; deleted, or with
// their creator gone from the room or disabled, they stop working; a new
// secret retires the old address.
func TestIncomingWebhookLifecycle(t *testing.T) {
	e := newEnv(t)
	admin := e.register("admin") // the first account is the admin
	alice, bob, carol := e.register("alice"), e.register("bob"), e.register("carol")
	_, out := e.call("POST", "/api/rooms", alice.Token, map[string]any{"name": "ops", "private": true})
	ops := out["room"].(map[string]any)["id"].(string)
	if st, _ := e.call("POST", "/api/rooms/"+ops+"/invite", alice.Token, map[string]any{"username": "bob"}); st != http.StatusNoContent {
		t.Fatalf("invite: %d", st)
	}
	id, path := e.newHook(alice, ops, "Alerts")

	for _, c := range []struct {
		who  user
		want int
	}{{alice, 200}, {bob, 200}, {admin, 200}, {carol, 404}} {
		st, out := e.call("GET", "/api/rooms/"+ops+"/hooks", c.who.Token, nil)
		if st != c.want {
			t.Errorf("%s lists: %d %v", c.who.Name, st, out)
			continue
		}
		if st == 200 {
			hs := out["hooks"].([]any)
			if len(hs) != 1 || hs[0].(map[string]any)["name"] != "Alerts" || hs[0].(map[string]any)["url"] != nil {
				t.Errorf("%s lists %v (the url is never listed)", c.who.Name, hs)
			}
		}
	}
	if st, _ := e.call("DELETE", "/api/hooks/"+id, bob.Token, nil); st != http.StatusForbidden {
		t.Errorf("bob deletes alice's hook: %d", st)
	}
	if st, _ := e.call("DELETE", "/api/hooks/"+id, carol.Token, nil); st != http.StatusNotFound {
		t.Errorf("carol deletes: %d", st)
	}

	// A new secret: the old address is gone, the new one works.
	st, out := e.call("POST", "/api/hooks/"+id+"/secret", alice.Token, nil)
	if st != http.StatusOK {
		t.Fatalf("regenerate: %d %v", st, out)
	}
	nu, _ := url.Parse(out["hook"].(map[string]any)["url"].(string))
	if st, _, _ := e.postRaw(path, "application/json", `{"text":"x"}`, nil); st != http.StatusNotFound {
		t.Errorf("old secret: %d", st)
	}
	if st, _, body := e.postRaw(nu.Path, "application/json", `{"text":"x"}`, nil); st != http.StatusOK {
		t.Errorf("new secret: %d %s", st, body)
	}

	// Disabled creator: not found; enabled again: works.
	svc := &chat.Service{Store: e.srv.Store()}
	if _, _, err := svc.SetDisabled(context.Background(), "alice", true); err != nil {
		t.Fatal(err)
	}
	if st, _, _ := e.postRaw(nu.Path, "application/json", `{"text":"x"}`, nil); st != http.StatusNotFound {
		t.Errorf("disabled creator: %d", st)
	}
	if _, _, err := svc.SetDisabled(context.Background(), "alice", false); err != nil {
		t.Fatal(err)
	}
	// Disabling ended alice's sessions: sign in again.
	st, out = e.call("POST", "/api/session", "", map[string]string{"username": "alice", "password": "correct horse"})
	if st != http.StatusOK && st != http.StatusCreated {
		t.Fatalf("sign in: %d %v", st, out)
	}
	alice.Token = out["token"].(string)

	// Leaving the room deletes the creator's hooks there.
	if st, _ := e.call("POST", "/api/rooms/"+ops+"/leave", alice.Token, nil); st != http.StatusNoContent {
		t.Fatalf("leave: %d", st)
	}
	if st, _, _ := e.postRaw(nu.Path, "application/json", `{"text":"x"}`, nil); st != http.StatusNotFound {
		t.Errorf("after leaving: %d", st)
	}
	if _, out := e.call("GET", "/api/rooms/"+ops+"/hooks", bob.Token, nil); len(out["hooks"].([]any)) != 0 {
		t.Errorf("hooks after leaving: %v", out)
	}

	// Deleted: gone.
	id2, path2 := e.newHook(bob, ops, "Other")
	if st, _ := e.call("DELETE", "/api/hooks/"+id2, admin.Token, nil); st != http.StatusNoContent {
		t.Errorf("admin deletes: %d", st)
	}
	if st, _, _ := e.postRaw(path2, "application/json", `{"text":"x"}`, nil); st != http.StatusNotFound {
		t.Errorf("deleted: %d", st)
	}
}

// /me is a message of kind "me", over the socket and REST.
func TestMeMessages(t *testing.T) {
	e := newEnv(t)
	alice, _, a, b, general := e.aliceAndBob()
	a.send(map[string]any{"type": "send", "room": general, "text": "waves", "client_id": "c1", "kind": "me"})
	if m := b.message(); m.Kind != protocol.KindMe || m.Text != "waves" {
		t.Fatalf("me: %+v", m)
	}
	st, out := e.call("POST", "/api/rooms/"+general+"/messages", alice.Token, map[string]any{"text": "nods", "kind": "me"})
	if st != http.StatusCreated || msgOf(out)["kind"] != "me" {
		t.Fatalf("REST me: %d %v", st, out)
	}
	if m := b.message(); m.Kind != protocol.KindMe {
		t.Fatalf("REST me arrived as %+v", m)
	}
	if st, _ := e.call("POST", "/api/rooms/"+general+"/messages", alice.Token, map[string]any{"text": "x", "kind": "system"}); st != http.StatusBadRequest {
		t.Errorf("kind system: %d", st)
	}
	_, out = e.call("GET", "/api/rooms/"+general+"/messages", alice.Token, nil)
	msgs := out["messages"].([]any)
	if msgs[len(msgs)-1].(map[string]any)["kind"] != "me" {
		t.Errorf("history: %v", msgs[len(msgs)-1])
	}
}
