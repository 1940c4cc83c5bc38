package bench

import (
	"encoding/json"
	"strings"
	"testing"

	"minichat/server/protocol"
)

func TestSplitFrames(t *testing.T) {
	var got []string
	splitFrames([]byte("{\"a\":1}\n{\"b\":2}\n\n{\"c\":3}\n"), func(b []byte) { got = append(got, string(b)) })
	want := []string{`{"a":1}`, `{"b":2}`, `{"c":3}`}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("got %q", got)
	}
	got = nil
	splitFrames([]byte(`{"only":1}`), func(b []byte) { got = append(got, string(b)) })
	if len(got) != 1 {
		t.Fatalf("got %q", got)
	}
}

func messageFrame(typ, ref, text string, seq int64) []byte {
	m := protocol.Message{
		ID: "m_1", Room: "r_abc", Seq: seq, Kind: protocol.KindChat,
		Sender: &protocol.User{ID: "u_1", Name: "room", Role: "member"},
		Text:   text, TS: "2026-01-01T00:00:00.000Z", ClientID: "x",
	}
	if typ == protocol.TypeAck {
		return protocol.Encode(protocol.Ack{Type: typ, Ref: ref, Message: m})
	}
	return protocol.Encode(protocol.MessageFrame{Type: typ, Message: m})
}

func TestParseMessageFast(t *testing.T) {
	var f frame
	b := messageFrame(protocol.TypeMessage, "", "bench 1700000000123456789 run1", 42)
	if err := parseFrame(b, &f); err != nil {
		t.Fatal(err)
	}
	kind, ns := benchText(f.Text, "run1")
	if f.Type != protocol.TypeMessage || string(f.Room) != "r_abc" || f.Seq != 42 ||
		kind != benchMeasured || ns != 1700000000123456789 {
		t.Fatalf("got %+v", f)
	}
	if kind, _ := benchText(f.Text, "run2"); kind != benchNone {
		t.Fatal("a message of another run counted as this run's")
	}
	b = messageFrame(protocol.TypeAck, "s7", "bench-w 5 run1", 43)
	if err := parseFrame(b, &f); err != nil {
		t.Fatal(err)
	}
	kind, ns = benchText(f.Text, "run1")
	if f.Type != protocol.TypeAck || string(f.Ref) != "s7" || f.Seq != 43 || kind != benchWarmup || ns != 5 {
		t.Fatalf("got %+v", f)
	}
	// A text that needs escapes goes through encoding/json and still parses.
	b = messageFrame(protocol.TypeMessage, "", "say \"hi\"\n", 44)
	if err := parseFrame(b, &f); err != nil {
		t.Fatal(err)
	}
	if kind, _ := benchText(f.Text, "run1"); f.Type != protocol.TypeMessage || f.Seq != 44 || kind != benchNone || string(f.Room) != "r_abc" {
		t.Fatalf("got %+v", f)
	}
}

func TestParseOtherFrames(t *testing.T) {
	var f frame
	cases := []struct {
		in    any
		check func() bool
	}{
		{protocol.Synced{Type: protocol.TypeSynced, Room: "r_1", LastSeq: 9}, func() bool {
			return f.Type == protocol.TypeSynced && string(f.Room) == "r_1" && f.Seq == 9
		}},
		{protocol.Update{Type: protocol.TypeUpdate, Room: "r_1", Seq: 12, Message: protocol.Message{Room: "r_1", Seq: 3}}, func() bool {
			return f.Type == protocol.TypeUpdate && string(f.Room) == "r_1" && f.Seq == 12
		}},
		{protocol.Error{Type: protocol.TypeError, Ref: "s3", Code: protocol.CodeRateLimited, RetryAfterMS: 100}, func() bool {
			return f.Type == protocol.TypeError && string(f.Ref) == "s3" && f.Code == protocol.CodeRateLimited
		}},
		{protocol.Ping{Type: protocol.TypePing}, func() bool { return f.Type == protocol.TypePing }},
		{protocol.RoomFrame{Type: protocol.TypeRoom, Room: protocol.Room{ID: "r_2"}, Event: "joined"}, func() bool {
			return f.Type == protocol.TypeRoom && len(f.Room) == 0
		}},
		{protocol.Welcome{Type: protocol.TypeWelcome, Rooms: []protocol.Room{{ID: "r_1", LastSeq: 5}}}, func() bool {
			return f.Type == protocol.TypeWelcome && f.Welcome != nil && f.Welcome.Rooms[0].LastSeq == 5
		}},
	}
	for _, c := range cases {
		b, _ := json.Marshal(c.in)
		if err := parseFrame(b, &f); err != nil {
			t.Fatalf("%s: %v", b, err)
		}
		if !c.check() {
			t.Errorf("%s: got %+v", b, f)
		}
	}
	for _, bad := range []string{`nope`, `{}`, `{"type":"message"}`, `[1,2]`} {
		if err := parseFrame([]byte(bad), &f); err == nil {
			t.Errorf("%s: accepted", bad)
		}
	}
}

func BenchmarkParseMessage(b *testing.B) {
	m := messageFrame(protocol.TypeMessage, "", "bench 1700000000123456789 abcd1234", 42)
	var f frame
	b.ReportAllocs()
	for b.Loop() {
		if parseFrame(m, &f) != nil {
			b.Fatal("parse")
		}
	}
}

// A welcome is decoded for its rooms, heartbeat and limits; its online
// list, however long, is skipped.
func TestParseWelcome(t *testing.T) {
	b := []byte(`{"type":"welcome","session":"s_1","user":{"id":"u_1","name":"a","role":"member"},` +
		`"rooms":[{"id":"r_1","name":"general","kind":"public","last_seq":41,"members":2,"unread":0,"member":true}],` +
		`"online":[{"user":{"id":"u_1","name":"a","role":"member"},"status":"online"}],` +
		`"heartbeat_ms":25000,"limits":{"messages_per_second":5,"burst":20,"replay_max":500},"server":{"version":"dev"}}`)
	var f frame
	if err := parseFrame(b, &f); err != nil {
		t.Fatal(err)
	}
	w := f.Welcome
	if f.Type != "welcome" || w == nil || len(w.Rooms) != 1 || w.Rooms[0].ID != "r_1" || w.Rooms[0].LastSeq != 41 ||
		w.HeartbeatMS != 25000 || w.Limits.Burst != 20 {
		t.Fatalf("frame %+v, welcome %+v", f, w)
	}
	if err := parseFrame([]byte(`{"type":"welcome","rooms":[`), &f); err == nil {
		t.Fatal("a cut welcome parsed")
	}
}
