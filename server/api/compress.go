package api

import (
	"compress/gzip"
	"net/http"
	"sync"
)

// minGzipJSON is the smallest JSON body worth compressing: below it the
// gzip header and the CPU cost more than the bytes saved.
const minGzipJSON = 1024

// gzipPool holds gzip writers at BestSpeed: JSON of messages shrinks about
// fivefold even so, for a fraction of the CPU of the default level.
var gzipPool = sync.Pool{New: func() any {
	zw, _ := gzip.NewWriterLevel(nil, gzip.BestSpeed)
	return zw
}}

// compressJSON gzips JSON answers of at least minGzipJSON bytes for
// clients that accept gzip (a history page of 50 messages is ~15 KB). It
// holds the first minGzipJSON bytes to decide, so a small answer goes out
// as it is. WebSocket frames are not compressed (see docs/operations.md).
func compressJSON(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Add("Vary", "Accept-Encoding")
		if !accepts(r.Header.Get("Accept-Encoding"), "gzip") {
			next.ServeHTTP(w, r)
			return
		}
		cw := &gzipWriter{ResponseWriter: w}
		defer cw.finish()
		next.ServeHTTP(cw, r)
	})
}

// gzipWriter buffers the start of a body until it knows whether to gzip.
type gzipWriter struct {
	http.ResponseWriter
	status  int
	buf     []byte
	decided bool
	zw      *gzip.Writer
}

func (g *gzipWriter) WriteHeader(status int) {
	if g.status == 0 {
		g.status = status
	}
}

func (g *gzipWriter) Write(p []byte) (int, error) {
	if g.status == 0 {
		g.status = http.StatusOK
	}
	if g.decided {
		if g.zw != nil {
			return g.zw.Write(p)
		}
		return g.ResponseWriter.Write(p)
	}
	g.buf = append(g.buf, p...)
	if len(g.buf) >= minGzipJSON {
		if err := g.decide(true); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

// decide sends the header and what is held, compressed when big says so
// and the body is JSON not already encoded.
func (g *gzipWriter) decide(big bool) error {
	g.decided = true
	h := g.Header()
	if big && h.Get("Content-Encoding") == "" && isJSON(h.Get("Content-Type")) && g.status != http.StatusNoContent {
		h.Set("Content-Encoding", "gzip")
		h.Del("Content-Length")
		g.zw = gzipPool.Get().(*gzip.Writer)
		g.zw.Reset(g.ResponseWriter)
	}
	g.ResponseWriter.WriteHeader(g.status)
	var err error
	if g.zw != nil {
		_, err = g.zw.Write(g.buf)
	} else if len(g.buf) > 0 {
		_, err = g.ResponseWriter.Write(g.buf)
	}
	g.buf = nil
	return err
}

// finish sends whatever is held and ends the gzip stream.
func (g *gzipWriter) finish() {
	if !g.decided {
		if g.status == 0 {
			return // nothing written: the server answers 200 with no body
		}
		_ = g.decide(false)
	}
	if g.zw != nil {
		_ = g.zw.Close()
		g.zw.Reset(nil)
		gzipPool.Put(g.zw)
		g.zw = nil
	}
}

// Unwrap lets http.ResponseController reach the connection.
func (g *gzipWriter) Unwrap() http.ResponseWriter { return g.ResponseWriter }

func isJSON(ctype string) bool {
	return len(ctype) >= 16 && ctype[:16] == "application/json"
}
