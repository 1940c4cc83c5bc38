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
// objects, free and unused spans not yet returned) and forces one
// collection that returns the free memory (debug.FreeOSMemory) when either
//   - more than slack of it is free spans the runtime keeps for later
//     (the garbage of a burst, found by a collection), or
//   - no collection has completed since the last look and the heap holds
//     more than slack above what it held right after the last trim (a burst
//     not collected yet).
//
// So it trims at most once an interval, and an idle server trims once after
// each burst and not again until it grows by slack. The cost is at most one
// extra collection an interval.
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
		},
	}
	m.read = m.readRuntime
	return m
}

// heapFigures are the completed collections, the heap held (not released to
// the operating system) and the part of it that is free spans.
type heapFigures struct{ cycles, held, free uint64 }

func (m *memoryTrimmer) readRuntime() heapFigures {
	metrics.Read(m.samples)
	f := heapFigures{cycles: m.samples[0].Value.Uint64(), free: m.samples[3].Value.Uint64()}
	for _, s := range m.samples[1:] {
		f.held += s.Value.Uint64()
	}
	return f
}

// check looks once and trims when the heap sat large without collecting;
// it reports whether it trimmed.
func (m *memoryTrimmer) check() bool {
	f := m.read()
	collected := f.cycles != m.cycles
	m.cycles = f.cycles
	m.floor = min(m.floor, f.held)
	settled := !collected && f.held > m.floor+m.slack
	if f.free <= m.slack && !settled {
		return false
	}
	m.trim()
	m.reset()
	return true
}

// reset takes the figures after a trim (or at the start) as the new floor.
func (m *memoryTrimmer) reset() {
	f := m.read()
	m.cycles, m.floor = f.cycles, f.held
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
