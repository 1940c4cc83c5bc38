package bench

import (
	"context"
	"crypto/rand"
	"errors"
	"io"
	"net"
	"sync"
	"syscall"
	"time"
)

// rawReaderSupported tells whether this platform has the raw reader.
const rawReaderSupported = true

// reactor reads the sockets given to it with one epoll loop: each socket
// that has data gets one read(2) per readiness, and its frames are handled
// on the loop's goroutine. The epoll set is level-triggered, so a read
// that leaves data behind is simply reported again.
type reactor struct {
	epfd  int
	wake  [2]int // a pipe: writing to wake[1] stops the loop
	mu    sync.Mutex
	socks map[int32]*rawSock // by fd; guarded by mu
	done  chan struct{}
}

// rawSock is a socket of the raw reader. Its fd is taken out of Go's own
// poller, so only the reactor reads it.
type rawSock struct {
	r  *reactor
	fd int
	// mu guards closed and every write. Only the socket's reader closes
	// the fd, under mu: serve before the reactor has it, then the reactor
	// (after taking it out of socks). So a writer holding mu never writes
	// to a number the kernel has given to another socket; others end a
	// socket with shutdown(2), which frees nothing.
	mu     sync.Mutex
	closed bool
	wbuf   []byte

	c     *client
	early error // the socket ended within the handshake's answer
	rd    frameReader
	f     frame     // scratch for the client's handling; the reactor's goroutine only
	now   time.Time // arrival time of the read being handled
	end   chan error
}

// newReactors starts n epoll loops.
func newReactors(n int) ([]*reactor, error) {
	var rs []*reactor
	for range n {
		r, err := newReactor()
		if err != nil {
			stopReactors(rs)
			return nil, err
		}
		rs = append(rs, r)
	}
	return rs, nil
}

func newReactor() (*reactor, error) {
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	r := &reactor{epfd: epfd, socks: map[int32]*rawSock{}, done: make(chan struct{})}
	if err := syscall.Pipe2(r.wake[:], syscall.O_CLOEXEC); err != nil {
		syscall.Close(epfd)
		return nil, err
	}
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: int32(r.wake[0])}
	if err := syscall.EpollCtl(epfd, syscall.EPOLL_CTL_ADD, r.wake[0], &ev); err != nil {
		r.closeFds()
		return nil, err
	}
	go r.loop()
	return r, nil
}

func (r *reactor) closeFds() {
	syscall.Close(r.wake[0])
	syscall.Close(r.wake[1])
	syscall.Close(r.epfd)
}

// stopReactors ends the loops; their sockets must have ended already.
func stopReactors(rs []*reactor) {
	for _, r := range rs {
		syscall.Write(r.wake[1], []byte{0})
		<-r.done
		r.closeFds()
	}
}

// dial opens a socket for c: a TCP connection from c's source address,
// the handshake, and then the fd alone, out of Go's poller.
func (r *reactor) dial(ctx context.Context, c *client) (sock, error) {
	conn, err := c.dialer.DialContext(ctx, "tcp", c.w.wsHost)
	if err != nil {
		return nil, err
	}
	deadline, _ := ctx.Deadline()
	rest, err := rawHandshake(conn, c.w.wsURL, c.token, deadline)
	if err != nil {
		conn.Close()
		return nil, err
	}
	fd, err := detachFd(conn)
	if err != nil {
		return nil, err
	}
	s := &rawSock{r: r, fd: fd, c: c, end: make(chan error, 1)}
	if len(rest) > 0 {
		// Frames that came with the handshake's answer: handled here,
		// before the reactor sees the socket; a close among them (4401,
		// say) ends the socket in serve, as it would have in the reactor.
		s.now = time.Now()
		s.early = s.rd.feed(rest, s)
	}
	return s, nil
}

// detachFd returns a duplicate of conn's fd (non-blocking, as Go left it)
// and closes conn, which takes the original out of Go's poller.
func detachFd(conn net.Conn) (int, error) {
	sc, ok := conn.(syscall.Conn)
	if !ok {
		conn.Close()
		return -1, errors.New("raw reader: not a TCP connection")
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		conn.Close()
		return -1, err
	}
	fd, derr := -1, error(nil)
	if err := rc.Control(func(orig uintptr) {
		r0, _, e := syscall.Syscall(syscall.SYS_FCNTL, orig, syscall.F_DUPFD_CLOEXEC, 0)
		if e != 0 {
			derr = e
			return
		}
		fd = int(r0)
	}); err != nil {
		derr = err
	}
	conn.Close()
	return fd, derr
}

