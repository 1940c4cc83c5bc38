package auth

import (
	"context"
	"runtime"
)

// Limiter bounds how many password hashes run at once. Each argon2id hash
// holds Params.MemoryKiB of memory for its duration, so without a bound a
// burst of logins could exhaust memory; with one, excess logins wait.
//
// A Limiter is a counting semaphore and is safe for concurrent use.
type Limiter struct {
	// sem holds one token per slot in use: Acquire sends, Release receives.
	sem chan struct{}
}

// NewLimiter returns a Limiter that admits n holders at once. If n < 1 it
// uses runtime.NumCPU().
func NewLimiter(n int) *Limiter {
	if n < 1 {
		n = runtime.NumCPU()
	}
	return &Limiter{sem: make(chan struct{}, n)}
}

// Acquire waits for a free slot or for ctx to be done. It returns nil once
// the caller holds a slot, which it must give back with Release; otherwise it
// returns ctx.Err() and the caller holds nothing.
func (l *Limiter) Acquire(ctx context.Context) error {
	// Check ctx first so an already-cancelled caller never takes a slot,
	// even when one is free.
	if err := ctx.Err(); err != nil {
		return err
	}
	select {
	case l.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Release gives back a slot taken by a successful Acquire. Calling it more
// times than Acquire succeeded is a programming error and panics.
func (l *Limiter) Release() {
	select {
	case <-l.sem:
	default:
		panic("auth: Release without matching Acquire")
	}
}
