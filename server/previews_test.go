package server_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"minichat/server"
	"minichat/server/protocol"
	"minichat/server/protocol/frametest"
)

// pages is a site on loopback for link previews: /page has OpenGraph tags,
// /plain a <title> and a meta description, /text is not HTML, /big is
// HTML past the 1 MiB cap, /img.png an image.
func pages(t *testing.T) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var hits atomic.Int64
	png := []byte("\x89PNG\r\n\x1a\nnot really")
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		switch r.URL.Path {
		case "/page":
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			fmt.Fprint(w, `<!doctype html><html><head><title>Ignored title</title>
				<meta property="og:title" content="Release notes 2.0">
				<meta property="og:description" content="What is new:   faster   sync.">
				<meta property="og:image" content="/img.png"></head><body>hello</body></html>`)
		case "/plain":
			w.Header().Set("Content-Type", "text/html")
			fmt.Fprint(w, `<html><head><title> Plain page </title><meta name="description" content="Just a page"></head></html>`)
		case "/text":
			w.Header().Set("Content-Type", "text/plain")
			fmt.Fprint(w, `<html><head><title>Not HTML</title></head></html>`)
		case "/big":
			w.Header().Set("Content-Type", "text/html")
			fmt.Fprint(w, `<html><head><title>Too big</title></head><body>`)
			fmt.Fprint(w, strings.Repeat("x", 1<<20))
		case "/img.png":
			w.Header().Set("Content-Type", "image/png")
			_, _ = w.Write(png)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(ts.Close)
	return ts, &hits
}

func withPreviews(c *server.Config) {
	c.LinkPreviews, c.AllowPrivateTargets = true, true
	c.PreviewWorkers = 1 // links are fetched in the order they were sent
}

// A message's link gets its preview as an update of the message through the
// room's log: live, in the history, and replayed after a reconnect. The
// sender can remove it; the image comes through the server.
func TestLinkPreviewArrivesAsUpdate(t *testing.T) {
	site, _ := pages(t)
	e := newEnv(t, withPreviews)
	alice, bob, a, b, general := e.aliceAndBob()
	a.send(map[string]any{"type": "send", "room": general, "text": "read " + site.URL + "/page.", "client_id": "c1"})
	m := b.message()
	if m.Preview != nil {
		t.Fatalf("preview before the fetch: %+v", m.Preview)
	}
	up := b.update()
	want := protocol.Preview{URL: site.URL + "/page", Title: "Release notes 2.0", Description: "What is new: faster sync.", Image: site.URL + "/img.png"}
	if up.Message.ID != m.ID || up.Message.Preview == nil || *up.Message.Preview != want || up.Seq != m.Seq+1 {
		t.Fatalf("update %+v preview %+v, want %+v", up, up.Message.Preview, want)
	}

	// History and replay after a reconnect carry it.
	_, out := e.call("GET", "/api/rooms/"+general+"/messages", bob.Token, nil)
	msgs := out["messages"].([]any)
	if p, _ := msgs[len(msgs)-1].(map[string]any)["preview"].(map[string]any); p["title"] != "Release notes 2.0" {
		t.Errorf("history: %v", msgs[len(msgs)-1])
	}
	b.close()
	b2 := e.dial(bob)
	b2.send(map[string]any{"type": "hello", "since": map[string]int64{general: m.Seq}})
	var got []frametest.Frame
	for {
		f := b2.next("message", "update", "synced")
		if f.Type == "synced" {
			break
		}
		got = append(got, f)
	}
	if len(got) != 1 || got[0].Type != "update" || got[0].Msg().Preview == nil || got[0].Msg().Preview.Title != want.Title {
		t.Fatalf("replay: %+v", got)
	}

	// The image, through the server, to members only.
	req, _ := http.NewRequest("GET", e.ts.URL+"/api/rooms/"+general+"/messages/"+m.ID+"/preview-image", nil)
	req.Header.Set("Authorization", "Bearer "+bob.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/png" {
		t.Errorf("preview image: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}

	// Only the sender (or an admin) removes it; everyone sees the update.
	if st, _ := e.call("DELETE", "/api/rooms/"+general+"/messages/"+m.ID+"/preview", bob.Token, nil); st != http.StatusForbidden {
		t.Errorf("bob removes alice's preview: %d", st)
	}
	if st, out := e.call("DELETE", "/api/rooms/"+general+"/messages/"+m.ID+"/preview", alice.Token, nil); st != http.StatusOK || msgOf(out)["preview"] != nil {
		t.Fatalf("remove: %d %v", st, out)
	}
	if up := b2.update(); up.Message.ID != m.ID || up.Message.Preview != nil {
		t.Fatalf("removal update: %+v", up)
	}
}

// Pages that are not HTML, or larger than the cap, give no preview; a page
// with only a <title> and a description gives those. (One worker fetches
// in order, so the preview of the last link arriving means the earlier
// ones were done.)
func TestLinkPreviewOnlyForHTMLWithinTheCap(t *testing.T) {
	site, _ := pages(t)
	e := newEnv(t, withPreviews)
	_, _, a, b, general := e.aliceAndBob()
	for i, path := range []string{"/text", "/big", "/missing", "/plain"} {
		a.send(map[string]any{"type": "send", "room": general, "text": "see " + site.URL + path, "client_id": fmt.Sprint("c", i)})
	}
	var ids []string
	for range 4 {
		ids = append(ids, b.message().ID)
	}
	up := b.update()
	if up.Message.ID != ids[3] || up.Message.Preview == nil || up.Message.Preview.Title != "Plain page" ||
		up.Message.Preview.Description != "Just a page" || up.Message.Preview.Image != "" {
		t.Fatalf("first update %+v (preview %+v), want the /plain message's", up, up.Message.Preview)
	}
}

// --link-previews=false: nothing is fetched.
func TestLinkPreviewsOff(t *testing.T) {
	site, hits := pages(t)
	e := newEnv(t, func(c *server.Config) { c.AllowPrivateTargets = true })
	_, _, a, b, general := e.aliceAndBob()
	a.send(map[string]any{"type": "send", "room": general, "text": site.URL + "/page", "client_id": "c1"})
	b.message()
	b.none(500*time.Millisecond, protocol.TypeUpdate)
	if n := hits.Load(); n != 0 {
		t.Fatalf("the site was fetched %d times with previews off", n)
	}
}

// Without --allow-private-targets a loopback page is never fetched.
func TestLinkPreviewRefusesPrivateTargets(t *testing.T) {
	site, hits := pages(t)
	e := newEnv(t, func(c *server.Config) { c.LinkPreviews, c.PreviewWorkers = true, 1 })
	_, _, a, b, general := e.aliceAndBob()
	a.send(map[string]any{"type": "send", "room": general, "text": site.URL + "/page", "client_id": "c1"})
	b.message()
	b.none(500*time.Millisecond, protocol.TypeUpdate)
	if n := hits.Load(); n != 0 {
		t.Fatalf("a loopback site was fetched %d times", n)
	}
}
