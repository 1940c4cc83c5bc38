package server_test

import (
	"net/http"
	"testing"

	"minichat/server/protocol"
)

// TestRoomChangesOverTheWire: a member who did not create a room cannot
// rename or archive it and nothing changes; the creator can, and the
// members see it as a system message live and after a resume; an archived
// room refuses sends on the socket with the code archived; the member
// list is for those who may see the room.
func TestRoomChangesOverTheWire(t *testing.T) {
	e := newEnv(t)
	alice, bob, a, b, _ := e.aliceAndBob()
	st, out := e.call("POST", "/api/rooms", alice.Token, map[string]any{"name": "plans"})
	if st != http.StatusCreated {
		t.Fatalf("create room: %d %v", st, out)
	}
	room := out["room"].(map[string]any)
	id := room["id"].(string)
	if room["created_by"] != alice.ID {
		t.Fatalf("created_by = %v, want alice's id", room["created_by"])
	}
	if st, out := e.call("POST", "/api/rooms/"+id+"/join", bob.Token, nil); st != http.StatusOK {
		t.Fatalf("join: %d %v", st, out)
	}
	b.next(protocol.TypeRoom)

	// Bob may not rename it; nothing changes and nothing is logged.
	st, out = e.call("PUT", "/api/rooms/"+id+"/name", bob.Token, map[string]any{"name": "mine"})
	if st != http.StatusForbidden || out["error"].(map[string]any)["code"] != protocol.CodeForbidden {
		t.Fatalf("rename by bob: %d %v", st, out)
	}
	if e.roomID(bob, "plans") != id {
		t.Fatal("the refused rename changed the room")
	}
	st, _ = e.call("PUT", "/api/rooms/"+id+"/archived", bob.Token, map[string]any{"archived": true})
	if st != http.StatusForbidden {
		t.Fatalf("archive by bob: %d", st)
	}

	// Bob sets the topic: everyone sees the system message.
	st, out = e.call("PUT", "/api/rooms/"+id+"/topic", bob.Token, map[string]any{"topic": "Ship\nit"})
	if st != http.StatusOK || out["room"].(map[string]any)["topic"] != "Ship it" {
		t.Fatalf("topic: %d %v", st, out)
	}
	var topicSeq int64
	for _, c := range []*client{a, b} {
		for {
			m := c.next(protocol.TypeMessage).Message.Message
			if m.Room == id && m.Kind == protocol.KindSystem && m.Text == "bob set the topic: Ship it" && m.Sender == nil {
				topicSeq = m.Seq
				break
			}
		}
	}
	// A reconnect that resumes before it gets the note.
	a.close()
	a = e.dial(alice)
	a.send(map[string]any{"type": "hello", "since": map[string]int64{id: topicSeq - 1}})
	if m := a.next(protocol.TypeMessage).Message.Message; m.Seq != topicSeq || m.Text != "bob set the topic: Ship it" {
		t.Fatalf("replayed %+v", m)
	}
	a.next(protocol.TypeSynced)

	// Alice renames and archives: the id stays, the room is read-only.
	st, out = e.call("PUT", "/api/rooms/"+id+"/name", alice.Token, map[string]any{"name": "roadmap"})
	if st != http.StatusOK || out["room"].(map[string]any)["id"] != id || e.roomID(bob, "roadmap") != id {
		t.Fatalf("rename by alice: %d %v", st, out)
	}
	st, out = e.call("PUT", "/api/rooms/"+id+"/archived", alice.Token, map[string]any{"archived": true})
	if st != http.StatusOK || out["room"].(map[string]any)["archived"] != true {
		t.Fatalf("archive: %d %v", st, out)
	}
	b.send(map[string]any{"type": "send", "room": id, "text": "anyone?", "client_id": "x1", "ref": "r1"})
	if f := b.next(protocol.TypeError, protocol.TypeAck); f.Type != protocol.TypeError || f.Error.Code != protocol.CodeArchived || f.Error.Ref != "r1" {
		t.Fatalf("send to an archived room: %+v", f)
	}
	st, out = e.call("POST", "/api/rooms/"+id+"/messages", bob.Token, map[string]any{"text": "anyone?"})
	if st != http.StatusForbidden || out["error"].(map[string]any)["code"] != protocol.CodeArchived {
		t.Fatalf("REST send to an archived room: %d %v", st, out)
	}

	// Members: paged by name.
	st, out = e.call("GET", "/api/rooms/"+id+"/members?limit=1", bob.Token, nil)
	if st != http.StatusOK || len(out["members"].([]any)) != 1 || out["next"] != "alice" {
		t.Fatalf("members page 1: %d %v", st, out)
	}
	st, out = e.call("GET", "/api/rooms/"+id+"/members?after=alice", bob.Token, nil)
	if st != http.StatusOK || len(out["members"].([]any)) != 1 || out["next"] != nil {
		t.Fatalf("members page 2: %d %v", st, out)
	}
	st, _ = e.call("GET", "/api/rooms/"+id+"/members?limit=0", bob.Token, nil)
	if st != http.StatusBadRequest {
		t.Fatalf("members limit 0: %d", st)
	}

	// A group conversation of three, by name; again: the same room.
	carol := e.register("carol")
	st, out = e.call("POST", "/api/dms", alice.Token, map[string]any{"usernames": []string{"bob", "carol"}})
	if st != http.StatusOK || out["room"].(map[string]any)["name"] != "bob, carol" {
		t.Fatalf("group dm: %d %v", st, out)
	}
	g := out["room"].(map[string]any)["id"].(string)
	st, out = e.call("POST", "/api/dms", carol.Token, map[string]any{"user_ids": []string{bob.ID, alice.ID}})
	if st != http.StatusOK || out["room"].(map[string]any)["id"] != g || out["room"].(map[string]any)["name"] != "alice, bob" {
		t.Fatalf("group dm again: %d %v", st, out)
	}
	st, _ = e.call("POST", "/api/dms", alice.Token, map[string]any{"usernames": []string{"bob"}})
	if st != http.StatusBadRequest {
		t.Fatalf("group dm of two: %d", st)
	}
	st, _ = e.call("POST", "/api/dms", alice.Token, map[string]any{"username": "bob", "usernames": []string{"bob", "carol"}})
	if st != http.StatusBadRequest {
		t.Fatalf("username and usernames: %d", st)
	}
}
