package push

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"
)

// GuardedClient is the HTTP client of pushes: a timeout on every request,
// no redirects followed, and — unless allowPrivate — connections only to
// public addresses, checked on the address actually dialled (after DNS),
// so that a subscription cannot point the server at its own network
// (loopback, private, link-local, CGNAT, multicast, unspecified).
//
// It stands in for the shared SSRF guard until there is one; push
// services are public HTTPS hosts, so only tests against a loopback push
// service need allowPrivate (--allow-private-targets).
func GuardedClient(allowPrivate bool, timeout time.Duration) *http.Client {
	d := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	if !allowPrivate {
		d.Control = func(_, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil {
				return fmt.Errorf("push: dial %s: %w", address, err)
			}
			if !Public(ap.Addr()) {
				return fmt.Errorf("push: %s is not a public address (see --allow-private-targets)", ap.Addr())
			}
			return nil
		}
	}
	tr := &http.Transport{
		// No proxy: the guard checks the address dialled, which must be
		// the push service's own.
		DialContext:           d.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          64,
		MaxIdleConnsPerHost:   16,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: timeout,
	}
	return &http.Client{
		Transport: tr,
		Timeout:   timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return errors.New("push: push services do not redirect")
		},
	}
}

var cgnat = netip.MustParsePrefix("100.64.0.0/10")

// Public reports whether a is an address of the public internet.
func Public(a netip.Addr) bool {
	a = a.Unmap()
	return a.IsValid() && a.IsGlobalUnicast() && !a.IsPrivate() && !a.IsLoopback() &&
		!a.IsLinkLocalUnicast() && !cgnat.Contains(a)
}
