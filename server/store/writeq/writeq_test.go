package writeq

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"testing"
)

type write struct {
	n int
	Ticket
}

var errClosed = errors.New("closed")

// run answers every write it takes with its n as an error code: 0 is nil.
func run(ran *[]int, mu *sync.Mutex) func([]*write) {
	return func(batch []*write) {
		errs := make([]error, len(batch))
		for i, w := range batch {
			if !w.Take() {
				continue
			}
			mu.Lock()
			*ran = append(*ran, w.n)
			mu.Unlock()
			if w.n%2 == 1 {
				errs[i] = errors.New("odd")
			}
		}
		Answer(batch, errs, nil)
	}
}

func TestSubmitAsyncAndClose(t *testing.T) {
	q := New[*write](errClosed)
	var (
		mu  sync.Mutex
		ran []int
	)
	stopped := make(chan struct{})
	go func() { q.Run(3, run(&ran, &mu)); close(stopped) }()

	if err := q.Submit(context.Background(), &write{n: 2}); err != nil {
		t.Fatalf("Submit(2) = %v", err)
	}
	if err := q.Submit(context.Background(), &write{n: 1}); err == nil {
		t.Fatal("Submit(1): the write's error was not returned")
	}
	var wg sync.WaitGroup
	results := make([]error, 10)
	for i := range 10 {
		wg.Add(1)
		if !q.Async(&write{n: 10 + i}, func(err error) { results[i] = err; wg.Done() }) {
			t.Fatal("Async refused while open")
		}
	}
	wg.Wait()
	for i, err := range results {
		if (err != nil) != (i%2 == 1) {
			t.Errorf("async write %d answered %v", 10+i, err)
		}
	}

	// A caller that has given up before the writer takes its write: the
	// write never runs.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := q.Submit(ctx, &write{n: 99}); !errors.Is(err, context.Canceled) {
		t.Fatalf("Submit with a cancelled ctx = %v", err)
	}

	q.Close()
	<-stopped
	if !q.Closed() {
		t.Fatal("Closed() false after Close")
	}
	if q.Async(&write{n: 100}, func(error) { t.Error("then called after Close") }) {
		t.Fatal("Async accepted after Close")
	}
	if err := q.Submit(context.Background(), &write{n: 101}); !errors.Is(err, errClosed) {
		t.Fatalf("Submit after Close = %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(ran) != 12 {
		t.Fatalf("ran %v, want the 12 writes submitted while open", ran)
	}
	for _, n := range ran {
		if n == 99 || n >= 100 {
			t.Fatalf("ran write %d", n)
		}
	}
}

// An abandoned write stays in the queue until the writer takes the batch;
// the writer then skips it and answers nobody for it.
func TestAbandonedWriteIsSkipped(t *testing.T) {
	q := New[*write](errClosed)
	ctx, cancel := context.WithCancel(context.Background())
	abandoned := make(chan error)
	w := &write{n: 7}
	go func() { abandoned <- q.Submit(ctx, w) }()
	for { // wait until it is queued
		q.mu.Lock()
		n := len(q.items)
		q.mu.Unlock()
		if n == 1 {
			break
		}
		runtime.Gosched()
	}
	cancel()
	if err := <-abandoned; !errors.Is(err, context.Canceled) {
		t.Fatalf("abandoned Submit = %v", err)
	}
	var (
		mu  sync.Mutex
		ran []int
	)
	stopped := make(chan struct{})
	go func() { q.Run(10, run(&ran, &mu)); close(stopped) }()
	q.Close()
	<-stopped
	if len(ran) != 0 || w.Taken() {
		t.Fatalf("ran %v, taken %v: an abandoned write ran", ran, w.Taken())
	}
}
