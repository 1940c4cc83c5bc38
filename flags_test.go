package main

import (
	"context"
	"errors"
	"flag"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

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

// The access flags: defaults, sizes with units, and their environment twins.
func TestAccessFlags(t *testing.T) {
	fs, f := newFlagSet("serve", io.Discard)
	if _, err := parse(fs, nil, io.Discard); err != nil {
		t.Fatal(err)
	}
	c := f.cfg
	if c.Registration != "invite" || c.UploadQuota != 1<<30 || c.MinFreeDisk != 1<<30 || c.SessionIdle != 720*time.Hour ||
		c.SessionMax != 2160*time.Hour || c.UploadTTL != 24*time.Hour || c.CreateRoomRate != 10 || c.JoinRate != 30 ||
		c.InviteRate != 30 || c.DMRate != 30 || c.PublicURL != "" {
		t.Fatalf("defaults %+v", c)
	}
	t.Setenv("MINICHAT_UPLOAD_QUOTA", "500MiB")
	fs, f = newFlagSet("serve", io.Discard)
	if _, err := parse(fs, []string{"--min-free-disk", "-1", "--public-url", "https://chat.example.com", "--dm-rate", "-1"}, io.Discard); err != nil {
		t.Fatal(err)
	}
	if err := f.check(parsed{}); err != nil {
		t.Fatal(err)
	}
	if f.cfg.UploadQuota != 500<<20 || f.cfg.MinFreeDisk != -1 || f.cfg.PublicURL != "https://chat.example.com" || f.cfg.DMRate != -1 {
		t.Fatalf("parsed %+v", f.cfg)
	}
	for _, bad := range [][]string{
		{"--upload-quota", "lots"}, {"--upload-quota", "-2"}, {"--min-free-disk", "1PiB"},
		{"--public-url", "chat.example.com"}, {"--session-idle", "0s"}, {"--registration", "maybe"},
	} {
		fs, f := newFlagSet("serve", io.Discard)
		p, err := parse(fs, bad, io.Discard)
		if err == nil {
			err = f.check(p)
		}
		var ue *usageError
		if !errors.As(err, &ue) || !strings.Contains(err.Error(), bad[0]) {
			t.Errorf("%v: %v, want a usage error naming the flag", bad, err)
		}
	}
}
