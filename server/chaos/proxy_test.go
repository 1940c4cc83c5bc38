package chaos

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"net"
	"testing"
	"time"
)

// echoServer answers every byte it reads with the same byte until the
// test ends.
func echoServer(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); _, _ = io.Copy(c, c) }()
		}
	}()
	return ln
}

func dialProxy(t *testing.T, p *Proxy) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func roundTrip(t *testing.T, c net.Conn, msg []byte) time.Duration {
	t.Helper()
	start := time.Now()
	if _, err := c.Write(msg); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(msg))
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, msg) {
		t.Fatalf("echo through the proxy changed the bytes")
	}
	return time.Since(start)
}

// The proxy carries a stream intact in both directions, and a latency
// delays every answer by at least that much, without reordering a large
// transfer.
func TestProxyCarriesAndDelays(t *testing.T) {
	ln := echoServer(t)
	p, err := NewProxy(ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	c := dialProxy(t, p)
	roundTrip(t, c, []byte("hello"))

	const d = 150 * time.Millisecond
	p.SetLatency(d)
	if rtt := roundTrip(t, c, []byte("slow")); rtt < d {
		t.Fatalf("round trip with %v of latency took %v", d, rtt)
	}
	// A megabyte in many chunks arrives whole and in order.
	big := make([]byte, 1<<20)
	_, _ = rand.Read(big)
	done := make(chan error, 1)
	go func() { _, err := c.Write(big); done <- err }()
	got := make([]byte, len(big))
	_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, big) {
		t.Fatal("a delayed megabyte came back changed or reordered")
	}

	p.SetLatency(0)
	roundTrip(t, c, []byte("latency removed"))
}

// A service that goes away takes the proxied connection with it; while it
// is down a new connection is accepted and closed at once; Close cuts what
// is open.
func TestProxyFollowsTheService(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	accepted := make(chan net.Conn, 2)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	newProxy := func() *Proxy {
		p, err := NewProxy(ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { p.Close() })
		return p
	}
	eof := func(c net.Conn, what string) {
		t.Helper()
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := c.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
			t.Fatalf("%s: read %v, want EOF", what, err)
		}
	}

	p := newProxy()
	c := dialProxy(t, p)
	<-accepted
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	eof(c, "the proxy closed")

	p = newProxy()
	c = dialProxy(t, p)
	svc := <-accepted
	svc.Close()
	eof(c, "the service closed its side")

	ln.Close()
	eof(dialProxy(t, p), "the service is down")

	for range 2 {
		if err := p.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
	}
}
