package server_test

import (
	"encoding/json"
	"fmt"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"minichat/server/protocol"
	"minichat/server/protocol/frametest"
)

// texts returns the texts of the messages of a search answer.
func texts(out map[string]any) []string {
	res := []string{}
	for _, m := range out["messages"].([]any) {
		res = append(res, m.(map[string]any)["text"].(string))
	}
	return res
}

func (e *env) search(u user, q, room string) (int, map[string]any) {
	e.t.Helper()
	path := "/api/search?q=" + url.QueryEscape(q)
	if room != "" {
		path += "&room=" + room
	}
	return e.call("GET", path, u.Token, nil)
}

func (e *env) post(u user, room, text string) map[string]any {
	e.t.Helper()
	st, out := e.call("POST", "/api/rooms/"+room+"/messages", u.Token, map[string]any{"text": text})
	if st != 201 {
		e.t.Fatalf("post %q: %d %v", text, st, out)
	}
	return out["message"].(map[string]any)
}

func TestSearchEndpoint(t *testing.T) {
	e := newEnv(t)
	alice, bob := e.register("alice"), e.register("bob")
	general := e.roomID(alice, "general")
	_, out := e.call("POST", "/api/rooms", alice.Token, map[string]any{"name": "club", "private": true})
	club := out["room"].(map[string]any)["id"].(string)

	first := e.post(alice, general, "Deploy the release on Friday")
	e.post(bob, general, "the e-mail about the release")
	e.post(alice, club, "secret release notes")
	e.post(bob, general, "Friday deploy went fine")

	cases := []struct {
		who   user
		q     string
		room  string
		want  []string
		title string
	}{
		{bob, "release", "", []string{"the e-mail about the release", "Deploy the release on Friday"}, "word, private room hidden"},
		{alice, "RELEASE", "", []string{"secret release notes", "the e-mail about the release", "Deploy the release on Friday"}, "any case, own private room"},
		{alice, "release", club, []string{"secret release notes"}, "one room"},
		{bob, "friday deploy", "", []string{"Friday deploy went fine", "Deploy the release on Friday"}, "all words"},
		{bob, `"friday deploy"`, "", []string{"Friday deploy went fine"}, "phrase"},
		{bob, `"deploy the`, "", []string{"Deploy the release on Friday"}, "unclosed quote"},
		{bob, "e-mail", "", []string{"the e-mail about the release"}, "punctuated word"},
		{bob, "relea", "", []string{}, "whole words only"},
		// What FTS5 would read as syntax is only text here.
		{bob, `release AND NOT friday OR (deploy*) ^x NEAR(a b) col:x "" '`, "", []string{}, "operators are words"},
		{bob, `release*`, "", []string{"the e-mail about the release", "Deploy the release on Friday"}, "star is punctuation"},
	}
	for _, tc := range cases {
		st, out := e.search(tc.who, tc.q, tc.room)
		if st != 200 || !reflect.DeepEqual(texts(out), tc.want) {
			t.Errorf("%s: search %q as %s: %d %q, want %q", tc.title, tc.q, tc.who.Name, st, out, tc.want)
		}
	}
	for _, q := range []string{"", "   ", `"" ** ()`, strings.Repeat("a", 257), strings.Repeat("a ", 17), "\xff"} {
		st, out := e.search(bob, q, "")
		if st != 400 || out["error"].(map[string]any)["code"] != "bad_request" {
			t.Errorf("search %q: %d %v, want 400 bad_request", q, st, out)
		}
	}
	if st, _ := e.search(bob, "release", club); st != 404 {
		t.Errorf("search in a private room of others: %d", st)
	}
	if st, _ := e.search(bob, "release", "r_nothing"); st != 404 {
		t.Errorf("search in an unknown room: %d", st)
	}

	// Results are current: an edit is found by its new text; a deleted
	// message not at all; each result is a whole Message.
	a := e.dial(alice)
	a.send(map[string]any{"type": "edit", "room": general, "id": first["id"], "text": "Deploy postponed"})
	a.next("update")
	_, out = e.search(bob, "postponed", "")
	msgs := out["messages"].([]any)
	if len(msgs) != 1 {
		t.Fatalf("after edit: %v", out)
	}
	m := msgs[0].(map[string]any)
	if m["id"] != first["id"] || m["room"] != general || m["seq"] != first["seq"] || m["edited_at"] == nil ||
		m["sender"].(map[string]any)["name"] != "alice" {
		t.Fatalf("search result %v", m)
	}
	if _, out := e.search(bob, "friday", ""); !reflect.DeepEqual(texts(out), []string{"Friday deploy went fine"}) {
		t.Fatalf("old text still found: %v", out)
	}
	a.send(map[string]any{"type": "delete", "room": general, "id": first["id"]})
	a.next("update")
	if _, out := e.search(bob, "postponed", ""); len(out["messages"].([]any)) != 0 {
		t.Fatalf("deleted message found: %v", out)
	}
	// At most 50, newest first.
	for i := range 55 {
		e.post(bob, general, fmt.Sprint("bulk ", i))
	}
	_, out = e.search(bob, "bulk", "")
	got := texts(out)
	if len(got) != 50 || got[0] != "bulk 54" || got[49] != "bulk 5" {
		t.Fatalf("bulk search: %d results, %q … %q", len(got), got[0], got[len(got)-1])
	}
}

