//go:build linux || darwin || freebsd

package ws

import (
	"net"
	"syscall"
)

// tryWriter returns a write that never waits: it writes what the kernel's
// send buffer takes and returns how much that was. nil when the socket
// cannot be written directly (TLS).
func tryWriter(nc net.Conn) func(p []byte) (int, error) {
	raw := rawConn(nc)
	if raw == nil {
		return nil
	}
	// The closure's state is per socket; the sockWriter's lock serialises calls.
	var (
		buf  []byte
		done int
		werr error
	)
	write := func(fd uintptr) bool {
		for done < len(buf) {
			n, err := syscall.Write(int(fd), buf[done:])
			switch {
			case err == syscall.EINTR:
				continue
			case err == syscall.EAGAIN || err == syscall.EWOULDBLOCK:
				return true
			case err != nil:
				werr = err
				return true
			}
			done += n
		}
		return true
	}
	return func(p []byte) (int, error) {
		buf, done, werr = p, 0, nil
		if err := raw.Write(write); err != nil {
			buf = nil
			return 0, err
		}
		n, err := done, werr
		buf = nil
		return n, err
	}
}

// rawConn returns the socket's file descriptor access, or nil when nc is
// not a plain socket (TLS).
func rawConn(nc net.Conn) syscall.RawConn {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return nil
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	return raw
}
