package ws

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/coder/websocket"
)

// These tests pin the two behaviours of github.com/coder/websocket that
// the write path relies on and the library does not document (see
// socket.go). They run against a real connection accepted by the library:
// an upgrade of the library that changes either behaviour fails here
// rather than corrupting sockets in production.

// recordWrites makes every socket write of c's sockWriter also append a
// copy of its bytes to the returned log.
func recordWrites(c *conn) func() [][]byte {
	var mu sync.Mutex
	var log [][]byte
	try := c.sw.try
	c.sw.try = func(p []byte) (int, error) {
		mu.Lock()
		log = append(log, append([]byte(nil), p...))
		mu.Unlock()
		if try == nil {
			return 0, nil // no direct write here: the drain writes it
		}
		return try(p)
	}
	return func() [][]byte {
		mu.Lock()
		defer mu.Unlock()
		return append([][]byte(nil), log...)
	}
}

// send writes one unfragmented client frame (masked, with a zero key).
func (tc *testClient) send(t *testing.T, op byte, payload []byte) {
	t.Helper()
	if len(payload) > 125 {
		t.Fatal("test frames carry at most 125 bytes")
	}
	if _, err := tc.Write(append([]byte{0x80 | op, 0x80 | byte(len(payload)), 0, 0, 0, 0}, payload...)); err != nil {
		t.Fatal(err)
	}
}

// recv reads one server frame and returns it whole, header included.
func (tc *testClient) recv(t *testing.T) []byte {
	t.Helper()
	head := make([]byte, 2, 10)
	if _, err := io.ReadFull(tc.r, head); err != nil {
		t.Fatal(err)
	}
	n := int(head[1] & 0x7f)
	switch n {
	case 126:
		head = head[:4]
		if _, err := io.ReadFull(tc.r, head[2:]); err != nil {
			t.Fatal(err)
		}
		n = int(binary.BigEndian.Uint16(head[2:]))
	case 127:
		t.Fatal("unexpectedly large frame")
	}
	frame := append(head, make([]byte, n)...)
	if _, err := io.ReadFull(tc.r, frame[len(head):]); err != nil {
		t.Fatal(err)
	}
	return frame
}

// Behaviour 1: websocket.Accept reads and writes through the
// bufio.ReadWriter that Hijack returns (smallBuffers'), not through
// buffers of its own: what the client sends is read into the reader the
// idle waiter looks into, and what the library sends goes through the
// sockWriter.
func TestCoderWebsocketUsesTheHijackedBuffers(t *testing.T) {
	h := &Handler{stopped: make(chan struct{})}
	c, client := acceptedConn(t, h, minWriteBuffer)
	writes := recordWrites(c)

	// Two messages in one segment: reading the first fills the reader,
	// which then still holds the second.
	frames := [][]byte{[]byte("one"), []byte("two")}
	var seg []byte
	for _, p := range frames {
		seg = append(seg, 0x81, 0x80|byte(len(p)), 0, 0, 0, 0)
		seg = append(seg, p...)
	}
	if _, err := client.Write(seg); err != nil {
		t.Fatal(err)
	}
	typ, data, err := c.ws.Read(c.ctx)
	if err != nil || typ != websocket.MessageText || string(data) != "one" {
		t.Fatalf("first read: %v %q %v", typ, data, err)
	}
	if got := client.server.br.Buffered(); got != 6+len("two") {
		t.Fatalf("after the first message the hijacked reader holds %d bytes, want the second message's %d: the library reads through a buffer of its own", got, 6+len("two"))
	}
	if _, data, err := c.ws.Read(c.ctx); err != nil || string(data) != "two" {
		t.Fatalf("second read: %q %v", data, err)
	}

	// The pong to a ping goes through the sockWriter.
	go func() { _, _, _ = c.ws.Read(c.ctx) }() // control frames are answered while reading
	client.send(t, 0x9, []byte("p"))
	pong := client.recv(t)
	if want := []byte{0x8a, 1, 'p'}; !bytes.Equal(pong, want) {
		t.Fatalf("pong % x, want % x", pong, want)
	}
	if w := writes(); len(w) != 1 || !bytes.Equal(w[0], pong) {
		t.Fatalf("the sockWriter saw %q, want the pong alone: the library writes around the hijacked writer", w)
	}
}

// Behaviour 2: every frame the library writes on its own — pong, close —
// reaches the writer under it in one Write of the whole frame, starting
// with the frame's first byte, given a buffer of at least minWriteBuffer
// bytes; it writes nothing else unless asked to write a message; and a
// close frame starts with finClose. So the flushers' frames never land
// inside one of the library's, and the sockWriter sees the close frame.
func TestCoderWebsocketWritesEachControlFrameWhole(t *testing.T) {
	h := &Handler{stopped: make(chan struct{})}
	c, client := acceptedConn(t, h, minWriteBuffer)
	writes := recordWrites(c)
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		for {
			if _, _, err := c.ws.Read(c.ctx); err != nil {
				return
			}
		}
	}()

	// The largest pong: a 125-byte payload.
	ping := bytes.Repeat([]byte{'p'}, 125)
	client.send(t, 0x9, ping)
	pong := client.recv(t)
	if want := append([]byte{0x8a, 125}, ping...); !bytes.Equal(pong, want) {
		t.Fatalf("pong of %d bytes, want %d", len(pong), len(want))
	}

	// A message of the flushers' own, between the library's frames.
	msg := textFrame(append(make([]byte, frameHeadroom), "between"...))
	if err := c.sw.writeMessage(msg); err != nil {
		t.Fatal(err)
	}
	if got := client.recv(t); !bytes.Equal(got, msg) {
		t.Fatalf("message % x, want % x", got, msg)
	}

	// The largest close frame: a status code and a 123-byte reason.
	reason := strings.Repeat("r", 123)
	closed := make(chan error, 1)
	go func() { closed <- c.ws.Close(websocket.StatusCode(4000), reason) }()
	cf := client.recv(t)
	if cf[0] != finClose || len(cf) != 2+125 || binary.BigEndian.Uint16(cf[2:]) != 4000 || string(cf[4:]) != reason {
		t.Fatalf("close frame % x", cf[:min(len(cf), 8)])
	}
	if err := c.sw.writeMessage(msg); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("a message after the library's close frame: %v, want net.ErrClosed", err)
	}
	client.send(t, 0x8, cf[2:4])
	if err := <-closed; err != nil {
		t.Fatalf("close handshake: %v", err)
	}
	<-readDone

	w := writes()
	if len(w) != 3 || !bytes.Equal(w[0], pong) || !bytes.Equal(w[1], msg) || !bytes.Equal(w[2], cf) {
		var sizes []int
		for _, p := range w {
			sizes = append(sizes, len(p))
		}
		t.Fatalf("socket writes of %v bytes, want 3: the pong (%d), the message (%d) and the close frame (%d), each whole", sizes, len(pong), len(msg), len(cf))
	}
}