// serve hands the socket to the reactor and waits for it to end.
func (s *rawSock) serve(c *client) error {
	r := s.r
	if s.early != nil {
		s.mu.Lock()
		s.closed = true
		syscall.Close(s.fd)
		s.mu.Unlock()
		return s.early
	}
	r.mu.Lock()
	r.socks[int32(s.fd)] = s
	r.mu.Unlock()
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP, Fd: int32(s.fd)}
	if err := syscall.EpollCtl(r.epfd, syscall.EPOLL_CTL_ADD, s.fd, &ev); err != nil {
		r.mu.Lock()
		delete(r.socks, int32(s.fd))
		r.mu.Unlock()
		s.mu.Lock()
		s.closed = true
		syscall.Close(s.fd)
		s.mu.Unlock()
		return err
	}
	return <-s.end
}

func (r *reactor) loop() {
	defer close(r.done)
	events := make([]syscall.EpollEvent, 256)
	socks := make([]*rawSock, len(events))
	buf := make([]byte, 256<<10)
	for {
		n, err := syscall.EpollWait(r.epfd, events, -1)
		if err != nil {
			if err == syscall.EINTR {
				continue
			}
			return
		}
		r.mu.Lock()
		for i, ev := range events[:n] {
			socks[i] = r.socks[ev.Fd]
		}
		r.mu.Unlock()
		for i, ev := range events[:n] {
			if int(ev.Fd) == r.wake[0] {
				return
			}
			if s := socks[i]; s != nil {
				s.readable(buf)
			}
			socks[i] = nil
		}
	}
}

// readable reads what the socket has, once, and handles its frames.
func (s *rawSock) readable(buf []byte) {
	if s.closed {
		return // ended earlier in this batch of events
	}
	n, err := syscall.Read(s.fd, buf)
	switch {
	case n > 0:
		s.now = time.Now()
		err = s.rd.feed(buf[:n], s)
	case err == syscall.EAGAIN || err == syscall.EINTR:
		return
	case err == nil:
		err = io.EOF
	}
	if err != nil {
		s.finish(err)
	}
}

// finish ends the socket on the reactor: out of its set, then closed.
func (s *rawSock) finish(err error) {
	r := s.r
	r.mu.Lock()
	delete(r.socks, int32(s.fd))
	r.mu.Unlock()
	s.mu.Lock()
	s.closed = true
	syscall.EpollCtl(r.epfd, syscall.EPOLL_CTL_DEL, s.fd, nil)
	syscall.Close(s.fd)
	s.mu.Unlock()
	s.end <- err
}

// message and control make rawSock the frameHandler of its frames.
func (s *rawSock) message(payload []byte) error {
	return s.c.message(s, payload, s.now, &s.f)
}

func (s *rawSock) control(op byte, payload []byte) error {
	switch op {
	case opPing:
		return s.write(opPong, payload)
	case opClose:
		if len(payload) >= 2 {
			_ = s.write(opClose, payload[:2]) // echo the code, as a client should
		}
		return closeError(payload)
	}
	return nil // a pong
}

func (s *rawSock) writeText(b []byte) error { return s.write(opText, b) }

// rawWriteTimeout bounds a write the socket does not take at once (a
// subscriber writes only small frames: hello, pong, typing).
const rawWriteTimeout = 5 * time.Second

func (s *rawSock) write(op byte, payload []byte) error {
	var key [4]byte
	_, _ = rand.Read(key[:])
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return net.ErrClosed
	}
	s.wbuf = appendClientFrame(s.wbuf[:0], op, payload, key)
	b := s.wbuf
	deadline := time.Now().Add(rawWriteTimeout)
	for len(b) > 0 {
		n, err := syscall.Write(s.fd, b)
		switch {
		case n > 0:
			b = b[n:]
		case err == syscall.EAGAIN:
			if time.Now().After(deadline) {
				return errors.New("raw reader: write timed out")
			}
			time.Sleep(time.Millisecond)
		case err == syscall.EINTR:
		default:
			return err
		}
	}
	if cap(s.wbuf) > 4<<10 {
		s.wbuf = nil
	}
	return nil
}

// closeNow shuts the socket down; the reactor sees it end and closes it.
func (s *rawSock) closeNow() {
	s.mu.Lock()
	if !s.closed {
		syscall.Shutdown(s.fd, syscall.SHUT_RDWR)
	}
	s.mu.Unlock()
}
