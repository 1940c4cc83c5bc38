package ws

import (
	"bytes"
	"encoding/binary"
	"errors"
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
	// A message written while a backlog waits joins it, in order.
	msg := []byte("then a message")
	if err := w.writeMessage(msg); err != nil {
		t.Fatal(err)
	}
	want.Write(msg)

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

// Once the library's close frame has gone out, no message follows it;
// control frames still pass.
func TestSockWriterSendsNothingAfterTheCloseFrame(t *testing.T) {
	server, client := tcpPair(t)
	w, _, _ := newTestSockWriter(server)
	frame := textFrame(append(make([]byte, frameHeadroom), "before"...))
	if err := w.writeMessage(frame); err != nil {
		t.Fatal(err)
	}
	closeFrame := []byte{finClose, 2, 0x03, 0xe8} // 1000, no reason
	if _, err := w.Write(closeFrame); err != nil {
		t.Fatal(err)
	}
	if err := w.writeMessage(textFrame(append(make([]byte, frameHeadroom), "after"...))); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("a message after the close frame: %v, want net.ErrClosed", err)
	}
	server.Close()
	got, err := io.ReadAll(client)
	if err != nil {
		t.Fatal(err)
	}
	if want := append(frame[:len(frame):len(frame)], closeFrame...); !bytes.Equal(got, want) {
		t.Fatalf("the client read % x, want % x", got, want)
	}
}

// textFrame writes the header RFC 6455 gives each payload length: 7 bits
// up to 125, then 16 bits, then 64.
func TestTextFrameHeaders(t *testing.T) {
	for _, n := range []int{0, 1, 125, 126, 1000, 65535, 65536, 200000} {
		payload := bytes.Repeat([]byte{'x'}, n)
		f := textFrame(append(make([]byte, frameHeadroom), payload...))
		if f[0] != 0x81 {
			t.Fatalf("%d bytes: first byte %#x, want FIN and text (0x81)", n, f[0])
		}
		var length, head int
		switch l := int(f[1]); {
		case l&0x80 != 0:
			t.Fatalf("%d bytes: a server frame must not be masked", n)
		case l < 126:
			length, head = l, 2
		case l == 126:
			length, head = int(binary.BigEndian.Uint16(f[2:])), 4
		default:
			length, head = int(binary.BigEndian.Uint64(f[2:])), 10
		}
		wantHead := 2
		switch {
		case n > 65535:
			wantHead = 10
		case n > 125:
			wantHead = 4
		}
		if head != wantHead {
			t.Fatalf("%d bytes: %d-byte header, want %d", n, head, wantHead)
		}
		if length != n || !bytes.Equal(f[head:], payload) {
			t.Fatalf("%d bytes: header says %d, frame carries %d", n, length, len(f)-head)
		}
	}
}

// Backlogs borrow their buffers and give them back once written
// (bufpool.go): backlog after backlog, a buffer given back is never still
// in use, so every byte arrives as written.
func TestSockWriterReusesBacklogBuffersIntact(t *testing.T) {
	server, client := tcpPair(t)
	w, drained, wg := newTestSockWriter(server)
	chunk := make([]byte, 100<<10) // over joinBufSize: borrowed
	for round := range 3 {
		var want bytes.Buffer
		for i := range 40 { // 4 MB: more than the kernel's buffers take at once
			for j := range chunk {
				chunk[j] = byte(round*7 + i + j)
			}
			want.Write(chunk)
			if err := w.writeMessage(chunk); err != nil {
				t.Fatal(err)
			}
		}
		got, err := io.ReadAll(io.LimitReader(client, int64(want.Len())))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want.Bytes()) {
			t.Fatalf("round %d: the client read bytes other than those written", round)
		}
		if w.blocked() {
			<-drained
		}
		// A frame large enough to borrow, written whole: its buffer goes
		// back at once and the next round writes over it.
		b := append(borrow(joinBufSize+1), chunk[:joinBufSize+1]...)
		giveBack(b)
	}
	wg.Wait()
}

func TestBorrowHasRoom(t *testing.T) {
	for _, n := range []int{joinBufSize + 1, 200 << 10, 50 << 10} {
		b := borrow(n)
		if len(b) != 0 || cap(b) < n {
			t.Fatalf("borrow(%d): len %d cap %d", n, len(b), cap(b))
		}
		giveBack(b)
	}
	giveBack(make([]byte, 10)) // too small to keep: ignored
	giveBack(make([]byte, maxPooled+1))
}
