package ws

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
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
