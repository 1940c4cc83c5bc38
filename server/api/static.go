package api

import (
	"bytes"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"
)

// static serves the built client: files as they are, hashed /assets/*
// cached for a year, and index.html (no-cache) for every other GET so the
// client's own routes survive a reload.
type static struct {
	web   fs.FS
	index []byte
}

const placeholder = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>minichat</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body><h1>minichat</h1>
<p>The server is running, but this binary was built without the web client.
Build it with <code>npm ci &amp;&amp; npm run build</code>, then <code>go build</code> again
(or use <code>make build</code>). The HTTP and WebSocket API work as documented.</p>
</body></html>
`

func newStatic(web fs.FS) *static {
	s := &static{web: web, index: []byte(placeholder)}
	if web != nil {
		if b, err := fs.ReadFile(web, "index.html"); err == nil {
			s.index = b
		} else {
			s.web = nil
		}
	}
	return s
}

func (s *static) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		writeError(w, r, errNotFound(r))
		return
	}
	name := strings.TrimPrefix(path.Clean(r.URL.Path), "/")
	if s.web != nil && name != "" && name != "index.html" {
		if f, err := s.web.Open(name); err == nil {
			st, err := f.Stat()
			f.Close()
			if err == nil && !st.IsDir() {
				if strings.HasPrefix(name, "assets/") {
					w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
				} else {
					w.Header().Set("Cache-Control", "no-cache")
				}
				http.ServeFileFS(w, r, s.web, name)
				return
			}
		}
		if strings.HasPrefix(name, "assets/") {
			// A missing hashed asset is an old page asking for a file of
			// an earlier build: a 404, not the SPA.
			http.NotFound(w, r)
			return
		}
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	http.ServeContent(w, r, "index.html", time.Time{}, bytes.NewReader(s.index))
}
