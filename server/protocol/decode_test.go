package protocol

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// TestDecodeClientGivesEachTypeItsFrame decodes a frame of every client
// type, as PROTOCOL.md §2 lists its fields, and checks the Go value the
// handler gets.
func TestDecodeClientGivesEachTypeItsFrame(t *testing.T) {
	cases := []struct {
		frame string
		want  ClientFrame
	}{
		{`{"type":"hello","since":{"r_1":0,"r_2":7},"ref":"h"}`,
			&ClientHello{Type: TypeHello, Ref: "h", Since: map[string]int64{"r_1": 0, "r_2": 7}}},
		{`{"type":"hello"}`, &ClientHello{Type: TypeHello}},
		{`{"type":"send","room":"r_1","text":"hi","client_id":"c1","ref":"1"}`,
			&ClientSend{Type: TypeSend, Ref: "1", Room: "r_1", Text: "hi", ClientID: "c1"}},
		{`{"type":"send","room":"r_1","attachments":["f_1"],"reply_to":"m_1","client_id":"c2"}`,
			&ClientSend{Type: TypeSend, Room: "r_1", ClientID: "c2", Attachments: []string{"f_1"}, ReplyTo: "m_1"}},
		{`{"type":"history","room":"r_1"}`, &ClientHistory{Type: TypeHistory, Room: "r_1"}},
		{`{"type":"history","room":"r_1","before":5,"limit":50}`,
			&ClientHistory{Type: TypeHistory, Room: "r_1", Before: 5, Limit: 50}},
		{`{"type":"typing","room":"r_1","active":false}`, &ClientTyping{Type: TypeTyping, Room: "r_1"}},
		{"\t{\"type\":\"typing\",\"room\":\"r_1\",\"active\":true}\n", &ClientTyping{Type: TypeTyping, Room: "r_1", Active: true}},
		{`{"type":"read","room":"r_1","seq":0}`, &ClientRead{Type: TypeRead, Room: "r_1"}},
		{`{"type":"read","room":"r_1","seq":9}`, &ClientRead{Type: TypeRead, Room: "r_1", Seq: 9}},
		{`{"type":"status","status":"away","text":"lunch"}`,
			&ClientStatus{Type: TypeStatus, Status: StatusAway, Text: "lunch"}},
		{`{"type":"status","status":"online"}`, &ClientStatus{Type: TypeStatus, Status: StatusOnline}},
		{`{"type":"pong"}`, &ClientPong{Type: TypePong}},
		{`{"type":"edit","room":"r_1","id":"m_1","text":"x"}`,
			&ClientEdit{Type: TypeEdit, Room: "r_1", ID: "m_1", Text: "x"}},
		{`{"type":"delete","room":"r_1","id":"m_1"}`, &ClientDelete{Type: TypeDelete, Room: "r_1", ID: "m_1"}},
		{`{"type":"react","room":"r_1","id":"m_1","emoji":"👍","on":false}`,
			&ClientReact{Type: TypeReact, Room: "r_1", ID: "m_1", Emoji: "👍"}},
		{`{"type":"react","room":"r_1","id":"m_1","emoji":"👍","on":true,"ref":"op-1"}`,
			&ClientReact{Type: TypeReact, Ref: "op-1", Room: "r_1", ID: "m_1", Emoji: "👍", On: true}},

		// What encoding/json accepts is accepted: fields unknown to the
		// type (another type's included) are ignored, keys match in any
		// case, escapes are read, the last of a repeated key wins.
		{`{"type":"pong","room":"r_1","extra":{"a":[1,{"type":"send"}]}}`, &ClientPong{Type: TypePong}},
		{`{"type":"pong","active":"yes","seq":"x"}`, &ClientPong{Type: TypePong}},
		{` { "TYPE" : "pong" , "Ref" : "r" } `, &ClientPong{Type: TypePong, Ref: "r"}},
		{`{"type":"p\u006fng"}`, &ClientPong{Type: TypePong}},
		{`{"type":"send","type":"pong"}`, &ClientPong{Type: TypePong}},
		{`{"type":"pong","type":null}`, &ClientPong{Type: TypePong}},
	}
	for _, tc := range cases {
		f, ref, err := DecodeClient([]byte(tc.frame))
		if err != nil {
			t.Errorf("%s: %v", tc.frame, err)
			continue
		}
		if !reflect.DeepEqual(f, tc.want) {
			t.Errorf("%s: decoded %#v, want %#v", tc.frame, f, tc.want)
		}
		if ref != tc.want.ref() {
			t.Errorf("%s: ref %q, want %q", tc.frame, ref, tc.want.ref())
		}
	}
}

