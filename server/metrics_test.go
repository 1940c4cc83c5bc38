package server_test

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"minichat/server"
)

// scrape GETs /metrics with an optional bearer token and returns the
// samples by series ("name{label="value",...}" as printed) when the status
// is 200.
func scrape(t *testing.T, url, token string) (int, map[string]float64) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return resp.StatusCode, nil
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("metrics line %q: %v", line, err)
		}
		out[line[:i]] = v
	}
	return resp.StatusCode, out
}

func TestMetricsCountWhatWasSent(t *testing.T) {
	const token = "scrape-secret"
	e := newEnv(t, func(c *server.Config) { c.MetricsToken = token })
	url := e.ts.URL + "/metrics"
	for _, tok := range []string{"", "wrong"} {
		if st, _ := scrape(t, url, tok); st != http.StatusUnauthorized {
			t.Fatalf("/metrics with token %q: %d, want 401", tok, st)
		}
	}

	alice, _, a, b, general := e.aliceAndBob()
	const n = 25
	for i := range n {
		a.send(map[string]any{"type": "send", "room": general, "text": fmt.Sprint("m", i), "client_id": fmt.Sprint("c", i)})
		ackAndMessage(a)
	}
	// A resend with a known client_id is acknowledged but stores nothing.
	a.send(map[string]any{"type": "send", "room": general, "text": "m0", "client_id": "c0"})
	a.next("ack")
	if st, out := e.call("POST", "/api/rooms/"+general+"/messages", alice.Token, map[string]string{"text": "over http"}); st != 201 {
		t.Fatalf("send over HTTP: %d %v", st, out)
	}
	a.next("message")
	for range n + 1 {
		b.next("message")
	}
	// A request to the hub's loop returns after the loop finished every
	// fan-out before it, counters included.
	e.srv.Hub().Stats()

	st, m := scrape(t, url, token)
	if st != 200 {
		t.Fatalf("/metrics with the token: %d", st)
	}
	want := map[string]float64{
		"minichat_messages_received_total":       n + 1,
		"minichat_messages_delivered_total":      2 * (n + 1), // to alice's and bob's sockets
		"minichat_ws_connections":                2,
		"minichat_ws_connections_accepted_total": 2,
		"minichat_ws_send_queue_drops_total":     0,
		`minichat_http_requests_total{code="201",method="POST",route="/api/rooms/{id}/messages"}`: 1,
		`minichat_http_requests_total{code="201",method="POST",route="/api/users"}`:               2,
		`minichat_http_requests_total{code="101",method="GET",route="/ws"}`:                       2,
		`minichat_build_info{version="test"}`:                                                     1,
	}
	for series, v := range want {
		if got, ok := m[series]; !ok || got != v {
			t.Errorf("%s = %v (present %v), want %v", series, got, ok, v)
		}
	}
	commits := m["minichat_store_commit_seconds_count"]
	if commits < 1 || m["minichat_store_commit_batch_size_count"] != commits {
		t.Errorf("commit histograms: %v commits, %v batches", commits, m["minichat_store_commit_batch_size_count"])
	}
	// Every stored write was in some batch: at least the n+1 messages, two
	// users and their two sessions.
	if s := m["minichat_store_commit_batch_size_sum"]; s < n+1+4 {
		t.Errorf("batch sizes sum to %v, fewer than the writes made", s)
	}
	for _, series := range []string{"go_goroutines", "process_resident_memory_bytes", "process_open_fds"} {
		if _, ok := m[series]; !ok {
			t.Errorf("runtime/process metric %s missing", series)
		}
	}
	for series := range m {
		if strings.Contains(series, general) || strings.Contains(series, "alice") {
			t.Errorf("user data in a label: %s", series)
		}
	}
}

func TestMetricsOffOnTheMainAddressByDefault(t *testing.T) {
	e := newEnv(t)
	st, out := e.call("GET", "/metrics", "", nil)
	if st != http.StatusNotFound || out["error"].(map[string]any)["code"] != "not_found" {
		t.Fatalf("/metrics without --metrics-token: %d %v", st, out)
	}
}

