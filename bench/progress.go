package bench

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/mattn/go-isatty"
)

// progressPrinter writes a progress line every cfg.Progress: rewritten in
// place with '\r' on a terminal, one line per interval otherwise (logs, CI).
type progressPrinter struct {
	w     io.Writer
	tty   bool
	every time.Duration
	start time.Time

	mu    sync.Mutex // guards phase and rs
	phase string
	rs    []runner
	done  chan struct{}
	once  sync.Once
	wg    sync.WaitGroup
}

func newProgressPrinter(w io.Writer, cfg *config, rs []runner, start time.Time) *progressPrinter {
	tty := false
	target := w
	if l, ok := w.(*lockedWriter); ok {
		target = l.w
	}
	if f, ok := target.(*os.File); ok {
		tty = isatty.IsTerminal(f.Fd())
	}
	return &progressPrinter{w: w, tty: tty, every: cfg.Progress, rs: rs, start: start, done: make(chan struct{})}
}

// setRunners sets the workers whose counters the line shows.
func (p *progressPrinter) setRunners(rs []runner) {
	p.mu.Lock()
	p.rs = rs
	p.mu.Unlock()
}

func (p *progressPrinter) setPhase(s string) {
	p.mu.Lock()
	p.phase = s
	p.mu.Unlock()
}

// run starts the printing goroutine; close stops it.
func (p *progressPrinter) run() {
	p.wg.Add(1)
	go p.loop()
}

func (p *progressPrinter) loop() {
	defer p.wg.Done()
	t := time.NewTicker(p.every)
	defer t.Stop()
	var lastDeliv int64
	last := time.Now()
	for {
		select {
		case <-p.done:
			return
		case now := <-t.C:
			p.mu.Lock()
			phase, rs := p.phase, p.rs
			p.mu.Unlock()
			var sum progress
			for _, r := range rs {
				sum.add(r.snapshot())
			}
			dps := float64(sum.Deliveries+sum.WarmDeliveries-lastDeliv) / now.Sub(last).Seconds()
			lastDeliv, last = sum.Deliveries+sum.WarmDeliveries, now
			line := progressLine(now.Sub(p.start), phase, sum, dps)
			if p.tty {
				fmt.Fprintf(p.w, "\r\033[K%s", line)
			} else {
				fmt.Fprintln(p.w, line)
			}
		}
	}
}

// close stops the loop; it may be called more than once.
func (p *progressPrinter) close() {
	p.once.Do(func() {
		close(p.done)
		p.wg.Wait()
		if p.tty {
			fmt.Fprintln(p.w)
		}
	})
}
