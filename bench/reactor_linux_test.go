package bench

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// TestRawSockAnswersPingsAndReportsTheCloseCode runs the raw reader
// against coder/websocket's server side: the server's WebSocket ping must
// be answered, and its close code must come out of serve as the same
// close status the other reader reports.
func TestRawSockAnswersPingsAndReportsTheCloseCode(t *testing.T) {
	pinged := make(chan error, 1)
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer tok" {
			http.Error(w, "no token", http.StatusUnauthorized)
			return
		}
		conn, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		ctx = conn.CloseRead(ctx)
		pinged <- conn.Ping(ctx)
		conn.Close(4401, "signed out")
	}))
	defer ts.Close()

	rs, err := newReactors(1)
	if err != nil {
		t.Fatal(err)
	}
	defer stopReactors(rs)
	ws := "ws" + strings.TrimPrefix(ts.URL, "http") + "/ws"
	c := &client{
		w:      &worker{wsURL: ws, wsHost: strings.TrimPrefix(ts.URL, "http://")},
		token:  "tok",
		dialer: &net.Dialer{},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := rs[0].dial(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	err = s.serve(c)
	if perr := <-pinged; perr != nil {
		t.Fatalf("the server's ping was not answered: %v", perr)
	}
	if code := websocket.CloseStatus(err); code != 4401 {
		t.Fatalf("serve returned %v (status %d), want close 4401", err, code)
	}

	c.token = "wrong"
	if _, err := rs[0].dial(ctx, c); err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("a refused upgrade: %v", err)
	}
}
