package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"flag"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"testing/fstest"
	"time"

	"github.com/coder/websocket"

	"minichat/server/protocol"
	"minichat/server/protocol/frametest"
	"minichat/server/store/pgtest"
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
		os.Exit(exitCode(err, os.Stderr))
	}
	os.Exit(m.Run())
}

func TestVersionAndUsage(t *testing.T) {
	var out bytes.Buffer
	if err := run(t.Context(), []string{"version"}, nil, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	commit = "0123abc"
	t.Cleanup(func() { commit = "" })
	out.Reset()
	if err := run(t.Context(), []string{"version"}, nil, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); !strings.HasPrefix(got, "minichat "+version+" (commit 0123abc, protocol ") {
		t.Fatalf("version printed %q, want the version and the commit", got)
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
	// A data directory without a database is refused, not created, unless
	// --create says that a new one is meant.
	for _, args := range [][]string{{"user", "list"}, {"user", "add", "root", "--password", "rootroot1", "--admin"}} {
		if err := do("", args...); err == nil || !strings.Contains(err.Error(), "no database at") {
			t.Fatalf("%v on an empty data dir: %v", args, err)
		}
		if entries, _ := os.ReadDir(dir); len(entries) != 0 {
			t.Fatalf("%v on an empty data dir left %v", args, entries)
		}
	}
	if err := do("", "user", "add", "root", "--password", "rootroot1", "--admin", "--create"); err != nil {
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

	// Disabling, while the server runs, signs bob out and keeps him out
	// until he is enabled again.
	_, sess := p.post("/api/session", `{"username":"bob","password":"new-password-1"}`)
	token := sess["token"].(string)
	if err := do("", "user", "disable", "bob"); err != nil {
		t.Fatal(err)
	}
	if out.String() != "disabled bob; 2 session(s) signed out\n" {
		t.Fatalf("disable printed %q", out.String())
	}
	if st, _ := p.request("GET", "/api/me", token, ""); st != 401 {
		t.Fatalf("disabled user's token: %d, want 401", st)
	}
	st, body := p.post("/api/session", `{"username":"bob","password":"new-password-1"}`)
	if st != 403 || !strings.Contains(fmt.Sprint(body), "disabled") {
		t.Fatalf("disabled user's sign-in: %d %v, want 403", st, body)
	}
	if err := do("", "user", "list"); err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`(?m)^bob +member +disabled `).MatchString(out.String()) || !regexp.MustCompile(`(?m)^root +admin +active `).MatchString(out.String()) {
		t.Fatalf("list printed %q", out.String())
	}
	if err := do("", "user", "disable", "nobody"); err == nil {
		t.Fatal("disabling an unknown user succeeded")
	}
	if err := do("", "user", "enable", "bob"); err != nil {
		t.Fatal(err)
	}
	if st, _ := p.post("/api/session", `{"username":"bob","password":"new-password-1"}`); st != 200 {
		t.Fatalf("sign-in after enable: %d", st)
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
		// These tests sign several people up; those of registration set it.
		"--registration", "open",
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

// registerAlice creates the account alice (the first, so an admin) and
// signs her in; see login.
func registerAlice(t *testing.T, c *child) (token, room string) {
	t.Helper()
	if st, _ := c.post("/api/users", `{"username":"alice","password":"password1"}`); st != 201 {
		t.Fatal("register alice")
	}
	return login(t, c)
}

// login signs alice in and returns her token and the id of her first room.
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
	token, room := registerAlice(t, p)
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

// TestConfigMistakesAreOneLineAndExit2 checks what an operator sees for a
// bad flag or environment value: one line naming the setting, and exit
// status 2 before anything starts.
func TestConfigMistakesAreOneLineAndExit2(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		args []string
		env  map[string]string
		want string
	}{
		{[]string{"--heartbeat", "abc"}, nil, `--heartbeat: invalid duration "abc"`},
		{[]string{"--rate", "fast"}, nil, `--rate: invalid number "fast"`},
		{[]string{"--burst", "1.5"}, nil, `--burst: invalid integer "1.5"`},
		{[]string{"--no-such-flag"}, nil, `unknown flag --no-such-flag`},
		{[]string{"--registration", "maybe"}, nil, `--registration: invalid value "maybe" (want invite, open or closed)`},
		{[]string{"--heartbeat", "-1s"}, nil, `--heartbeat: must be positive, not -1s`},
		{[]string{"--max-upload-bytes", "25MB"}, nil, `--max-upload-bytes: invalid integer "25MB"`},
		{[]string{"--tls-cert", "cert.pem"}, nil, `--tls-cert: set --tls-key too`},
		{[]string{"--trusted-proxies", "10.0.0.0/8,proxy"}, nil, `--trusted-proxies: "proxy" is neither an IP address nor a CIDR`},
		{[]string{"--nats", "http://nats:4222"}, nil, `--nats: "http://nats:4222": want nats://host:port`},
		{nil, map[string]string{"MINICHAT_NATS": "nats://nats"}, `MINICHAT_NATS: "nats://nats": want nats://host:port`},
		{nil, map[string]string{"MINICHAT_HEARTBEAT": "abc"}, `MINICHAT_HEARTBEAT: invalid duration "abc"`},
		{nil, map[string]string{"MINICHAT_REGISTRATION": "maybe"}, `MINICHAT_REGISTRATION: invalid value "maybe"`},
		{nil, map[string]string{"MINICHAT_METRICS_TOKEN_FILE": filepath.Join(dir, "missing")}, `MINICHAT_METRICS_TOKEN_FILE: open `},
		{nil, map[string]string{"MINICHAT_ADDR": ":1", "MINICHAT_ADDR_FILE": "x"}, `MINICHAT_ADDR and MINICHAT_ADDR_FILE are both set`},
		{[]string{"--tls-domain", "https://chat.example.com"}, nil, `--tls-domain: "https://chat.example.com" is not a domain name`},
		{nil, map[string]string{"MINICHAT_TLS_DOMAIN": "chat.example.com,*.example.com"}, `MINICHAT_TLS_DOMAIN: "*.example.com" is not a domain name`},
		{[]string{"--tls-domain", "chat.example.com", "--tls-cert", "c.pem", "--tls-key", "k.pem"}, nil, `--tls-cert: open c.pem`},
		{[]string{"--tls-domain", "chat.example.com", "--acme-ca", "letsencrypt"}, nil, `--acme-ca: "letsencrypt" is not an ACME directory URL`},
		{[]string{"--tls-domain", "chat.example.com", "--acme-ca-root", filepath.Join(dir, "missing.pem")}, nil, `--acme-ca-root: open `},
		{[]string{"--tls-domain", "chat.example.com", "--http-addr", "80"}, nil, `--http-addr: invalid address "80"`},
		{[]string{"user", "frob"}, nil, `user: unknown subcommand "frob"`},
		{[]string{"backup"}, nil, `backup: want exactly one FILE`},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " ")+fmt.Sprint(tc.env), func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			args := append([]string{"--data-dir", dir}, tc.args...)
			if len(tc.args) > 0 && !strings.HasPrefix(tc.args[0], "-") {
				args = append(tc.args, "--data-dir", dir)
			}
			var stderr bytes.Buffer
			code := exitCode(run(t.Context(), args, strings.NewReader(""), io.Discard, io.Discard), &stderr)
			line := stderr.String()
			if code != 2 || !strings.HasPrefix(line, "minichat: "+tc.want) || strings.Count(line, "\n") != 1 {
				t.Fatalf("exit %d, printed %q; want 2 and one line starting %q", code, line, "minichat: "+tc.want)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(dir, "minichat.db")); err == nil {
		t.Fatal("a refused configuration created the database")
	}
	// The real process exits with status 2.
	cmd := exec.Command(os.Args[0], "-test.run=^$", "--", "serve", "--data-dir", dir, "--heartbeat", "abc")
	cmd.Env = append(os.Environ(), "MINICHAT_TEST_CHILD=1")
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 || string(out) != "minichat: --heartbeat: invalid duration \"abc\"\n" {
		t.Fatalf("process: %v, output %q", err, out)
	}
}

// TestHelpListsEveryFlagWithItsEnvironment keeps --help complete as flags
// are added.
func TestHelpListsEveryFlagWithItsEnvironment(t *testing.T) {
	var out bytes.Buffer
	if err := run(t.Context(), []string{"--help"}, nil, &out, io.Discard); err != flag.ErrHelp {
		t.Fatalf("--help returned %v", err)
	}
	if exitCode(flag.ErrHelp, io.Discard) != 0 {
		t.Fatal("--help does not exit 0")
	}
	help := out.String()
	// The flags follow the commands.
	help = help[strings.Index(help, "flags of serve"):]
	fs, _ := newFlagSet("serve", io.Discard)
	n := 0
	fs.VisitAll(func(fl *flag.Flag) {
		n++
		i := strings.Index(help, "--"+fl.Name+" ")
		if i < 0 {
			t.Errorf("--help does not list --%s", fl.Name)
			return
		}
		entry := help[i:]
		if j := strings.Index(entry[2:], "\n  --"); j >= 0 {
			entry = entry[:j+2]
		}
		if !strings.Contains(entry, "$"+envName(fl.Name)+",") || !strings.Contains(entry, "default ") {
			t.Errorf("--%s lacks its variable or default: %q", fl.Name, entry)
		}
	})
	if n < 19 || !strings.Contains(help, `$MINICHAT_HEARTBEAT, default 25s`) || !strings.Contains(help, "_FILE") {
		t.Fatalf("help:\n%s", help)
	}
}

// TestSecretsFromFiles reads a setting from MINICHAT_<FLAG>_FILE, without
// the file's trailing newline, and lets the command line win.
func TestSecretsFromFiles(t *testing.T) {
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "token")
	if err := os.WriteFile(tokenFile, []byte("s3cret-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("MINICHAT_METRICS_TOKEN_FILE", tokenFile)
	t.Setenv("MINICHAT_REGISTRATION", "closed")
	fs, f := newFlagSet("serve", io.Discard)
	p, err := parse(fs, []string{"--registration", "open"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if f.cfg.MetricsToken != "s3cret-token" {
		t.Fatalf("token from file = %q", f.cfg.MetricsToken)
	}
	if f.cfg.Registration != "open" || p.where("registration") != "--registration" || p.where("metrics-token") != "MINICHAT_METRICS_TOKEN_FILE" {
		t.Fatalf("registration %q from %s; token from %s", f.cfg.Registration, p.where("registration"), p.where("metrics-token"))
	}
}

// TestBackupDuringLoadRestores takes a backup while one socket pipelines
// sends, then restores it as the documented procedure says (the backup file
// becomes minichat.db of a fresh data dir) and checks that every message
// acknowledged before the backup began is there, with seqs without gaps.
func TestBackupDuringLoadRestores(t *testing.T) {
	dir := t.TempDir()
	p := startChild(t, dir)
	token, room := registerAlice(t, p)
	// Sends keep arriving while the backup runs: 5000 are pipelined and
	// the backup starts once 500 are acknowledged.
	acked, _ := sendUntilAcked(t, p, token, room, 5000, 500)
	file := filepath.Join(t.TempDir(), "backup.db")
	var out bytes.Buffer
	if err := run(t.Context(), []string{"backup", file, "--data-dir", dir}, nil, &out, io.Discard); err != nil {
		t.Fatalf("backup: %v", err)
	}
	if !strings.HasPrefix(out.String(), "backed up ") {
		t.Fatalf("backup printed %q", out.String())
	}
	if leftovers, _ := filepath.Glob(filepath.Join(filepath.Dir(file), ".*tmp*")); len(leftovers) > 0 {
		t.Fatalf("temporary files left beside the backup: %v", leftovers)
	}

	restored := t.TempDir()
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(restored, "minichat.db"), raw, 0o600); err != nil {
		t.Fatal(err)
	}
	p2 := startChild(t, restored)
	token2, room2 := login(t, p2)
	if room2 != room {
		t.Fatalf("restored general room %s, want %s", room2, room)
	}
	n := checkLog(t, p2, token2, room, acked)
	if n < int64(len(acked)) {
		t.Fatalf("restored log has %d entries, fewer than the %d acknowledged", n, len(acked))
	}
	t.Logf("the backup holds %d log entries; %d messages were acknowledged before it began", n, len(acked))
	// The restored server takes new messages after the last restored seq.
	if st, out := p2.request("POST", "/api/rooms/"+room+"/messages", token2, `{"text":"after restore"}`); st != 201 {
		t.Fatalf("send after restore: %d %v", st, out)
	}

	if err := run(t.Context(), []string{"backup", filepath.Join(t.TempDir(), "x.db"), "--data-dir", t.TempDir()}, nil, io.Discard, io.Discard); err == nil {
		t.Fatal("backup of a data dir without a database succeeded")
	}
}

// TestServesHTTPSAndWSSWithItsCertificate starts the binary with a
// self-signed certificate and chats over https:// and wss://, trusting only
// that certificate. The metrics listener counts the socket.
func TestServesHTTPSAndWSSWithItsCertificate(t *testing.T) {
	certFile, keyFile := selfSignedCert(t, t.TempDir())
	p := startChild(t, t.TempDir(), "--tls-cert", certFile, "--tls-key", keyFile, "--metrics-addr", "127.0.0.1:0")
	pemBytes, err := os.ReadFile(certFile)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pemBytes)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
	t.Cleanup(client.CloseIdleConnections)
	base := "https://" + strings.TrimPrefix(p.url, "http://")

	post := func(path, body string) (*http.Response, map[string]any) {
		t.Helper()
		resp, err := client.Post(base+path, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&out)
		return resp, out
	}
	resp, out := post("/api/users", `{"username":"alice","password":"password1"}`)
	if resp.StatusCode != 201 || resp.TLS == nil {
		t.Fatalf("sign-up over https: %d %v", resp.StatusCode, out)
	}
	secure := false
	for _, c := range resp.Cookies() {
		secure = secure || (c.Name == "minichat_session" && c.Secure)
	}
	if !secure {
		t.Fatalf("session cookie over TLS is not Secure: %v", resp.Header.Values("Set-Cookie"))
	}
	token := out["token"].(string)

	ws, _, err := websocket.Dial(t.Context(), "wss"+strings.TrimPrefix(base, "https")+"/ws", &websocket.DialOptions{
		HTTPClient: client,
		HTTPHeader: http.Header{"Authorization": {"Bearer " + token}},
	})
	if err != nil {
		t.Fatalf("dial wss: %v", err)
	}
	defer ws.CloseNow()
	read := func(want string) frametest.Frame {
		t.Helper()
		for {
			_, data, err := ws.Read(t.Context())
			if err != nil {
				t.Fatalf("read %s over wss: %v", want, err)
			}
			for _, line := range bytes.Split(data, []byte("\n")) {
				f, err := frametest.Decode(line)
				if err != nil {
					t.Fatalf("bad frame %q: %v", line, err)
				}
				if f.Type == want {
					return f
				}
			}
		}
	}
	room := read(protocol.TypeWelcome).Welcome.Rooms[0].ID
	if err := ws.Write(t.Context(), websocket.MessageText, []byte(`{"type":"send","room":"`+room+`","text":"over wss","client_id":"tls-1"}`)); err != nil {
		t.Fatal(err)
	}
	if ack := read(protocol.TypeAck).Ack; ack.Message.Text != "over wss" {
		t.Fatalf("ack %+v", ack)
	}

	// The metrics listener (plain HTTP, its own port) sees the socket; the
	// main address does not serve metrics without --metrics-token.
	line := p.waitLog(`"metrics listening"`, func(l map[string]any) bool { return l["message"] == "metrics listening" })
	mresp, err := http.Get("http://" + line["addr"].(string) + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(mresp.Body)
	mresp.Body.Close()
	if mresp.StatusCode != 200 || !regexp.MustCompile(`(?m)^minichat_ws_connections 1$`).Match(body) ||
		!regexp.MustCompile(`(?m)^minichat_messages_received_total 1$`).Match(body) {
		t.Fatalf("metrics listener: %d\n%s", mresp.StatusCode, body)
	}
	r2, err := client.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	r2.Body.Close()
	if r2.StatusCode != 404 {
		t.Fatalf("/metrics on the main address: %d, want 404", r2.StatusCode)
	}
}

// pongingSocket opens /ws with token, answers the server's pings, and
// reports the close code, and acks by client_id, on channels.
func pongingSocket(t *testing.T, c *child, token string) (ws *websocket.Conn, closed <-chan websocket.StatusCode, acks <-chan string) {
	t.Helper()
	ws, _, err := websocket.Dial(t.Context(), "ws"+strings.TrimPrefix(c.url, "http")+"/ws", &websocket.DialOptions{
		HTTPHeader: http.Header{"Authorization": {"Bearer " + token}},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.CloseNow() })
	closedc, ackc := make(chan websocket.StatusCode, 1), make(chan string, 100)
	go func() {
		for {
			_, data, err := ws.Read(context.Background())
			if err != nil {
				closedc <- websocket.CloseStatus(err)
				return
			}
			for _, line := range bytes.Split(data, []byte("\n")) {
				var f struct {
					Type    string
					Message struct {
						ClientID string `json:"client_id"`
					}
				}
				_ = json.Unmarshal(line, &f)
				switch f.Type {
				case "ping":
					_ = ws.Write(context.Background(), websocket.MessageText, []byte(`{"type":"pong"}`))
				case "ack":
					ackc <- f.Message.ClientID
				}
			}
		}
	}()
	return ws, closedc, ackc
}

// TestDisableAndPasswdCloseOpenSockets: `minichat user disable` and
// `minichat user passwd`, run beside a server, close the sockets the
// account already has open (4401), within a heartbeat, and leave everyone
// else connected.
func TestDisableAndPasswdCloseOpenSockets(t *testing.T) {
	for _, tc := range []struct {
		args  []string
		stdin string
	}{
		{[]string{"user", "disable", "bob"}, ""},
		{[]string{"user", "passwd", "bob"}, "new-password-1\n"},
	} {
		t.Run(tc.args[1], func(t *testing.T) {
			dir := t.TempDir()
			p := startChild(t, dir, "--heartbeat", "1s")
			for _, name := range []string{"alice", "bob"} {
				if st, _ := p.post("/api/users", `{"username":"`+name+`","password":"password1"}`); st != 201 {
					t.Fatalf("register %s", name)
				}
			}
			aliceToken, room := login(t, p)
			_, sess := p.post("/api/session", `{"username":"bob","password":"password1"}`)
			_, bobClosed, _ := pongingSocket(t, p, sess["token"].(string))
			alice, aliceClosed, aliceAcks := pongingSocket(t, p, aliceToken)

			args := append(tc.args, "--data-dir", dir)
			if err := run(t.Context(), args, strings.NewReader(tc.stdin), io.Discard, io.Discard); err != nil {
				t.Fatal(err)
			}
			select {
			case code := <-bobClosed:
				if code != 4401 {
					t.Fatalf("bob's socket closed with %d, want 4401", code)
				}
			case <-time.After(15 * time.Second):
				t.Fatalf("bob's socket stayed open after %v", tc.args)
			}
			if err := alice.Write(t.Context(), websocket.MessageText, []byte(`{"type":"send","room":"`+room+`","text":"still here","client_id":"a1"}`)); err != nil {
				t.Fatal(err)
			}
			select {
			case id := <-aliceAcks:
				if id != "a1" {
					t.Fatalf("ack of %q", id)
				}
			case code := <-aliceClosed:
				t.Fatalf("another user's socket closed too (%d)", code)
			case <-time.After(10 * time.Second):
				t.Fatal("no ack for the other user")
			}
		})
	}
}

// TestMigrateCommand moves a real single-node installation to Postgres with
// `minichat migrate`: a server on SQLite takes an account and a message and
// stops; migrate copies the file into an empty schema and refuses to do it
// twice; a server started with --database on that schema (and an empty data
// dir) signs the user in with the same password and shows the message.
func TestMigrateCommand(t *testing.T) {
	dbURL, _ := pgtest.Schema(t)
	dir := t.TempDir()
	p := startChild(t, dir)
	token, room := registerAlice(t, p)
	if st, _ := p.request("POST", "/api/rooms/"+room+"/messages", token, `{"text":"moved to postgres"}`); st != 201 {
		t.Fatalf("send: %d", st)
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	<-p.done

	var out bytes.Buffer
	from := "sqlite:" + filepath.Join(dir, "minichat.db")
	if err := run(t.Context(), []string{"migrate", "--from", from, "--to", dbURL}, nil, &out, io.Discard); err != nil {
		t.Fatalf("migrate: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "messages") || !strings.Contains(out.String(), "migrated") {
		t.Fatalf("migrate printed %q", out.String())
	}
	if err := run(t.Context(), []string{"migrate", "--from", from, "--to", dbURL}, nil, io.Discard, io.Discard); err == nil ||
		!strings.Contains(err.Error(), "not empty") {
		t.Fatalf("second migrate: %v, want a refusal of the non-empty target", err)
	}
	for _, bad := range [][]string{
		{"migrate", "--to", dbURL},
		{"migrate", "--from", from},
		{"migrate", "--from", from, "--to", "mysql://x"},
		{"migrate", "--from", "sqlite:" + filepath.Join(dir, "missing.db"), "--to", dbURL},
	} {
		if err := run(t.Context(), bad, nil, io.Discard, io.Discard); err == nil {
			t.Fatalf("%q accepted", bad)
		}
	}

	p2 := startChild(t, t.TempDir(), "--database", dbURL)
	token, room = login(t, p2)
	st, hist := p2.request("GET", "/api/rooms/"+room+"/messages", token, "")
	msgs, _ := hist["messages"].([]any)
	if st != 200 || len(msgs) == 0 || msgs[len(msgs)-1].(map[string]any)["text"] != "moved to postgres" {
		t.Fatalf("history on postgres: %d %v", st, hist)
	}
}

// --tls-domain repeats, its environment twin lists with commas, and the
// command line replaces the environment's list; with a domain, --addr
// defaults to :443.
func TestTLSDomainFlag(t *testing.T) {
	parseServe := func(args ...string) *flags {
		t.Helper()
		fs, f := newFlagSet("serve", io.Discard)
		if _, err := parse(fs, args, io.Discard); err != nil {
			t.Fatal(err)
		}
		return f
	}
	if f := parseServe("--tls-domain", "a.example.com", "--tls-domain", "b.example.com"); !slices.Equal(f.cfg.TLSDomains, []string{"a.example.com", "b.example.com"}) {
		t.Fatalf("repeated: %q", f.cfg.TLSDomains)
	}
	t.Setenv("MINICHAT_TLS_DOMAIN", "a.example.com, b.example.com")
	if f := parseServe(); !slices.Equal(f.cfg.TLSDomains, []string{"a.example.com", "b.example.com"}) {
		t.Fatalf("from the environment: %q", f.cfg.TLSDomains)
	}
	if f := parseServe("--tls-domain", "c.example.com"); !slices.Equal(f.cfg.TLSDomains, []string{"c.example.com"}) {
		t.Fatalf("the command line over the environment: %q", f.cfg.TLSDomains)
	}
	var help bytes.Buffer
	_ = run(t.Context(), []string{"--help"}, nil, &help, io.Discard)
	for _, want := range []string{"--tls-domain string", "$MINICHAT_TLS_DOMAIN", "--http-addr string", `default ":80"`, "--acme-ca string", "--acme-email", "--acme-ca-root"} {
		if !strings.Contains(help.String(), want) {
			t.Errorf("help lacks %q", want)
		}
	}
}

// A fresh clone's go run has no built client: the log says so and what to
// run, and the browser gets the placeholder page with the commands.
func TestClientNotBuilt(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	logs := &lockedBuffer{}
	done := make(chan error, 1)
	go func() {
		empty := fstest.MapFS{".keep": &fstest.MapFile{}} // a fresh clone's frontend/dist
		done <- serveClient(ctx, []string{"--addr", "127.0.0.1:0", "--data-dir", t.TempDir(), "--log-format", "json"}, empty, io.Discard, logs)
	}()
	var url string
	for deadline := time.Now().Add(20 * time.Second); url == "" && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		for _, line := range strings.Split(logs.String(), "\n") {
			var l map[string]any
			if json.Unmarshal([]byte(line), &l) == nil && l["message"] == "minichat is serving" {
				url = l["url"].(string)
			}
		}
	}
	if url == "" {
		t.Fatalf("the server did not start: %s", logs.String())
	}
	if !strings.Contains(logs.String(), "the web client is not built") || !strings.Contains(logs.String(), "npm ci && npm run build") {
		t.Errorf("no log line about the client:\n%s", logs.String())
	}
	resp, err := http.Get(url + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), "web client has not been built") || !strings.Contains(string(body), "go run .") {
		t.Errorf("the page is not the placeholder: %.200s", body)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
