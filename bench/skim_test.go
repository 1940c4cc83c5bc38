package bench

import (
	"encoding/json"
	"fmt"
	"reflect"
	"testing"

	"minichat/server/protocol"
)

// storm welcome: a welcome as the server encodes it in a team's morning,
// with a long online list whose texts hold quotes, brackets and escapes.
func stormWelcome(online int) protocol.Welcome {
	w := protocol.Welcome{
		Type:        protocol.TypeWelcome,
		Session:     "s_1",
		User:        protocol.User{ID: "u_0", Name: "ann"},
		Rooms:       []protocol.Room{{ID: "r_1", Name: "general", LastSeq: 5, Member: true}, {ID: "r_2", Name: `odd "} name`, LastSeq: 7}},
		HeartbeatMS: 25000,
		Limits:      protocol.Limits{MaxFrameBytes: 65536, MessagesPerSecond: 5, Burst: 20, ReplayMax: 500},
		Server:      protocol.ServerInfo{Version: "test"},
	}
	for i := range online {
		w.Online = append(w.Online, protocol.Presence{
			User:   protocol.User{ID: fmt.Sprintf("u_%d", i), Name: fmt.Sprintf("person%d", i)},
			Status: protocol.StatusOnline,
			Text:   `in a "meeting" ]} \ {[ ` + "é\n",
		})
	}
	return w
}

func TestFastWelcome(t *testing.T) {
	w := stormWelcome(50)
	b := protocol.Encode(w)
	var f frame
	if err := parseFrame(b, &f); err != nil {
		t.Fatal(err)
	}
	if f.Type != protocol.TypeWelcome || f.Welcome == nil {
		t.Fatalf("got %+v", f)
	}
	got := *f.Welcome
	if !reflect.DeepEqual(got.Rooms, w.Rooms) || got.HeartbeatMS != w.HeartbeatMS || got.Limits != w.Limits || got.Session != w.Session {
		t.Errorf("fast welcome = %+v, want rooms %+v heartbeat %d limits %+v", got, w.Rooms, w.HeartbeatMS, w.Limits)
	}
	// The same frame indented: the skimmer steps over spaces too.
	ind, _ := json.MarshalIndent(w, "", "  ")
	if !skimObject(ind, func(key, val []byte) bool { return true }) {
		t.Error("indented welcome not skimmed")
	}
	// Broken frames fall back to encoding/json, which refuses them.
	for _, bad := range []string{`{"type":"welcome","rooms":[`, `{"type":"welcome","online":"x}`, `{"type":"welcome",1}`} {
		if err := parseFrame([]byte(bad), &f); err == nil {
			t.Errorf("%s: accepted", bad)
		}
	}
}

func TestSkimValue(t *testing.T) {
	for in, want := range map[string]int{
		`"a\"b" x`:         6,
		`[1,[2,"]"],{}] x`: 14,
		`123,`:             3,
		`true}`:            4,
		`{"a":{"b":[]}}`:   14,
	} {
		if got := skipValue([]byte(in), 0); got != want {
			t.Errorf("skipValue(%q) = %d, want %d", in, got, want)
		}
	}
	for _, bad := range []string{``, `"open`, `[1,2`, `,`} {
		if got := skipValue([]byte(bad), 0); got != -1 {
			t.Errorf("skipValue(%q) = %d, want -1", bad, got)
		}
	}
}

func BenchmarkParseWelcome(b *testing.B) {
	m := protocol.Encode(stormWelcome(1000))
	b.Run("fast", func(b *testing.B) {
		var f frame
		b.SetBytes(int64(len(m)))
		for b.Loop() {
			if parseFrame(m, &f) != nil || f.Welcome == nil {
				b.Fatal("parse")
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		var f frame
		b.SetBytes(int64(len(m)))
		for b.Loop() {
			if slowFrame(m, &f) != nil || f.Welcome == nil {
				b.Fatal("parse")
			}
		}
	})
}
