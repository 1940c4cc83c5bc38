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
// revalidated (no-cache + ETag). index.html answers the client's own routes
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
		ctype:    mime.TypeByExtension(path.Ext(name)),
		etag:     `"` + base64.RawURLEncoding.EncodeToString(sum[:12]),
		body:     body,
		longLive: strings.HasPrefix(name, "assets/"),
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
