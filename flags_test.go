package main

import (
	"context"
	"flag"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/coder/websocket"
)

// The limits reach the server from the command line.
func TestLimitFlagsReachTheServer(t *testing.T) {
	p := startChild(t, t.TempDir(), "--max-conns-per-user", "1", "--login-rate", "1")
	st, out := p.post("/api/users", `{"username":"alice","password":"password1"}`)
	if st != 201 {
		t.Fatalf("register: %d %v", st, out)
	}
	token := out["token"].(string)
	if st, out := p.post("/api/session", `{"username":"alice","password":"password1"}`); st != 429 {
		t.Fatalf("second sign-in within a minute with --login-rate 1: %d %v", st, out)
	}
	url := "ws" + strings.TrimPrefix(p.url, "http") + "/ws"
	opts := &websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer " + token}}}
	ws, _, err := websocket.Dial(context.Background(), url, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	if _, resp, err := websocket.Dial(context.Background(), url, opts); err == nil || resp == nil || resp.StatusCode != 429 {
		t.Fatalf("second socket with --max-conns-per-user 1: %v", err)
	}
}

// Every flag of serve is in the operations guide's table, with its
// environment twin.
func TestEveryFlagIsDocumented(t *testing.T) {
	doc, err := os.ReadFile("docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	fs, _ := newFlagSet("serve", io.Discard)
	fs.VisitAll(func(fl *flag.Flag) {
		row := "| `--" + fl.Name + "` | `" + envName(fl.Name) + "` |"
		if !strings.Contains(string(doc), row) {
			t.Errorf("docs/operations.md has no row %q", row)
		}
	})
}
