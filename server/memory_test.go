package server

import (
	"runtime"
	"testing"
	"time"
)

// The trimmer's policy on a scripted heap: it trims when the heap sat large
// without a collection, once per burst, never while collections run.
func TestMemoryTrimmerTrimsOnceAfterABurst(t *testing.T) {
	const MiB = 1 << 20
	h := heapFigures{cycles: 10, held: 100 * MiB}
	trims := 0
	m := newMemoryTrimmer(time.Hour, 64*MiB)
	m.read = func() heapFigures { return h }
	m.trim = func() { trims++; h = heapFigures{cycles: h.cycles + 1, held: 120 * MiB} }
	m.reset()

	steps := []struct {
		name      string
		gc        bool // a collection completed since the last look
		held      uint64
		free      uint64
		wantTrims int
		wantFloor uint64
	}{
		{"busy: the heap grows but collects by itself", true, 400 * MiB, 10 * MiB, 0, 100 * MiB},
		{"settled large without a collection", false, 400 * MiB, 10 * MiB, 1, 120 * MiB},
		{"idle at the trimmed size: no second trim", false, 130 * MiB, 0, 1, 120 * MiB},
		{"shrinks: the floor follows it down", true, 90 * MiB, 20 * MiB, 1, 90 * MiB},
		{"grows less than the slack without collecting", false, 150 * MiB, 20 * MiB, 1, 90 * MiB},
		{"busy with free spans: collections run, no trim", true, 300 * MiB, 150 * MiB, 1, 90 * MiB},
		{"another burst, not collected", false, 300 * MiB, 0, 2, 120 * MiB},
	}
	for _, s := range steps {
		if s.gc {
			h.cycles++
		}
		h.held, h.free = s.held, s.free
		before := trims
		trimmed := m.check()
		if trimmed != (trims > before) || trims != s.wantTrims || m.floor != s.wantFloor {
			t.Fatalf("%s: trimmed %v, %d trims, floor %d MiB; want %d trims, floor %d MiB",
				s.name, trimmed, trims, m.floor/MiB, s.wantTrims, s.wantFloor/MiB)
		}
	}
}

// The runtime's own figures are read: collections count up and the heap
// held covers what is live.
func TestMemoryTrimmerReadsTheRuntime(t *testing.T) {
	m := newMemoryTrimmer(time.Hour, 1)
	keep := make([]byte, 8<<20)
	for i := range keep {
		keep[i] = byte(i)
	}
	runtime.GC()
	f1 := m.read()
	if f1.held < uint64(len(keep)) || f1.free > f1.held {
		t.Fatalf("heap held %d bytes (%d free) with %d live", f1.held, f1.free, len(keep))
	}
	runtime.GC()
	if f2 := m.read(); f2.cycles <= f1.cycles {
		t.Fatalf("collections %d then %d after runtime.GC", f1.cycles, f2.cycles)
	}
	runtime.KeepAlive(keep)
}
