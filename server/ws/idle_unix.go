//go:build linux || darwin || freebsd

package ws

import (
	"bufio"
	"net"
	"syscall"
)

// idleWaiter lets an idle connection wait for its client on a small
// goroutine instead of the reader's. The reader's stack grows to 8 KiB while
// it decodes and handles frames, and the garbage collector halves a stack
// only while three quarters of it are unused, which a reader blocked deep in
// websocket.Read never is: 10,000 idle connections would hold 80 MiB of
// reader stacks. So when a read would block, the reader starts a fresh
// goroutine (2 KiB) that waits until the socket is readable, without
// reading, and exits; the waiter then runs the read loop itself.
type idleWaiter struct {
	raw   syscall.RawConn
	br    *bufio.Reader // the WebSocket reader's buffer
	peek  [1]byte
	ready bool
	// check and wait are the closures handed to raw.Read, made once: a
	// method value made per call would allocate.
	check, wait func(fd uintptr) bool
}

// newIdleWaiter returns a waiter for a plain TCP socket whose WebSocket
// reader reads through br, or nil when the socket cannot be polled without
// reading (TLS buffers decrypted bytes of its own).
func newIdleWaiter(nc net.Conn, br *bufio.Reader) *idleWaiter {
	raw := rawConn(nc)
	if raw == nil {
		return nil
	}
	w := &idleWaiter{raw: raw, br: br}
	w.check = func(fd uintptr) bool {
		w.ready = w.peekFD(fd)
		return true
	}
	w.wait = w.peekFD
	return w
}

// peekFD reports whether a read of fd would not block: bytes are waiting,
// the peer closed, or the socket failed (the read that follows reports it).
func (w *idleWaiter) peekFD(fd uintptr) bool {
	_, _, err := syscall.Recvfrom(int(fd), w.peek[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
	return err != syscall.EAGAIN && err != syscall.EWOULDBLOCK
}

// wouldBlock reports whether the next WebSocket read would wait for the
// client: nothing is buffered and nothing is waiting on the socket.
func (w *idleWaiter) wouldBlock() bool {
	if w.br.Buffered() > 0 {
		return false
	}
	w.ready = true
	if err := w.raw.Read(w.check); err != nil {
		return false // closed: let the read report it
	}
	return !w.ready
}

// block waits until the socket is readable or closed.
func (w *idleWaiter) block() { _ = w.raw.Read(w.wait) }
