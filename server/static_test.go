package server_test

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/rs/zerolog"

	"minichat/server"
)

// The built client goes out compressed to browsers that accept it: the
// build's brotli form, else gzip (made at start-up when the build left
// none), with Vary and a strong ETag per form, so a revalidation of an
// unchanged file is a 304. Unknown files are 404s; the client's routes get
// the page.
func TestEmbeddedClientCompression(t *testing.T) {
	js := strings.Repeat("console.log('minichat');\n", 200)
	web := fstest.MapFS{
		"index.html":              {Data: []byte("<!doctype html><html>" + strings.Repeat("<p>minichat</p>", 100) + "</html>")},
		"assets/app-3f2a1c.js":    {Data: []byte(js)},
		"assets/app-3f2a1c.js.br": {Data: []byte("pretend brotli")},
		"assets/app-3f2a1c.css":   {Data: []byte(strings.Repeat("body{color:red}\n", 100))},
		"favicon.svg":             {Data: []byte("<svg/>")},
	}
	srv, err := server.New(server.Config{DataDir: t.TempDir()}, zerolog.Nop(), web)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(func() { srv.Close(); ts.Close() })
	tr := &http.Transport{DisableCompression: true}
	t.Cleanup(tr.CloseIdleConnections)
	get := func(path string, hdr ...string) (*http.Response, []byte) {
		req, _ := http.NewRequest("GET", ts.URL+path, nil)
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp, b
	}
	// tr never asks for gzip by itself, so the bytes on the wire are
	// what the test sees.
	gunzip := func(b []byte) string {
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("not gzip: %v", err)
		}
		out, _ := io.ReadAll(zr)
		return string(out)
	}

	resp, body := get("/assets/app-3f2a1c.js", "Accept-Encoding", "gzip, deflate, br")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Encoding") != "br" || string(body) != "pretend brotli" ||
		resp.Header.Get("Vary") != "Accept-Encoding" || !strings.Contains(resp.Header.Get("Content-Type"), "javascript") {
		t.Fatalf("br asset: %d %v %q", resp.StatusCode, resp.Header, body)
	}
	brTag := resp.Header.Get("ETag")
	resp, body = get("/assets/app-3f2a1c.js", "Accept-Encoding", "gzip")
	if resp.Header.Get("Content-Encoding") != "gzip" || gunzip(body) != js || !strings.Contains(resp.Header.Get("Cache-Control"), "immutable") {
		t.Fatalf("gzip asset: %v", resp.Header)
	}
	gzTag := resp.Header.Get("ETag")
	resp, body = get("/assets/app-3f2a1c.js", "Accept-Encoding", "br;q=0, identity")
	if resp.Header.Get("Content-Encoding") != "" || string(body) != js {
		t.Fatalf("identity asset: %v", resp.Header)
	}
	plainTag := resp.Header.Get("ETag")
	if brTag == "" || brTag == gzTag || gzTag == plainTag || !strings.HasPrefix(plainTag, `"`) {
		t.Fatalf("ETags %q %q %q: one per form", brTag, gzTag, plainTag)
	}

	// index.html: revalidated, with an ETag, compressed too.
	resp, body = get("/", "Accept-Encoding", "gzip")
	tag := resp.Header.Get("ETag")
	if resp.StatusCode != 200 || resp.Header.Get("Cache-Control") != "no-cache" || tag == "" || !strings.Contains(gunzip(body), "<p>minichat</p>") {
		t.Fatalf("index: %d %v", resp.StatusCode, resp.Header)
	}
	if resp, _ = get("/r/general", "Accept-Encoding", "gzip", "If-None-Match", tag); resp.StatusCode != 304 {
		t.Fatalf("index revalidated: %d, want 304", resp.StatusCode)
	}
	if resp, _ = get("/", "If-None-Match", tag); resp.StatusCode != 200 {
		t.Fatalf("index with another form's ETag: %d, want 200", resp.StatusCode)
	}

	// Small files stay as they are; unknown files are 404s.
	if resp, body = get("/favicon.svg", "Accept-Encoding", "gzip, br"); resp.Header.Get("Content-Encoding") != "" || string(body) != "<svg/>" {
		t.Fatalf("favicon: %v %q", resp.Header, body)
	}
	for _, p := range []string{"/robots.txt", "/favicon.ico", "/assets/app-old.js", "/assets/app-3f2a1c.js.br", "/deep/path/x.png"} {
		if resp, _ := get(p); resp.StatusCode != 404 {
			t.Errorf("%s: %d, want 404", p, resp.StatusCode)
		}
	}
	for _, p := range []string{"/join/abc", "/r/general", "/index.html"} {
		if resp, body := get(p); resp.StatusCode != 200 || !strings.Contains(string(body), "<p>minichat</p>") {
			t.Errorf("%s: %d, want the page", p, resp.StatusCode)
		}
	}
}

// JSON answers above a small size are gzipped for clients that accept it;
// small ones (and clients that do not) get plain JSON.
func TestJSONCompression(t *testing.T) {
	e := newEnv(t)
	alice, _, _, _, general := e.aliceAndBob()
	for i := range 30 {
		if st, out := e.call("POST", "/api/rooms/"+general+"/messages", alice.Token, map[string]any{"text": fmt.Sprint("message number ", i)}); st != 201 {
			t.Fatalf("send: %d %v", st, out)
		}
	}
	tr := &http.Transport{DisableCompression: true}
	t.Cleanup(tr.CloseIdleConnections)
	get := func(path, enc string) *http.Response {
		req, _ := http.NewRequest("GET", e.ts.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+alice.Token)
		if enc != "" {
			req.Header.Set("Accept-Encoding", enc)
		}
		resp, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}
	resp := get("/api/rooms/"+general+"/messages", "gzip, br")
	zr, err := gzip.NewReader(resp.Body)
	if err != nil || resp.Header.Get("Content-Encoding") != "gzip" || resp.Header.Get("Vary") != "Accept-Encoding" {
		t.Fatalf("history: %v %v", err, resp.Header)
	}
	b, _ := io.ReadAll(zr)
	if !strings.Contains(string(b), "message number 29") {
		t.Fatalf("history body %q", b)
	}
	if resp := get("/api/rooms/"+general+"/messages", ""); resp.Header.Get("Content-Encoding") != "" {
		t.Fatalf("history without Accept-Encoding: %v", resp.Header)
	}
	if resp := get("/api/me", "gzip"); resp.Header.Get("Content-Encoding") != "" || resp.StatusCode != 200 {
		t.Fatalf("small answer: %d %v", resp.StatusCode, resp.Header)
	}
}
