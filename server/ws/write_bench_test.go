package ws

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/coder/websocket"

	"minichat/server/hub"
	"minichat/server/protocol"
)

// acceptedConn opens a real WebSocket connection over loopback, accepted
// by the library through smallBuffers as ServeHTTP does, and returns the
// server's conn (not registered with any hub; idle holds the reader's
// buffer where there is an idle waiter) and the client's raw socket, past
// the handshake.
func acceptedConn(tb testing.TB, h *Handler, writeSize int) (*conn, *testClient) {
	tb.Helper()
	got := make(chan *conn, 1)
	sbs := make(chan *smallBuffers, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sb := &smallBuffers{ResponseWriter: w, readSize: 512, writeSize: writeSize, wg: &h.wg}
		wsc, err := websocket.Accept(sb, r, &websocket.AcceptOptions{CompressionMode: websocket.CompressionDisabled})
		if err != nil {
			tb.Error(err)
			got <- nil
			return
		}
		sbs <- sb
		got <- &conn{h: h, ws: wsc, sw: sb.sw, ctx: context.Background(), idle: sb.idleWaiter(),
			hc: hub.NewConn(newID(), protocol.User{}, "", 1<<30)}
	}))
	tb.Cleanup(srv.Close)
	nc, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { nc.Close() })
	fmt.Fprintf(nc, "GET / HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", srv.Listener.Addr())
	// Read the 101 answer byte by byte, so that nothing after it is taken.
	br := bufio.NewReaderSize(nc, 16)
	var head []byte
	for len(head) < 4 || string(head[len(head)-4:]) != "\r\n\r\n" {
		b, err := br.ReadByte()
		if err != nil {
			tb.Fatal(err)
		}
		head = append(head, b)
	}
	c := <-got
	if c == nil {
		tb.FailNow()
	}
	tb.Cleanup(func() { _ = c.ws.CloseNow() })
	return c, &testClient{Conn: nc, r: br, server: <-sbs}
}

// testClient is the client end of acceptedConn: a raw socket and the
// reader that read the handshake.
type testClient struct {
	net.Conn
	r      *bufio.Reader
	server *smallBuffers // the server's side of the hijack
}

// BenchmarkFlush is the write path of one connection: frames queued on
// its hub connection, then one flush, which writes them as one message
// to a client that reads everything. Built with -tags wslibwriter it
// measures the library's writer instead of the flushers' own framing.
// A frame is a chat message of 329 bytes; buf is the size of the
// library's write buffer (Options.WriteBufferSize, default 256), which
// matters only to the library's writer: it writes a message larger than
// its buffer in two socket writes.
func BenchmarkFlush(b *testing.B) {
	frame := protocol.Encode(protocol.MessageFrame{Type: protocol.TypeMessage, Message: protocol.Message{
		ID: "m_01hqzx4f7w9k2m3n4p5q", Room: "r_uybr6e57yu6ga2kr5s2e", Seq: 123456, Kind: protocol.KindChat,
		Sender: &protocol.User{ID: "u_tilamrayd2ik7v23cexv", Name: "alice", Role: protocol.RoleMember},
		Text:   "Shall we move the standup to 10:30 tomorrow? The design review runs long.",
		TS:     "2026-11-26T08:35:16.392Z", ClientID: "c-8f1e2d",
	}})
	for _, bc := range []struct{ frames, buf int }{{1, minWriteBuffer}, {8, minWriteBuffer}, {1, 4096}, {8, 4096}} {
		batch := bc.frames
		b.Run(fmt.Sprintf("frames=%d/buf=%d", batch, bc.buf), func(b *testing.B) {
			h := &Handler{stopped: make(chan struct{})}
			c, client := acceptedConn(b, h, bc.buf)
			go func() { _, _ = io.Copy(io.Discard, client.r) }()
			f := &flusher{msg: make([]byte, 0, frameHeadroom+joinBufSize)}
			// Count the socket writes (every write reaches try first).
			writes, try := 0, c.sw.try
			c.sw.try = func(p []byte) (int, error) { writes++; return try(p) }
			b.ReportAllocs()
			for b.Loop() {
				if c.sw.blocked() {
					// The client fell behind: wait for the backlog, so
					// that every flush writes exactly batch frames.
					b.StopTimer()
					for c.sw.blocked() {
						time.Sleep(10 * time.Microsecond)
					}
					b.StartTimer()
				}
				for range batch {
					c.hc.Send(frame)
				}
				c.flush(f)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*batch), "ns/frame")
			b.ReportMetric(float64(writes)/float64(b.N), "writes/op")
			b.ReportMetric(0, "ns/op")
		})
	}
}
