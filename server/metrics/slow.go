package metrics

import (
	"slices"
	"sync"
	"time"

	"github.com/rs/zerolog"
)

// Commit latency watch: the p99 of the store's commits over windows of
// slowWindow, compared with a threshold. It feeds one warning line (at
// most one a minute while it lasts) and /readyz's "degraded".
const (
	slowWindow     = 10 * time.Second
	slowSamples    = 4096 // per window; more commits than that are not sampled
	slowWarnEvery  = time.Minute
	slowStaleAfter = 3 * slowWindow // a verdict older than this says nothing
)

// DefaultSlowCommit is the default threshold of WatchCommits.
const DefaultSlowCommit = 250 * time.Millisecond

// commitWatch is the state of WatchCommits. ObserveCommit (the store's
// writer) and Degraded (readiness checks) share it under mu; the work per
// commit is an append, and a sort of at most slowSamples values once a
// window.
type commitWatch struct {
	threshold time.Duration
	log       zerolog.Logger
	now       func() time.Time

	mu       sync.Mutex
	start    time.Time       // guarded by mu: the current window's start
	samples  []time.Duration // guarded by mu: the current window's commits
	p99      time.Duration   // guarded by mu: of the last full window
	at       time.Time       // guarded by mu: when that window ended
	slow     bool            // guarded by mu: p99 > threshold
	lastWarn time.Time       // guarded by mu
}

// WatchCommits makes the registry log a warning when the p99 of the
// store's commit latency over 10 s passes threshold (at most one line a
// minute while it stays above, one line when it is back under) and report
// the store as degraded meanwhile (Degraded). A negative threshold, or
// none set, watches nothing. Call it before the store commits anything.
func (m *Metrics) WatchCommits(threshold time.Duration, log zerolog.Logger) {
	if threshold <= 0 {
		return
	}
	m.watch = &commitWatch{threshold: threshold, log: log, now: time.Now, samples: make([]time.Duration, 0, 256)}
}

// observe records one commit's latency.
func (w *commitWatch) observe(took time.Duration) {
	now := w.now()
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.start.IsZero() {
		w.start = now
	}
	if now.Sub(w.start) >= slowWindow && len(w.samples) > 0 {
		w.roll(now)
	}
	if len(w.samples) < slowSamples {
		w.samples = append(w.samples, took)
	}
}

// roll closes the current window: its p99 becomes the verdict.
func (w *commitWatch) roll(now time.Time) {
	slices.Sort(w.samples)
	n := len(w.samples)
	w.p99 = w.samples[min(n-1, n*99/100)]
	w.at = now
	was := w.slow
	w.slow = w.p99 > w.threshold
	switch {
	case w.slow && (!was || now.Sub(w.lastWarn) >= slowWarnEvery):
		w.lastWarn = now
		w.log.Warn().Dur("p99", w.p99).Dur("threshold", w.threshold).Int("commits", n).
			Msg("store commits are slow: acks wait on the database (see --slow-commit)")
	case !w.slow && was:
		w.log.Info().Dur("p99", w.p99).Dur("threshold", w.threshold).Msg("store commit latency is back under the threshold")
	}
	w.samples = w.samples[:0]
	w.start = now
}

// degraded returns the last window's p99 when it passed the threshold and
// is recent.
func (w *commitWatch) degraded() (time.Duration, bool) {
	now := w.now()
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.start.IsZero() && now.Sub(w.start) >= slowWindow && len(w.samples) > 0 {
		w.roll(now)
	}
	if !w.slow || now.Sub(w.at) > slowStaleAfter {
		return 0, false
	}
	return w.p99, true
}

// Degraded reports, when the store's recent commits are slower than the
// WatchCommits threshold at the 99th percentile, that p99 and true.
func (m *Metrics) Degraded() (p99 time.Duration, slow bool) {
	if m.watch == nil {
		return 0, false
	}
	return m.watch.degraded()
}
