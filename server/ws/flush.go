package ws

import (
	"runtime"
	"sync"
	"time"

	"github.com/coder/websocket"

	"minichat/server/protocol"
)

// The write path. A connection has no writer goroutine of its own: when
// the hub queues frames for it, kick puts it on the Handler's flush queue,
// and a few flushers — at most one per CPU — take every waiting frame of
// each queued connection and write them as one WebSocket message. The
// socket under the WebSocket library is a sockWriter, which never blocks
// its caller: a write the kernel cannot take whole leaves the rest in a
// backlog that a goroutine of its own (drain) writes while the flushers go
// on with other connections. A connection with a backlog takes no more
// frames until it is written, so its hub queue grows, and a client that
// does not read is closed 4429 as before.
//
// The flushers frame their messages themselves and hand each to the
// sockWriter whole (socket.go says why, and what of the WebSocket library
// that relies on).
//
// Waking a goroutine per connection for every fan-out would put hundreds
// of writers in the run queue at once, ahead of the readers and the store
// writer, which then wait for the whole sweep; a few flushers that yield
// between short runs of writes let them in.

// Connection write states.
const (
	flushIdle   int32 = iota // nothing queued, or frames that no kick has seen yet
	flushQueued              // on the flush queue or being flushed
	flushDone                // closing or closed: never queued again
)

// flushChunk is how many connections a flusher takes from the queue at a
// time; it yields to other goroutines between chunks.
const flushChunk = 32

// flushLinger is how long an idle flusher waits for work before it exits.
const flushLinger = time.Second

// flushPool is the Handler's queue of connections with frames to write.
type flushPool struct {
	mu      sync.Mutex
	queue   []*conn // queue[head:] wait, in kick order
	head    int
	running int // flushers alive
	idle    int // flushers waiting for work
	max     int
	wake    chan struct{} // capacity max: one token per idle flusher to wake
}

// schedule queues c for a flusher, starting one when none is free: at
// the back, or at the front for a connection whose socket has just taken
// a backlog (it waited for its client, not for its turn). The caller holds
// a count of the Handler's WaitGroup (a reader, flusher or closer of a
// connection, or a drain), so the count never drops to zero in between.
func (h *Handler) schedule(c *conn, front bool) {
	p := &h.flush
	p.mu.Lock()
	switch {
	case !front:
		if len(p.queue) == cap(p.queue) && p.head >= len(p.queue)/2 {
			// Full, and at least half of it already taken: move the
			// waiting part to the front rather than grow. Under steady
			// load the queue never empties, and growing it would copy
			// it into a new array for every sweep.
			n := copy(p.queue, p.queue[p.head:])
			clear(p.queue[n:])
			p.queue, p.head = p.queue[:n], 0
		}
		p.queue = append(p.queue, c)
	case p.head > 0:
		p.head--
		p.queue[p.head] = c
	default:
		p.queue = append(p.queue, nil)
		copy(p.queue[1:], p.queue)
		p.queue[0] = c
	}
	switch {
	case p.idle > 0:
		select {
		case p.wake <- struct{}{}:
		default:
		}
	case p.running < p.max:
		p.running++
		h.wg.Add(1)
		go h.flushLoop()
	}
	p.mu.Unlock()
}

// flusher holds one flusher's reusable buffers.
type flusher struct {
	chunk []*conn
	batch [][]byte
	msg   []byte // the frames of one write, after frameHeadroom bytes for the header
}

// flushLoop writes for queued connections until the queue stays empty for
// flushLinger (or at once, once the Handler is shutting down).
func (h *Handler) flushLoop() {
	defer h.wg.Done()
	p := &h.flush
	f := &flusher{msg: make([]byte, 0, frameHeadroom+joinBufSize)}
	linger := time.NewTimer(flushLinger)
	defer linger.Stop()
	for {
		p.mu.Lock()
		for p.head == len(p.queue) {
			// The array is kept: a connection is queued at most once, so
			// it never needs more than a few entries (8 bytes each) per
			// connection there has been, and letting it go would regrow
			// it from nothing for every fan-out to a large room.
			p.queue, p.head = p.queue[:0], 0
			select {
			case <-h.stopped:
				p.running--
				p.mu.Unlock()
				return
			default:
			}
			p.idle++
			p.mu.Unlock()
			linger.Reset(flushLinger)
			timedOut := false
			select {
			case <-p.wake:
				linger.Stop()
			case <-linger.C:
				timedOut = true
			case <-h.stopped:
			}
			p.mu.Lock()
			p.idle--
			if timedOut && p.head == len(p.queue) {
				p.running--
				p.mu.Unlock()
				return
			}
		}
		n := min(len(p.queue)-p.head, flushChunk)
		f.chunk = append(f.chunk[:0], p.queue[p.head:p.head+n]...)
		clear(p.queue[p.head : p.head+n])
		p.head += n
		p.mu.Unlock()
		for _, c := range f.chunk {
			c.flush(f)
		}
		clear(f.chunk)
		runtime.Gosched()
	}
}

