package bench

import (
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestParseSourceIPs(t *testing.T) {
	ips, err := parseSourceIPs("127.0.0.1-127.0.0.3, 127.0.1.9")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, ip := range ips {
		got = append(got, ip.String())
	}
	if strings.Join(got, ",") != "127.0.0.1,127.0.0.2,127.0.0.3,127.0.1.9" {
		t.Fatalf("got %v", got)
	}
	if ips, err := parseSourceIPs(""); err != nil || len(ips) != 0 {
		t.Fatalf("empty: %v %v", ips, err)
	}
	for _, bad := range []string{"127.0.0.9-127.0.0.1", "x", "127.0.0.1-::1", "127.0.0.1-127.1.0.0"} {
		if _, err := parseSourceIPs(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestSourceForSpreads(t *testing.T) {
	ips, _ := parseSourceIPs("127.0.0.1-127.0.0.4")
	count := map[string]int{}
	for i := 0; i < 1000; i++ {
		count[sourceFor(ips, i).IP.String()]++
	}
	if len(count) != 4 {
		t.Fatalf("used %v", count)
	}
	for ip, n := range count {
		if n != 250 {
			t.Errorf("%s carries %d connections, want 250", ip, n)
		}
	}
	if sourceFor(nil, 3) != nil {
		t.Fatal("no addresses should mean no binding")
	}
}

func TestLoopbackTarget(t *testing.T) {
	for in, want := range map[string]bool{
		"http://127.0.0.1:8080": true, "http://localhost": true, "http://[::1]:80": true,
		"https://chat.example.com": false, "http://10.0.0.1:80": false,
	} {
		u, _ := url.Parse(in)
		if loopbackTarget(u) != want {
			t.Errorf("%s: want %v", in, want)
		}
	}
}

func TestFlags(t *testing.T) {
	var errs strings.Builder
	cfg, err := parseFlags([]string{"--conns", "10", "--publishers", "2", "--rate", "50", "--duration", "3s", "--source-ips", ""}, &errs)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Conns != 10 || cfg.Users != 10 || cfg.Publishers != 2 || cfg.Rate != 50 || cfg.Duration != 3*time.Second || cfg.RunID == "" {
		t.Fatalf("got %+v", cfg)
	}
	for _, bad := range [][]string{
		{"--conns", "0"},
		{"--publishers", "5", "--conns", "2"},
		{"--publishers", "0", "--rate", "5"},
		{"--url", "ftp://x"},
		{"--procs", "3", "--conns", "2"},
		{"extra"},
	} {
		if _, err := parseFlags(bad, &errs); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
