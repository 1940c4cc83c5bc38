package metrics

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// TestCommitWatchWarnsOnceAndDegrades feeds commits through a clock of the
// test's own: a window whose p99 passes the threshold logs one warning and
// makes the store degraded; more slow windows within the minute add no
// line; a fast window logs that it is over and ends the degraded state; a
// verdict nobody refreshed stops counting.
func TestCommitWatchWarnsOnceAndDegrades(t *testing.T) {
	var buf bytes.Buffer
	m := New("test")
	m.WatchCommits(250*time.Millisecond, zerolog.New(&buf))
	now := time.Unix(1000, 0)
	m.watch.now = func() time.Time { return now }
	// window makes one window of commits: fast ones of 10 ms, then slow
	// ones of 400 ms, and ends it.
	window := func(fast, slow int) {
		for range fast {
			m.ObserveCommit(1, 10*time.Millisecond)
		}
		for range slow {
			m.ObserveCommit(1, 400*time.Millisecond)
		}
		now = now.Add(slowWindow)
	}
	commits := func(took time.Duration, n int) {
		if took > 250*time.Millisecond {
			window(0, n)
		} else {
			window(n, 0)
		}
	}

	commits(10*time.Millisecond, 100)
	if _, slow := m.Degraded(); slow {
		t.Fatal("degraded after fast commits")
	}
	// 98 fast commits and 2 slow ones: the p99 is slow.
	window(98, 2)
	if p99, slow := m.Degraded(); !slow || p99 != 400*time.Millisecond {
		t.Fatalf("Degraded() = %v, %v after a slow window, want 400ms, true", p99, slow)
	}
	commits(400*time.Millisecond, 100)
	commits(400*time.Millisecond, 100)
	if n := strings.Count(buf.String(), "store commits are slow"); n != 1 {
		t.Fatalf("%d warnings within a minute, want 1:\n%s", n, buf.String())
	}
	commits(10*time.Millisecond, 100)
	if _, slow := m.Degraded(); slow {
		t.Fatal("still degraded after a fast window")
	}
	if !strings.Contains(buf.String(), "back under the threshold") {
		t.Fatalf("no line when latency came back:\n%s", buf.String())
	}

	commits(400*time.Millisecond, 100)
	commits(400*time.Millisecond, 1)
	if _, slow := m.Degraded(); !slow {
		t.Fatal("not degraded after another slow window")
	}
	now = now.Add(slowStaleAfter + time.Second)
	if _, slow := m.Degraded(); slow {
		t.Fatal("a verdict older than slowStaleAfter still counts")
	}
}

func TestCommitWatchOff(t *testing.T) {
	m := New("test")
	m.WatchCommits(-1, zerolog.Nop())
	m.ObserveCommit(1, time.Hour)
	if _, slow := m.Degraded(); slow {
		t.Fatal("degraded with the watch off")
	}
}
