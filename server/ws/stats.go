package ws

import (
	"strconv"
	"sync/atomic"

	"minichat/server/hub"
	"minichat/server/protocol"
)

// closeCodes are the close codes counted one by one; any other code is
// counted as "other", so the set of counters stays fixed whatever a client
// sends.
var closeCodes = [...]int{
	protocol.CloseNormal, protocol.CloseGoingAway, protocol.CloseTooBig, protocol.CloseInternal,
	protocol.CloseUnauthenticated, protocol.CloseHeartbeat, protocol.CloseTooSlow,
}

// stats are the Handler's counters, each updated with one atomic add when
// a socket opens or closes, never per frame.
type stats struct {
	accepted   atomic.Uint64
	slowClosed atomic.Uint64
	closed     [len(closeCodes) + 1]atomic.Uint64 // by closeCodes index; last: other
}

func (s *stats) closedWith(code int, reason string) {
	i := len(closeCodes)
	for j, c := range closeCodes {
		if c == code {
			i = j
			break
		}
	}
	s.closed[i].Add(1)
	if code == protocol.CloseTooSlow && reason == hub.ReasonTooSlow {
		s.slowClosed.Add(1)
	}
}

// Stats are the Handler's counters for monitoring.
type Stats struct {
	// Open is the number of sockets open now.
	Open int
	// Accepted counts the sockets accepted since start.
	Accepted uint64
	// SlowClosed counts the sockets closed (4429) because their send queue
	// overflowed: clients that did not read fast enough.
	SlowClosed uint64
	// Closed counts closed sockets by close code ("1000", "4429", …;
	// "other" for codes outside a fixed set).
	Closed map[string]uint64
}

// Stats returns the Handler's counters; safe for concurrent use.
func (h *Handler) Stats() Stats {
	h.mu.Lock()
	open := len(h.conns)
	h.mu.Unlock()
	s := Stats{
		Open:       open,
		Accepted:   h.stats.accepted.Load(),
		SlowClosed: h.stats.slowClosed.Load(),
		Closed:     make(map[string]uint64, len(closeCodes)+1),
	}
	for i := range h.stats.closed {
		name := "other"
		if i < len(closeCodes) {
			name = strconv.Itoa(closeCodes[i])
		}
		s.Closed[name] = h.stats.closed[i].Load()
	}
	return s
}
