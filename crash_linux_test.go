package main

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/coder/websocket"

	"minichat/server/protocol/frametest"
)

// burstClient is one socket of a burst: it pipelines sends with client_ids
// of its own and records the acks it gets.
type burstClient struct {
	ws     *websocket.Conn
	prefix string

	mu     sync.Mutex
	acked  map[string]int64 // message id → seq
	byCID  map[string]string
	errors []string
	got    chan struct{} // a token per ack or error
	any    chan struct{} // if set, a token per ack, shared by a burst's clients
	closed chan struct{}
}

func dialBurst(t *testing.T, c *child, token, prefix string, any chan struct{}) *burstClient {
	t.Helper()
	ws, _, err := websocket.Dial(context.Background(), "ws"+strings.TrimPrefix(c.url, "http")+"/ws", &websocket.DialOptions{
		HTTPHeader: http.Header{"Authorization": {"Bearer " + token}},
	})
	if err != nil {
		t.Fatal(err)
	}
	ws.SetReadLimit(1 << 24)
	b := &burstClient{ws: ws, prefix: prefix, acked: map[string]int64{}, byCID: map[string]string{},
		got: make(chan struct{}, 100000), any: any, closed: make(chan struct{})}
	go func() {
		defer close(b.closed)
		for {
			_, data, err := ws.Read(context.Background())
			if err != nil {
				return
			}
			for _, line := range bytes.Split(data, []byte("\n")) {
				f, err := frametest.Decode(line)
				if err != nil {
					panic(fmt.Sprintf("server sent a frame that is not the protocol's: %v: %q", err, line))
				}
				switch f.Type {
				case "ack":
					m := f.Ack.Message
					b.mu.Lock()
					b.acked[m.ID] = m.Seq
					b.byCID[m.ClientID] = m.ID
					b.mu.Unlock()
					b.got <- struct{}{}
					if b.any != nil {
						select {
						case b.any <- struct{}{}:
						default:
						}
					}
				case "error":
					b.mu.Lock()
					b.errors = append(b.errors, f.Error.Code+": "+f.Error.Message)
					b.mu.Unlock()
					b.got <- struct{}{}
				}
			}
		}
	}()
	t.Cleanup(func() { _ = ws.CloseNow(); <-b.closed })
	return b
}

func (b *burstClient) send(room string, i int) error {
	return b.ws.Write(context.Background(), websocket.MessageText,
		fmt.Appendf(nil, `{"type":"send","room":%q,"text":"%s-%d","client_id":"%s-%d"}`, room, b.prefix, i, b.prefix, i))
}

// SIGKILL in the middle of a burst of concurrent sends from many clients:
// after the restart every acknowledged message is there with its seq, the
// log has no gap, and clients that retry everything with the same
// client_ids create no duplicate.
func TestConcurrentBurstSurvivesSIGKILLAndRetries(t *testing.T) {
	dir := t.TempDir()
	p := startChild(t, dir)
	token, room := registerAlice(t, p)
	const clients, each = 8, 300
	anyAck := make(chan struct{}, clients*each)
	burst := make([]*burstClient, clients)
	for i := range burst {
		burst[i] = dialBurst(t, p, token, fmt.Sprintf("c%d", i), anyAck)
	}
	for _, b := range burst {
		go func() {
			for i := 0; i < each; i++ {
				if b.send(room, i) != nil {
					return
				}
			}
		}()
	}
	// Kill once a good part is acknowledged and the rest is in flight.
	for total := 0; total < clients*each/8; {
		select {
		case <-anyAck:
			total++
		case <-time.After(30 * time.Second):
			t.Fatal("acks did not arrive")
		}
	}
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-p.done
	acked := map[string]int64{}
	for _, b := range burst {
		<-b.closed
		b.mu.Lock()
		for id, seq := range b.acked {
			acked[id] = seq
		}
		b.mu.Unlock()
	}
	t.Logf("%d of %d acknowledged at the kill", len(acked), clients*each)
	if len(acked) == clients*each {
		t.Fatal("everything was acknowledged before the kill: nothing was in flight")
	}

	p2 := startChild(t, dir)
	token, room = login(t, p2)
	checkLog(t, p2, token, room, acked)
	// Each client retries its whole burst, as a client does with what it
	// has not seen acknowledged (and more).
	retry := make([]*burstClient, clients)
	for i := range retry {
		retry[i] = dialBurst(t, p2, token, fmt.Sprintf("c%d", i), nil)
		go func() {
			for j := 0; j < each; j++ {
				if retry[i].send(room, j) != nil {
					return
				}
			}
		}()
	}
	for _, b := range retry {
		for n := 0; n < each; n++ {
			select {
			case <-b.got:
			case <-time.After(30 * time.Second):
				t.Fatalf("%s: %d of %d retries answered", b.prefix, n, each)
			}
		}
		b.mu.Lock()
		if len(b.errors) > 0 {
			t.Fatalf("%s: errors %v", b.prefix, b.errors)
		}
		b.mu.Unlock()
	}
	// A retried client_id acknowledged before the kill gets the original.
	for i, b := range burst {
		b.mu.Lock()
		for cid, id := range b.byCID {
			retry[i].mu.Lock()
			if retry[i].byCID[cid] != id {
				t.Errorf("%s was acknowledged as %s, its retry as %s", cid, id, retry[i].byCID[cid])
			}
			retry[i].mu.Unlock()
		}
		b.mu.Unlock()
	}
	n := checkLog(t, p2, token, room, acked)
	texts := historyTexts(t, p2, token, room)
	for i := 0; i < clients; i++ {
		for j := 0; j < each; j++ {
			if c := texts[fmt.Sprintf("c%d-%d", i, j)]; c != 1 {
				t.Fatalf("c%d-%d stored %d times, want once", i, j, c)
			}
		}
	}
	if want := int64(clients*each) + 1; n != want { // + "alice joined"
		t.Fatalf("%d messages in the log, want %d", n, want)
	}
}

