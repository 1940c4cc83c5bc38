package bench

import (
	"bufio"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/coder/websocket"
)

// The raw reader: on Linux, subscribers' sockets are read by a few epoll
// loops (reactor_linux.go) rather than by a goroutine each through
// coder/websocket. A goroutine per socket costs two reads per server write
// (the second one finds nothing and parks the goroutine) and a trip
// through the scheduler; at 1,000 subscribers that made the tool need as
// much CPU as the server it measures, and on a 2-core machine what the tool
// spends, the server does not get. This file holds the parts that need no
// epoll: the opening handshake and the framing of RFC 6455.

// WebSocket opcodes (RFC 6455 §5.2).
const (
	opContinuation = 0x0
	opText         = 0x1
	opBinary       = 0x2
	opClose        = 0x8
	opPing         = 0x9
	opPong         = 0xA
)

// rawReadLimit bounds one message, as SetReadLimit does on the other path.
const rawReadLimit = 64 << 20

// rawHandshake sends the opening handshake of a WebSocket client on conn
// (RFC 6455 §4.1) and checks the answer. It returns the bytes that came
// after the answer: frames the server sent at once, such as welcome.
func rawHandshake(conn net.Conn, wsURL, token string, deadline time.Time) ([]byte, error) {
	u, err := url.Parse(wsURL)
	if err != nil {
		return nil, err
	}
	var k [16]byte
	_, _ = rand.Read(k[:]) // never fails
	key := base64.StdEncoding.EncodeToString(k[:])
	_ = conn.SetDeadline(deadline)
	defer conn.SetDeadline(time.Time{})
	req := "GET " + u.RequestURI() + " HTTP/1.1\r\n" +
		"Host: " + u.Host + "\r\n" +
		"Upgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: " + key + "\r\nSec-WebSocket-Version: 13\r\n" +
		"Authorization: Bearer " + token + "\r\n\r\n"
	if _, err := io.WriteString(conn, req); err != nil {
		return nil, err
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		resp.Body.Close()
		return nil, fmt.Errorf("websocket handshake: %s: %s", resp.Status, strings.TrimSpace(string(body)))
	}
	if !strings.EqualFold(resp.Header.Get("Upgrade"), "websocket") || resp.Header.Get("Sec-WebSocket-Accept") != acceptKey(key) {
		return nil, errors.New("websocket handshake: the answer does not upgrade to WebSocket")
	}
	rest, _ := br.Peek(br.Buffered())
	return append([]byte(nil), rest...), nil
}

// acceptKey is the Sec-WebSocket-Accept a server answers key with.
func acceptKey(key string) string {
	h := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	return base64.StdEncoding.EncodeToString(h[:])
}

// appendClientFrame appends one final frame of op with payload, masked with
// key as every client frame must be.
func appendClientFrame(dst []byte, op byte, payload []byte, key [4]byte) []byte {
	dst = append(dst, 0x80|op)
	switch n := len(payload); {
	case n < 126:
		dst = append(dst, 0x80|byte(n))
	case n <= 0xFFFF:
		dst = append(dst, 0x80|126)
		dst = binary.BigEndian.AppendUint16(dst, uint16(n))
	default:
		dst = append(dst, 0x80|127)
		dst = binary.BigEndian.AppendUint64(dst, uint64(n))
	}
	dst = append(dst, key[:]...)
	start := len(dst)
	dst = append(dst, payload...)
	for i := range payload {
		dst[start+i] ^= key[i&3]
	}
	return dst
}

// frameReader parses the server's half of a WebSocket stream: unmasked
// frames that may be split across reads, several in one read, or a
// message fragmented over several frames.
type frameReader struct {
	pending    []byte // the start of a frame not yet whole
	msg        []byte // a fragmented message so far
	fragmented bool
}

// frameHandler receives what a frameReader parses. Slices are valid only
// during the call.
type frameHandler interface {
	message(payload []byte) error
	control(op byte, payload []byte) error
}

var errRawProtocol = errors.New("websocket: protocol error from the server")

// feed parses data, calling h for every whole message and control frame,
// and keeps what is left of an incomplete frame for the next call.
func (r *frameReader) feed(data []byte, h frameHandler) error {
	if len(r.pending) > 0 {
		r.pending = append(r.pending, data...)
		data = r.pending
	}
	for len(data) >= 2 {
		b0, b1 := data[0], data[1]
		if b0&0x70 != 0 || b1&0x80 != 0 { // reserved bits, or a masked server frame
			return errRawProtocol
		}
		op, fin := b0&0x0F, b0&0x80 != 0
		hdr, n := 2, uint64(b1&0x7F)
		switch n {
		case 126:
			if len(data) < 4 {
				return r.keep(data)
			}
			hdr, n = 4, uint64(binary.BigEndian.Uint16(data[2:]))
		case 127:
			if len(data) < 10 {
				return r.keep(data)
			}
			hdr, n = 10, binary.BigEndian.Uint64(data[2:])
		}
		if n > rawReadLimit || uint64(len(r.msg))+n > rawReadLimit {
			return fmt.Errorf("websocket: a message over %d bytes", rawReadLimit)
		}
		if uint64(len(data)-hdr) < n {
			return r.keep(data)
		}
		payload := data[hdr : hdr+int(n)]
		data = data[hdr+int(n):]
		if err := r.frame(op, fin, payload, h); err != nil {
			return err
		}
	}
	return r.keep(data)
}

// keep saves the start of an incomplete frame (data may alias pending).
func (r *frameReader) keep(data []byte) error {
	if len(data) == 0 && cap(r.pending) > 64<<10 {
		r.pending = nil // a large message's buffer is not kept
		return nil
	}
	r.pending = append(r.pending[:0], data...)
	return nil
}

func (r *frameReader) frame(op byte, fin bool, payload []byte, h frameHandler) error {
	switch op {
	case opText, opBinary:
		if r.fragmented {
			return errRawProtocol
		}
		if fin {
			return h.message(payload)
		}
		r.msg, r.fragmented = append(r.msg[:0], payload...), true
	case opContinuation:
		if !r.fragmented {
			return errRawProtocol
		}
		r.msg = append(r.msg, payload...)
		if fin {
			r.fragmented = false
			err := h.message(r.msg)
			r.msg = r.msg[:0]
			if cap(r.msg) > 64<<10 {
				r.msg = nil
			}
			return err
		}
	case opClose, opPing, opPong:
		if !fin || len(payload) > 125 {
			return errRawProtocol
		}
		return h.control(op, payload)
	default:
		return errRawProtocol
	}
	return nil
}

// closeError is what a close frame's payload means: the server's code and
// reason, as coder/websocket reports them, so the caller reads the code the
// same way on both paths (websocket.CloseStatus).
func closeError(payload []byte) error {
	if len(payload) < 2 {
		return websocket.CloseError{Code: websocket.StatusNoStatusRcvd}
	}
	return websocket.CloseError{
		Code:   websocket.StatusCode(binary.BigEndian.Uint16(payload)),
		Reason: string(payload[2:]),
	}
}
