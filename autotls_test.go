package main

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"minichat/server/autotls/acmetest"
	"minichat/server/store/pgtest"
)

// TestAutoHTTPSTwoProcesses runs two minichat processes with --tls-domain
// on one shared store, as two nodes of a cluster behind a load balancer
// that sends the CA's validation to node A only: node B starts first and
// orders the certificate, A starts while B's order is open and answers
// B's challenges from the shared store; both then serve the same
// certificate, after one order. The store is a Postgres database when
// MINICHAT_TEST_POSTGRES is set (certificates and locks in it), else a
// data directory both nodes use.
func TestAutoHTTPSTwoProcesses(t *testing.T) {
	const domain = "chat.minichat.test"
	dnsAddr := acmetest.StartDNS(t)
	toA80, toA443 := acmetest.Forward(t), acmetest.Forward(t)
	ca := acmetest.Start(t, toA80.Port, toA443.Port, dnsAddr)

	common := []string{"--tls-domain", domain, "--acme-ca", ca.Directory, "--acme-ca-root", ca.HTTPSRoot,
		"--acme-email", "ops@minichat.test", "--http-addr", "127.0.0.1:0", "--log-level", "debug"}
	var dirA, dirB string
	var argsA, argsB []string
	if os.Getenv(pgtest.Env) != "" {
		dbURL, _ := pgtest.Schema(t)
		dirA, dirB = t.TempDir(), t.TempDir()
		argsA = append([]string{"--database", dbURL}, common...)
		argsB = argsA
		t.Log("the nodes share a Postgres database")
	} else {
		dirA = t.TempDir()
		dirB = dirA
		argsA = append([]string{"--database", "sqlite:" + filepath.Join(t.TempDir(), "a.db")}, common...)
		argsB = append([]string{"--database", "sqlite:" + filepath.Join(t.TempDir(), "b.db")}, common...)
		t.Logf("the nodes share a data directory (%s is not set, so not a Postgres database)", pgtest.Env)
	}

	b := startChild(t, dirB, argsB...)
	for deadline := time.Now().Add(time.Minute); ca.Orders.Load() == 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("node B placed no order within a minute")
		}
	}
	a := startChild(t, dirA, argsA...)
	httpLine := a.waitLog("of node A's http listener", func(l map[string]any) bool {
		return l["message"] == "http listening for ACME challenges and redirects to https"
	})
	toA80.SetTarget(httpLine["addr"].(string))
	toA443.SetTarget(strings.TrimPrefix(a.url, "http://"))

	served := func(c *child) *x509.Certificate {
		t.Helper()
		addr := strings.TrimPrefix(c.url, "http://")
		var last error
		for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr,
				&tls.Config{ServerName: domain, RootCAs: ca.Roots})
			if err == nil {
				cert := conn.ConnectionState().PeerCertificates[0]
				conn.Close()
				return cert
			}
			last = err
		}
		t.Fatalf("no certificate for %s was served on %s within 2 minutes: %v", domain, addr, last)
		return nil
	}
	certB, certA := served(b), served(a)
	if certA.SerialNumber.Cmp(certB.SerialNumber) != 0 {
		t.Fatalf("the nodes serve different certificates: serial %x and %x", certA.SerialNumber, certB.SerialNumber)
	}
	if n := ca.Orders.Load(); n != 1 {
		t.Fatalf("the CA received %d orders, want 1", n)
	}
	// A answered a challenge it did not start: from the shared store.
	a.waitLog("of node A answering node B's challenge", func(l map[string]any) bool {
		msg, _ := l["message"].(string)
		return strings.HasPrefix(msg, "served key authentication") && l["distributed"] == true
	})
	b.waitLog("of node B obtaining the certificate", func(l map[string]any) bool { return l["message"] == "certificate obtained" })
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, l := range a.logs {
		if l["message"] == "certificate obtained" {
			t.Fatal("node A obtained a certificate too")
		}
	}
}