// kick queues the connection for a flusher unless it is queued already.
// The hub calls it, under the hub connection's lock, whenever frames are
// waiting or the connection must close; a drained backlog calls it too.
func (c *conn) kick() { c.enqueue(false) }

// drained is kick for a connection whose backlog has just been written:
// it goes to the front of the queue, so that a client slow to read is not
// also kept waiting for every other connection's turn.
func (c *conn) drained() { c.enqueue(true) }

func (c *conn) enqueue(front bool) {
	if c.state.CompareAndSwap(flushIdle, flushQueued) {
		c.h.schedule(c, front)
	}
}

// flush writes what is waiting for c: at most maxWrite bytes of frames as
// one message. A connection that must close goes to a closer of its own.
func (c *conn) flush(f *flusher) {
	if c.sw.blocked() && !c.hc.Closed() {
		c.flushed() // the drain kicks again once the socket takes more
		return
	}
	batch, closed := c.hc.Take(f.batch[:0], maxWrite)
	f.batch = batch
	if closed {
		c.state.Store(flushDone)
		c.h.wg.Add(1) // the flusher holds a count
		go c.finish()
		return
	}
	if len(batch) == 0 {
		c.flushed()
		return
	}
	var buf []byte
	if len(batch) == 1 && len(batch[0]) > joinBufSize {
		// One large frame (a welcome listing many people): a borrowed
		// buffer rather than one made for it (bufpool.go).
		buf = append(borrow(frameHeadroom + len(batch[0]))[:frameHeadroom], batch[0]...)
	} else {
		buf = f.msg[:frameHeadroom]
		for i, fr := range batch {
			if i > 0 {
				buf = append(buf, '\n')
			}
			buf = append(buf, fr...)
		}
		if cap(buf) <= frameHeadroom+joinBufSize {
			f.msg = buf[:0]
		}
	}
	clear(batch)
	var err error
	if libraryWriter {
		err = c.ws.Write(c.ctx, websocket.MessageText, buf[frameHeadroom:])
	} else {
		err = c.sw.writeMessage(textFrame(buf))
	}
	// Both writers are done with buf: what the kernel did not take is in
	// the sockWriter's backlog.
	giveBack(buf)
	if err != nil {
		c.state.Store(flushDone)
		c.hc.Close(protocol.CloseInternal, "write failed")
		// The first close wins: a slow consumer closed 4429 while its
		// backlog was stuck is counted as such.
		c.h.stats.closedWith(c.hc.CloseCode())
		_ = c.ws.CloseNow()
		c.h.opts.Hub.Unregister(c.hc)
		return
	}
	c.flushed()
}

// flushed ends a flush: c is idle again, or queued once more (at the back)
// if frames are still waiting and the socket can take them.
func (c *conn) flushed() {
	c.state.Store(flushIdle)
	if pending, closed := c.hc.PendingClosed(); closed || pending && !c.sw.blocked() {
		c.kick()
	}
}

// finish closes the socket of a closed hub connection: the close frame,
// then (bounded) the peer's.
func (c *conn) finish() {
	defer c.h.wg.Done()
	code, reason := c.hc.CloseCode()
	c.h.stats.closedWith(code, reason)
	c.h.opts.Hub.Unregister(c.hc)
	// Close sends the close frame and waits (bounded) for the peer's.
	c.closing.Lock()
	_ = c.ws.Close(websocket.StatusCode(code), reason)
	c.closing.Unlock()
}
