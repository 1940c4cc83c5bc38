package bench

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	"github.com/coder/websocket"
)

// collected records what a frameReader hands on.
type collected struct {
	msgs []string
	ctl  []string
}

func (c *collected) message(p []byte) error { c.msgs = append(c.msgs, string(p)); return nil }

func (c *collected) control(op byte, p []byte) error {
	c.ctl = append(c.ctl, string([]byte{'0' + op})+":"+string(p))
	if op == opClose {
		return closeError(p)
	}
	return nil
}

// serverFrame encodes one unmasked frame, as a server sends it.
func serverFrame(op byte, fin bool, payload []byte) []byte {
	b0 := op
	if fin {
		b0 |= 0x80
	}
	out := []byte{b0}
	switch n := len(payload); {
	case n < 126:
		out = append(out, byte(n))
	case n <= 0xFFFF:
		out = append(out, 126)
		out = binary.BigEndian.AppendUint16(out, uint16(n))
	default:
		out = append(out, 127)
		out = binary.BigEndian.AppendUint64(out, uint64(n))
	}
	return append(out, payload...)
}

// TestFrameReaderAtEverySplit feeds a stream of frames of every length
// class, a fragmented message and a ping, split in two at every byte: the
// messages must come out whole and in order wherever the reads end.
func TestFrameReaderAtEverySplit(t *testing.T) {
	mid := strings.Repeat("m", 300)     // 16-bit length
	large := strings.Repeat("L", 70000) // 64-bit length
	var stream []byte
	stream = append(stream, serverFrame(opText, true, []byte(`{"type":"a"}`))...)
	stream = append(stream, serverFrame(opText, true, []byte(mid))...)
	stream = append(stream, serverFrame(opPing, true, []byte("hi"))...)
	stream = append(stream, serverFrame(opText, false, []byte("frag-"))...)
	stream = append(stream, serverFrame(opContinuation, false, []byte("men-"))...)
	stream = append(stream, serverFrame(opContinuation, true, []byte("ted"))...)
	stream = append(stream, serverFrame(opText, true, []byte(large))...)
	want := []string{`{"type":"a"}`, mid, "frag-men-ted", large}

	for cut := 0; cut <= len(stream); cut += 1 + cut/64 { // every byte of the headers, then sparser
		var r frameReader
		var got collected
		if err := r.feed(stream[:cut], &got); err != nil {
			t.Fatalf("cut %d: %v", cut, err)
		}
		if err := r.feed(stream[cut:], &got); err != nil {
			t.Fatalf("cut %d: %v", cut, err)
		}
		if len(got.msgs) != len(want) {
			t.Fatalf("cut %d: %d messages, want %d", cut, len(got.msgs), len(want))
		}
		for i := range want {
			if got.msgs[i] != want[i] {
				t.Fatalf("cut %d: message %d is %d bytes, want %d", cut, i, len(got.msgs[i]), len(want[i]))
			}
		}
		if len(got.ctl) != 1 || got.ctl[0] != "9:hi" {
			t.Fatalf("cut %d: control frames %q, want the ping", cut, got.ctl)
		}
		if len(r.pending) != 0 || r.fragmented {
			t.Fatalf("cut %d: %d bytes left over", cut, len(r.pending))
		}
	}
}

// TestFrameReaderByteByByte feeds a stream one byte per read.
func TestFrameReaderByteByByte(t *testing.T) {
	stream := append(serverFrame(opText, true, []byte("one")), serverFrame(opText, true, []byte(strings.Repeat("x", 200)))...)
	var r frameReader
	var got collected
	for i := range stream {
		if err := r.feed(stream[i:i+1], &got); err != nil {
			t.Fatal(err)
		}
	}
	if len(got.msgs) != 2 || got.msgs[0] != "one" || len(got.msgs[1]) != 200 {
		t.Fatalf("got %d messages: %q", len(got.msgs), got.msgs)
	}
}

// TestFrameReaderCloseCarriesTheCode: a close frame ends the stream with
// the server's code, read the same way as coder/websocket's.
func TestFrameReaderCloseCarriesTheCode(t *testing.T) {
	payload := binary.BigEndian.AppendUint16(nil, 4429)
	payload = append(payload, "too slow"...)
	var r frameReader
	var got collected
	err := r.feed(append(serverFrame(opText, true, []byte("last")), serverFrame(opClose, true, payload)...), &got)
	if code := websocket.CloseStatus(err); code != 4429 {
		t.Fatalf("close status %d (%v), want 4429", code, err)
	}
	var ce websocket.CloseError
	if !errors.As(err, &ce) || ce.Reason != "too slow" {
		t.Fatalf("close error %v", err)
	}
	if len(got.msgs) != 1 || got.msgs[0] != "last" {
		t.Fatalf("the message before the close: %q", got.msgs)
	}
}

// TestFrameReaderRefusesBrokenFrames: what no server may send is an error,
// not a guess.
func TestFrameReaderRefusesBrokenFrames(t *testing.T) {
	masked := serverFrame(opText, true, []byte("x"))
	masked[1] |= 0x80
	cases := map[string][]byte{
		"masked":                masked,
		"reserved bit":          {0xC1, 0x00},
		"unknown opcode":        {0x83, 0x00},
		"continuation first":    serverFrame(opContinuation, true, []byte("x")),
		"text inside a message": append(serverFrame(opText, false, []byte("a")), serverFrame(opText, true, []byte("b"))...),
		"fragmented ping":       serverFrame(opPing, false, nil),
		"long ping":             serverFrame(opPing, true, bytes.Repeat([]byte("p"), 126)),
		"over the limit":        {0x81, 127, 0x7F, 0, 0, 0, 0, 0, 0, 0},
	}
	for name, b := range cases {
		var r frameReader
		if err := r.feed(b, &collected{}); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// TestClientFrameIsMasked decodes appendClientFrame's output as a server
// would: FIN, opcode, mask bit, length, and the payload under the key.
func TestClientFrameIsMasked(t *testing.T) {
	key := [4]byte{1, 2, 3, 4}
	for _, n := range []int{0, 5, 125, 126, 65535, 65536} {
		payload := bytes.Repeat([]byte("ab"), n)[:n]
		b := appendClientFrame(nil, opText, payload, key)
		if b[0] != 0x81 || b[1]&0x80 == 0 {
			t.Fatalf("n %d: header % x", n, b[:2])
		}
		hdr, l := 2, int(b[1]&0x7F)
		switch l {
		case 126:
			hdr, l = 4, int(binary.BigEndian.Uint16(b[2:]))
		case 127:
			hdr, l = 10, int(binary.BigEndian.Uint64(b[2:]))
		}
		if l != n || !bytes.Equal(b[hdr:hdr+4], key[:]) || len(b) != hdr+4+n {
			t.Fatalf("n %d: length %d, frame %d bytes", n, l, len(b))
		}
		got := append([]byte(nil), b[hdr+4:]...)
		for i := range got {
			got[i] ^= key[i&3]
		}
		if !bytes.Equal(got, payload) {
			t.Fatalf("n %d: payload does not unmask", n)
		}
	}
}

// TestAcceptKey is RFC 6455's own example (§1.3).
func TestAcceptKey(t *testing.T) {
	if got := acceptKey("dGhlIHNhbXBsZSBub25jZQ=="); got != "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" {
		t.Fatalf("accept %q", got)
	}
}
