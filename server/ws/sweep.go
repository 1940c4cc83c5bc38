package ws

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"minichat/server/protocol"
)

// sweepSlices spreads the heartbeat: connections are dealt into this many
// slices as they open, and each tick of the sweeper (a heartbeat divided
// by sweepSlices) pings and checks one slice, so every connection is still
// pinged once per heartbeat. Pinging every socket at once made every
// client answer at once: with 19,000 sockets, a second in which each
// message waited behind 19,000 pings and 19,000 pongs, every 25 s (it set
// the p99 of a 19,000-subscriber run).
const sweepSlices = 25

// sweep runs until the Handler stops. Each tick it pings the connections
// of one slice and closes those of them that sent nothing for two
// heartbeats (4408); it aborts writes stuck for longer than the write
// timeout on every connection. One goroutine for all connections costs
// less than a timer per connection and needs no context per write.
func (h *Handler) sweep() {
	defer h.wg.Done()
	t := time.NewTicker(max(h.opts.Heartbeat/sweepSlices, time.Millisecond))
	defer t.Stop()
	var conns []*conn
	var slice uint32
	for {
		select {
		case <-h.stopped:
			return
		case now := <-t.C:
			slice = (slice + 1) % sweepSlices
			conns = conns[:0]
			h.mu.Lock()
			for c := range h.conns {
				conns = append(conns, c)
			}
			h.mu.Unlock()
			// A client answering every ping is never more than one interval
			// silent; the half interval of slack absorbs timer jitter.
			silent := (2*h.opts.Heartbeat + h.opts.Heartbeat/2).Nanoseconds()
			for _, c := range conns {
				if since := c.sw.since.Load(); since != 0 && now.UnixNano()-since > h.opts.WriteTimeout.Nanoseconds() {
					c.logger().Warn().Msg("write stuck; closing")
					_ = c.ws.CloseNow()
					continue
				}
				if c.slice != slice {
					continue
				}
				if now.UnixNano()-c.hc.LastSeen() > silent {
					c.hc.Close(protocol.CloseHeartbeat, "heartbeat missed")
					continue
				}
				c.hc.Send(h.ping)
			}
			clear(conns)
		}
	}
}

// smallBuffers hands the WebSocket library smaller buffers than net/http's
// 4 KiB pair, which a connection would otherwise keep for its whole life.
// After the upgrade it holds the socket and the reader's buffer, for the
// idle waiter.
type smallBuffers struct {
	http.ResponseWriter
	readSize, writeSize int

	wg *sync.WaitGroup // the Handler's, for the sockWriter's drains

	nc       net.Conn
	br       *bufio.Reader
	sw       *sockWriter
	leftover int // bytes the client sent before the upgrade was answered
}

func (s *smallBuffers) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// idleWaiter returns a waiter for the hijacked socket, or nil: a client that
// sent bytes before the upgrade was answered has them in a reader the
// WebSocket library keeps to itself, so it keeps the plain read loop.
func (s *smallBuffers) idleWaiter() *idleWaiter {
	if s.nc == nil || s.leftover > 0 {
		return nil
	}
	return newIdleWaiter(s.nc, s.br)
}

func (s *smallBuffers) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	nc, brw, err := http.NewResponseController(s.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	// Bytes the client sent after the handshake may already sit in
	// net/http's reader: carry them over into the new one.
	n := brw.Reader.Buffered()
	leftover, _ := brw.Reader.Peek(n)
	leftover = append([]byte(nil), leftover...)
	br := bufio.NewReaderSize(io.MultiReader(&byteReader{b: leftover}, nc), max(s.readSize, n))
	if n > 0 {
		if _, err := br.Peek(n); err != nil {
			nc.Close()
			return nil, nil, err
		}
	}
	s.nc, s.br, s.leftover = nc, br, n
	s.sw = newSockWriter(nc, s.wg)
	return nc, bufio.NewReadWriter(br, bufio.NewWriterSize(s.sw, s.writeSize)), nil
}

type byteReader struct{ b []byte }

func (r *byteReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.b)
	r.b = r.b[n:]
	return n, nil
}

// writeError answers an HTTP request refused before the upgrade.
func writeError(w http.ResponseWriter, err error) {
	code := protocol.ErrorCode(err)
	msg := "internal error"
	var ce *protocol.CodeError
	if errors.As(err, &ce) {
		msg = ce.Msg
		if ce.RetryAfter > 0 {
			w.Header().Set("Retry-After", strconv.FormatInt(int64((ce.RetryAfter+time.Second-1)/time.Second), 10))
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(protocol.HTTPStatus(code))
	_ = json.NewEncoder(w).Encode(protocol.ErrorBody{Error: protocol.ErrorDetail{Code: code, Message: msg}})
}
