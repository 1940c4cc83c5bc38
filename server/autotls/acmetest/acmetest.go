// Package acmetest runs an ACME certificate authority for tests: Pebble,
// Let's Encrypt's ACME test server, in the test's process on loopback,
// with a DNS server that resolves every name to 127.0.0.1, so that a
// server under test goes through the whole exchange for real (account,
// order, HTTP-01 or TLS-ALPN-01 challenge, certificate, renewal). Only
// tests import it.
package acmetest

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/letsencrypt/pebble/v2/ca"
	"github.com/letsencrypt/pebble/v2/db"
	"github.com/letsencrypt/pebble/v2/va"
	"github.com/letsencrypt/pebble/v2/wfe"
	"github.com/miekg/dns"
)

// CA is one running Pebble.
type CA struct {
	// Directory is the ACME directory URL (--acme-ca).
	Directory string
	// HTTPSRoot is a PEM file of the root of the CA's own HTTPS
	// (--acme-ca-root).
	HTTPSRoot string
	// Roots holds the root the issued certificates chain to.
	Roots *x509.CertPool
	// Orders counts the new orders the CA received.
	Orders atomic.Int32

	db *db.MemoryStore
}

// Start runs a CA that validates challenges on 127.0.0.1 at httpPort
// (HTTP-01) and tlsPort (TLS-ALPN-01), resolving names with the DNS server
// at dnsAddr (StartDNS). It stops when t ends. It sets Pebble's variables
// for no random sleeps and no rejected nonces in the environment of t.
func Start(t *testing.T, httpPort, tlsPort int, dnsAddr string) *CA {
	t.Helper()
	t.Setenv("PEBBLE_VA_NOSLEEP", "1")
	t.Setenv("PEBBLE_WFE_NONCEREJECT", "0")
	logger := log.New(io.Discard, "", 0)
	if testing.Verbose() {
		logger = log.New(os.Stderr, "pebble ", log.Ltime)
	}
	store := db.NewMemoryStore()
	authority := ca.New(logger, store, "", "ecdsa", 0, 1, map[string]ca.Profile{"default": {Description: "default"}})
	validator := va.New(logger, httpPort, tlsPort, false, dnsAddr, store)
	front := wfe.New(logger, store, validator, authority, []string{"pebble.letsencrypt.org"}, false, false, 0, 0)
	c := &CA{db: store}
	handler := front.Handler()
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && r.URL.Path == "/order-plz" {
			c.Orders.Add(1)
		}
		if strings.Contains(r.URL.Path, "/renewalInfo/") {
			// Ask for renewal information again in a second, not in
			// Pebble's six hours, so that a changed window is seen.
			w = retryAfter{w}
		}
		handler.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	c.Directory = srv.URL + wfe.DirectoryPath
	c.HTTPSRoot = filepath.Join(t.TempDir(), "acme-https-root.pem")
	if err := os.WriteFile(c.HTTPSRoot, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	c.Roots = x509.NewCertPool()
	c.Roots.AddCert(authority.GetRootCert(0).Cert)
	return c
}

// SetRenewalWindow makes the CA's renewal information (ARI) for the
// certificate with serial suggest renewing between start and end.
func (c *CA) SetRenewalWindow(serial *big.Int, start, end time.Time) error {
	return c.db.SetARIResponse(serial, fmt.Sprintf(`{"suggestedWindow":{"start":%q,"end":%q}}`,
		start.UTC().Format(time.RFC3339), end.UTC().Format(time.RFC3339)))
}

type retryAfter struct{ http.ResponseWriter }

func (w retryAfter) WriteHeader(code int) {
	w.Header().Set("Retry-After", "1")
	w.ResponseWriter.WriteHeader(code)
}

func (w retryAfter) Write(b []byte) (int, error) {
	w.Header().Set("Retry-After", "1")
	return w.ResponseWriter.Write(b)
}

// StartDNS runs a DNS server on loopback, over TCP (as Pebble asks), that
// answers every A question with 127.0.0.1 and nothing else; it returns
// its address.
func StartDNS(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &dns.Server{Listener: ln, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(r)
		for _, q := range r.Question {
			if q.Qtype == dns.TypeA {
				m.Answer = append(m.Answer, &dns.A{
					Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60},
					A:   net.IPv4(127, 0, 0, 1),
				})
			}
		}
		_ = w.WriteMsg(m)
	})}
	go func() { _ = srv.ActivateAndServe() }()
	t.Cleanup(func() { _ = srv.Shutdown() })
	return ln.Addr().String()
}

// Forwarder is a TCP port on loopback that passes each connection on to a
// target set later: a connection made before the target is known waits
// for it. It stands for a load balancer in front of a node that is not
// started yet.
type Forwarder struct {
	Port   int
	once   sync.Once
	target chan string
	addr   string
}

// Forward listens on a free port of 127.0.0.1 until t ends.
func Forward(t *testing.T) *Forwarder {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &Forwarder{Port: ln.Addr().(*net.TCPAddr).Port, target: make(chan string)}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go f.pass(c)
		}
	}()
	return f
}

// SetTarget names the address connections go to from now on (once).
func (f *Forwarder) SetTarget(addr string) {
	f.once.Do(func() {
		f.addr = addr
		close(f.target)
	})
}

func (f *Forwarder) pass(c net.Conn) {
	defer c.Close()
	select {
	case <-f.target:
	case <-time.After(time.Minute):
		return
	}
	up, err := net.Dial("tcp", f.addr)
	if err != nil {
		return
	}
	defer up.Close()
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(up, c); done <- struct{}{} }()
	go func() { _, _ = io.Copy(c, up); done <- struct{}{} }()
	<-done
}
