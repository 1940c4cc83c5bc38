package server_test

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"minichat/server"
	"minichat/server/push"
	"minichat/server/push/pushtest"
)

// pushEnv is a server whose pushes go to a loopback push service (hence
// --allow-private-targets) and which looks for due retries often.
func pushEnv(t *testing.T, mod ...func(*server.Config)) (*env, *pushtest.Service) {
	t.Helper()
	svc := pushtest.New(t)
	e := newEnv(t, append([]func(*server.Config){func(c *server.Config) {
		c.AllowPrivateTargets = true
		c.PushPoll = 50 * time.Millisecond
	}}, mod...)...)
	st, out := e.call("GET", "/api/push/key", "", nil)
	if st != http.StatusUnauthorized {
		t.Fatalf("GET /api/push/key without a session: %d %v", st, out)
	}
	return e, svc
}

// subscribe subscribes a new device of u and returns it with its id.
func (e *env) subscribe(svc *pushtest.Service, u user, name string) (*pushtest.Device, string) {
	e.t.Helper()
	d := svc.NewDevice(name)
	st, out := e.call("POST", "/api/push/subscriptions", u.Token, map[string]any{
		"endpoint": d.Endpoint, "keys": map[string]string{"p256dh": d.P256DH, "auth": d.Auth}, "label": name})
	if st != http.StatusCreated {
		e.t.Fatalf("subscribe %s: %d %v", name, st, out)
	}
	return d, out["subscription"].(map[string]any)["id"].(string)
}

func (e *env) postText(u user, room, text string) string {
	e.t.Helper()
	st, out := e.call("POST", "/api/rooms/"+room+"/messages", u.Token, map[string]string{"text": text})
	if st != http.StatusCreated && st != http.StatusOK {
		e.t.Fatalf("%s posts %q: %d %v", u.Name, text, st, out)
	}
	return msgOf(out)["id"].(string)
}

func (e *env) dmRoom(u user, other string) string {
	e.t.Helper()
	st, out := e.call("POST", "/api/dms", u.Token, map[string]string{"username": other})
	if st != http.StatusOK && st != http.StatusCreated {
		e.t.Fatalf("dm %s: %d %v", other, st, out)
	}
	return out["room"].(map[string]any)["id"].(string)
}

func payloadOf(t *testing.T, p pushtest.Push) push.Payload {
	t.Helper()
	var pl push.Payload
	if err := json.Unmarshal(p.Payload, &pl); err != nil {
		t.Fatalf("payload %q: %v", p.Payload, err)
	}
	return pl
}

// nextFor returns the next push and checks it is the one of message id:
// the pushes of a node are planned in commit order, so a message that
// should not have been pushed, sent before id, would arrive first.
func nextFor(t *testing.T, svc *pushtest.Service, id string) (pushtest.Push, push.Payload) {
	t.Helper()
	p := svc.Next(10 * time.Second)
	pl := payloadOf(t, p)
	if pl.MessageID != id {
		t.Fatalf("push of message %s (%q), want the one of %s", pl.MessageID, pl.Body, id)
	}
	return p, pl
}

