// Package natstest gives tests a NATS server: the one named by the
// MINICHAT_TEST_NATS environment variable, e.g.
//
//	MINICHAT_TEST_NATS=nats://127.0.0.1:4222 go test ./...
//
// or, without it, one started in the test's own process (the module
// depends on nats-server already, so a NATS test never needs to skip).
// With the variable set, a server that does not answer fails the test: a
// run that named a server never passes without it.
//
// Tests that share a server keep their traffic apart with subject prefixes
// of their own (broker.NATSOptions.Prefix) or random ids.
package natstest

import (
	"errors"
	"net"
	"net/url"
	"os"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
)

// Env is the variable naming the test server.
const Env = "MINICHAT_TEST_NATS"

// URL returns the NATS server of a test: Env's when set, else a server
// started in this process for t (see Start).
func URL(t testing.TB) string {
	t.Helper()
	u := os.Getenv(Env)
	if u == "" {
		return Start(t, nil).ClientURL()
	}
	pu, err := url.Parse(u)
	if err != nil || pu.Host == "" {
		t.Fatalf("%s=%q: want a nats://host:port URL", Env, u)
	}
	c, err := net.DialTimeout("tcp", pu.Host, 5*time.Second)
	if err != nil {
		t.Fatalf("%s is set but the server does not answer: %v", Env, err)
	}
	c.Close()
	return u
}

// Start runs a NATS server in this process, on 127.0.0.1, until t ends.
// opts may be nil; its Port 0 (unlike nats-server's, which means 4222)
// picks a free port. Tests that stop the server, restart it or need
// options of their own (MaxPayload) use Start rather than URL.
func Start(t testing.TB, opts *natsserver.Options) *natsserver.Server {
	t.Helper()
	ns, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	return ns
}

// New starts a NATS server in this process as Start does, for harnesses
// that manage its life themselves; it returns once the server accepts
// connections. Shut it down with Shutdown.
func New(opts *natsserver.Options) (*natsserver.Server, error) {
	var o natsserver.Options
	if opts != nil {
		o = *opts
	}
	if o.Port == 0 {
		o.Port = natsserver.RANDOM_PORT
	}
	o.Host, o.NoLog, o.NoSigs = "127.0.0.1", true, true
	ns, err := natsserver.NewServer(&o)
	if err != nil {
		return nil, err
	}
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		ns.Shutdown()
		return nil, errors.New("nats server not ready after 10 s")
	}
	return ns, nil
}
