package netguard

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
)

func TestPublic(t *testing.T) {
	for addr, want := range map[string]bool{
		"1.1.1.1":            true,
		"93.184.216.34":      true,
		"2606:4700::1111":    true,
		"127.0.0.1":          false,
		"127.8.9.10":         false,
		"10.1.2.3":           false,
		"172.16.0.1":         false,
		"172.31.255.255":     false,
		"192.168.1.1":        false,
		"169.254.169.254":    false, // cloud metadata
		"100.64.0.1":         false,
		"0.0.0.0":            false,
		"224.0.0.1":          false,
		"255.255.255.255":    false,
		"::1":                false,
		"::":                 false,
		"fe80::1":            false,
		"fd00:ec2::254":      false, // the IPv6 metadata address
		"::ffff:127.0.0.1":   false, // IPv4-mapped
		"::ffff:10.0.0.1":    false,
		"64:ff9b::a9fe:a9fe": false, // NAT64 of 169.254.169.254
		"64:ff9b::101:101":   true,  // NAT64 of 1.1.1.1
		"2002:7f00:1::":      false, // 6to4 of 127.0.0.1
		"ff02::1":            false,
	} {
		if got := Public(netip.MustParseAddr(addr)); got != want {
			t.Errorf("Public(%s) = %v, want %v", addr, got, want)
		}
	}
}

func TestCheckURL(t *testing.T) {
	for _, c := range []struct {
		scheme, host string
		ok           bool
	}{
		{"https", "example.com", true},
		{"http", "1.1.1.1", true},
		{"file", "example.com", false},
		{"gopher", "example.com", false},
		{"http", "", false},
		{"http", "127.0.0.1", false},
		{"http", "169.254.169.254", false},
		{"http", "::1", false},
	} {
		err := CheckURL(c.scheme, c.host)
		if (err == nil) != c.ok {
			t.Errorf("CheckURL(%s, %s) = %v, want ok=%v", c.scheme, c.host, err, c.ok)
		}
	}
	if err := CheckURLAllowing("http", "10.0.0.1", true); err != nil {
		t.Errorf("private literal refused with allowPrivate: %v", err)
	}
	if err := CheckURLAllowing("ftp", "10.0.0.1", true); err == nil {
		t.Error("ftp accepted with allowPrivate")
	}
}

func get(c *http.Client, url string) (string, error) {
	resp, err := c.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

// TestRefusesPrivateTargets connects nowhere it should not: loopback by
// address and by name, a private and the metadata address (refused before
// any packet leaves: the check runs before connect).
func TestRefusesPrivateTargets(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "secret")
	}))
	defer srv.Close()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())

	c := NewClient(Options{})
	for _, u := range []string{
		srv.URL,
		"http://localhost:" + port + "/",
		"http://10.0.0.1:9/",
		"http://169.254.169.254/latest/meta-data/",
		"http://[::1]:" + port + "/",
	} {
		body, err := get(c, u)
		if !errors.Is(err, ErrForbidden) {
			t.Errorf("GET %s = %q, %v; want ErrForbidden", u, body, err)
		}
	}

	open := NewClient(Options{AllowPrivate: true})
	if body, err := get(open, srv.URL); err != nil || body != "secret" {
		t.Errorf("with AllowPrivate: %q, %v", body, err)
	}
}

// TestRefusesRedirectToPrivate: a "public" server (127.0.0.2, let through
// by the test's permit) redirecting to loopback proper, by address and by
// name, is refused at the redirect.
func TestRefusesRedirectToPrivate(t *testing.T) {
	inner := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "secret")
	}))
	defer inner.Close()
	_, port, _ := net.SplitHostPort(inner.Listener.Addr().String())

	ln, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Skipf("no 127.0.0.2 on this machine: %v", err)
	}
	outer := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/to-ip":
			http.Redirect(w, r, inner.URL, http.StatusFound)
		case "/to-name":
			http.Redirect(w, r, "http://localhost:"+port+"/", http.StatusFound)
		case "/to-metadata":
			http.Redirect(w, r, "http://169.254.169.254/", http.StatusFound)
		default:
			io.WriteString(w, "public")
		}
	}))
	outer.Listener = ln
	outer.Start()
	defer outer.Close()

	c := NewClient(Options{permit: netip.MustParsePrefix("127.0.0.2/32")})
	if body, err := get(c, outer.URL+"/"); err != nil || body != "public" {
		t.Fatalf("the permitted server: %q, %v", body, err)
	}
	for _, path := range []string{"/to-ip", "/to-name", "/to-metadata"} {
		body, err := get(c, outer.URL+path)
		if !errors.Is(err, ErrForbidden) {
			t.Errorf("GET %s = %q, %v; want ErrForbidden", path, body, err)
		}
	}
}

func TestMaxBytes(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("announce") != "" {
			w.Header().Set("Content-Length", "100")
		} else {
			w.(http.Flusher).Flush() // chunked: no length announced
		}
		io.WriteString(w, strings.Repeat("x", 100))
	}))
	defer srv.Close()

	c := NewClient(Options{AllowPrivate: true, MaxBytes: 64})
	if _, err := get(c, srv.URL+"/?announce=1"); !errors.Is(err, ErrTooLarge) {
		t.Errorf("announced body over the cap: %v", err)
	}
	if _, err := get(c, srv.URL+"/"); !errors.Is(err, ErrTooLarge) {
		t.Errorf("streamed body over the cap: %v", err)
	}
	exact := NewClient(Options{AllowPrivate: true, MaxBytes: 100})
	if body, err := get(exact, srv.URL+"/"); err != nil || len(body) != 100 {
		t.Errorf("body of exactly the cap: %d bytes, %v", len(body), err)
	}
}

func TestResolve(t *testing.T) {
	if err := Resolve(context.Background(), "localhost", false); !errors.Is(err, ErrForbidden) {
		t.Errorf("Resolve(localhost) = %v", err)
	}
	if err := Resolve(context.Background(), "localhost", true); err != nil {
		t.Errorf("Resolve(localhost, allowPrivate) = %v", err)
	}
}
