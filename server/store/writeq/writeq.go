// Package writeq is the write queue of the stores: callers queue writes
// without waiting for a commit in progress, and one writer goroutine takes
// everything queued at once and runs it in batches, so that many writes
// share one commit (group commit). What a batch does — the transaction, the
// SQL — is the store's; the queue, the hand-over between a caller and the
// writer, and the answers are here.
package writeq

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
)

// Ticket states. A write is queued until the writer takes it or its caller
// gives up; exactly one of the two wins the compare-and-swap from queued.
const (
	queued int32 = iota
	taken
	abandoned
)

// Ticket is the queue's part of a write: a store's write type embeds it.
type Ticket struct {
	state atomic.Int32
	done  chan error  // buffered 1, for a caller that waits (Submit)
	then  func(error) // for a caller that does not (Async)
}

// WriteTicket returns t; through embedding it makes a store's write an Item.
func (t *Ticket) WriteTicket() *Ticket { return t }

// Take marks the write as taken by the writer, unless its caller gave up
// first; it reports whether the writer may run it.
func (t *Ticket) Take() bool { return t.state.CompareAndSwap(queued, taken) }

// Taken reports whether the writer took the write (and so must answer it).
func (t *Ticket) Taken() bool { return t.state.Load() == taken }

// answer hands the caller the write's result.
func (t *Ticket) answer(err error) {
	if t.then != nil {
		t.then(err)
	} else {
		t.done <- err
	}
}

// Item is a store's write type: a pointer to a struct embedding Ticket.
type Item interface{ WriteTicket() *Ticket }

// Queue holds the writes waiting for the writer.
type Queue[T Item] struct {
	errClosed error

	mu     sync.Mutex
	items  []T  // guarded by mu
	closed bool // guarded by mu: set by Close, after which nothing is queued
	wake   chan struct{}
	quit   chan struct{}
}

// New returns an empty queue whose writes fail with errClosed once closed.
func New[T Item](errClosed error) *Queue[T] {
	return &Queue[T]{errClosed: errClosed, wake: make(chan struct{}, 1), quit: make(chan struct{})}
}

func (q *Queue[T]) enqueue(it T) bool {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return false
	}
	q.items = append(q.items, it)
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
	return true
}

// Submit queues it and waits for its result. A caller whose ctx ends before
// the writer takes the write gets ctx.Err() and the write never runs; once
// taken, the write completes and its result is returned whatever ctx does.
func (q *Queue[T]) Submit(ctx context.Context, it T) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	t := it.WriteTicket()
	t.done = make(chan error, 1)
	if !q.enqueue(it) {
		return q.errClosed
	}
	select {
	case err := <-t.done:
		return err
	case <-ctx.Done():
		if t.state.CompareAndSwap(queued, abandoned) {
			return ctx.Err()
		}
		return <-t.done
	}
}

// Async queues it without waiting: then gets its result, called by the
// writer once its batch has committed or failed, and must not block. It
// reports false, without calling then, when the queue is closed.
func (q *Queue[T]) Async(it T, then func(error)) bool {
	it.WriteTicket().then = then
	return q.enqueue(it)
}

// Run is the writer's loop: it takes every queued write at once and hands
// them to run in batches of at most maxBatch, until Close. It returns once
// every write queued before Close has been run.
func (q *Queue[T]) Run(maxBatch int, run func(batch []T)) {
	var spare []T
	for {
		select {
		case <-q.wake:
		case <-q.quit:
		}
		// Let the callers answered by the last commit, now runnable, queue
		// their next write before the batch is closed: without this yield
		// they split into two groups that alternate between commits,
		// halving every batch and doubling the commits per write.
		runtime.Gosched()
		q.mu.Lock()
		all, closed := q.items, q.closed
		q.items = spare[:0]
		q.mu.Unlock()
		for batch := all; len(batch) > 0; {
			n := min(len(batch), maxBatch)
			run(batch[:n])
			batch = batch[n:]
		}
		clear(all) // drop the writes so their results can be collected
		spare = all
		if closed {
			// closed was set before quit was closed, so nothing can have
			// been queued after this take.
			return
		}
	}
}

// Close stops taking writes and makes Run return after the last batch.
func (q *Queue[T]) Close() {
	q.mu.Lock()
	defer q.mu.Unlock()
	if !q.closed {
		q.closed = true
		close(q.quit)
	}
}

// Closed reports whether Close has been called.
func (q *Queue[T]) Closed() bool {
	select {
	case <-q.quit:
		return true
	default:
		return false
	}
}

// Answer hands every taken write of batch its result: all when the whole
// batch failed, else its own entry of errs (nil on success).
func Answer[T Item](batch []T, errs []error, all error) {
	for i, it := range batch {
		t := it.WriteTicket()
		if !t.Taken() {
			continue
		}
		err := errs[i]
		if all != nil {
			err = all
		}
		t.answer(err)
	}
}
