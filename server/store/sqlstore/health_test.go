package sqlstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/rs/zerolog"

	"minichat/server/store"
)

// TestHealthLogsAnOutageOnce refuses writes for three minutes through a
// clock of the test's own: one line when the database goes away, one
// summary a minute while it stays away, one when it is back; the retry
// hint starts near 1 s and grows to about 5 s.
func TestHealthLogsAnOutageOnce(t *testing.T) {
	var buf bytes.Buffer
	log := zerolog.New(&buf)
	now := time.Unix(1000, 0)
	h := newHealth(store.Options{Log: &log, Now: func() time.Time { return now }})
	refused := fmt.Errorf("begin write batch: %w", &dialError{syscall.ECONNREFUSED})
	if !unreachable(refused) {
		t.Fatal("connection refused is not unreachable")
	}

	var first, last time.Duration
	for i := range 1800 { // one batch of 10 writes every 100 ms for 3 minutes
		err := h.failed(refused, 10)
		var ue *store.UnavailableError
		if !errors.As(err, &ue) || !errors.Is(err, store.ErrUnavailable) {
			t.Fatalf("failed returned %v, want an UnavailableError", err)
		}
		if i == 0 {
			first = ue.RetryAfter
		}
		last = ue.RetryAfter
		now = now.Add(100 * time.Millisecond)
	}
	if first < minRetry || first > minRetry*5/4 {
		t.Errorf("first hint %v, want 1 s to 1.25 s", first)
	}
	if last < maxRetry || last > maxRetry*5/4 {
		t.Errorf("hint after 3 minutes %v, want 5 s to 6.25 s", last)
	}
	if a := h.availability(); a.Up || a.Refused != 18000 {
		t.Errorf("availability %+v, want down with 18000 refused", a)
	}
	h.ok()
	h.ok()
	if a := h.availability(); !a.Up {
		t.Error("still down after ok")
	}
	out := buf.String()
	for msg, want := range map[string]int{"database unavailable": 1, "database still unavailable": 2, "database is back": 1} {
		if n := strings.Count(out, msg); n != want {
			t.Errorf("%d lines %q, want %d:\n%s", n, msg, want, out)
		}
	}
	if !strings.Contains(out, `"refused_writes":18000`) {
		t.Errorf("the line of the return does not count the refused writes:\n%s", out)
	}
}

// dialError stands for the error a dial gets: it wraps a syscall errno.
type dialError struct{ err error }

func (e *dialError) Error() string { return "dial tcp 127.0.0.1:5432: " + e.err.Error() }
func (e *dialError) Unwrap() error { return e.err }

func TestUnreachableTellsOutagesFromRefusals(t *testing.T) {
	for _, c := range []struct {
		err  error
		want bool
	}{
		{&pgconn.PgError{Code: "57P01"}, true},  // admin shutdown
		{&pgconn.PgError{Code: "08006"}, true},  // connection failure
		{&pgconn.PgError{Code: "23505"}, false}, // unique key
		{&pgconn.PgError{Code: "40P01"}, false}, // deadlock
		{fmt.Errorf("x: %w", pgconn.ErrConnClosed), true},
		{errors.New("some rule"), false},
		{fmt.Errorf("read: %w", context.Canceled), false},         // the caller went away
		{fmt.Errorf("read: %w", context.DeadlineExceeded), false}, // the caller's deadline
		{store.ErrNotFound, false},
	} {
		if got := unreachable(c.err); got != c.want {
			t.Errorf("unreachable(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}
