package server_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"minichat/server/protocol/frametest"
)

// The authorization matrix: every endpoint and frame type that touches a
// room or a message, tried by every kind of caller against a public room,
// a private room and a direct-message room. The callers:
//
//	anonymous  no session at all
//	outsider   signed in, a member of none of the three rooms
//	member     a member of all three; not the author of the target message
//	sender     the owner of all three rooms and author of the target message
//	admin      the server's admin: a member of the public room only, so it
//	           shows what the role adds inside a room and what it does not
//	           add outside one
//
// Each cell is the answer the caller must get: an HTTP status, or "ok" /
// an error code for a frame. After the table, the outsider's and the
// admin's sockets must not have received a single frame of the private and
// DM rooms.
func TestAuthorizationMatrix(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	admin := e.register("admin") // the first account is the admin
	sender, member, outsider := e.register("sender"), e.register("member"), e.register("outsider")
	actors := []string{"anonymous", "outsider", "member", "sender", "admin"}
	users := map[string]user{"anonymous": {Name: "anonymous"}, "outsider": outsider, "member": member, "sender": sender, "admin": admin}

	_, out := e.call("POST", "/api/rooms", sender.Token, map[string]any{"name": "pub"})
	pub := out["room"].(map[string]any)["id"].(string)
	_, out = e.call("POST", "/api/rooms", sender.Token, map[string]any{"name": "priv", "private": true})
	priv := out["room"].(map[string]any)["id"].(string)
	_, out = e.call("POST", "/api/dms", sender.Token, map[string]string{"username": "member"})
	dm := out["room"].(map[string]any)["id"].(string)
	for _, step := range []struct{ path, token string }{
		{"/api/rooms/" + pub + "/join", member.Token},
		{"/api/rooms/" + pub + "/join", admin.Token},
	} {
		if st, out := e.call("POST", step.path, step.token, nil); st != 200 {
			t.Fatalf("setup %s: %d %v", step.path, st, out)
		}
	}
	if st, _ := e.call("POST", "/api/rooms/"+priv+"/invite", sender.Token, map[string]string{"username": "member"}); st != 204 {
		t.Fatal("setup invite")
	}
	rooms := []struct{ kind, id string }{{"public", pub}, {"private", priv}, {"dm", dm}}
	hidden := map[string]bool{priv: true, dm: true}

	socks := map[string]*client{}
	for _, a := range actors[1:] {
		socks[a] = e.dial(users[a])
	}
	if _, err := e.tryDial("", nil); err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("anonymous socket: %v, want 401", err)
	}
	// newMessage posts a fresh message of the sender's into a room, so
	// that every edit or delete case has a target of its own.
	newMessage := func(room string) string {
		st, out := e.call("POST", "/api/rooms/"+room+"/messages", sender.Token, map[string]string{"text": "target"})
		if st != 201 {
			t.Fatalf("target message: %d %v", st, out)
		}
		return msgOf(out)["id"].(string)
	}
	target := map[string]string{pub: newMessage(pub), priv: newMessage(priv), dm: newMessage(dm)}

	// Expected answers, one per actor in the order of actors.
	type row map[string][5]string
	rest := []struct {
		what   string
		method string
		path   func(room string) string
		body   func(actor, room string) any
		want   row
	}{
		{"read history", "GET", func(r string) string { return "/api/rooms/" + r + "/messages" }, nil, row{
			"public":  {"401", "200", "200", "200", "200"},
			"private": {"401", "404", "200", "200", "404"},
			"dm":      {"401", "404", "200", "200", "404"},
		}},
		{"post a message", "POST", func(r string) string { return "/api/rooms/" + r + "/messages" },
			func(a, _ string) any { return map[string]string{"text": "by " + a} }, row{
				"public":  {"401", "403", "201", "201", "201"},
				"private": {"401", "404", "201", "201", "404"},
				"dm":      {"401", "404", "201", "201", "404"},
			}},
		{"invite someone", "POST", func(r string) string { return "/api/rooms/" + r + "/invite" },
			func(a, r string) any { return map[string]string{"username": "guest"} }, row{
				"public":  {"401", "404", "204", "204", "204"},
				"private": {"401", "404", "204", "204", "404"},
				"dm":      {"401", "404", "403", "403", "404"},
			}},
	}
	guest := e.register("guest")
	for _, tc := range rest {
		for _, rm := range rooms {
			for i, a := range actors {
				var body any
				if tc.body != nil {
					body = tc.body(a, rm.id)
				}
				wasGuest, _ := e.srv.Store().IsMember(ctx, rm.id, guest.ID)
				st, out := e.call(tc.method, tc.path(rm.id), users[a].Token, body)
				if want := tc.want[rm.kind][i]; fmt.Sprint(st) != want {
					t.Errorf("%s in the %s room as %s: %d %v, want %s", tc.what, rm.kind, a, st, out, want)
				}
				if st >= 400 && errCode(out) == "" {
					t.Errorf("%s in the %s room as %s: %d without a JSON error", tc.what, rm.kind, a, st)
				}
				if isGuest, _ := e.srv.Store().IsMember(ctx, rm.id, guest.ID); tc.what == "invite someone" && st != 204 && isGuest != wasGuest {
					t.Errorf("a refused invitation by %s changed the %s room's members", a, rm.kind)
				}
			}
		}
	}
	// The room list shows each user the rooms they belong to; the
	// directory lists the public rooms to everyone, and nothing else.
	for _, a := range actors[1:] {
		_, out := e.call("GET", "/api/rooms/directory", users[a].Token, nil)
		listed := map[string]bool{}
		for _, r := range out["rooms"].([]any) {
			listed[r.(map[string]any)["id"].(string)] = true
		}
		if !listed[pub] || listed[priv] || listed[dm] {
			t.Errorf("%s's directory: public %v, private %v, dm %v", a, listed[pub], listed[priv], listed[dm])
		}
	}
	for _, a := range actors[1:] {
		_, out := e.call("GET", "/api/rooms", users[a].Token, nil)
		seen := map[string]bool{}
		for _, r := range out["rooms"].([]any) {
			seen[r.(map[string]any)["id"].(string)] = true
		}
		member := a == "member" || a == "sender"
		if seen[pub] != (a != "outsider") || seen[priv] != member || seen[dm] != member {
			t.Errorf("%s's room list: public %v, private %v, dm %v", a, seen[pub], seen[priv], seen[dm])
		}
	}
	if st, _ := e.call("GET", "/api/rooms", "", nil); st != 401 {
		t.Errorf("anonymous room list: %d", st)
	}

	// Files: one posted by the sender in each room, and one the sender
	// uploaded but never posted. A file is readable by its uploader and by
	// members of a room where it was posted; nobody may attach another's.
	if st, _ := e.upload("", "anon.txt", []byte("x")); st != 401 {
		t.Errorf("anonymous upload: %d, want 401", st)
	}
	fileIn := map[string]string{}
	for _, rm := range rooms {
		f := e.uploaded(sender, rm.kind+".txt", []byte("secret of the "+rm.kind+" room"))
		fileIn[rm.kind] = f["id"].(string)
		if st, out := e.call("POST", "/api/rooms/"+rm.id+"/messages", sender.Token, map[string]any{"text": "file", "attachments": []string{f["id"].(string)}}); st != 201 {
			t.Fatalf("post the %s file: %d %v", rm.kind, st, out)
		}
	}
	unposted := e.uploaded(sender, "draft.txt", []byte("not posted"))["id"].(string)
	files := row{
		"public":   {"401", "404", "200", "200", "200"},
		"private":  {"401", "404", "200", "200", "404"},
		"dm":       {"401", "404", "200", "200", "404"},
		"unposted": {"401", "404", "404", "200", "404"},
	}
	for _, kind := range []string{"public", "private", "dm", "unposted"} {
		id := unposted
		if kind != "unposted" {
			id = fileIn[kind]
		}
		for i, a := range actors {
			resp, _ := e.fetch(users[a].Token, "/files/"+id)
			if want := files[kind][i]; fmt.Sprint(resp.StatusCode) != want {
				t.Errorf("GET the %s file as %s: %d, want %s", kind, a, resp.StatusCode, want)
			}
		}
	}
	for _, a := range []string{"member", "admin"} {
		st, out := e.call("POST", "/api/rooms/"+pub+"/messages", users[a].Token, map[string]any{"text": "mine now", "attachments": []string{unposted}})
		if st < 400 {
			t.Errorf("%s attached the sender's unposted file: %d %v", a, st, out)
		}
	}

	// Frames. Each case sends one frame with a ref, then a history of
	// general as a marker: frames are handled in order, so an error of
	// the case arrives before the marker's answer.
	general := e.roomID(sender, "general")
	seq := 0
	try := func(c *client, frame map[string]any) (code string, frames []frametest.Frame) {
		seq++
		ref := fmt.Sprint("case-", seq)
		frame["ref"] = ref
		c.send(frame)
		if frame["type"] == "send" { // answered after the commit
			f := c.next("ack", "error")
			if f.Ref() != ref {
				t.Fatalf("answer %+v, want ref %s", f, ref)
			}
			if f.Type == "error" {
				return f.Error.Code, nil
			}
			return "ok", nil
		}
		c.send(map[string]any{"type": "history", "room": general, "limit": 1, "ref": "mark-" + ref})
		code = "ok"
		for {
			f := c.next()
			if f.Type == "history" && f.History.Ref == "mark-"+ref {
				if frame["type"] == "hello" && code == "ok" {
					// A replay is answered off the reader: wait for its
					// synced, as a client does before its next hello (one
					// said sooner is refused rate_limited).
					for room := range frame["since"].(map[string]int64) {
						for !slices.ContainsFunc(frames, func(g frametest.Frame) bool { return g.Type == "synced" && g.Synced.Room == room }) {
							frames = append(frames, c.next("synced", "message"))
						}
					}
				}
				return code, frames
			}
			if f.Type == "error" && f.Error.Ref == ref {
				code = f.Error.Code
			}
			frames = append(frames, f)
		}
	}
	frames := []struct {
		what  string
		frame func(room string) map[string]any
		want  row
	}{
		// A room of a hello the user does not belong to: forbidden, one
		// error per room (PROTOCOL.md §3).
		{"hello", func(r string) map[string]any { return map[string]any{"type": "hello", "since": map[string]int64{r: 0}} }, row{
			"public":  {"", "forbidden", "ok", "ok", "ok"},
			"private": {"", "forbidden", "ok", "ok", "forbidden"},
			"dm":      {"", "forbidden", "ok", "ok", "forbidden"},
		}},
		{"history", func(r string) map[string]any { return map[string]any{"type": "history", "room": r} }, row{
			"public":  {"", "ok", "ok", "ok", "ok"},
			"private": {"", "not_found", "ok", "ok", "not_found"},
			"dm":      {"", "not_found", "ok", "ok", "not_found"},
		}},
		{"send", func(r string) map[string]any {
			return map[string]any{"type": "send", "room": r, "text": "hi", "client_id": fmt.Sprint("cid-", seq)}
		}, row{
			"public":  {"", "forbidden", "ok", "ok", "ok"},
			"private": {"", "not_found", "ok", "ok", "not_found"},
			"dm":      {"", "not_found", "ok", "ok", "not_found"},
		}},
		{"typing", func(r string) map[string]any { return map[string]any{"type": "typing", "room": r, "active": true} }, row{
			"public":  {"", "not_found", "ok", "ok", "ok"},
			"private": {"", "not_found", "ok", "ok", "not_found"},
			"dm":      {"", "not_found", "ok", "ok", "not_found"},
		}},
		{"read", func(r string) map[string]any { return map[string]any{"type": "read", "room": r, "seq": 1} }, row{
			"public":  {"", "not_found", "ok", "ok", "ok"},
			"private": {"", "not_found", "ok", "ok", "not_found"},
			"dm":      {"", "not_found", "ok", "ok", "not_found"},
		}},
		{"react", func(r string) map[string]any {
			return map[string]any{"type": "react", "room": r, "id": target[r], "emoji": "👍", "on": true}
		}, row{
			"public":  {"", "forbidden", "ok", "ok", "ok"},
			"private": {"", "not_found", "ok", "ok", "not_found"},
			"dm":      {"", "not_found", "ok", "ok", "not_found"},
		}},
		{"edit", func(r string) map[string]any {
			return map[string]any{"type": "edit", "room": r, "id": newMessage(r), "text": "changed"}
		}, row{
			"public":  {"", "forbidden", "forbidden", "ok", "ok"},
			"private": {"", "not_found", "forbidden", "ok", "not_found"},
			"dm":      {"", "not_found", "forbidden", "ok", "not_found"},
		}},
		{"delete", func(r string) map[string]any { return map[string]any{"type": "delete", "room": r, "id": newMessage(r)} }, row{
			"public":  {"", "forbidden", "forbidden", "ok", "ok"},
			"private": {"", "not_found", "forbidden", "ok", "not_found"},
			"dm":      {"", "not_found", "forbidden", "ok", "not_found"},
		}},
	}
	for _, tc := range frames {
		for _, rm := range rooms {
			for i, a := range actors[1:] {
				f := tc.frame(rm.id)
				var id string
				if s, ok := f["id"].(string); ok && (tc.what == "edit" || tc.what == "delete") {
					id = s
				}
				code, got := try(socks[a], f)
				if want := tc.want[rm.kind][i+1]; code != want {
					t.Errorf("%s in the %s room as %s: %s, want %s", tc.what, rm.kind, a, code, want)
				}
				if tc.what == "hello" && code != "ok" {
					for _, g := range got {
						if (g.Type == "message" && g.Msg().Room == rm.id) || (g.Type == "synced" && g.Synced.Room == rm.id) {
							t.Errorf("refused hello in the %s room as %s still replayed %+v", rm.kind, a, g)
						}
					}
				}
				if id != "" && code != "ok" {
					// A refused change left the message as it was.
					_, h := e.call("GET", "/api/rooms/"+rm.id+"/messages?limit=200", sender.Token, nil)
					for _, m := range h["messages"].([]any) {
						if m := m.(map[string]any); m["id"] == id && (m["text"] != "target" || m["deleted"] == true) {
							t.Errorf("a refused %s by %s changed the message: %v", tc.what, a, m)
						}
					}
				}
			}
		}
	}

	// Joining and leaving, last: they change who is in which room.
	membership := []struct {
		what  string
		path  func(room string) string
		want  row
		order []int // actors to try, in this order
	}{
		{"join", func(r string) string { return "/api/rooms/" + r + "/join" }, row{
			"private": {"401", "404", "200", "200", "404"},
			"dm":      {"401", "404", "200", "200", "404"},
		}, []int{0, 1, 2, 3, 4}},
		{"leave", func(r string) string { return "/api/rooms/" + r + "/leave" }, row{
			"private": {"401", "404", "204", "", "404"},
			"dm":      {"401", "404", "403", "403", "404"},
		}, []int{0, 1, 4, 2}},
	}
	for _, tc := range membership {
		for _, rm := range rooms[1:] {
			for _, i := range tc.order {
				a := actors[i]
				st, out := e.call("POST", tc.path(rm.id), users[a].Token, nil)
				if want := tc.want[rm.kind][i]; fmt.Sprint(st) != want {
					t.Errorf("%s the %s room as %s: %d %v, want %s", tc.what, rm.kind, a, st, out, want)
				}
			}
		}
	}
	for _, a := range []string{"outsider", "admin"} {
		if in, _ := e.srv.Store().IsMember(ctx, priv, users[a].ID); in {
			t.Errorf("%s ended up in the private room", a)
		}
		if in, _ := e.srv.Store().IsMember(ctx, dm, users[a].ID); in {
			t.Errorf("%s ended up in the DM", a)
		}
	}

	// Nothing of the hidden rooms reached the outsider or the admin.
	for _, a := range []string{"outsider", "admin"} {
		c := socks[a]
		c.send(map[string]any{"type": "history", "room": general, "limit": 1, "ref": "end"})
		for {
			f := c.next()
			if f.Type == "history" && f.History.Ref == "end" {
				break
			}
			if leaks(f, hidden) {
				t.Errorf("%s received %+v", a, f)
			}
		}
	}

}

// leaks reports whether a frame carries anything of the hidden rooms.
func leaks(f frametest.Frame, hidden map[string]bool) bool {
	for _, room := range []string{f.Msg().Room, f.History.Room, f.Synced.Room, f.Typing.Room, f.Room.Room.ID, f.Update.Room} {
		if hidden[room] {
			return true
		}
	}
	return false
}
