package ws

import "time"

// After a reconnect storm — thousands of sockets opened within seconds —
// the heap is mostly garbage of their upgrades, welcomes and catch-ups. With
// chat traffic alone the runtime may not collect for minutes (the next
// collection waits until the heap doubles again, or for its two-minute
// timer), so the process would keep the storm's peak as its size. The
// settler runs one collection once a storm is over and gives the freed
// memory back to the system at once (debug.FreeOSMemory; after a
// 10,000-socket storm RSS settled 20-30 MiB lower than with the background
// scavenger alone, one run each). It is one collection per storm, not a
// periodic one: forcing collections under steady heavy traffic costs
// latency.

// settleEvery is how often the settler looks at the count of opened
// sockets.
const settleEvery = 5 * time.Second

// A storm is at least stormOpens sockets opened within one settleEvery; it
// is over once fewer than quietOpens open within one.
const (
	stormOpens = 1000
	quietOpens = 50
)

// stormWatch tells, from the running count of opened sockets read every
// settleEvery, when a storm has just ended.
type stormWatch struct {
	last    uint64
	inStorm bool
}

// observe takes the current count and reports whether a storm ended since
// the previous reading.
func (s *stormWatch) observe(opened uint64) bool {
	n := opened - s.last
	s.last = opened
	switch {
	case n >= stormOpens:
		s.inStorm = true
	case s.inStorm && n < quietOpens:
		s.inStorm = false
		return true
	}
	return false
}

// settle runs until the Handler stops, collecting once after each storm.
func (h *Handler) settle() {
	defer h.wg.Done()
	t := time.NewTicker(settleEvery)
	defer t.Stop()
	var w stormWatch
	for {
		select {
		case <-h.stopped:
			return
		case <-t.C:
			if w.observe(h.stats.accepted.Load()) {
				h.opts.collect()
			}
		}
	}
}
