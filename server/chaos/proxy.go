package chaos

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Proxy is a TCP proxy on loopback between one node and one service
// (Postgres or NATS) that can delay what the service sends back. It is the
// suite's own, not toxiproxy: latency on one link is the only control the
// scenarios need, and forty lines of copying cost less than a dependency
// with its own HTTP API, registry of toxics and transitive modules.
//
// Latency is added to every chunk read from the service, in order, before
// it is written to the node (toxiproxy's "downstream"): each round trip of
// the node's protocol takes that much longer, and a steady stream is
// delayed without being slowed. A change applies to chunks read after it.
//
// When the service is down the proxy still accepts, then closes the
// connection at once, which a client sees as the service refusing it.
type Proxy struct {
	ln      net.Listener
	target  string
	latency atomic.Int64 // nanoseconds
	down    atomic.Bool  // SetDown

	mu     sync.Mutex
	links  map[*link]struct{} // guarded by mu
	closed bool               // guarded by mu
	wg     sync.WaitGroup
}

// NewProxy listens on a free loopback port and forwards every connection
// to target (host:port). Close stops it.
func NewProxy(target string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("proxy to %s: %w", target, err)
	}
	p := &Proxy{ln: ln, target: target, links: map[*link]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// Addr is the proxy's host:port, which the node is given instead of the
// service's.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// SetLatency delays every later chunk from the service by d (0: none).
func (p *Proxy) SetLatency(d time.Duration) { p.latency.Store(int64(d)) }

// SetDown(true) cuts every open connection and makes the proxy refuse new
// ones (accepted, then closed at once) as a service that went away would;
// SetDown(false) forwards again. The service itself is left alone, so a
// test can take a shared server "down" for one node only.
func (p *Proxy) SetDown(down bool) {
	p.down.Store(down)
	if !down {
		return
	}
	p.mu.Lock()
	for l := range p.links {
		l.close()
	}
	p.mu.Unlock()
}

// Close stops accepting, cuts every open connection and waits for the
// proxy's goroutines. It is safe to call more than once.
func (p *Proxy) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	err := p.ln.Close()
	for l := range p.links {
		l.close()
	}
	p.mu.Unlock()
	p.wg.Wait()
	return err
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		p.wg.Add(1)
		go p.serve(c)
	}
}

// serve dials the service for one accepted connection and copies both
// ways until either side closes, then closes both.
func (p *Proxy) serve(c net.Conn) {
	defer p.wg.Done()
	if p.down.Load() {
		c.Close()
		return
	}
	u, err := net.DialTimeout("tcp", p.target, 2*time.Second)
	if err != nil {
		c.Close()
		return
	}
	l := &link{a: c, b: u}
	p.mu.Lock()
	if p.closed || p.down.Load() {
		p.mu.Unlock()
		l.close()
		return
	}
	p.links[l] = struct{}{}
	p.mu.Unlock()

	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); l.pipe(u, c, nil) }()
	go func() { defer wg.Done(); l.pipe(c, u, &p.latency) }()
	wg.Wait()
	p.mu.Lock()
	delete(p.links, l)
	p.mu.Unlock()
}

// link is one proxied connection: a is the node's side, b the service's.
type link struct {
	a, b net.Conn
	once sync.Once
}

func (l *link) close() {
	l.once.Do(func() {
		l.a.Close()
		l.b.Close()
	})
}

// chunk is what one read returned, and when it may be written.
type chunk struct {
	data []byte
	due  time.Time
}

// pipe copies src to dst. With a latency, a reader and a writer run apart,
// joined by a bounded queue of chunks each stamped with its due time, so
// a delay holds the stream back without reordering it or slowing its
// rate (up to the queue's bound, where the reader waits: backpressure as
// on a slow link). Any error on either side closes the link.
func (l *link) pipe(dst, src net.Conn, latency *atomic.Int64) {
	defer l.close()
	buf := make([]byte, 32<<10)
	if latency == nil {
		for {
			n, err := src.Read(buf)
			if n > 0 {
				if _, werr := dst.Write(buf[:n]); werr != nil {
					return
				}
			}
			if err != nil {
				return
			}
		}
	}
	queue := make(chan chunk, 1024)
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer l.close()
		for c := range queue {
			if d := time.Until(c.due); d > 0 {
				time.Sleep(d)
			}
			if _, err := dst.Write(c.data); err != nil {
				// Drain so the reader never blocks on a full queue.
				for range queue {
				}
				return
			}
		}
	}()
	defer func() { close(queue); <-done }()
	for {
		n, err := src.Read(buf)
		if n > 0 {
			queue <- chunk{data: append([]byte(nil), buf[:n]...), due: time.Now().Add(time.Duration(latency.Load()))}
		}
		if err != nil {
			return
		}
	}
}