func TestRepliesStayInTheirRoom(t *testing.T) {
	e := newEnv(t)
	alice, bob := e.register("alice"), e.register("bob")
	general := e.roomID(alice, "general")
	_, out := e.call("POST", "/api/rooms", alice.Token, map[string]any{"name": "other"})
	other := out["room"].(map[string]any)["id"].(string)
	parent := e.post(alice, general, "parent")
	elsewhere := e.post(alice, other, "elsewhere")

	b := e.dial(bob)
	b.send(map[string]any{"type": "send", "room": general, "text": "child", "client_id": "c1", "reply_to": parent["id"], "ref": "r1"})
	ack := b.next("ack")
	if ack.Msg().ReplyTo != parent["id"] {
		t.Fatalf("ack %v", ack)
	}
	for _, bad := range []any{elsewhere["id"], "m_nothing"} {
		b.send(map[string]any{"type": "send", "room": general, "text": "x", "client_id": "c2", "reply_to": bad, "ref": "r2"})
		if f := b.next("error"); f.Error.Code != "not_found" || f.Ref() != "r2" {
			t.Fatalf("reply_to %v: %v", bad, f)
		}
		st, out := e.call("POST", "/api/rooms/"+general+"/messages", bob.Token, map[string]any{"text": "x", "reply_to": bad})
		if st != 404 {
			t.Fatalf("REST reply_to %v: %d %v", bad, st, out)
		}
	}
	_, h := e.call("GET", "/api/rooms/"+general+"/messages?limit=1", alice.Token, nil)
	last := h["messages"].([]any)[0].(map[string]any)
	if last["text"] != "child" || last["reply_to"] != parent["id"] {
		t.Fatalf("history %v", last)
	}
}

