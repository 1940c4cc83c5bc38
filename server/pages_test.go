package server_test

import (
	"fmt"
	"strings"
	"testing"

	"minichat/server/protocol"
)

// pageSeqs lists the seqs of a history answer's messages.
func pageSeqs(out map[string]any) []int64 {
	var s []int64
	for _, m := range out["messages"].([]any) {
		s = append(s, int64(m.(map[string]any)["seq"].(float64)))
	}
	return s
}

// frameSeqs is pageSeqs of a history frame.
func frameSeqs(h protocol.History) []int64 {
	var s []int64
	for _, m := range h.Messages {
		s = append(s, m.Seq)
	}
	return s
}

// A reader pages forward from an old place, and opens the page around a
// message (by seq or by id), over HTTP and over the socket alike; a page
// says whether newer messages follow it.
func TestHistoryAfterAndAround(t *testing.T) {
	e := newEnv(t)
	alice, bob, _, b, general := e.aliceAndBob()
	var ids []string
	for i := range 10 {
		st, out := e.call("POST", "/api/rooms/"+general+"/messages", alice.Token, map[string]any{"text": fmt.Sprint("m", i)})
		if st != 201 {
			t.Fatalf("send: %d %v", st, out)
		}
		ids = append(ids, out["message"].(map[string]any)["id"].(string))
	}
	last := pageSeqs(must200(t, e, "/api/rooms/"+general+"/messages?limit=1", bob.Token))[0]
	first := last - 9 // the seq of m0

	out := must200(t, e, fmt.Sprintf("/api/rooms/%s/messages?after=%d&limit=3", general, first), bob.Token)
	if got := pageSeqs(out); fmt.Sprint(got) != fmt.Sprint([]int64{first + 1, first + 2, first + 3}) ||
		out["has_more"] != true || out["has_newer"] != true {
		t.Fatalf("after: %v", out)
	}
	out = must200(t, e, fmt.Sprintf("/api/rooms/%s/messages?before=%d&limit=2", general, first+5), bob.Token)
	if got := pageSeqs(out); fmt.Sprint(got) != fmt.Sprint([]int64{first + 3, first + 4}) || out["has_newer"] != true {
		t.Fatalf("before: %v", out)
	}
	out = must200(t, e, fmt.Sprintf("/api/rooms/%s/messages?around_id=%s&limit=5", general, ids[5]), bob.Token)
	if got := pageSeqs(out); fmt.Sprint(got) != fmt.Sprint([]int64{first + 3, first + 4, first + 5, first + 6, first + 7}) ||
		out["has_more"] != true || out["has_newer"] != true {
		t.Fatalf("around_id: %v", out)
	}
	out = must200(t, e, fmt.Sprintf("/api/rooms/%s/messages?around=%d&limit=4", general, last), bob.Token)
	if got := pageSeqs(out); len(got) != 4 || got[3] != last || out["has_newer"] != nil {
		t.Fatalf("around the end: %v", out)
	}

	b.send(map[string]any{"type": "history", "room": general, "around_id": ids[0], "limit": 3, "ref": "h1"})
	h := b.next("history").History
	if got := frameSeqs(h); h.Ref != "h1" || fmt.Sprint(got) != fmt.Sprint([]int64{first - 1, first, first + 1}) || !h.HasNewer {
		t.Fatalf("socket around_id: %v", h)
	}
	b.send(map[string]any{"type": "history", "room": general, "after": last - 1, "ref": "h2"})
	if h := b.next("history").History; fmt.Sprint(frameSeqs(h)) != fmt.Sprint([]int64{last}) || h.HasNewer {
		t.Fatalf("socket after: %v", h)
	}

	// Bad places are refused, and say why.
	for _, q := range []string{"after=0", "around=-1", "after=x", "before=3&after=2", "around=3&around_id=" + ids[0], "around_id=" + strings.Repeat("x", 65)} {
		st, out := e.call("GET", "/api/rooms/"+general+"/messages?"+q, bob.Token, nil)
		if st != 400 || out["error"].(map[string]any)["code"] != "bad_request" {
			t.Errorf("%s: %d %v", q, st, out)
		}
	}
	for _, f := range []map[string]any{
		{"type": "history", "room": general, "after": 0, "ref": "x"},
		{"type": "history", "room": general, "after": 2, "before": 5, "ref": "x"},
	} {
		b.send(f)
		if er := b.next("error").Error; er.Code != "bad_request" || er.Ref != "x" {
			t.Fatalf("%v: %v", f, er)
		}
	}
	// A message of a room the reader cannot see is not found, as an unknown one.
	st, out := e.call("POST", "/api/rooms", alice.Token, map[string]any{"name": "secret", "private": true})
	if st != 201 {
		t.Fatalf("create: %d %v", st, out)
	}
	secret := out["room"].(map[string]any)["id"].(string)
	st, out = e.call("POST", "/api/rooms/"+secret+"/messages", alice.Token, map[string]any{"text": "hidden"})
	if st != 201 {
		t.Fatalf("send: %d %v", st, out)
	}
	hidden := out["message"].(map[string]any)["id"].(string)
	for _, id := range []string{hidden, "m_nothing"} {
		st, out := e.call("GET", "/api/rooms/"+general+"/messages?around_id="+id, bob.Token, nil)
		if st != 404 || out["error"].(map[string]any)["code"] != "not_found" {
			t.Errorf("around_id %s: %d %v", id, st, out)
		}
	}
}

func must200(t *testing.T, e *env, path, token string) map[string]any {
	t.Helper()
	st, out := e.call("GET", path, token, nil)
	if st != 200 {
		t.Fatalf("GET %s: %d %v", path, st, out)
	}
	return out
}
