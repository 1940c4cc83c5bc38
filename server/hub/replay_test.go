package hub

import (
	"fmt"
	"testing"
	"time"

	"minichat/server/protocol"
	"minichat/server/store"
)

// Until its first hello, a connection holds every room's log frames; the
// hello's rooms stay held until their replay ends, the others flow at
// EndHold, in seq order.
func TestHoldUntilHelloThenReplayThenLive(t *testing.T) {
	h := newHub(t, Options{})
	alice := user("alice")
	f := startFake(t, NewConn("c1", alice, "s1", 0))
	f.c.HoldUntilHello()
	if !h.Register(f.c, Registration{RoomIDs: []string{"r1", "r2"}, Welcome: protocol.Welcome{User: alice}}) {
		t.Fatal("register")
	}
	f.next(t, "welcome")
	h.Publish([]store.Event{msgEvent("r1", 5, alice, ""), msgEvent("r2", 8, alice, "")})
	f.none(t, 50*time.Millisecond, "message")

	hl, ok := h.BeginHello(f.c, map[string]int64{"r1": 2, "r_other": 0})
	if !ok || len(hl.Rooms) != 1 || hl.Rooms[0].Room != "r1" || len(hl.Refused) != 1 || hl.Members != 2 {
		t.Fatalf("BeginHello: %+v", hl)
	}
	f.c.EndHold()
	if m := f.next(t, "message"); m["message"].(map[string]any)["room"] != "r2" {
		t.Fatalf("after EndHold: %v", m)
	}
	f.none(t, 50*time.Millisecond, "message") // r1 waits for its replay
	h.Publish([]store.Event{msgEvent("r1", 6, alice, "")})
	frame := func(seq int64) LogFrame {
		return LogFrame{Seq: seq, Frame: EncodeLog(msgEvent("r1", seq, alice, ""))}
	}
	f.c.EndReplay("r1", []LogFrame{frame(3), frame(4), frame(5)}, syncedFrame("r1"))
	var got []string
	for len(got) < 5 {
		m := f.next(t, "message", "synced")
		if m["type"] == "synced" {
			got = append(got, fmt.Sprint("synced:", m["last_seq"]))
		} else {
			got = append(got, fmt.Sprint(m["message"].(map[string]any)["seq"]))
		}
	}
	if fmt.Sprint(got) != "[3 4 5 synced:5 6]" {
		t.Fatalf("r1 stream %v, want 3 4 5 synced:5 6", got)
	}
	if hl, _ := h.BeginHello(f.c, map[string]int64{"r1": 0, "r2": 0, "r3": 0}); !hl.TooMany {
		t.Fatalf("a hello of 3 rooms for a member of 2: %+v", hl)
	}
}

// A leave or join that reached the hub after the mark but before Register
// is applied to the registration; a mark older than the changes kept is
// refused.
func TestRegisterAppliesMembershipChangesSinceTheMark(t *testing.T) {
	h := newHub(t, Options{})
	alice := user("alice")
	mark := h.MemberMark()
	left := protocol.Room{ID: "r_secret", Kind: "private"}
	joined := protocol.Room{ID: "r_new", Kind: "public", Member: true}
	h.Publish([]store.Event{
		{Kind: store.EventMember, RoomID: "r_secret", UserID: alice.ID, Joined: false, Room: left},
		{Kind: store.EventMember, RoomID: "r_new", UserID: alice.ID, Joined: true, Room: joined},
		{Kind: store.EventMember, RoomID: "r_x", UserID: "u_bob", Joined: false},
	})
	f := startFake(t, NewConn("c1", alice, "s1", 0))
	w := protocol.Welcome{User: alice, Rooms: []protocol.Room{{ID: "r_general", Member: true}, {ID: "r_secret", Member: true}}}
	if !h.Register(f.c, Registration{RoomIDs: []string{"r_general", "r_secret"}, Mark: mark, Welcome: w}) {
		t.Fatal("register")
	}
	wel := f.next(t, "welcome")
	var ids []string
	for _, r := range wel["rooms"].([]any) {
		ids = append(ids, r.(map[string]any)["id"].(string))
	}
	if fmt.Sprint(ids) != "[r_general r_new]" {
		t.Fatalf("welcome rooms %v, want [r_general r_new]", ids)
	}
	if h.IsMember(f.c, "r_secret") || !h.IsMember(f.c, "r_new") {
		t.Fatal("the hub did not apply the changes since the mark")
	}
	h.Publish([]store.Event{msgEvent("r_secret", 9, alice, "")})
	f.none(t, 50*time.Millisecond, "message")

	var log memberLog
	for i := 0; i < 3*memberLogKeep; i++ {
		log.add(&store.Event{Kind: store.EventMember, RoomID: "r", UserID: "u_bob", Joined: true})
	}
	if log.bringUpToDate("u_bob", &Registration{Mark: 1}) {
		t.Fatal("a mark older than the kept changes was accepted")
	}
	if !log.bringUpToDate("u_bob", &Registration{Mark: log.mark()}) {
		t.Fatal("a current mark was refused")
	}
}