func TestPushDeliversSignedEncryptedPushes(t *testing.T) {
	e, svc := pushEnv(t)
	alice, bob := e.register("alice"), e.register("bob")
	st, out := e.call("GET", "/api/push/key", bob.Token, nil)
	key, _ := out["public_key"].(string)
	if st != http.StatusOK || len(key) != 87 { // 65 bytes, base64url
		t.Fatalf("GET /api/push/key: %d %v", st, out)
	}
	svc.ExpectKey(key)
	d, id := e.subscribe(svc, bob, "phone")

	// The same endpoint again is the same subscription.
	st, out = e.call("POST", "/api/push/subscriptions", bob.Token, map[string]any{
		"endpoint": d.Endpoint, "keys": map[string]string{"p256dh": d.P256DH, "auth": d.Auth}})
	if st != http.StatusOK || out["subscription"].(map[string]any)["id"] != id {
		t.Fatalf("subscribing again: %d %v, want 200 and %s", st, out, id)
	}

	// A direct message to bob, who has no socket open: pushed, urgent.
	dm := e.dmRoom(alice, "bob")
	m1 := e.postText(alice, dm, "hello bob")
	p, pl := nextFor(t, svc, m1)
	// TTL: 24 h from when the push was queued, a moment ago.
	if ttl, _ := strconv.Atoi(p.TTL); p.Urgency != "high" || ttl > 86400 || ttl < 86400-60 || p.Topic != dm {
		t.Errorf("headers Urgency %q TTL %q Topic %q, want high, 86400, %s", p.Urgency, p.TTL, p.Topic, dm)
	}
	want := push.Payload{V: 1, Title: "alice", Body: "hello bob", RoomID: dm, Room: dm, Seq: pl.Seq, MessageID: m1,
		URL: "/#/" + dm + "?m=" + m1, Tag: "room:" + dm}
	if pl != want || pl.Seq < 1 {
		t.Errorf("payload %+v, want %+v", pl, want)
	}

	// In a room, by default: mentions only, urgent; a long text is cut.
	general := e.roomID(alice, "general")
	e.postText(alice, general, "nobody in particular")
	long := "@Bob " + strings.Repeat("é", 300)
	m3 := e.postText(alice, general, long)
	p, pl = nextFor(t, svc, m3)
	if p.Urgency != "high" || pl.Title != "alice in #general" || pl.Room != "general" || pl.URL != "/#/general?m="+m3 {
		t.Errorf("mention push: urgency %q payload %+v", p.Urgency, pl)
	}
	if n := utf8.RuneCountInString(pl.Body); n > push.MaxExcerpt || !strings.HasPrefix(pl.Body, "@Bob éé") {
		t.Errorf("excerpt of %d characters: %q", n, pl.Body)
	}

	// A room set to "all": every message, at normal urgency.
	st, out = e.call("PUT", "/api/rooms/"+general+"/notifications", bob.Token, map[string]string{"level": "all"})
	if st != http.StatusOK || out["room"].(map[string]any)["notify"] != "all" {
		t.Fatalf("set level all: %d %v", st, out)
	}
	m4 := e.postText(alice, general, "news for all")
	if p, _ := nextFor(t, svc, m4); p.Urgency != "normal" || p.Topic != general {
		t.Errorf("push of a room set to all: urgency %q topic %q", p.Urgency, p.Topic)
	}
	// The sender's own devices get nothing.
	e.subscribe(svc, alice, "alice-laptop")
	m5 := e.postText(bob, dm, "hi alice")
	if p, pl := nextFor(t, svc, m5); p.Device != "alice-laptop" || pl.Title != "bob" {
		t.Errorf("push to %s titled %q", p.Device, pl.Title)
	}
	m6 := e.postText(alice, dm, "bob again")
	if p, _ := nextFor(t, svc, m6); p.Device != "phone" {
		t.Errorf("alice's own message pushed to %s", p.Device)
	}

	// The subscription records its success; the listing shows no keys.
	waitFor(t, "last_success_at", func() bool {
		_, out := e.call("GET", "/api/push/subscriptions", bob.Token, nil)
		subs := out["subscriptions"].([]any)
		s := subs[0].(map[string]any)
		if len(subs) != 1 || s["endpoint_origin"] != strings.Split(d.Endpoint, "/push/")[0] || s["label"] != "phone" || s["keys"] != nil || s["endpoint"] != nil {
			t.Fatalf("subscriptions %v", out)
		}
		return s["last_success_at"] != nil
	})
}

func TestPushRules(t *testing.T) {
	e, svc := pushEnv(t)
	alice, bob := e.register("alice"), e.register("bob")
	e.subscribe(svc, bob, "phone")
	dm, general := e.dmRoom(alice, "bob"), e.roomID(alice, "general")

	// Connected anywhere: no push. Then offline again: pushed.
	b := e.dial(bob)
	e.postText(alice, dm, "you are here")
	b.close()
	waitFor(t, "bob offline", func() bool { return !e.srv.Hub().Connected([]string{bob.ID})[bob.ID] })
	m := e.postText(alice, dm, "you left")
	nextFor(t, svc, m)

	// A room set to "none" never pushes, not even a mention.
	if st, out := e.call("PUT", "/api/rooms/"+general+"/notifications", bob.Token, map[string]string{"level": "none"}); st != 200 {
		t.Fatalf("set none: %d %v", st, out)
	}
	e.postText(alice, general, "@bob are you there?")
	m = e.postText(alice, dm, "after the mention")
	nextFor(t, svc, m)
	_, out := e.call("GET", "/api/rooms", bob.Token, nil)
	for _, r := range out["rooms"].([]any) {
		r := r.(map[string]any)
		if want := map[string]any{general: "none", dm: nil}[r["id"].(string)]; r["notify"] != want {
			t.Errorf("room %v: notify %v, want %v", r["name"], r["notify"], want)
		}
	}

	// Paused: nothing; resumed: pushed again.
	until := time.Now().Add(time.Hour).UnixMilli()
	if st, out := e.call("PUT", "/api/me/notifications", bob.Token, map[string]any{"paused_until": until}); st != 200 || out["notifications_paused_until"] != float64(until) {
		t.Fatalf("pause: %d %v", st, out)
	}
	if _, out := e.call("GET", "/api/me", bob.Token, nil); out["notifications_paused_until"] != float64(until) {
		t.Fatalf("GET /api/me while paused: %v", out)
	}
	e.postText(alice, dm, "while paused")
	if st, out := e.call("PUT", "/api/me/notifications", bob.Token, map[string]any{"paused_until": nil}); st != 200 || out["notifications_paused_until"] != nil {
		t.Fatalf("resume: %d %v", st, out)
	}
	if _, out := e.call("GET", "/api/me", bob.Token, nil); out["notifications_paused_until"] != nil {
		t.Fatalf("GET /api/me after resuming: %v", out)
	}
	m = e.postText(alice, dm, "resumed")
	nextFor(t, svc, m)

	// A DM set to "mentions" pushes mentions only; "@bobby" is not bob.
	e.call("PUT", "/api/rooms/"+dm+"/notifications", bob.Token, map[string]string{"level": "mentions"})
	e.register("bobby")
	e.postText(alice, dm, "hi @bobby")
	m = e.postText(alice, dm, "hi @BOB.")
	nextFor(t, svc, m)

	// Bad input changes nothing.
	for _, c := range []struct {
		path string
		body any
		want int
	}{
		{"/api/rooms/" + general + "/notifications", map[string]string{"level": "loud"}, 400},
		{"/api/rooms/r_nosuchroomatall00000/notifications", map[string]string{"level": "all"}, 404},
		{"/api/me/notifications", map[string]any{"paused_until": time.Now().Add(400 * 24 * time.Hour).UnixMilli()}, 400},
	} {
		if st, out := e.call("PUT", c.path, bob.Token, c.body); st != c.want {
			t.Errorf("PUT %s %v: %d %v, want %d", c.path, c.body, st, out, c.want)
		}
	}
	// A private room bob is not in is not found.
	_, out = e.call("POST", "/api/rooms", alice.Token, map[string]any{"name": "secret", "private": true})
	secret := out["room"].(map[string]any)["id"].(string)
	if st, _ := e.call("PUT", "/api/rooms/"+secret+"/notifications", bob.Token, map[string]string{"level": "all"}); st != 404 {
		t.Errorf("level of a private room bob is not in: %d", st)
	}
}