// historyTexts counts the texts in a room's whole history.
func historyTexts(t *testing.T, c *child, token, room string) map[string]int {
	t.Helper()
	counts := map[string]int{}
	before := ""
	for {
		st, out := c.request("GET", "/api/rooms/"+room+"/messages?limit=200"+before, token, "")
		if st != 200 {
			t.Fatalf("history: %d %v", st, out)
		}
		msgs := out["messages"].([]any)
		for _, m := range msgs {
			counts[m.(map[string]any)["text"].(string)]++
		}
		if out["has_more"] != true || len(msgs) == 0 {
			return counts
		}
		before = fmt.Sprintf("&before=%d", int64(msgs[0].(map[string]any)["seq"].(float64)))
	}
}

// setFileSizeLimit sets the largest file a process may write (RLIMIT_FSIZE):
// a write past it fails with EFBIG, which SQLite sees as it sees a full
// disk. The Go runtime ignores SIGXFSZ, so the process lives on. The soft
// limit moves; the hard one stays, so no privilege is needed.
func setFileSizeLimit(t *testing.T, pid int, limit uint64) {
	t.Helper()
	var old syscall.Rlimit
	if err := prlimit(pid, nil, &old); err != nil {
		t.Fatal(err)
	}
	lim := syscall.Rlimit{Cur: min(limit, old.Max), Max: old.Max}
	if err := prlimit(pid, &lim, nil); err != nil {
		t.Fatal(err)
	}
}

// prlimit is prlimit(2) for RLIMIT_FSIZE of another process.
func prlimit(pid int, newLimit, old *syscall.Rlimit) error {
	_, _, errno := syscall.RawSyscall6(syscall.SYS_PRLIMIT64, uintptr(pid), syscall.RLIMIT_FSIZE,
		uintptr(unsafe.Pointer(newLimit)), uintptr(unsafe.Pointer(old)), 0, 0)
	if errno != 0 {
		return fmt.Errorf("prlimit: %w", errno)
	}
	return nil
}

// rlimInfinity is RLIM_INFINITY: no limit.
const rlimInfinity = ^uint64(0)

// When the disk refuses writes, sends fail with internal errors (the socket
// stays open), reads keep working, and once the disk takes writes again
// retries succeed; the database is intact and has every acknowledged
// message after a kill and a restart.
func TestFailingDiskFailsSendsAndRecovers(t *testing.T) {
	dir := t.TempDir()
	p := startChild(t, dir)
	token, room := registerAlice(t, p)
	b := dialBurst(t, p, token, "m", nil)
	for i := 0; i < 5; i++ {
		if err := b.send(room, i); err != nil {
			t.Fatal(err)
		}
		<-b.got
	}

	setFileSizeLimit(t, p.cmd.Process.Pid, 1) // nothing more can be written
	for i := 5; i < 10; i++ {
		if err := b.send(room, i); err != nil {
			t.Fatal(err)
		}
		<-b.got
	}
	b.mu.Lock()
	errs := append([]string(nil), b.errors...)
	b.mu.Unlock()
	if len(errs) != 5 {
		t.Fatalf("%d errors for 5 sends to a failing disk: %v", len(errs), errs)
	}
	for _, e := range errs {
		if !strings.HasPrefix(e, "internal: ") {
			t.Fatalf("error %q, want internal", e)
		}
	}
	if st, out := p.request("POST", "/api/rooms/"+room+"/messages", token, `{"text":"rest","client_id":"rest"}`); st != 500 || out["error"].(map[string]any)["code"] != "internal" {
		t.Fatalf("REST send to a failing disk: %d %v", st, out)
	}
	if st, _ := p.request("GET", "/api/rooms/"+room+"/messages", token, ""); st != 200 {
		t.Fatalf("history while the disk fails: %d", st)
	}

	setFileSizeLimit(t, p.cmd.Process.Pid, rlimInfinity)
	for i := 5; i < 12; i++ { // the five that failed, retried, and two new
		if err := b.send(room, i); err != nil {
			t.Fatal(err)
		}
		<-b.got
	}
	if st, _ := p.request("POST", "/api/rooms/"+room+"/messages", token, `{"text":"rest","client_id":"rest"}`); st != 201 {
		t.Fatalf("REST send after recovery: %d", st)
	}
	b.mu.Lock()
	acked := map[string]int64{}
	for id, seq := range b.acked {
		acked[id] = seq
	}
	nerr := len(b.errors)
	b.mu.Unlock()
	if len(acked) != 12 || nerr != 5 {
		t.Fatalf("%d acks and %d errors, want 12 and 5", len(acked), nerr)
	}

	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-p.done
	p2 := startChild(t, dir)
	token, room = login(t, p2)
	if n := checkLog(t, p2, token, room, acked); n != 14 { // alice joined, m-0…m-11, rest
		t.Fatalf("%d messages, want 14", n)
	}
	if err := p2.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	<-p2.done
	db, err := sql.Open("sqlite", "file:"+(&url.URL{Path: filepath.Join(dir, "minichat.db")}).EscapedPath())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var res string
	if err := db.QueryRow("PRAGMA integrity_check").Scan(&res); err != nil || res != "ok" {
		t.Fatalf("integrity_check: %q %v", res, err)
	}
}
