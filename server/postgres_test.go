package server_test

import (
	"net/http"
	"testing"

	"minichat/server"
	"minichat/server/store/pgtest"
)

// TestServerOnPostgres runs the server with --database on a real Postgres:
// /healthz answers, a message sent over /ws reaches the other member and is
// acknowledged, and a server started again on the same database (data dir
// empty) still knows the accounts and the history.
func TestServerOnPostgres(t *testing.T) {
	dbURL, _ := pgtest.Schema(t)
	pg := func(c *server.Config) { c.Database = dbURL }
	e := newEnv(t, pg)
	if st, out := e.call("GET", "/healthz", "", nil); st != http.StatusOK || out["status"] != "ok" {
		t.Fatalf("healthz %d %v", st, out)
	}
	_, _, a, b, general := e.aliceAndBob()
	a.send(map[string]any{"type": "send", "room": general, "text": "hello from postgres", "client_id": "c-1", "ref": "r1"})
	ack := ackAndMessage(a)
	if m := b.next("message").Msg(); m.ID != ack.Msg().ID || m.Text != "hello from postgres" {
		t.Fatalf("bob got %v", m)
	}
	a.close()
	b.close()
	e.stop()

	e2 := newEnv(t, pg) // a new, empty data dir: everything is in Postgres
	st, out := e2.call("POST", "/api/session", "", map[string]string{"username": "bob", "password": "correct horse"})
	if st != http.StatusCreated && st != http.StatusOK {
		t.Fatalf("login after restart: %d %v", st, out)
	}
	token, _ := out["token"].(string)
	st, out = e2.call("GET", "/api/rooms/"+general+"/messages", token, nil)
	msgs, _ := out["messages"].([]any)
	if st != http.StatusOK || len(msgs) == 0 || msgs[len(msgs)-1].(map[string]any)["text"] != "hello from postgres" {
		t.Fatalf("history after restart: %d %v", st, out)
	}
}
