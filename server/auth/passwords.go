package auth

import (
	"context"
	"sync"
)

// Passwords hashes and verifies passwords under one set of Params, at most
// as many at once as its Limiter admits: each argon2id hash holds
// Params.MemoryKiB for its duration, so without a bound a burst of sign-ins
// could exhaust memory; with one, excess sign-ins wait.
type Passwords struct {
	params  Params
	limiter *Limiter

	// dummy is a hash of a random password under params, made on first use:
	// a sign-in for an unknown name verifies against it, so that it costs
	// what a wrong password for a real account costs.
	dummyOnce sync.Once
	dummy     string
}

// NewPasswords returns Passwords hashing under p, n at once (n < 1: as
// many as there are CPUs).
func NewPasswords(p Params, n int) *Passwords {
	return &Passwords{params: p, limiter: NewLimiter(n)}
}

// Hash hashes password (HashPassword) once a slot is free or ctx ends.
func (p *Passwords) Hash(ctx context.Context, password string) (string, error) {
	if err := p.limiter.Acquire(ctx); err != nil {
		return "", err
	}
	defer p.limiter.Release()
	return HashPassword(password, p.params)
}

// Verify reports whether password matches encoded (VerifyPassword), once a
// slot is free or ctx ends. An empty encoded — no such account — does the
// same work against a hash made under the same parameters and reports
// false, so the answer takes as long whether or not the account exists.
func (p *Passwords) Verify(ctx context.Context, encoded, password string) (bool, error) {
	if err := p.limiter.Acquire(ctx); err != nil {
		return false, err
	}
	defer p.limiter.Release()
	if encoded != "" {
		return VerifyPassword(encoded, password)
	}
	_, _ = VerifyPassword(p.dummyHash(), password)
	return false, nil
}

func (p *Passwords) dummyHash() string {
	p.dummyOnce.Do(func() {
		pw, _, err := NewToken()
		if err == nil {
			p.dummy, err = HashPassword(pw, p.params)
		}
		if err != nil {
			// Parameters that cannot hash cannot verify either; fall back to
			// the defaults, whose cost is the closest known.
			p.dummy, _ = HashPassword(pw, DefaultParams)
		}
	})
	return p.dummy
}
