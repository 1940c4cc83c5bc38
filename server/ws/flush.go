package ws

import (
	"encoding/binary"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
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
// sockWriter whole (writeMessage): a server's text frame is a 2-10 byte
// header before the payload, and the library's write path (a lock, a
// message writer, its buffer and flush) cost a tenth of the server's CPU
// under fan-out. The library still reads, and writes the control frames
// (pong, close) through the same sockWriter: each reaches it as one
// Write of a whole frame (see minWriteBuffer), so the two never interleave
// within a frame, and once the library's close frame has passed no
// message follows it.
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
	buf := f.msg[:frameHeadroom]
	for i, fr := range batch {
		if i > 0 {
			buf = append(buf, '\n')
		}
		buf = append(buf, fr...)
	}
	if cap(buf) <= frameHeadroom+joinBufSize {
		f.msg = buf[:0]
	}
	clear(batch)
	var err error
	if libraryWriter {
		err = c.ws.Write(c.ctx, websocket.MessageText, buf[frameHeadroom:])
	} else {
		err = c.sw.writeMessage(textFrame(buf))
	}
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

// sockWriter is the socket as the WebSocket library writes it: every byte
// the library sends passes through Write, in order, and Write never waits
// for the client. What the kernel does not take at once goes to a backlog,
// written by a drain goroutine; bytes written meanwhile join the backlog.
type sockWriter struct {
	nc net.Conn
	// try writes without waiting and returns how much the kernel took
	// (an error only for a failed socket); nil where the socket offers no
	// such write (TLS), and then every write goes through the drain.
	try func(p []byte) (int, error)
	wg  *sync.WaitGroup // the Handler's: a drain is one of its goroutines
	// onDrained is called when a drain ends (the backlog written, or the
	// socket failed): the connection's drained.
	onDrained func()

	mu        sync.Mutex
	backlog   []byte // accepted, not written yet
	err       error  // the socket's first failure; every later write returns it
	closeSent bool   // the library's close frame has been written
	// since is when the current drain began (unix nanos), 0 when none: the
	// sweeper closes a socket whose drain is stuck past the write timeout.
	since atomic.Int64
}

func newSockWriter(nc net.Conn, wg *sync.WaitGroup) *sockWriter {
	return &sockWriter{nc: nc, try: tryWriter(nc), wg: wg}
}

// blocked reports whether a backlog waits for the client to read.
func (w *sockWriter) blocked() bool { return w.since.Load() != 0 }

// Write takes the library's writes: whole control frames (pong, close).
func (w *sockWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return 0, w.err
	}
	if err := w.writeLocked(p); err != nil {
		return 0, err
	}
	if len(p) > 0 && p[0] == finClose {
		w.closeSent = true
	}
	return len(p), nil
}

// writeMessage writes one whole frame of the flushers' own; after the
// library's close frame, none.
func (w *sockWriter) writeMessage(frame []byte) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	switch {
	case w.err != nil:
		return w.err
	case w.closeSent:
		return net.ErrClosed
	}
	return w.writeLocked(frame)
}

// writeLocked writes p now as far as the kernel takes it, and backlogs the
// rest.
func (w *sockWriter) writeLocked(p []byte) error {
	if w.since.Load() == 0 && w.try != nil {
		n, err := w.try(p)
		if err != nil {
			w.err = err
			return err
		}
		if p = p[n:]; len(p) == 0 {
			return nil
		}
	}
	w.backlog = append(w.backlog, p...)
	if w.since.Load() == 0 {
		w.since.Store(time.Now().UnixNano())
		w.wg.Add(1) // the caller is one of the Handler's goroutines
		go w.drain()
	}
	return nil
}

// drain writes the backlog, waiting for the client as long as it takes
// (the sweeper aborts a stuck one), then tells the connection.
func (w *sockWriter) drain() {
	defer w.wg.Done()
	var buf []byte
	for {
		w.mu.Lock()
		if w.err != nil || len(w.backlog) == 0 {
			w.backlog = nil
			w.since.Store(0)
			w.mu.Unlock()
			if w.onDrained != nil {
				w.onDrained()
			}
			return
		}
		buf, w.backlog = w.backlog, buf[:0]
		w.mu.Unlock()
		if _, err := w.nc.Write(buf); err != nil {
			w.mu.Lock()
			w.err = err
			w.mu.Unlock()
		}
	}
}

// The first byte of an unfragmented frame: FIN and the opcode.
const (
	finText  = 0x81
	finClose = 0x88
)

// frameHeadroom is the largest header of a frame the server sends
// (unmasked, 64-bit length).
const frameHeadroom = 10

// minWriteBuffer is the least buffer the library may write through: it
// holds the largest control frame (a 125-byte payload after a 2-byte
// header), so each of the library's frames reaches the sockWriter in one
// Write.
const minWriteBuffer = 256

// textFrame makes buf — frameHeadroom spare bytes, then the payload — into
// one unfragmented text frame and returns it, the header right before the
// payload.
func textFrame(buf []byte) []byte {
	n := len(buf) - frameHeadroom
	switch {
	case n < 126:
		buf[8], buf[9] = finText, byte(n)
		return buf[8:]
	case n <= 0xffff:
		buf[6], buf[7] = finText, 126
		binary.BigEndian.PutUint16(buf[8:], uint16(n))
		return buf[6:]
	default:
		buf[0], buf[1] = finText, 127
		binary.BigEndian.PutUint64(buf[2:], uint64(n))
		return buf
	}
}
