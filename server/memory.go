package server

import (
	"context"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// memoryTrimmer hands heap memory back to the operating system after a
// burst — a reconnect storm, a run of large replays — that the Go runtime
// would otherwise keep for minutes: a busy heap collects itself often, but
// one that grew in a burst and then settled has a high collection goal, so
// no collection runs, nothing is found free, and the process stays at its
// peak.
//
// Every interval it looks at the heap the process holds (live and dead
// objects, free and unused spans not yet returned). When no collection has
// completed since the last look and the heap holds more than slack above
// what it held right after the last trim, it forces one collection and
// returns the free memory (debug.FreeOSMemory). A busy server therefore
// never trims (it collects by itself), and an idle one trims once after each
// burst and not again until it grows by slack.
type memoryTrimmer struct {
	interval time.Duration
	slack    uint64
	// trim is debug.FreeOSMemory and read reads the runtime's metrics:
	// tests replace both.
	trim func()
	read func() (cycles, held uint64)

	samples []metrics.Sample
	cycles  uint64 // completed collections at the last look
	floor   uint64 // heap held right after the last trim (or its lowest since)
}

const (
	trimInterval = 30 * time.Second
	trimSlack    = 64 << 20
)

func newMemoryTrimmer(interval time.Duration, slack uint64) *memoryTrimmer {
	m := &memoryTrimmer{
		interval: interval,
		slack:    slack,
		trim:     debug.FreeOSMemory,
		samples: []metrics.Sample{
			{Name: "/gc/cycles/total:gc-cycles"},
			{Name: "/memory/classes/heap/objects:bytes"},
			{Name: "/memory/classes/heap/unused:bytes"},
			{Name: "/memory/classes/heap/free:bytes"},
		},
	}
	m.read = m.readRuntime
	return m
}

// readRuntime returns the completed collections and the heap held (not
// released to the operating system).
func (m *memoryTrimmer) readRuntime() (cycles, held uint64) {
	metrics.Read(m.samples)
	cycles = m.samples[0].Value.Uint64()
	for _, s := range m.samples[1:] {
		held += s.Value.Uint64()
	}
	return cycles, held
}

// check looks once and trims when the heap sat large without collecting;
// it reports whether it trimmed.
func (m *memoryTrimmer) check() bool {
	cycles, held := m.read()
	collected := cycles != m.cycles
	m.cycles = cycles
	if held < m.floor {
		m.floor = held
	}
	if collected || held <= m.floor+m.slack {
		return false
	}
	m.trim()
	m.cycles, m.floor = m.read()
	return true
}

// run checks every interval until ctx ends.
func (m *memoryTrimmer) run(ctx context.Context) {
	m.cycles, m.floor = m.read()
	t := time.NewTicker(m.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			m.check()
		}
	}
}
