package server_test

import (
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"minichat/server"
)

// FuzzRESTBodies posts arbitrary bodies to every JSON endpoint of a real
// server (SQLite file, whole handler chain) and checks that each answer is
// a success or a JSON error with a code and a status below 500 — a body
// can be refused, never crash or break the server.
func FuzzRESTBodies(f *testing.F) {
	srv, err := server.New(server.Config{
		DataDir: f.TempDir(), LoginRate: -1, APIRate: -1, Heartbeat: time.Minute, Version: "fuzz",
		Registration: "open", CreateRoomRate: -1, JoinRate: -1, InviteRate: -1, DMRate: -1,
	}, zerolog.Nop(), nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { srv.Close() })
	h := srv.Handler()
	do := func(method, path, token, body string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	rec := do("POST", "/api/users", "", `{"username":"fuzzer","password":"correct horse"}`)
	var reg struct{ Token string }
	if err := json.Unmarshal(rec.Body.Bytes(), &reg); err != nil || reg.Token == "" {
		f.Fatalf("register: %d %s", rec.Code, rec.Body)
	}
	rec = do("GET", "/api/rooms", reg.Token, "")
	var rooms struct{ Rooms []struct{ ID string } }
	if err := json.Unmarshal(rec.Body.Bytes(), &rooms); err != nil || len(rooms.Rooms) == 0 {
		f.Fatalf("rooms: %s", rec.Body)
	}
	general := rooms.Rooms[0].ID
	endpoints := []string{
		"/api/users", "/api/session", "/api/rooms", "/api/dms",
		"/api/rooms/" + general + "/invite", "/api/rooms/" + general + "/messages",
		"/api/rooms/" + general + "/join", "/api/rooms/" + general + "/leave",
	}
	for i, s := range []string{
		`{"username":"x","password":"short"}`, `{"username":"alice","password":"wrong password"}`,
		`{"name":"room-1","private":true}`, `{"username":"fuzzer"}`, `{"username":"nobody"}`,
		`{"text":"hello","client_id":"c1"}`, `{"text":"","attachments":["f_1"]}`, `{"text":"x","reply_to":"m_x"}`,
		`{}`, `null`, `[]`, `{"text":1}`, `{"name":"` + strings.Repeat("a", 40) + `"}`, `{"a":[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]}`,
	} {
		f.Add(uint8(i), []byte(s))
	}
	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		path := endpoints[int(which)%len(endpoints)]
		if path == "/api/rooms/"+general+"/leave" {
			// Leaving general would change what the other inputs exercise.
			path = "/api/rooms/r_unknown/leave"
		}
		rec := do("POST", path, reg.Token, string(body))
		if rec.Code >= 500 {
			t.Fatalf("POST %s %q: %d %s", path, body, rec.Code, rec.Body)
		}
		if rec.Code >= 400 {
			var e struct {
				Error struct{ Code, Message string }
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Error.Code == "" || e.Error.Message == "" {
				t.Fatalf("POST %s %q: %d without a JSON error: %s", path, body, rec.Code, rec.Body)
			}
		}
	})
}
