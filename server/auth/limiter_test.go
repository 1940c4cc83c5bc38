package auth

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
)

func TestLimiterBoundsConcurrency(t *testing.T) {
	const n, workers = 3, 50
	l := NewLimiter(n)
	var inFlight, peak atomic.Int32
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			if err := l.Acquire(context.Background()); err != nil {
				t.Error(err)
				return
			}
			cur := inFlight.Add(1)
			for {
				old := peak.Load()
				if cur <= old || peak.CompareAndSwap(old, cur) {
					break
				}
			}
			runtime.Gosched()
			inFlight.Add(-1)
			l.Release()
		})
	}
	wg.Wait()
	if p := peak.Load(); p > n || p < 1 {
		t.Errorf("peak holders = %d, want 1..%d", p, n)
	}
}

func TestLimiterBlocksWhenFull(t *testing.T) {
	l := NewLimiter(2)
	ctx := context.Background()
	for range 2 {
		if err := l.Acquire(ctx); err != nil {
			t.Fatal(err)
		}
	}
	acquired := make(chan error)
	go func() { acquired <- l.Acquire(ctx) }()
	select {
	case err := <-acquired:
		t.Fatalf("Acquire on a full limiter returned %v before any Release", err)
	default:
	}
	l.Release()
	if err := <-acquired; err != nil {
		t.Fatalf("Acquire after Release: %v", err)
	}
	l.Release()
	l.Release()
}

func TestLimiterCancelled(t *testing.T) {
	l := NewLimiter(1)

	// An already-cancelled context takes no slot, even when one is free.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := l.Acquire(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Acquire(cancelled) = %v, want context.Canceled", err)
	}
	if err := l.Acquire(context.Background()); err != nil {
		t.Fatalf("slot was taken by a cancelled Acquire: %v", err)
	}

	// A waiter is released by cancellation while the limiter stays full.
	ctx, cancel = context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- l.Acquire(ctx) }()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("waiting Acquire after cancel = %v, want context.Canceled", err)
	}
	l.Release()
}

func TestLimiterReleaseWithoutAcquirePanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("Release without Acquire did not panic")
		}
	}()
	NewLimiter(1).Release()
}

func TestNewLimiterDefault(t *testing.T) {
	if got, want := cap(NewLimiter(0).sem), runtime.NumCPU(); got != want {
		t.Errorf("NewLimiter(0) capacity = %d, want %d", got, want)
	}
}