// TestDecodeClientRefusesBadFrames checks that every bad frame is refused
// with bad_request and a message saying what is wrong, and that the ref is
// echoed whenever it can be read and is short enough.
func TestDecodeClientRefusesBadFrames(t *testing.T) {
	long := strings.Repeat("r", MaxRefLen+1)
	cases := []struct {
		frame, msg, ref string
	}{
		{`not json`, "not a valid JSON object", ""},
		{`{"type":"send","ref":"x",`, "not a valid JSON object", ""},
		{`[]`, "not a valid JSON object", ""},
		{`null`, "frame needs a type", ""},
		{`{}`, "frame needs a type", ""},
		{`{"ref":"x"}`, "frame needs a type", "x"},
		{`{"type":"launch","ref":"x"}`, `unknown frame type "launch"`, "x"},
		{`{"type":"Send","ref":"x"}`, `unknown frame type "Send"`, "x"},
		{`{"type":5,"ref":"x"}`, "not a valid JSON object", "x"},
		{`{"type":"pong","ref":"` + long + `"}`, "ref must be at most 64 bytes", ""},
		{`{"type":"launch","ref":"` + long + `"}`, "ref must be at most 64 bytes", ""},
		{`{"type":"send","ref":5}`, "not a valid JSON object", ""},
		{`[` + strings.Repeat(`{"a":`, MaxJSONDepth) + `1` + strings.Repeat(`}`, MaxJSONDepth) + `]`, "nests deeper", ""},

		{`{"type":"hello","since":{"r_1":-4},"ref":"x"}`, "since must map room ids to seqs >= 0", "x"},
		{`{"type":"hello","since":{"":1},"ref":"x"}`, "since must map room ids to seqs >= 0", "x"},
		{`{"type":"hello","since":["r_1"],"ref":"x"}`, "not a valid JSON object", "x"},
		{`{"type":"send","ref":"x"}`, "send needs a room", "x"},
		{`{"type":"send","room":5,"text":"x","ref":"x"}`, "not a valid JSON object", "x"},
		{`{"type":"send","room":"r_1","ref":"x"}`, "send needs text", "x"},
		{`{"type":"send","room":"r_1","text":"","ref":"x"}`, "send needs text", "x"},
		{`{"type":"send","room":"r_1","text":"x","client_id":"` + strings.Repeat("c", 65) + `","ref":"x"}`, "client_id must be at most 64 bytes", "x"},
		{`{"type":"send","room":"r_1","attachments":["1","2","3","4","5","6","7","8","9","10","11"],"ref":"x"}`, "at most 10 attachments", "x"},
		{`{"type":"history","ref":"x"}`, "history needs a room", "x"},
		{`{"type":"history","room":"r_1","limit":0,"ref":"x"}`, "limit must be 1-200", "x"},
		{`{"type":"history","room":"r_1","limit":201,"ref":"x"}`, "limit must be 1-200", "x"},
		{`{"type":"history","room":"r_1","limit":-1,"ref":"x"}`, "limit must be 1-200", "x"},
		{`{"type":"history","room":"r_1","before":0,"ref":"x"}`, "before must be a seq >= 1", "x"},
		{`{"type":"history","room":"r_1","before":-1,"ref":"x"}`, "before must be a seq >= 1", "x"},
		{`{"type":"history","room":"r_1","limit":null,"ref":"x"}`, "", "x"}, // null is absent: accepted
		{`{"type":"typing","room":"r_1","ref":"x"}`, "typing needs active", "x"},
		{`{"type":"typing","room":"r_1","active":true,"ref":"x"} {}`, "not a valid JSON object", ""},
		{`{"type":"typing","room":"r_1","active":1,"ref":"x"}`, "not a valid JSON object", "x"},
		{`{"type":"typing","active":true,"ref":"x"}`, "typing needs a room", "x"},
		{`{"type":"read","room":"r_1","ref":"x"}`, "read needs a seq >= 0", "x"},
		{`{"type":"read","room":"r_1","seq":-1,"ref":"x"}`, "read needs a seq >= 0", "x"},
		{`{"type":"read","seq":1,"ref":"x"}`, "read needs a room", "x"},
		{`{"type":"status","status":"busy","ref":"x"}`, "status must be online or away", "x"},
		{`{"type":"status","ref":"x"}`, "status must be online or away", "x"},
		{`{"type":"status","status":"away","text":"` + strings.Repeat("é", MaxStatusText+1) + `","ref":"x"}`, "status text must be at most 128 characters", "x"},
		{`{"type":"edit","room":"r_1","id":"m_1","ref":"x"}`, "edit needs id and text", "x"},
		{`{"type":"edit","room":"r_1","text":"y","ref":"x"}`, "edit needs id and text", "x"},
		{`{"type":"edit","id":"m_1","text":"y","ref":"x"}`, "edit needs a room", "x"},
		{`{"type":"delete","room":"r_1","ref":"x"}`, "delete needs id", "x"},
		{`{"type":"react","room":"r_1","id":"m_1","emoji":"👍","ref":"x"}`, "react needs id, emoji and on", "x"},
		{`{"type":"react","room":"r_1","emoji":"👍","on":true,"ref":"x"}`, "react needs id, emoji and on", "x"},
		{`{"type":"react","room":"r_1","id":"m_1","on":true,"ref":"x"}`, "emoji must be 1-64 bytes without spaces", "x"},
		{`{"type":"react","room":"r_1","id":"m_1","emoji":"a b","on":true,"ref":"x"}`, "emoji must be 1-64 bytes without spaces", "x"},
	}
	for _, tc := range cases {
		f, ref, err := DecodeClient([]byte(tc.frame))
		if tc.msg == "" {
			if err != nil {
				t.Errorf("%s: %v", tc.frame, err)
			}
			continue
		}
		if err == nil {
			t.Errorf("%s: decoded as %#v", tc.frame, f)
			continue
		}
		ce, ok := err.(*CodeError)
		if !ok || ce.Code != CodeBadRequest || !strings.Contains(ce.Msg, tc.msg) {
			t.Errorf("%s: error %v, want bad_request %q", tc.frame, err, tc.msg)
		}
		if ref != tc.ref {
			t.Errorf("%s: ref %q, want %q", tc.frame, ref, tc.ref)
		}
	}
}

