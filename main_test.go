package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// TestMain lets a test start this very binary as a real minichat process:
// with MINICHAT_TEST_CHILD set, it runs the program with the arguments that
// follow "--" instead of the tests.
func TestMain(m *testing.M) {
	if os.Getenv("MINICHAT_TEST_CHILD") == "1" {
		args := os.Args[1:]
		for i, a := range args {
			if a == "--" {
				args = args[i+1:]
				break
			}
		}
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		err := run(ctx, args, os.Stdin, os.Stdout, os.Stderr)
		stop()
		if err != nil {
			fmt.Fprintln(os.Stderr, "minichat:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func TestVersionAndUsage(t *testing.T) {
	var out bytes.Buffer
	if err := run(t.Context(), []string{"version"}, nil, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out.String(), "minichat ") {
		t.Fatalf("version printed %q", out.String())
	}
	if err := run(t.Context(), []string{"frobnicate"}, nil, io.Discard, io.Discard); err == nil {
		t.Fatal("unknown command accepted")
	}
	if err := run(t.Context(), []string{"serve", "--log-level", "loud"}, nil, io.Discard, io.Discard); err == nil {
		t.Fatal("bad log level accepted")
	}
}

func TestUserCommands(t *testing.T) {
	dir := t.TempDir()
	var out bytes.Buffer
	do := func(stdin string, args ...string) error {
		out.Reset()
		return run(t.Context(), append(args, "--data-dir", dir), strings.NewReader(stdin), &out, io.Discard)
	}
	if err := do("", "user", "add", "root", "--password", "rootroot1", "--admin"); err != nil {
		t.Fatal(err)
	}
	if err := do("secret-from-stdin\n", "user", "add", "bob"); err != nil {
		t.Fatal(err)
	}
	if err := do("", "user", "add", "BOB", "--password", "whatever1"); err == nil {
		t.Fatal("duplicate name accepted")
	}
	if err := do("", "user", "add", "bad name", "--password", "whatever1"); err == nil {
		t.Fatal("bad name accepted")
	}
	if err := do("", "user", "list"); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "root") || !strings.Contains(out.String(), "admin") || !strings.Contains(out.String(), "bob") {
		t.Fatalf("list printed %q", out.String())
	}
	if err := do("new-password-1\n", "user", "passwd", "bob"); err != nil {
		t.Fatal(err)
	}
	if err := do("x\n", "user", "passwd", "nobody"); err == nil {
		t.Fatal("passwd of an unknown user accepted")
	}
	// The server accepts the new password and refuses sign-up when closed.
	p := startChild(t, dir, "--registration", "closed")
	if st, _ := p.post("/api/session", `{"username":"bob","password":"new-password-1"}`); st != 200 {
		t.Fatalf("login with the new password: %d", st)
	}
	if st, _ := p.post("/api/users", `{"username":"eve","password":"password1"}`); st != 403 {
		t.Fatalf("sign-up while closed: %d", st)
	}
}

// child is a minichat process started from the test binary.
type child struct {
	t    *testing.T
	cmd  *exec.Cmd
	url  string
	done chan struct{} // closed when the process has exited
	err  error         // its exit status, once done is closed

	mu     sync.Mutex
	logs   []map[string]any // its JSON log lines so far
	logged chan struct{}    // closed (and replaced) when a line is added
}

// waitLog returns the first log line for which match is true, waiting for
// it to be written.
func (c *child) waitLog(what string, match func(line map[string]any) bool) map[string]any {
	c.t.Helper()
	timeout := time.After(20 * time.Second)
	exited := false
	for i := 0; ; {
		c.mu.Lock()
		for ; i < len(c.logs); i++ {
			if line := c.logs[i]; match(line) {
				c.mu.Unlock()
				return line
			}
		}
		logged := c.logged
		c.mu.Unlock()
		if exited {
			c.t.Fatalf("no log line %s before the server exited: %v", what, c.err)
		}
		select {
		case <-logged:
		case <-c.done: // every line is in by now: look once more
			exited = true
		case <-timeout:
			c.t.Fatalf("no log line %s", what)
		}
	}
}

func startChild(t *testing.T, dataDir string, extra ...string) *child {
	t.Helper()
	args := append([]string{"-test.run=^$", "--", "serve", "--addr", "127.0.0.1:0", "--data-dir", dataDir,
		"--log-format", "json", "--log-level", "info", "--rate", "10000", "--burst", "10000",
		// These tests are about durability: a machine loaded by the race
		// detector and other jobs may queue a send for many seconds, which
		// must not turn into a send-deadline error here.
		"--send-timeout", "2m"}, extra...)
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "MINICHAT_TEST_CHILD=1")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &child{t: t, cmd: cmd, done: make(chan struct{}), logged: make(chan struct{})}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			var line map[string]any
			if json.Unmarshal(sc.Bytes(), &line) != nil {
				continue
			}
			if line["message"] == "minichat is serving" {
				addr <- line["addr"].(string)
			}
			c.mu.Lock()
			c.logs = append(c.logs, line)
			close(c.logged)
			c.logged = make(chan struct{})
			c.mu.Unlock()
		}
		c.err = cmd.Wait()
		close(c.done)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-c.done
	})
	select {
	case a := <-addr:
		c.url = "http://" + a
	case <-c.done:
		t.Fatalf("server exited: %v", c.err)
	case <-time.After(20 * time.Second):
		t.Fatal("server did not start")
	}
	return c
}

