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

// placeholder is the page of a binary built without the web client, in
// the client's own colours and sign-in card (frontend/src/styles.css), with
// the commands that fix it for both ways of running the server.
const placeholder = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>minichat — web client not built</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
:root{--font:ui-sans-serif,system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans","Helvetica Neue",Arial,sans-serif;
--mono:ui-monospace,"SFMono-Regular",Menlo,Consolas,"Liberation Mono",monospace;--bg:#fff;--bg-soft:#f7f7f9;
--border:#e4e4ea;--text:#1d1d24;--muted:#6c6c7a;--accent:#4f46e5;--accent-soft:#eef0ff;
--shadow:0 10px 30px rgba(20,20,40,.14),0 2px 6px rgba(20,20,40,.08)}
@media (prefers-color-scheme:dark){:root{--bg:#1a1b20;--bg-soft:#202128;--border:#2c2d35;--text:#e9e9ee;
--muted:#9294a2;--accent:#7c78f4;--accent-soft:#27264a;--shadow:0 12px 32px rgba(0,0,0,.5),0 2px 6px rgba(0,0,0,.4)}}
*{box-sizing:border-box;margin:0}
html,body{height:100%}
body{font:15px/1.5 var(--font);color:var(--text);min-height:100%;display:grid;place-items:center;padding:24px 16px;
background:radial-gradient(1200px 600px at 10% -10%,color-mix(in srgb,var(--accent) 14%,transparent),transparent 60%),
radial-gradient(900px 500px at 110% 110%,color-mix(in srgb,#ec4899 10%,transparent),transparent 60%),var(--bg-soft)}
main{width:100%;max-width:520px;padding:32px;border-radius:16px;background:var(--bg);border:1px solid var(--border);box-shadow:var(--shadow)}
h1{font-size:24px;letter-spacing:-.02em;margin-bottom:6px}
h2{font-size:15px;margin:18px 0 6px}
p{color:var(--muted)}
pre{font:13px/1.6 var(--mono);background:var(--accent-soft);border-radius:10px;padding:10px 14px;overflow-x:auto;color:var(--text)}
code{font-family:var(--mono);font-size:13px}
</style></head>
<body><main>
<h1>minichat</h1>
<p>The server is running, but the web client has not been built, so there is no chat here yet.
The HTTP and WebSocket API work as documented.</p>
<h2>Running with <code>go run</code></h2>
<pre>npm ci &amp;&amp; npm run build
go run .</pre>
<h2>Building a binary</h2>
<pre>npm ci &amp;&amp; npm run build
go build -o minichat . &amp;&amp; ./minichat</pre>
<p style="margin-top:14px">The client is embedded when Go compiles the server, so rebuild (or run again) after building it;
<code>make run</code> and <code>make build</code> do both steps.</p>
</main></body></html>
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
