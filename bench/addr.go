package bench

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
)

// maxSourceIPs bounds a --source-ips range: a typo such as 127.0.0.1-127.1.0.1
// should fail, not allocate millions of addresses.
const maxSourceIPs = 1024

// parseSourceIPs parses a comma-separated list of addresses and inclusive
// ranges ("127.0.0.1-127.0.0.8"). An empty string means no binding: the
// kernel picks the source address.
func parseSourceIPs(s string) ([]netip.Addr, error) {
	var out []netip.Addr
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := netip.ParseAddr(strings.TrimSpace(lo))
		if err != nil {
			return nil, fmt.Errorf("source address %q: %w", part, err)
		}
		if !isRange {
			out = append(out, a)
			continue
		}
		b, err := netip.ParseAddr(strings.TrimSpace(hi))
		if err != nil {
			return nil, fmt.Errorf("source address %q: %w", part, err)
		}
		if a.Is4() != b.Is4() || b.Less(a) {
			return nil, fmt.Errorf("source range %q: the end must follow the start", part)
		}
		for ip := a; ; ip = ip.Next() {
			out = append(out, ip)
			if len(out) > maxSourceIPs {
				return nil, fmt.Errorf("source addresses %q: more than %d", s, maxSourceIPs)
			}
			if ip == b {
				break
			}
		}
	}
	return out, nil
}

// sourceFor returns the local address connection i binds to: connections
// are dealt round-robin over the addresses, so each address carries at most
// ceil(n/len(ips)) of them (about 28k ephemeral ports each by default).
// It returns nil when ips is empty.
func sourceFor(ips []netip.Addr, i int) *net.TCPAddr {
	if len(ips) == 0 {
		return nil
	}
	return net.TCPAddrFromAddrPort(netip.AddrPortFrom(ips[i%len(ips)], 0))
}

// loopbackTarget reports whether the server URL names a loopback address.
func loopbackTarget(u *url.URL) bool {
	host := u.Hostname()
	if host == "localhost" {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.IsLoopback()
}

// defaultSourceIPs is used when --source-ips is not given: for an IPv4
// loopback target, 16 loopback addresses (every 127/8 address is local on
// Linux), which gives room for far more than the process file limit;
// otherwise none.
func defaultSourceIPs(u *url.URL) string {
	a, err := netip.ParseAddr(u.Hostname())
	if err == nil && a.Is4() && a.IsLoopback() {
		return "127.0.0.1-127.0.0.16"
	}
	return ""
}