func (c *child) post(path, body string) (int, map[string]any) {
	c.t.Helper()
	return c.request("POST", path, "", body)
}

func (c *child) request(method, path, token, body string) (int, map[string]any) {
	c.t.Helper()
	req, _ := http.NewRequest(method, c.url+path, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

// sendUntilAcked opens a socket, pipelines n sends into general and returns
// the acknowledged messages (id → seq) once want acks have arrived, leaving
// the rest in flight. It also returns the socket's close code channel.
func sendUntilAcked(t *testing.T, c *child, token, room string, n, want int) (map[string]int64, <-chan websocket.StatusCode) {
	t.Helper()
	ctx := context.Background()
	ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(c.url, "http")+"/ws", &websocket.DialOptions{
		HTTPHeader: http.Header{"Authorization": {"Bearer " + token}},
	})
	if err != nil {
		t.Fatal(err)
	}
	ws.SetReadLimit(1 << 24)
	acked := make(map[string]int64)
	enough := make(chan struct{})
	closed := make(chan websocket.StatusCode, 1)
	var mu = make(chan struct{}, 1)
	mu <- struct{}{}
	go func() {
		for {
			_, data, err := ws.Read(ctx)
			if err != nil {
				closed <- websocket.CloseStatus(err)
				return
			}
			for _, line := range bytes.Split(data, []byte("\n")) {
				var f struct {
					Type    string
					Message struct {
						ID  string
						Seq int64
					}
				}
				_ = json.Unmarshal(line, &f)
				if f.Type == "ack" {
					<-mu
					acked[f.Message.ID] = f.Message.Seq
					if len(acked) == want {
						close(enough)
					}
					mu <- struct{}{}
				}
			}
		}
	}()
	go func() {
		for i := 0; i < n; i++ {
			if ws.Write(ctx, websocket.MessageText, fmt.Appendf(nil, `{"type":"send","room":%q,"text":"durable %d","client_id":"d%d"}`, room, i, i)) != nil {
				return
			}
		}
	}()
	select {
	case <-enough:
	case <-time.After(30 * time.Second):
		t.Fatal("acks did not arrive")
	}
	<-mu
	out := make(map[string]int64, len(acked))
	for k, v := range acked {
		out[k] = v
	}
	mu <- struct{}{}
	return out, closed
}

// checkLog asserts that every acknowledged message is in the room's history
// and that seqs run 1..N without a gap; it returns N.
func checkLog(t *testing.T, c *child, token, room string, acked map[string]int64) int64 {
	t.Helper()
	seen := map[string]int64{}
	var seqs []int64
	before := ""
	for {
		st, out := c.request("GET", "/api/rooms/"+room+"/messages?limit=200"+before, token, "")
		if st != 200 {
			t.Fatalf("history: %d %v", st, out)
		}
		msgs := out["messages"].([]any)
		for i := len(msgs) - 1; i >= 0; i-- {
			m := msgs[i].(map[string]any)
			seen[m["id"].(string)] = int64(m["seq"].(float64))
			seqs = append(seqs, int64(m["seq"].(float64)))
		}
		if out["has_more"] != true {
			break
		}
		before = fmt.Sprintf("&before=%d", seqs[len(seqs)-1])
	}
	for id, seq := range acked {
		if seen[id] != seq {
			t.Fatalf("acknowledged message %s (seq %d) lost after restart", id, seq)
		}
	}
	for i, s := range seqs { // newest first
		if want := int64(len(seqs) - i); s != want {
			t.Fatalf("seq gap: position %d has seq %d, want %d", i, s, want)
		}
	}
	return int64(len(seqs))
}

func login(t *testing.T, c *child) (token, room string) {
	t.Helper()
	st, out := c.post("/api/session", `{"username":"alice","password":"password1"}`)
	if st != 200 {
		t.Fatalf("login: %d %v", st, out)
	}
	token = out["token"].(string)
	_, rooms := c.request("GET", "/api/rooms", token, "")
	return token, rooms["rooms"].([]any)[0].(map[string]any)["id"].(string)
}

func TestAcknowledgedMessagesSurviveSIGKILL(t *testing.T) {
	dir := t.TempDir()
	p := startChild(t, dir)
	if st, _ := p.post("/api/users", `{"username":"alice","password":"password1"}`); st != 201 {
		t.Fatal("register")
	}
	token, room := login(t, p)
	acked, _ := sendUntilAcked(t, p, token, room, 2000, 300)
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-p.done

	p2 := startChild(t, dir)
	token, room = login(t, p2)
	n := checkLog(t, p2, token, room, acked)
	if n < int64(len(acked))+1 {
		t.Fatalf("%d messages in the log, fewer than the %d acknowledged", n, len(acked))
	}
	st, out := p2.request("POST", "/api/rooms/"+room+"/messages", token, `{"text":"after restart"}`)
	if st != 201 || int64(out["message"].(map[string]any)["seq"].(float64)) != n+1 {
		t.Fatalf("seq after restart: %d %v, want %d", st, out, n+1)
	}
}

func TestGracefulShutdownClosesSocketsWith1001(t *testing.T) {
	dir := t.TempDir()
	p := startChild(t, dir)
	p.post("/api/users", `{"username":"alice","password":"password1"}`)
	token, room := login(t, p)
	acked, closed := sendUntilAcked(t, p, token, room, 500, 100)
	start := time.Now()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case code := <-closed:
		if code != websocket.StatusGoingAway {
			t.Fatalf("close code %d, want 1001", code)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("socket not closed on SIGTERM")
	}
	select {
	case <-p.done:
		if p.err != nil {
			t.Fatalf("exit: %v", p.err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("server did not exit")
	}
	if d := time.Since(start); d > 8*time.Second {
		t.Fatalf("shutdown took %v", d)
	}
	p2 := startChild(t, dir)
	token, room = login(t, p2)
	checkLog(t, p2, token, room, acked)
}

// selfSignedCert writes a certificate for 127.0.0.1 and localhost and its
// key into dir.
func selfSignedCert(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "minichat test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

func TestHealthcheckOverTLS(t *testing.T) {
	certFile, keyFile := selfSignedCert(t, t.TempDir())
	p := startChild(t, t.TempDir(), "--tls-cert", certFile, "--tls-key", keyFile)
	addr := strings.TrimPrefix(p.url, "http://")
	var out bytes.Buffer
	if err := run(t.Context(), []string{"healthcheck", "--addr", addr, "--tls-cert", certFile}, nil, &out, io.Discard); err != nil {
		t.Fatalf("healthcheck with --tls-cert: %v", err)
	}
	if out.String() != "ok\n" {
		t.Fatalf("healthcheck printed %q", out.String())
	}
	if err := run(t.Context(), []string{"healthcheck", "--addr", addr}, nil, io.Discard, io.Discard); err == nil {
		t.Fatal("plain-HTTP healthcheck of a TLS server succeeded")
	}
}

func TestHTTPServerErrorsAreStructuredLogs(t *testing.T) {
	certFile, keyFile := selfSignedCert(t, t.TempDir())
	p := startChild(t, t.TempDir(), "--tls-cert", certFile, "--tls-key", keyFile)
	// Plain HTTP to the TLS port: a failed handshake, which http.Server
	// reports on its ErrorLog.
	resp, err := http.Get(p.url + "/healthz")
	if err == nil {
		resp.Body.Close()
	}
	line := p.waitLog("about the TLS handshake", func(l map[string]any) bool {
		msg, _ := l["message"].(string)
		return strings.Contains(msg, "TLS handshake error")
	})
	if line["level"] != "warn" || line["component"] != "http" || strings.HasSuffix(line["message"].(string), "\n") {
		t.Fatalf("handshake error logged as %v, want a warning with component=http", line)
	}
}

func TestPprofOnItsOwnListener(t *testing.T) {
	if err := run(t.Context(), []string{"serve", "--data-dir", t.TempDir(), "--pprof-addr", ":0"}, nil, io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), "pprof") {
		t.Fatalf("--pprof-addr without a host: %v, want refused", err)
	}
	p := startChild(t, t.TempDir(), "--pprof-addr", "127.0.0.1:0")
	line := p.waitLog(`"pprof listening"`, func(l map[string]any) bool { return l["message"] == "pprof listening" })
	get := func(url string) (int, string) {
		t.Helper()
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if st, body := get("http://" + line["addr"].(string) + "/debug/pprof/"); st != 200 || !strings.Contains(body, "goroutine") {
		t.Fatalf("pprof index: %d %.200q", st, body)
	}
	if _, body := get(p.url + "/debug/pprof/"); strings.Contains(body, "goroutine") {
		t.Fatalf("pprof served on the public address: %.200q", body)
	}
	// Both listeners close on SIGTERM and the process exits cleanly.
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.done:
		if p.err != nil {
			t.Fatalf("exit: %v", p.err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("server with pprof did not exit")
	}
}
