package ws

import (
	"bytes"
	"io"
	"net"
	"sync"
	"syscall"
	"testing"
	"time"
)

// tcpPair returns both ends of a loopback TCP connection; the accepted end
// reads into a small buffer, so the kernel holds little for it.
func tcpPair(t *testing.T) (server, client net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	d := &net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		return rc.Control(func(fd uintptr) { _ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
	}}
	client, err = d.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server, err = ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { server.Close(); client.Close() })
	return server, client
}

// newTestSockWriter returns a sockWriter for nc, the channel its drains
// report to, and the WaitGroup that counts them.
func newTestSockWriter(nc net.Conn) (*sockWriter, chan struct{}, *sync.WaitGroup) {
	wg := new(sync.WaitGroup)
	w := newSockWriter(nc, wg)
	drained := make(chan struct{}, 16)
	w.onDrained = func() { drained <- struct{}{} }
	return w, drained, wg
}

// A client that does not read must never hold up the writer: every Write
// returns at once, what the kernel cannot take waits in the backlog, and
// once the client reads it gets every byte in order, and the connection
// is told that the backlog is gone.
func TestSockWriterNeverWaitsForTheClient(t *testing.T) {
	server, client := tcpPair(t)
	w, drained, wg := newTestSockWriter(server)

	// 8 MiB is far more than the two kernel buffers hold.
	var want bytes.Buffer
	chunk := make([]byte, 64<<10)
	done := make(chan error, 1)
	go func() {
		for i := range 128 {
			for j := range chunk {
				chunk[j] = byte(i + j)
			}
			want.Write(chunk)
			if n, err := w.Write(chunk); err != nil || n != len(chunk) {
				done <- err
				return
			}
		}
		done <- nil
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Write waited for a client that does not read")
	}
	if !w.blocked() {
		t.Fatal("8 MiB written to a client that does not read, and no backlog")
	}
	// Bytes written while a backlog waits join it, in order.
	corked := []byte("then a corked write")
	w.corkWith(nil)
	_, _ = w.Write(corked[:5])
	_, _ = w.Write(corked[5:])
	if _, err := w.uncork(); err != nil {
		t.Fatal(err)
	}
	want.Write(corked)

	got, err := io.ReadAll(io.LimitReader(client, int64(want.Len())))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want.Bytes()) {
		t.Fatalf("the client read %d bytes, not the %d written in order", len(got), want.Len())
	}
	<-drained
	wg.Wait()
	if w.blocked() {
		t.Fatal("still blocked after the client read everything")
	}
	// With the backlog gone, a write goes straight to the socket again.
	if _, err := w.Write([]byte("x")); err != nil || w.blocked() {
		t.Fatalf("write after the drain: %v, blocked %v", err, w.blocked())
	}
	var b [1]byte
	if _, err := io.ReadFull(client, b[:]); err != nil || b[0] != 'x' {
		t.Fatalf("read %q, %v", b, err)
	}
}

// A socket that fails while a backlog waits fails every later write, and
// the connection is told (so it can close).
func TestSockWriterReportsAFailedSocket(t *testing.T) {
	server, client := tcpPair(t)
	w, drained, wg := newTestSockWriter(server)
	big := make([]byte, 8<<20)
	if _, err := w.Write(big); err != nil {
		t.Fatal(err)
	}
	if !w.blocked() {
		t.Fatal("8 MiB to a client that does not read, and no backlog")
	}
	client.Close()
	server.Close() // as the sweeper's CloseNow does to a stuck socket
	<-drained
	wg.Wait()
	if _, err := w.Write([]byte("x")); err == nil {
		t.Fatal("a write after the socket failed succeeded")
	}
}
