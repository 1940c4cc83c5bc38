package api

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/base64"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
	"time"
)

// static serves the built client from memory: every file read once at
// start-up with its compressed forms (the build's .br and .gz beside it, or
// gzip made here when the build left none), chosen by Accept-Encoding, with
// a strong ETag per form. Hashed /assets/* are cached for a year, the rest
// revalidated (no-cache + ETag): the service worker /sw.js and the manifest
// among them, so a new build reaches browsers on their next check. index.html answers the client's own routes
// (paths without a file extension) so they survive a reload; an unknown
// file is a real 404, never the page.
type static struct {
	files map[string]*asset
	index *asset
}

// asset is one file in its forms.
type asset struct {
	ctype    string
	etag     string // quoted hash of body; forms add a suffix
	body     []byte
	br, gz   []byte // nil when the form is absent or no smaller
	longLive bool   // a hashed asset: immutable for a year
}

// compressible lists the types worth compressing (images and fonts are
// compressed already).
var compressible = map[string]bool{
	".js": true, ".mjs": true, ".css": true, ".html": true, ".svg": true,
	".json": true, ".txt": true, ".map": true, ".webmanifest": true, ".xml": true,
}

// types names the types the system's table may lack: the web app manifest
// (browsers want its own type) and the service worker's script.
var types = map[string]string{
	".webmanifest": "application/manifest+json",
	".js":          "text/javascript; charset=utf-8",
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
	s := &static{files: map[string]*asset{}}
	if web != nil {
		if _, err := fs.Stat(web, "index.html"); err != nil {
			web = nil
		}
	}
	if web == nil {
		s.index = newAsset("index.html", []byte(placeholder), nil, nil)
		return s
	}
	_ = fs.WalkDir(web, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasSuffix(name, ".br") || strings.HasSuffix(name, ".gz") || path.Base(name) == ".keep" {
			return nil
		}
		body, err := fs.ReadFile(web, name)
		if err != nil {
			return nil
		}
		br, _ := fs.ReadFile(web, name+".br")
		gz, _ := fs.ReadFile(web, name+".gz")
		s.files[name] = newAsset(name, body, br, gz)
		return nil
	})
	s.index = s.files["index.html"]
	return s
}

// newAsset prepares a file: its type, ETag and compressed forms. A form is
// kept only when it saves at least a tenth.
func newAsset(name string, body, br, gz []byte) *asset {
	sum := sha256.Sum256(body)
	a := &asset{
		ctype:    types[path.Ext(name)],
		etag:     `"` + base64.RawURLEncoding.EncodeToString(sum[:12]),
		body:     body,
		longLive: strings.HasPrefix(name, "assets/"),
	}
	if a.ctype == "" {
		a.ctype = mime.TypeByExtension(path.Ext(name))
	}
	if a.ctype == "" {
		a.ctype = "application/octet-stream"
	}
	if !compressible[path.Ext(name)] {
		return a
	}
	if gz == nil {
		var b bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&b, gzip.BestCompression)
		_, _ = zw.Write(body)
		_ = zw.Close()
		gz = b.Bytes()
	}
	small := func(c []byte) []byte {
		if len(c) > 0 && len(c) <= len(body)*9/10 {
			return c
		}
		return nil
	}
	a.br, a.gz = small(br), small(gz)
	return a
}

func (s *static) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		writeError(w, r, errNotFound(r))
		return
	}
	name := strings.TrimPrefix(path.Clean(r.URL.Path), "/")
	a := s.files[name]
	if a == nil {
		if name != "" && (strings.HasPrefix(name, "assets/") || strings.Contains(path.Base(name), ".")) {
			// A file that is not there — a hashed asset of an earlier
			// build, /robots.txt, /favicon.ico — is a 404, not the page.
			writeError(w, r, errNotFound(r))
			return
		}
		a = s.index // "" (the root) or one of the client's routes
	}
	a.serve(w, r)
}

// serve writes the form of a the request accepts, answering a matching
// If-None-Match with 304.
func (a *asset) serve(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	if a.longLive {
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		h.Set("Cache-Control", "no-cache")
	}
	h.Set("Content-Type", a.ctype) // set, so ServeContent never sniffs a compressed body
	body, etag := a.body, a.etag
	if a.br != nil || a.gz != nil {
		h.Add("Vary", "Accept-Encoding")
		switch enc := r.Header.Get("Accept-Encoding"); {
		case a.br != nil && accepts(enc, "br"):
			body, etag = a.br, a.etag+"-br"
			h.Set("Content-Encoding", "br")
		case a.gz != nil && accepts(enc, "gzip"):
			body, etag = a.gz, a.etag+"-gz"
			h.Set("Content-Encoding", "gzip")
		}
	}
	h.Set("ETag", etag+`"`)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
}

// accepts reports whether an Accept-Encoding header allows coding (q=0
// refuses it).
func accepts(header, coding string) bool {
	for part := range strings.SplitSeq(header, ",") {
		c, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if !strings.EqualFold(strings.TrimSpace(c), coding) {
			continue
		}
		q := strings.ReplaceAll(strings.TrimSpace(params), " ", "")
		return q != "q=0" && q != "q=0.0" && q != "q=0.00" && q != "q=0.000"
	}
	return false
}
