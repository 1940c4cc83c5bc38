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
