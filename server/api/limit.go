package api

import (
	"math"
	"net/http"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"minichat/server/protocol"
)

// Limiter is a token bucket per key (a user id, a client address, an
// account name): Allow takes one token from the key's bucket or says how
// long until one is there. It never waits and never holds its lock while
// anything waits, so it can sit in front of any handler.
//
// Buckets are created on first use and forgotten once they are full again
// (their key has been quiet for burst/rate), so memory follows the keys
// active in that window, not every key ever seen. A Limiter is safe for
// concurrent use.
type Limiter struct {
	limit rate.Limit
	burst int
	// full is how long an untouched bucket takes to refill completely;
	// after it, the bucket equals a fresh one and can be dropped.
	full time.Duration
	now  func() time.Time

	mu      sync.Mutex
	buckets map[string]*bucket // guarded by mu
	swept   time.Time          // guarded by mu: last sweep
}

type bucket struct {
	lim  *rate.Limiter
	last time.Time // last Allow of this key
}

// NewLimiter returns a Limiter of perSecond tokens per second and bursts
// of burst per key. perSecond <= 0 returns nil, and a nil Limiter allows
// everything.
func NewLimiter(perSecond float64, burst int) *Limiter {
	if perSecond <= 0 {
		return nil
	}
	burst = max(burst, 1)
	full := time.Duration(math.Ceil(float64(burst)/perSecond*float64(time.Second))) + time.Second
	return &Limiter{
		limit:   rate.Limit(perSecond),
		burst:   burst,
		full:    full,
		now:     time.Now,
		buckets: make(map[string]*bucket),
	}
}

// Allow takes a token of key. When none is left it returns false and how
// long until the next one; the attempt costs nothing then.
func (l *Limiter) Allow(key string) (bool, time.Duration) {
	if l == nil {
		return true, 0
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.swept) > l.full {
		l.sweepLocked(now)
	}
	b := l.buckets[key]
	if b == nil {
		b = &bucket{lim: rate.NewLimiter(l.limit, l.burst)}
		l.buckets[key] = b
	}
	b.last = now
	r := b.lim.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}

// sweepLocked forgets the buckets that have refilled.
func (l *Limiter) sweepLocked(now time.Time) {
	for k, b := range l.buckets {
		if now.Sub(b.last) > l.full {
			delete(l.buckets, k)
		}
	}
	l.swept = now
}

// errLimited is the answer to a request over a limit: 429 with Retry-After.
func errLimited(what string, wait time.Duration) error {
	return &protocol.CodeError{Code: protocol.CodeRateLimited, Msg: "too many " + what + "; try again later", RetryAfter: max(wait, time.Millisecond)}
}

// PerUser returns middleware that charges each request to the signed-in
// user's bucket of l and answers 429 (rate_limited, with Retry-After) when
// it is empty. It belongs after requireAuth, on routes that write: REST
// sends, uploads. A nil l lets everything through.
func (a *api) PerUser(l *Limiter, what string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		if l == nil {
			return next
		}
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if ok, wait := l.Allow(sessionOf(r).User.ID); !ok {
				writeError(w, r, errLimited(what, wait))
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// Peek reports whether key has a token left, without taking it, and if not
// how long until it has. Paired with Allow after the fact it charges only
// some outcomes (failed sign-ins) while refusing early once the bucket is
// empty.
func (l *Limiter) Peek(key string) (bool, time.Duration) {
	if l == nil {
		return true, 0
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[key]
	if b == nil {
		return true, 0
	}
	if t := b.lim.TokensAt(now); t < 1 {
		return false, time.Duration((1 - t) / float64(l.limit) * float64(time.Second))
	}
	return true, 0
}

// uploadReadTimeout is how long an upload's body may take to arrive: the
// server's read timeout (60 s by default) suits JSON bodies, not 25 MiB
// from a slow link.
const uploadReadTimeout = 10 * time.Minute

// allowSlowBody returns middleware that moves the request's read deadline
// to d from now, for routes whose bodies are large (uploads); every other
// request keeps the server's read timeout.
func allowSlowBody(d time.Duration) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			// Not every ResponseWriter supports it (httptest's recorder);
			// then the server's own timeout, if any, stays.
			_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(d))
			next.ServeHTTP(w, r)
		})
	}
}