func TestReadyzFollowsTheStore(t *testing.T) {
	srv, err := server.New(server.Config{DataDir: t.TempDir()}, zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.ErrorLevel), nil)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	get := func(path string) int {
		t.Helper()
		resp, err := http.Get(ts.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if get("/readyz") != 200 || get("/healthz") != 200 {
		t.Fatal("a fresh server is not ready and live")
	}
	// The store goes away (as at shutdown): not ready, still live.
	if err := srv.Store().Close(); err != nil {
		t.Fatal(err)
	}
	if st := get("/readyz"); st != http.StatusServiceUnavailable {
		t.Fatalf("/readyz with the store closed: %d, want 503", st)
	}
	if st := get("/healthz"); st != 200 {
		t.Fatalf("/healthz with the store closed: %d, want 200", st)
	}
	_ = srv.Close() // the store is closed already: its second Close reports that
}

// TestMetricsCountSlowConsumerDrops: a client that stops reading while its
// room is busy is closed 4429 once its send queue overflows, and
// minichat_ws_send_queue_drops_total counts it.
func TestMetricsCountSlowConsumerDrops(t *testing.T) {
	const token = "scrape-secret"
	e := newEnv(t, func(c *server.Config) { c.MetricsToken = token })
	alice, bob := e.register("alice"), e.register("bob")
	general := e.roomID(alice, "general")
	// bob upgrades over a raw socket with a small receive buffer and then
	// never reads, so the server's writes to him soon block.
	d := &net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		if err := c.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
		}); err != nil {
			return err
		}
		return serr
	}}
	raw, err := d.Dial("tcp", strings.TrimPrefix(e.ts.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	fmt.Fprintf(raw, "GET /ws HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nAuthorization: Bearer %s\r\n\r\n",
		strings.TrimPrefix(e.ts.URL, "http://"), bob.Token)
	// A tiny buffer, so that the reader takes no more than the headers.
	if resp, err := http.ReadResponse(bufio.NewReaderSize(raw, 16), nil); err != nil || resp.StatusCode != 101 {
		t.Fatalf("upgrade: %v %v", resp, err)
	}

	a := e.dial(alice)
	text := strings.Repeat("😀", 4000) // 16000 bytes: fewer sends fill the buffers
	// bob's connection leaves the hub once closed: hold on to it.
	bc := e.waitHubConn("bob")
	bobClosed := bc.Closed
	sent := 0
	for !bobClosed() {
		// Batches of 20 pipelined sends, each batch acknowledged.
		for range 20 {
			a.send(map[string]any{"type": "send", "room": general, "text": text, "client_id": fmt.Sprint("c", sent)})
			sent++
		}
		for range 20 {
			a.next("ack")
		}
		if sent > 10000 { // 160 MB: far beyond any socket buffer
			t.Fatal("a client that does not read was never closed")
		}
	}
	t.Logf("bob was closed after %d sends", sent)
	// bob's close frame waits behind the bytes his full socket has not
	// taken; when his end goes away the connection ends, counted as a 4429.
	raw.Close()
	deadline := time.Now().Add(15 * time.Second)
	for {
		_, m := scrape(t, e.ts.URL+"/metrics", token)
		// The close is counted as the server closes bob's socket, the open
		// connections by his reader, which ends a moment later: wait for both.
		if m["minichat_ws_send_queue_drops_total"] == 1 && m[`minichat_ws_connections_closed_total{code="4429"}`] == 1 &&
			m["minichat_ws_connections"] == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %d sends: drops %v, 4429 closes %v, 1011 closes %v, %v connections open (want alice's only)", sent,
				m["minichat_ws_send_queue_drops_total"], m[`minichat_ws_connections_closed_total{code="4429"}`],
				m[`minichat_ws_connections_closed_total{code="1011"}`], m["minichat_ws_connections"])
		}
		time.Sleep(20 * time.Millisecond)
	}
	// alice, who reads, was not affected: her socket still carries her
	// own messages back to her.
	a.send(map[string]any{"type": "send", "room": general, "text": "still here", "client_id": "last"})
	for a.next("message").Msg().Text != "still here" {
	}
}
