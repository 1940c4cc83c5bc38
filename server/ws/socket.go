package ws

import (
	"bufio"
	"encoding/binary"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// The socket under the WebSocket library. This file is the one place
// where the server reaches beneath github.com/coder/websocket: the
// library keeps reading frames and writes its own control frames (ping,
// pong, close), while the flushers write every message as a frame of
// their own (textFrame) straight to the socket, through a sockWriter that
// never waits for the client. A server text frame is a 2-10 byte header
// before the payload; the library's write path (a lock, a message writer,
// its buffer and flush) writes a message longer than its buffer in two
// socket writes, and a buffer large enough for most messages would cost
// every idle connection its size. docs/benchmarks.md ("The WebSocket
// write path") has the measurements that keep this path.
//
// It relies on two behaviours of coder/websocket (v1.8.15) that its
// documentation does not promise; socket_test.go fails if an upgrade
// changes either:
//
//  1. websocket.Accept reads and writes through the *bufio.ReadWriter
//     that the ResponseWriter's Hijack returns, never through buffers of
//     its own or the bare net.Conn (accept.go hands brw.Reader and
//     brw.Writer to the Conn). smallBuffers.Hijack returns a small reader
//     (which the idle waiter looks into) and a small writer over the
//     sockWriter, so every byte the library sends passes through it.
//  2. Each frame the library writes on its own reaches the writer under
//     its bufio.Writer in one Write of the whole frame: writeFrame puts
//     header and payload in the buffer and flushes once per final frame,
//     under its write lock, and a control frame (at most 127 bytes) fits
//     in a buffer of minWriteBuffer. So the library's frames and the
//     flushers' never interleave within a frame, and the sockWriter knows
//     the library's close frame by its first byte (finClose) and lets no
//     message follow it. The library writes nothing else unless asked to
//     write a message, which the server never does (but see
//     libraryWriter).
//
// Built with the tag wslibwriter, the flushers write through the
// library's Conn.Write instead, so the two can be measured from one tree;
// that still relies on behaviour 1 (the writes must reach the sockWriter).

// smallBuffers hands the WebSocket library smaller buffers than net/http's
// 4 KiB pair, which a connection would otherwise keep for its whole life.
// After the upgrade it holds the socket and the reader's buffer, for the
// idle waiter.
type smallBuffers struct {
	http.ResponseWriter
	readSize, writeSize int

	wg *sync.WaitGroup // the Handler's, for the sockWriter's drains

	nc       net.Conn
	br       *bufio.Reader
	sw       *sockWriter
	leftover int // bytes the client sent before the upgrade was answered
}

func (s *smallBuffers) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// idleWaiter returns a waiter for the hijacked socket, or nil: a client that
// sent bytes before the upgrade was answered has them in a reader the
// WebSocket library keeps to itself, so it keeps the plain read loop.
func (s *smallBuffers) idleWaiter() *idleWaiter {
	if s.nc == nil || s.leftover > 0 {
		return nil
	}
	return newIdleWaiter(s.nc, s.br)
}

func (s *smallBuffers) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	nc, brw, err := http.NewResponseController(s.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	// Bytes the client sent after the handshake may already sit in
	// net/http's reader: carry them over into the new one.
	n := brw.Reader.Buffered()
	leftover, _ := brw.Reader.Peek(n)
	leftover = append([]byte(nil), leftover...)
	br := bufio.NewReaderSize(io.MultiReader(&byteReader{b: leftover}, nc), max(s.readSize, n))
	if n > 0 {
		if _, err := br.Peek(n); err != nil {
			nc.Close()
			return nil, nil, err
		}
	}
	s.nc, s.br, s.leftover = nc, br, n
	s.sw = newSockWriter(nc, s.wg)
	return nc, bufio.NewReadWriter(br, bufio.NewWriterSize(s.sw, s.writeSize)), nil
}

type byteReader struct{ b []byte }

func (r *byteReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.b)
	r.b = r.b[n:]
	return n, nil
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
	if w.backlog == nil && len(p) > joinBufSize {
		w.backlog = borrow(len(p))
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
			giveBack(w.backlog)
			giveBack(buf)
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
