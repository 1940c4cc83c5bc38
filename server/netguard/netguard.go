// Package netguard is the one way the server makes requests to addresses
// its users choose: bot webhooks, link previews, push services. A user who
// can make the server fetch a URL can otherwise make it reach what only the
// server can reach — its own admin ports, the database on the private
// network, a cloud's metadata service at 169.254.169.254. The client here
// checks every address it connects to, after DNS resolution and on every
// redirect, so neither a hostname that resolves to 10.0.0.5 nor a public
// page that redirects to http://127.0.0.1 gets through.
//
// The check sits in the dialer (net.Dialer.Control), which sees the
// address the connection really goes to: no resolve-then-connect window
// for DNS rebinding, and no proxy from the environment in between.
package netguard

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"
)

// Options configure a guarded client.
type Options struct {
	// AllowPrivate lets the client reach loopback, private and link-local
	// addresses: for instances whose bots live on the same network, and
	// for tests with servers on loopback. Off by default.
	AllowPrivate bool
	// Timeout bounds a whole request, redirects and body included;
	// default 10 s.
	Timeout time.Duration
	// MaxBytes caps every response body read through the client: reading
	// past it fails with ErrTooLarge. 0: no cap.
	MaxBytes int64
	// MaxRedirects is how many redirects a request follows; default 5,
	// negative: none.
	MaxRedirects int

	// permit lets one otherwise refused range through: the tests' way to
	// have a "public" server on loopback next to a refused one.
	permit netip.Prefix
}

// ErrForbidden is returned (wrapped) for a connection to an address the
// guard refuses.
var ErrForbidden = errors.New("destination address not allowed")

// ErrTooLarge is returned when a body grows past Options.MaxBytes.
var ErrTooLarge = errors.New("response body too large")

// NewClient returns an HTTP client that connects only to public unicast
// addresses (unless o.AllowPrivate), over http or https.
func NewClient(o Options) *http.Client {
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	if o.MaxRedirects == 0 {
		o.MaxRedirects = 5
	}
	dialer := &net.Dialer{
		Timeout:   o.Timeout,
		KeepAlive: 30 * time.Second,
		Control: func(network, address string, _ syscall.RawConn) error {
			if o.AllowPrivate {
				return nil
			}
			return checkAddress(address, o.permit)
		},
	}
	transport := &http.Transport{
		Proxy:                  nil, // a proxy would connect on our behalf, unchecked
		DialContext:            dialer.DialContext,
		ForceAttemptHTTP2:      true,
		MaxIdleConns:           32,
		MaxIdleConnsPerHost:    2,
		IdleConnTimeout:        60 * time.Second,
		TLSHandshakeTimeout:    o.Timeout,
		ResponseHeaderTimeout:  o.Timeout,
		MaxResponseHeaderBytes: 64 << 10,
	}
	var rt http.RoundTripper = transport
	if o.MaxBytes > 0 {
		rt = capped{rt, o.MaxBytes}
	}
	return &http.Client{
		Transport: rt,
		Timeout:   o.Timeout,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if o.MaxRedirects < 0 || len(via) > o.MaxRedirects {
				return fmt.Errorf("stopped after %d redirects", len(via))
			}
			err := CheckURL(req.URL.Scheme, req.URL.Hostname())
			if errors.Is(err, ErrForbidden) && (o.AllowPrivate || o.permitsHost(req.URL.Hostname())) {
				return nil
			}
			return err
		},
	}
}

// CheckURL refuses schemes other than http and https, and hosts given as
// a refused address literal (hostnames are checked when dialled). It is
// for validating a URL when it is saved, so a user hears at once that
// http://10.0.0.1/ will not work; the dialer still has the last word.
func CheckURL(scheme, host string) error {
	if scheme != "http" && scheme != "https" {
		return fmt.Errorf("only http and https URLs are allowed, not %q", scheme)
	}
	if host == "" {
		return errors.New("the URL has no host")
	}
	if ip, err := netip.ParseAddr(host); err == nil && !Public(ip) {
		return fmt.Errorf("%w: %s", ErrForbidden, ip)
	}
	return nil
}

