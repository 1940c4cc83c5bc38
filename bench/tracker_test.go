package bench

import "testing"

func TestTrackerInOrder(t *testing.T) {
	tr := newTracker(10)
	for s := int64(11); s <= 20; s++ {
		if got := tr.seen(s); got != seqNew {
			t.Fatalf("seen(%d) = %d", s, got)
		}
	}
	if !tr.complete(20) || tr.lost(20) != 0 {
		t.Fatal("in-order log reported incomplete")
	}
	if tr.complete(21) || tr.lost(25) != 5 {
		t.Fatalf("lost(25) = %d, want 5", tr.lost(25))
	}
}

func TestTrackerGapAndLateFill(t *testing.T) {
	tr := newTracker(0)
	tr.seen(1)
	tr.seen(4) // 2 and 3 missing
	if tr.lost(4) != 2 {
		t.Fatalf("lost %d, want 2", tr.lost(4))
	}
	if tr.seen(3) != seqNew {
		t.Fatal("late 3 not new")
	}
	if tr.lost(4) != 1 || tr.complete(4) {
		t.Fatalf("lost %d, want 1", tr.lost(4))
	}
	if tr.seen(3) != seqDup || tr.seen(4) != seqDup || tr.seen(1) != seqDup {
		t.Fatal("repeats not reported as such")
	}
}

func TestTrackerOwnAck(t *testing.T) {
	// The sender's connection: ack of 2 arrives before the message frame of 2.
	tr := newTracker(0)
	tr.seen(1)
	if !tr.acked(2) {
		t.Fatal("ack of 2 not new")
	}
	if tr.acked(2) {
		t.Fatal("repeated ack counted twice")
	}
	if tr.seen(2) != seqAcked {
		t.Fatal("message 2 after its ack should be neither new nor a repeat")
	}
	// Ack of 4 first, then 3 and 5 — the frame of 4 never comes.
	tr.acked(4)
	tr.seen(3)
	if tr.seen(5) != seqNew {
		t.Fatal("5 not new")
	}
	if tr.lost(5) != 0 {
		t.Fatalf("lost %d, want 0 (4 came by its ack)", tr.lost(5))
	}
	// A frame after the ack of an already-seen message: nothing changes.
	if tr.acked(5) {
		t.Fatal("ack of a seen message counted as new")
	}
	// An ack that fills a gap.
	tr.seen(7)
	if tr.lost(7) != 1 || !tr.acked(6) || tr.lost(7) != 0 {
		t.Fatal("ack did not fill the gap")
	}
	// Only acked so far: final beyond last but covered by the ack.
	tr.acked(8)
	if !tr.complete(8) {
		t.Fatal("complete should count the acked-ahead seq")
	}
}

func TestTrackerHugeGap(t *testing.T) {
	tr := newTracker(0)
	tr.seen(maxMissing + 1001)
	if got := tr.lost(maxMissing + 1001); got != maxMissing+1000 {
		t.Fatalf("lost %d, want %d", got, maxMissing+1000)
	}
}

// A range a capped replay left out and named is not lost: seqs already
// seen are not counted, the others are counted as skipped.
func TestTrackerSkippedRangeIsNotLost(t *testing.T) {
	tr := newTracker(10)
	tr.seen(11)
	// The replay after since 11 starts at 21; synced names 12..20.
	for s := int64(21); s <= 25; s++ {
		tr.seen(s)
	}
	if tr.lost(25) != 9 {
		t.Fatalf("lost %d before synced, want 9", tr.lost(25))
	}
	if n := tr.skip(12, 20); n != 9 {
		t.Fatalf("skipped %d, want 9", n)
	}
	if tr.lost(25) != 0 || !tr.complete(25) {
		t.Fatalf("lost %d after synced named the range", tr.lost(25))
	}
	// Named before anything after it arrived: the stream goes on above it.
	tr = newTracker(0)
	if n := tr.skip(1, 5); n != 5 || tr.seen(6) != seqNew || tr.lost(6) != 0 {
		t.Fatalf("skip ahead: %d, lost %d", n, tr.lost(6))
	}
}
