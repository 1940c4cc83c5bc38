package server

import (
	"runtime"
	"testing"
	"time"
)

// The trimmer's policy on a scripted heap: it trims only when the heap sat
// large without a collection, once per burst.
func TestMemoryTrimmerTrimsOnceAfterABurst(t *testing.T) {
	const MiB = 1 << 20
	var cycles, held uint64 = 10, 100 * MiB
	trims := 0
	m := newMemoryTrimmer(time.Hour, 64*MiB)
	m.read = func() (uint64, uint64) { return cycles, held }
	m.trim = func() { trims++; cycles++; held = 120 * MiB }
	m.cycles, m.floor = m.read()

	steps := []struct {
		name      string
		gc        bool   // a collection completed since the last look
		held      uint64 // heap held at this look
		wantTrim  bool
		wantTrims int
		wantFloor uint64
	}{
		{"busy: the heap grows but collects by itself", true, 400 * MiB, false, 0, 100 * MiB},
		{"settled large without a collection: trim", false, 400 * MiB, true, 1, 120 * MiB},
		{"idle at the trimmed size: no second trim", false, 130 * MiB, false, 1, 120 * MiB},
		{"shrinks: the floor follows it down", true, 90 * MiB, false, 1, 90 * MiB},
		{"grows less than the slack without collecting", false, 150 * MiB, false, 1, 90 * MiB},
		{"another burst", false, 300 * MiB, true, 2, 120 * MiB},
	}
	for _, s := range steps {
		if s.gc {
			cycles++
		}
		held = s.held
		if got := m.check(); got != s.wantTrim {
			t.Fatalf("%s: trimmed %v, want %v", s.name, got, s.wantTrim)
		}
		if trims != s.wantTrims || m.floor != s.wantFloor {
			t.Fatalf("%s: %d trims, floor %d MiB; want %d, %d MiB", s.name, trims, m.floor/MiB, s.wantTrims, s.wantFloor/MiB)
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
	c1, held := m.read()
	if held < uint64(len(keep)) {
		t.Fatalf("heap held %d bytes with %d live", held, len(keep))
	}
	runtime.GC()
	c2, _ := m.read()
	if c2 <= c1 {
		t.Fatalf("collections %d then %d after runtime.GC", c1, c2)
	}
	runtime.KeepAlive(keep)
}
