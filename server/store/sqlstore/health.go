package sqlstore

import (
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/rs/zerolog"

	"minichat/server/store"
)

// Retry hints of an unavailable database: the first refusals ask the
// client to come back after about minRetry; the hint grows with the time
// the database has been away, up to about maxRetry.
const (
	minRetry = time.Second
	maxRetry = 5 * time.Second
)

// summaryEvery spaces the lines logged while the database stays away.
const summaryEvery = time.Minute

// health tracks whether the database answers, from what writes and reads
// find, and logs the changes: one line when it goes away, one when it is
// back, and at most one summary per summaryEvery in between. Safe for
// concurrent use (the writer and the readers report to it).
type health struct {
	log *zerolog.Logger // nil: nothing logged
	now func() time.Time

	mu       sync.Mutex
	up       bool      // guarded by mu
	since    time.Time // guarded by mu: when up last changed
	refused  uint64    // guarded by mu: writes refused since the start
	atDown   uint64    // guarded by mu: refused when the database went away
	lastLine time.Time // guarded by mu: the last line logged while away
	lineAt   uint64    // guarded by mu: refused at that line
}

func newHealth(opts store.Options) *health {
	return &health{log: opts.Log, now: opts.Now, up: true, since: opts.Now()}
}

// availability returns the current state.
func (h *health) availability() store.Availability {
	h.mu.Lock()
	defer h.mu.Unlock()
	return store.Availability{Up: h.up, Since: h.since, Refused: h.refused}
}

// failed records that the database could not be reached (err), with writes
// the number of writes refused because of it, and returns the error to
// hand the callers: an *store.UnavailableError with its retry hint.
func (h *health) failed(err error, writes int) error {
	now := h.now()
	h.mu.Lock()
	h.refused += uint64(writes)
	if h.up {
		h.up, h.since, h.atDown = false, now, h.refused-uint64(writes)
		h.lastLine, h.lineAt = now, h.atDown
		h.mu.Unlock()
		if h.log != nil {
			h.log.Error().Err(err).Msg("database unavailable: writes are refused (clients retry) until it answers again")
		}
	} else if now.Sub(h.lastLine) >= summaryEvery {
		n, away := h.refused-h.lineAt, now.Sub(h.since)
		h.lastLine, h.lineAt = now, h.refused
		h.mu.Unlock()
		if h.log != nil {
			h.log.Warn().Err(err).Uint64("refused_writes", n).Dur("down_for", away).Msg("database still unavailable")
		}
	} else {
		h.mu.Unlock()
	}
	return &store.UnavailableError{RetryAfter: h.retryAfter(now), Err: err}
}

// ok records that the database answered.
func (h *health) ok() {
	h.mu.Lock()
	if h.up {
		h.mu.Unlock()
		return
	}
	now := h.now()
	away, n := now.Sub(h.since), h.refused-h.atDown
	h.up, h.since = true, now
	h.mu.Unlock()
	if h.log != nil {
		h.log.Info().Dur("down_for", away).Uint64("refused_writes", n).Msg("database is back: writes go through again")
	}
}

// retryAfter is the hint of a refusal at now: the time the database has
// been away, within [minRetry, maxRetry], plus up to a quarter of it at
// random so that the clients of a node do not all come back at once.
func (h *health) retryAfter(now time.Time) time.Duration {
	h.mu.Lock()
	away := now.Sub(h.since)
	h.mu.Unlock()
	base := min(max(away, minRetry), maxRetry)
	return base + rand.N(base/4+1)
}

// unreachable reports an error that says the database cannot be reached
// (rather than that it refused a statement): a failed connection attempt,
// a connection refused, reset or closed under the driver, the server
// shutting down or not accepting connections yet, or too many of them.
//
// A caller's context ending (canceled, or its deadline) says nothing of the
// database, and is not one: the writer counts its batch's own deadline
// itself (batchFailed).
func unreachable(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case strings.HasPrefix(pe.Code, "08"): // connection exception
			return true
		case pe.Code == "57P01", pe.Code == "57P02", pe.Code == "57P03": // shutdown, crash, cannot connect now
			return true
		case pe.Code == "53300": // too many connections
			return true
		}
		return false
	}
	var ce *pgconn.ConnectError
	var ne net.Error
	switch {
	case errors.As(err, &ce):
		return true
	case errors.Is(err, pgconn.ErrConnClosed), errors.Is(err, net.ErrClosed):
		return true
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return true
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.EPIPE), errors.Is(err, syscall.ECONNABORTED),
		errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return true
	case errors.As(err, &ne) && ne.Timeout():
		return true
	}
	return false
}
