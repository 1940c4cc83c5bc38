//go:build !(linux || darwin || freebsd)

package ws

import (
	"bufio"
	"net"
)

// idleWaiter is a no-op here: idle readers keep their own goroutine.
type idleWaiter struct{}

func newIdleWaiter(net.Conn, *bufio.Reader) *idleWaiter { return nil }

func (*idleWaiter) wouldBlock() bool { return false }

func (*idleWaiter) block() {}
