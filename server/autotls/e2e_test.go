package autotls_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"minichat/server"
	"minichat/server/autotls"
	"minichat/server/autotls/acmetest"
	"minichat/server/store/pgtest"
)

// The end-to-end tests of automatic HTTPS run an ACME CA (acmetest: Pebble
// on loopback) with its validation pointed at the ports of a node under
// test, so that the whole ACME exchange happens for real: account, order,
// HTTP-01 or TLS-ALPN-01 challenge answered by the node, certificate,
// renewal. main's TestAutoHTTPSTwoProcesses runs the nodes as processes.

const domain = "chat.minichat.test"

// node is one minichat server with automatic HTTPS on loopback.
type node struct {
	tlsLn, httpLn net.Listener
	tlsPort       int
	httpPort      int
}

func listeners(t *testing.T) *node {
	t.Helper()
	n := &node{}
	var err error
	if n.tlsLn, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	if n.httpLn, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	n.tlsPort = n.tlsLn.Addr().(*net.TCPAddr).Port
	n.httpPort = n.httpLn.Addr().(*net.TCPAddr).Port
	return n
}

// start runs the node's server with cfg until the test ends.
func (n *node) start(t *testing.T, p *acmetest.CA, cfg server.Config) {
	t.Helper()
	cfg.Addr = n.tlsLn.Addr().String()
	cfg.HTTPAddr = n.httpLn.Addr().String()
	cfg.TLSDomains = []string{domain}
	cfg.ACMECA = p.Directory
	cfg.ACMECARoot = p.HTTPSRoot
	cfg.ACMEEmail = "ops@minichat.test"
	cfg.ShutdownGrace = 2 * time.Second
	logger := zerolog.Nop()
	if testing.Verbose() {
		logger = zerolog.New(zerolog.ConsoleWriter{Out: os.Stderr, NoColor: true}).With().Timestamp().Int("node", n.tlsPort).Logger()
	}
	srv, err := server.New(cfg, logger, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv.SetHTTPListener(n.httpLn)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, n.tlsLn, nil) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
}

// client talks to the node as a browser that trusts the CA's root and
// resolves the domain to the node.
func (n *node) client(p *acmetest.CA) *http.Client {
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		port := n.tlsPort
		if strings.HasSuffix(addr, ":80") || strings.HasSuffix(addr, fmt.Sprintf(":%d", n.httpPort)) {
			port = n.httpPort
		}
		var d net.Dialer
		return d.DialContext(ctx, network, fmt.Sprintf("127.0.0.1:%d", port))
	}
	return &http.Client{
		Transport:     &http.Transport{DialContext: dial, TLSClientConfig: &tls.Config{RootCAs: p.Roots}, DisableKeepAlives: true},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       10 * time.Second,
	}
}

// served is the leaf certificate the node presents for the domain,
// verified against the CA's root.
func (n *node) served(p *acmetest.CA) (*x509.Certificate, error) {
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp",
		fmt.Sprintf("127.0.0.1:%d", n.tlsPort), &tls.Config{ServerName: domain, RootCAs: p.Roots})
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0], nil
}

