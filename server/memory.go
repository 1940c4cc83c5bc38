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
// what it held right after the last trim, and less than slack was allocated
// since the last look, it forces one collection and returns the free memory
// (debug.FreeOSMemory). A busy server never trims — it collects by itself,
// and a forced collection with a full return of free memory under load was
// measured to cost hundreds of milliseconds of p99 latency at 1.5M
// deliveries/s — while a settled one trims once after each burst and not
// again until it grows by slack.
type memoryTrimmer struct {
	interval time.Duration
	slack    uint64
	// trim is debug.FreeOSMemory and read reads the runtime's metrics:
	// tests replace both.
	trim func()
	read func() heapFigures

	samples []metrics.Sample
	cycles  uint64 // completed collections at the last look
	floor   uint64 // heap held right after the last trim (or its lowest since)
	allocs  uint64 // bytes allocated in all at the last look
}

const (
	trimInterval = 15 * time.Second
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
			{Name: "/gc/heap/allocs:bytes"},
		},
	}
	m.read = m.readRuntime
	return m
}

// heapFigures are the completed collections, the heap held (not released to
// the operating system) and the part of it that is free spans.
type heapFigures struct{ cycles, held, free, allocs uint64 }

func (m *memoryTrimmer) readRuntime() heapFigures {
	metrics.Read(m.samples)
	f := heapFigures{
		cycles: m.samples[0].Value.Uint64(),
		free:   m.samples[3].Value.Uint64(),
		allocs: m.samples[4].Value.Uint64(),
	}
	for _, s := range m.samples[1:4] {
		f.held += s.Value.Uint64()
	}
	return f
}

// check looks once and trims when the heap sat large without collecting;
// it reports whether it trimmed.
func (m *memoryTrimmer) check() bool {
	f := m.read()
	collected := f.cycles != m.cycles
	busy := f.allocs-m.allocs > m.slack
	m.cycles, m.allocs = f.cycles, f.allocs
	m.floor = min(m.floor, f.held)
	if collected || busy || f.held <= m.floor+m.slack {
		return false
	}
	m.trim()
	m.reset()
	return true
}

// reset takes the figures after a trim (or at the start) as the new floor.
func (m *memoryTrimmer) reset() {
	f := m.read()
	m.cycles, m.floor, m.allocs = f.cycles, f.held, f.allocs
}

// run checks every interval until ctx ends.
func (m *memoryTrimmer) run(ctx context.Context) {
	m.reset()
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