func TestPushWithoutContent(t *testing.T) {
	e, svc := pushEnv(t, func(c *server.Config) { c.PushNoContent = true })
	alice, bob := e.register("alice"), e.register("bob")
	e.subscribe(svc, bob, "phone")
	dm := e.dmRoom(alice, "bob")
	m := e.postText(alice, dm, "the secret plans")
	p, pl := nextFor(t, svc, m)
	if pl.Title != "minichat" || pl.Body != "New message" || strings.Contains(string(p.Payload), "secret") || strings.Contains(string(p.Payload), "alice") {
		t.Errorf("content-less push carries %s", p.Payload)
	}
	if pl.RoomID != dm || pl.URL != "/#/"+dm+"?m="+m {
		t.Errorf("content-less push does not lead to the room: %+v", pl)
	}
}

func TestPushGoneAndRetried(t *testing.T) {
	e, svc := pushEnv(t)
	alice, bob := e.register("alice"), e.register("bob")
	dm := e.dmRoom(alice, "bob")

	// 429 with Retry-After, then 201: retried and delivered.
	d, _ := e.subscribe(svc, bob, "phone")
	svc.Script(d, pushtest.Answer{Status: 429, RetryAfter: "1"})
	m := e.postText(alice, dm, "try again")
	if p, _ := nextFor(t, svc, m); p.Status != 429 {
		t.Fatalf("first answer %d", p.Status)
	}
	if p, _ := nextFor(t, svc, m); p.Status != 201 {
		t.Fatalf("second answer %d", p.Status)
	}
	// 503 without Retry-After backs off and is retried too.
	svc.Script(d, pushtest.Answer{Status: 503})
	m = e.postText(alice, dm, "server trouble")
	nextFor(t, svc, m)
	if p, _ := nextFor(t, svc, m); p.Status != 201 {
		t.Fatalf("after a 503: %d", p.Status)
	}

	// 410: the subscription is gone.
	svc.Script(d, pushtest.Answer{Status: 410})
	m = e.postText(alice, dm, "are you still there")
	nextFor(t, svc, m)
	waitFor(t, "subscription removed", func() bool {
		_, out := e.call("GET", "/api/push/subscriptions", bob.Token, nil)
		return len(out["subscriptions"].([]any)) == 0
	})
	e.subscribe(svc, bob, "tablet")
	m = e.postText(alice, dm, "on the tablet")
	if p, _ := nextFor(t, svc, m); p.Device != "tablet" {
		t.Fatalf("push to %s", p.Device)
	}
	waitFor(t, "push metrics", func() bool {
		got := pushMetrics(t, e)
		return got["minichat_push_sent_total"] == 3 && got["minichat_push_retried_total"] == 2 && got["minichat_push_gone_total"] == 1
	})
}