// waitCert waits for the node to serve a certificate for which ok holds,
// and fails the test when none comes in time.
func (n *node) waitCert(t *testing.T, p *acmetest.CA, what string, ok func(*x509.Certificate) bool) *x509.Certificate {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	var last error
	for time.Now().Before(deadline) {
		c, err := n.served(p)
		if err == nil && ok(c) {
			return c
		}
		if err == nil {
			err = errors.New("not yet")
		}
		last = err
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s: no such certificate was served within 2 minutes (last: %v)", what, last)
	return nil
}

func anyCert(*x509.Certificate) bool { return true }

// A fresh server obtains a certificate from the CA, serves the app over it
// with HSTS, redirects plain HTTP to HTTPS (except the challenge path),
// and renews the certificate when the CA says it is time.
func TestAutoHTTPSSingleNode(t *testing.T) {
	dnsAddr := acmetest.StartDNS(t)
	n := listeners(t)
	p := acmetest.Start(t, n.httpPort, n.tlsPort, dnsAddr)
	dataDir := t.TempDir()
	n.start(t, p, server.Config{DataDir: dataDir, ACMERenewCheck: 500 * time.Millisecond})

	first := n.waitCert(t, p, "first certificate", anyCert)
	if len(first.DNSNames) != 1 || first.DNSNames[0] != domain {
		t.Fatalf("certificate for %v, want [%s]", first.DNSNames, domain)
	}
	if got := p.Orders.Load(); got != 1 {
		t.Errorf("%d orders for one certificate", got)
	}
	// On a single node with SQLite the certificate is in the data dir.
	matches, _ := filepath.Glob(filepath.Join(dataDir, "certificates", "certificates", "*", domain, domain+".crt"))
	if len(matches) != 1 {
		t.Errorf("certificate files in the data dir: %v", matches)
	}

	// A client that sends no server name (by IP address) gets it too.
	conn, err := tls.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", n.tlsPort), &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatalf("handshake without a server name: %v", err)
	}
	if got := conn.ConnectionState().PeerCertificates[0]; got.SerialNumber.Cmp(first.SerialNumber) != 0 {
		t.Errorf("without a server name: certificate %x, want %x", got.SerialNumber, first.SerialNumber)
	}
	conn.Close()

	c := n.client(p)
	resp, err := c.Get("https://" + domain + "/")
	if err != nil {
		t.Fatalf("GET / over TLS: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "minichat") {
		t.Fatalf("GET / over TLS: %d %.100q", resp.StatusCode, body)
	}
	if hsts := resp.Header.Get("Strict-Transport-Security"); hsts != autotls.HSTSValue {
		t.Errorf("Strict-Transport-Security %q, want %q", hsts, autotls.HSTSValue)
	}

	// Plain HTTP: a 308 to the same URL over HTTPS, on the default port
	// when the request came to the default port (behind a port mapping),
	// else on the node's.
	for _, tc := range []struct{ url, want string }{
		{"http://" + domain + "/rooms/general?x=1", "https://" + domain + "/rooms/general?x=1"},
		{fmt.Sprintf("http://%s:%d/rooms/general", domain, n.httpPort), fmt.Sprintf("https://%s:%d/rooms/general", domain, n.tlsPort)},
	} {
		resp, err = c.Get(tc.url)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusPermanentRedirect || resp.Header.Get("Location") != tc.want {
			t.Fatalf("plain HTTP %s: %d to %q, want 308 to %q", tc.url, resp.StatusCode, resp.Header.Get("Location"), tc.want)
		}
		if resp.Header.Get("Strict-Transport-Security") != "" {
			t.Error("HSTS sent over plain HTTP")
		}
	}
	// The challenge path is never redirected: an unknown token is a 404.
	resp, err = c.Get("http://" + domain + "/.well-known/acme-challenge/unknown")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("unknown challenge token: %d, want 404", resp.StatusCode)
	}

	// The CA tells the server, through its renewal information (ARI),
	// that the certificate is due: the server renews it and serves the
	// new one.
	if err := p.SetRenewalWindow(first.SerialNumber, time.Now().Add(-2*time.Hour), time.Now().Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	renewed := n.waitCert(t, p, "renewed certificate", func(c *x509.Certificate) bool {
		return c.SerialNumber.Cmp(first.SerialNumber) != 0
	})
	if !renewed.NotBefore.After(first.NotBefore.Add(-time.Second)) || renewed.DNSNames[0] != domain {
		t.Fatalf("renewed certificate: %v from %v", renewed.DNSNames, renewed.NotBefore)
	}
	if got := p.Orders.Load(); got < 2 {
		t.Errorf("%d orders after a renewal", got)
	}
}

// Two nodes sharing one store serve the same certificate, which only one
// of them ordered; the CA's validation reaches only node A, which answers
// the challenges that node B started (through the store), as behind a load
// balancer that may send the CA's requests to any node.
func TestAutoHTTPSCluster(t *testing.T) {
	dnsAddr := acmetest.StartDNS(t)
	a, b := listeners(t), listeners(t)
	p := acmetest.Start(t, a.httpPort, a.tlsPort, dnsAddr)

	var cfgA, cfgB server.Config
	if os.Getenv(pgtest.Env) != "" {
		// The cluster as deployed: one Postgres database, certificates and
		// locks in it.
		dbURL, _ := pgtest.Schema(t)
		cfgA = server.Config{Database: dbURL, DataDir: t.TempDir()}
		cfgB = server.Config{Database: dbURL, DataDir: t.TempDir()}
		t.Log("the nodes share a Postgres database")
	} else {
		// Without Postgres: two nodes with databases of their own and one
		// shared data directory (as on a network file system).
		shared := t.TempDir()
		cfgA = server.Config{Database: "sqlite:" + filepath.Join(t.TempDir(), "a.db"), DataDir: shared}
		cfgB = server.Config{Database: "sqlite:" + filepath.Join(t.TempDir(), "b.db"), DataDir: shared}
		t.Logf("the nodes share a data directory (%s is not set, so not a Postgres database)", pgtest.Env)
	}
	// B starts first and orders; A starts while B's order is open, so A
	// must wait for B's lock, and must answer, from the shared store, the
	// challenges of B's order that the CA sends to A.
	b.start(t, p, cfgB)
	for deadline := time.Now().Add(time.Minute); p.Orders.Load() == 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("node B placed no order within a minute")
		}
	}
	a.start(t, p, cfgA)

	ca := a.waitCert(t, p, "node A's certificate", anyCert)
	cb := b.waitCert(t, p, "node B's certificate", anyCert)
	if ca.SerialNumber.Cmp(cb.SerialNumber) != 0 {
		t.Fatalf("the nodes serve different certificates: serial %x and %x", ca.SerialNumber, cb.SerialNumber)
	}
	if got := p.Orders.Load(); got != 1 {
		t.Fatalf("the CA received %d orders, want 1: only one node orders", got)
	}
	resp, err := b.client(p).Get("https://" + domain + "/")
	if err != nil {
		t.Fatalf("GET / on node B: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET / on node B: %d", resp.StatusCode)
	}
}
