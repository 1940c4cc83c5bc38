package ws

import "testing"

func TestStormWatchCollectsOnceAfterEachStorm(t *testing.T) {
	var w stormWatch
	var opened uint64
	step := func(n uint64) bool { opened += n; return w.observe(opened) }
	for i, tc := range []struct {
		opens uint64
		want  bool
	}{
		{10, false},   // a few sockets: no storm
		{999, false},  // busy, but not a storm
		{2500, false}, // a storm begins
		{1200, false}, // still storming
		{200, false},  // slowing, not quiet yet
		{3, true},     // quiet: the storm is over, collect once
		{0, false},    // and only once
		{0, false},
		{5000, false}, // a second storm
		{49, true},
		{1000, false}, // a third, ended by silence
		{0, true},
	} {
		if got := step(tc.opens); got != tc.want {
			t.Fatalf("step %d (%d opened): collect=%v, want %v", i, tc.opens, got, tc.want)
		}
	}
}