// TestRichChangesAuthorizationAndReplay covers edit, delete and react over
// the socket: who may do what, idempotent reactions, and a member who was
// away receiving every change — with attachments — after hello.
func TestRichChangesAuthorizationAndReplay(t *testing.T) {
	e := newEnv(t)
	root := e.register("root") // the first user is admin
	alice, bob, carol := e.register("alice"), e.register("bob"), e.register("carol")
	_, out := e.call("POST", "/api/rooms", alice.Token, map[string]any{"name": "club", "private": true})
	club := out["room"].(map[string]any)["id"].(string)
	e.call("POST", "/api/rooms/"+club+"/invite", alice.Token, map[string]string{"username": "bob"})

	a, b := e.dial(alice), e.dial(bob)
	pic := e.uploaded(alice, "p.png", pngBytes(t))
	// No text: a message may be attachments only.
	a.send(map[string]any{"type": "send", "room": club, "client_id": "p1", "attachments": []string{pic["id"].(string)}, "ref": "s"})
	sent := a.next("ack").Msg()
	seen := b.next("message")
	if sent.Text != "" || seen.Msg().Text != "" {
		t.Fatalf("attachment-only message %v", sent)
	}
	var att protocol.Attachment
	if b, _ := json.Marshal(pic); json.Unmarshal(b, &att) != nil {
		t.Fatalf("upload answer %v", pic)
	}
	wantAtt := []protocol.Attachment{att}
	if !reflect.DeepEqual(sent.Attachments, wantAtt) || !reflect.DeepEqual(seen.Msg().Attachments, wantAtt) {
		t.Fatalf("attachments in ack %v and message %v, want %v", sent.Attachments, seen.Msg().Attachments, wantAtt)
	}
	id, seq := sent.ID, sent.Seq

	// carol is not in the club; root is admin but not in it either: the
	// room does not exist for them. bob is a member but not the sender.
	c, r := e.dial(carol), e.dial(root)
	for _, tc := range []struct {
		who  *client
		f    map[string]any
		code string
	}{
		{c, map[string]any{"type": "edit", "room": club, "id": id, "text": "x"}, "not_found"},
		{c, map[string]any{"type": "react", "room": club, "id": id, "emoji": "👍", "on": true}, "not_found"},
		{c, map[string]any{"type": "delete", "room": club, "id": id}, "not_found"},
		{r, map[string]any{"type": "edit", "room": club, "id": id, "text": "x"}, "not_found"},
		{r, map[string]any{"type": "delete", "room": club, "id": id}, "not_found"},
		{b, map[string]any{"type": "edit", "room": club, "id": id, "text": "x"}, "forbidden"},
		{b, map[string]any{"type": "delete", "room": club, "id": id}, "forbidden"},
		{b, map[string]any{"type": "edit", "room": club, "id": "m_nothing", "text": "x"}, "not_found"},
	} {
		tc.f["ref"] = "x"
		tc.who.send(tc.f)
		if f := tc.who.next("error"); f.Error.Code != tc.code {
			t.Fatalf("%s %v: %v, want %s", tc.who.name, tc.f, f, tc.code)
		}
	}
	if resp, _ := e.fetch(carol.Token, pic["url"].(string)); resp.StatusCode != 404 {
		t.Fatalf("carol fetched a club file: %d", resp.StatusCode)
	}

	// bob goes away. alice edits, reacts twice (one change: the repeat
	// takes no seq, as the next update's seq shows), and toggles another
	// reaction on and off.
	b.close()
	change := func(f map[string]any, wantSeq int64) protocol.Message {
		t.Helper()
		a.send(f)
		u := a.next("update")
		if u.Seq() != wantSeq {
			t.Fatalf("%v: update seq %d, want %d", f, u.Seq(), wantSeq)
		}
		return u.Msg()
	}
	change(map[string]any{"type": "edit", "room": club, "id": id, "text": "look again"}, seq+1)
	change(map[string]any{"type": "react", "room": club, "id": id, "emoji": "👍", "on": true}, seq+2)
	a.send(map[string]any{"type": "react", "room": club, "id": id, "emoji": "👍", "on": true})
	change(map[string]any{"type": "react", "room": club, "id": id, "emoji": "🎉", "on": true}, seq+3)
	last := change(map[string]any{"type": "react", "room": club, "id": id, "emoji": "🎉", "on": false}, seq+4)
	if got := last.Reactions; !reflect.DeepEqual(got, []protocol.Reaction{{Emoji: "👍", Users: []string{"alice"}}}) {
		t.Fatalf("reactions %v", got)
	}

	b2 := e.dial(bob)
	b2.send(map[string]any{"type": "hello", "since": map[string]int64{club: seq}})
	var got []frametest.Frame
	for {
		f := b2.next("message", "update", "synced")
		if f.Type == "synced" {
			break
		}
		got = append(got, f)
	}
	if len(got) != 4 {
		t.Fatalf("replay has %d frames, want 4: %v", len(got), got)
	}
	for i, f := range got {
		m := f.Msg()
		if f.Type != "update" || f.Seq() != seq+1+int64(i) || m.ID != id || m.Text != "look again" ||
			!reflect.DeepEqual(m.Attachments, wantAtt) {
			t.Fatalf("replay %d: %+v", i, f)
		}
	}
	// Each frame carries the message as of its change (or later); the last
	// is the current state.
	if m := got[3].Msg(); !reflect.DeepEqual(m.Reactions, last.Reactions) {
		t.Fatalf("last replayed frame %+v, want reactions %v", m, last.Reactions)
	}
	// Delete after bob reconnects: live update, then history and replay
	// show the tombstone without the attachment, and the file is gone for bob.
	a.send(map[string]any{"type": "delete", "room": club, "id": id})
	u := b2.next("update")
	if m := u.Msg(); m.Deleted != true || m.Text != "" || m.Attachments != nil || m.Reactions != nil {
		t.Fatalf("delete update %v", u)
	}
	_, h := e.call("GET", "/api/rooms/"+club+"/messages", bob.Token, nil)
	for _, hm := range h["messages"].([]any) {
		if hm := hm.(map[string]any); hm["id"] == id && (hm["deleted"] != true || hm["attachments"] != nil) {
			t.Fatalf("history %v", hm)
		}
	}
	if resp, _ := e.fetch(bob.Token, pic["url"].(string)); resp.StatusCode != 404 {
		t.Fatalf("bob fetched the file of a deleted message: %d", resp.StatusCode)
	}
}