// CheckURLAllowing is CheckURL that lets private address literals through
// when allowPrivate is set.
func CheckURLAllowing(scheme, host string, allowPrivate bool) error {
	err := CheckURL(scheme, host)
	if allowPrivate && errors.Is(err, ErrForbidden) {
		return nil
	}
	return err
}

func checkAddress(address string, permit netip.Prefix) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: %q", ErrForbidden, address)
	}
	if permit.IsValid() && permit.Contains(ap.Addr()) {
		return nil
	}
	if !Public(ap.Addr()) {
		return fmt.Errorf("%w: %s", ErrForbidden, ap.Addr())
	}
	return nil
}

// special lists the ranges that are not the public internet: loopback,
// RFC 1918 and unique-local, link-local (with the cloud metadata address),
// carrier-grade NAT, documentation, benchmarking, reserved and multicast.
var special = func() []netip.Prefix {
	var ps []netip.Prefix
	for _, s := range []string{
		"0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
		"172.16.0.0/12", "192.0.0.0/24", "192.0.2.0/24", "192.88.99.0/24", "192.168.0.0/16",
		"198.18.0.0/15", "198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4",
		"::/128", "::1/128", "100::/64", "2001::/23", "2001:db8::/32", "fc00::/7",
		"fe80::/10", "fec0::/10", "ff00::/8",
	} {
		ps = append(ps, netip.MustParsePrefix(s))
	}
	return ps
}()

var (
	nat64  = netip.MustParsePrefix("64:ff9b::/96")
	sixTo4 = netip.MustParsePrefix("2002::/16")
)

// Public reports whether ip is a public unicast address: not one of the
// special ranges, also when an IPv4 address hides inside an IPv6 one
// (IPv4-mapped, NAT64, 6to4).
func Public(ip netip.Addr) bool {
	ip = ip.Unmap()
	if !ip.IsValid() {
		return false
	}
	if ip.Is6() {
		b := ip.As16()
		switch {
		case nat64.Contains(ip):
			return Public(netip.AddrFrom4([4]byte(b[12:16])))
		case sixTo4.Contains(ip):
			return Public(netip.AddrFrom4([4]byte(b[2:6])))
		}
	}
	for _, p := range special {
		if p.Contains(ip) {
			return false
		}
	}
	return true
}

func (o Options) permitsHost(host string) bool {
	ip, err := netip.ParseAddr(host)
	return err == nil && o.permit.IsValid() && o.permit.Contains(ip)
}

// capped limits every response body.
type capped struct {
	next http.RoundTripper
	max  int64
}

func (c capped) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := c.next.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	if resp.ContentLength > c.max {
		_ = resp.Body.Close()
		return nil, fmt.Errorf("%w: %d bytes announced", ErrTooLarge, resp.ContentLength)
	}
	resp.Body = &limitedBody{rc: resp.Body, left: c.max}
	return resp, nil
}

type limitedBody struct {
	rc   io.ReadCloser
	left int64
}

func (l *limitedBody) Read(p []byte) (int, error) {
	if l.left <= 0 {
		// One byte more tells a body of exactly max bytes from a longer one.
		var one [1]byte
		n, err := l.rc.Read(one[:])
		if n > 0 {
			return 0, ErrTooLarge
		}
		return 0, err
	}
	if int64(len(p)) > l.left {
		p = p[:l.left]
	}
	n, err := l.rc.Read(p)
	l.left -= int64(n)
	return n, err
}

func (l *limitedBody) Close() error { return l.rc.Close() }

// Resolve is a convenience for callers that want to refuse a hostname
// before queueing work for it: it resolves host and fails when any of its
// addresses is refused (unless allowPrivate).
func Resolve(ctx context.Context, host string, allowPrivate bool) error {
	if allowPrivate {
		return nil
	}
	addrs, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return err
	}
	for _, a := range addrs {
		if !Public(a) {
			return fmt.Errorf("%w: %s resolves to %s", ErrForbidden, host, a)
		}
	}
	return nil
}