// TestClientFramesRoundTrip checks that a frame encoded from its Go value —
// what a Go client such as the load tool sends — decodes to that value.
func TestClientFramesRoundTrip(t *testing.T) {
	for _, f := range []ClientFrame{
		&ClientHello{Type: TypeHello, Since: map[string]int64{"r_1": 0}},
		&ClientSend{Type: TypeSend, Ref: "1", Room: "r_1", Text: "hi", ClientID: "c"},
		&ClientHistory{Type: TypeHistory, Room: "r_1"},
		&ClientHistory{Type: TypeHistory, Room: "r_1", Before: 3, Limit: 1},
		&ClientTyping{Type: TypeTyping, Room: "r_1"},
		&ClientRead{Type: TypeRead, Room: "r_1"},
		&ClientStatus{Type: TypeStatus, Status: StatusOnline},
		&ClientPong{Type: TypePong},
		&ClientEdit{Type: TypeEdit, Room: "r_1", ID: "m_1", Text: "x"},
		&ClientDelete{Type: TypeDelete, Room: "r_1", ID: "m_1"},
		&ClientReact{Type: TypeReact, Room: "r_1", ID: "m_1", Emoji: "👍"},
	} {
		b, err := json.Marshal(f)
		if err != nil {
			t.Fatal(err)
		}
		got, _, err := DecodeClient(b)
		if err != nil {
			t.Errorf("%s: %v", b, err)
			continue
		}
		if !reflect.DeepEqual(got, f) {
			t.Errorf("%s: decoded %#v, want %#v", b, got, f)
		}
	}
}
