package api

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"
)

// A binary without the web client answers every page with the placeholder,
// which tells how to build the client for go run and for go build.
func TestPlaceholderWithoutClient(t *testing.T) {
	for _, web := range []fstest.MapFS{nil, {".keep": &fstest.MapFile{}}} {
		var s *static
		if web == nil {
			s = newStatic(nil)
		} else {
			s = newStatic(web)
		}
		for _, path := range []string{"/", "/rooms/general"} {
			rec := httptest.NewRecorder()
			s.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
			body, _ := io.ReadAll(rec.Body)
			if rec.Code != 200 || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/html") {
				t.Fatalf("GET %s: %d %q", path, rec.Code, rec.Header().Get("Content-Type"))
			}
			for _, want := range []string{"npm ci &amp;&amp; npm run build", "go run .", "go build", "<style>", "not been built"} {
				if !strings.Contains(string(body), want) {
					t.Errorf("GET %s: placeholder lacks %q", path, want)
				}
			}
		}
	}
}

// The service worker and the manifest are served with the types browsers
// require and revalidated on every check (a new build is a new worker);
// hashed assets are immutable.
func TestStaticPWAFiles(t *testing.T) {
	s := newStatic(fstest.MapFS{
		"index.html":           {Data: []byte("<!doctype html>")},
		"sw.js":                {Data: []byte("self.addEventListener('fetch', () => {});")},
		"manifest.webmanifest": {Data: []byte(`{"name":"minichat"}`)},
		"icons/icon-192.png":   {Data: []byte("\x89PNG")},
		"assets/index-abc1.js": {Data: []byte("console.log(1)")},
	})
	for _, c := range []struct{ path, ctype, cache string }{
		{"/sw.js", "text/javascript; charset=utf-8", "no-cache"},
		{"/manifest.webmanifest", "application/manifest+json", "no-cache"},
		{"/icons/icon-192.png", "image/png", "no-cache"},
		{"/assets/index-abc1.js", "text/javascript; charset=utf-8", "public, max-age=31536000, immutable"},
	} {
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, c.path, nil))
		if rec.Code != 200 || rec.Header().Get("Content-Type") != c.ctype || rec.Header().Get("Cache-Control") != c.cache {
			t.Errorf("GET %s: %d %q %q, want 200 %q %q", c.path, rec.Code, rec.Header().Get("Content-Type"), rec.Header().Get("Cache-Control"), c.ctype, c.cache)
		}
	}
}