// pushMetrics reads the minichat_push_* counters of e's server.
func pushMetrics(t *testing.T, e *env) map[string]float64 {
	t.Helper()
	mfs, err := e.srv.Metrics().Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		if strings.HasPrefix(mf.GetName(), "minichat_push_") {
			out[mf.GetName()] = mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	return out
}

func TestPushSubscriptions(t *testing.T) {
	e, svc := pushEnv(t, func(c *server.Config) { c.MaxPushSubscriptions = 2 })
	alice, bob := e.register("alice"), e.register("bob")
	_, a1 := e.subscribe(svc, alice, "one")
	e.subscribe(svc, alice, "two")
	d := svc.NewDevice("three")
	good := map[string]any{"endpoint": d.Endpoint, "keys": map[string]string{"p256dh": d.P256DH, "auth": d.Auth}}
	if st, out := e.call("POST", "/api/push/subscriptions", alice.Token, good); st != http.StatusTooManyRequests {
		t.Fatalf("a third device with a limit of 2: %d %v", st, out)
	}
	for _, body := range []map[string]any{
		{"endpoint": "ftp://push.example.com/x", "keys": good["keys"]},
		{"endpoint": "", "keys": good["keys"]},
		{"endpoint": d.Endpoint, "keys": map[string]string{"p256dh": "AAAA", "auth": d.Auth}},
		{"endpoint": d.Endpoint, "keys": map[string]string{"p256dh": d.P256DH, "auth": "short"}},
		{"endpoint": d.Endpoint, "keys": good["keys"], "label": strings.Repeat("x", 65)},
	} {
		if st, out := e.call("POST", "/api/push/subscriptions", bob.Token, body); st != 400 {
			t.Errorf("subscribe %v: %d %v, want 400", body, st, out)
		}
	}
	// Another user's subscription is not found; one's own goes.
	if st, _ := e.call("DELETE", "/api/push/subscriptions/"+a1, bob.Token, nil); st != 404 {
		t.Errorf("bob deletes alice's subscription: %d", st)
	}
	if st, _ := e.call("DELETE", "/api/push/subscriptions/"+a1, alice.Token, nil); st != 204 {
		t.Errorf("alice deletes her subscription: %d", st)
	}
	if _, out := e.call("GET", "/api/push/subscriptions", alice.Token, nil); len(out["subscriptions"].([]any)) != 1 {
		t.Errorf("after the delete: %v", out)
	}
	// The test push reaches the caller's devices.
	if st, out := e.call("POST", "/api/push/test", alice.Token, nil); st != http.StatusAccepted || out["queued"] != float64(1) {
		t.Fatalf("POST /api/push/test: %d %v", st, out)
	}
	p := svc.Next(10 * time.Second)
	if pl := payloadOf(t, p); p.Device != "two" || pl.Body != "Test notification" || p.Urgency != "high" {
		t.Errorf("test push %s %+v", p.Device, pl)
	}
}

func TestPushOffAndPrivateTargets(t *testing.T) {
	off := newEnv(t, func(c *server.Config) { c.PushOff = true })
	u := off.register("alice")
	for _, c := range []struct{ method, path string }{{"GET", "/api/push/key"}, {"GET", "/api/push/subscriptions"}, {"POST", "/api/push/test"}} {
		if st, out := off.call(c.method, c.path, u.Token, nil); st != 404 {
			t.Errorf("push off: %s %s: %d %v", c.method, c.path, st, out)
		}
	}
	// Without --allow-private-targets an http endpoint and a private
	// address are refused, and a name that resolves to one never dialled.
	e := newEnv(t)
	svc := pushtest.New(t)
	alice, bob := e.register("alice"), e.register("bob")
	d := svc.NewDevice("phone")
	keys := map[string]string{"p256dh": d.P256DH, "auth": d.Auth}
	if st, out := e.call("POST", "/api/push/subscriptions", bob.Token, map[string]any{"endpoint": d.Endpoint, "keys": keys}); st != 400 {
		t.Errorf("http endpoint without --allow-private-targets: %d %v", st, out)
	}
	https := "https" + strings.TrimPrefix(d.Endpoint, "http")
	if st, out := e.call("POST", "/api/push/subscriptions", bob.Token, map[string]any{"endpoint": https, "keys": keys}); st != 400 {
		t.Errorf("https endpoint on a loopback address: %d %v", st, out)
	}
	// A name is resolved when dialled: localhost is accepted, never reached.
	named := strings.Replace(https, "127.0.0.1", "localhost", 1)
	if st, out := e.call("POST", "/api/push/subscriptions", bob.Token, map[string]any{"endpoint": named, "keys": keys}); st != 201 {
		t.Fatalf("https endpoint named localhost: %d %v", st, out)
	}
	e.postText(alice, e.dmRoom(alice, "bob"), "to a private address")
	svc.None(500 * time.Millisecond)
}

// waitFor polls cond until it holds, failing the test after 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 10s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
