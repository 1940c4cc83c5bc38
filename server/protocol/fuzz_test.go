package protocol

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
)

// FuzzClientFrame feeds arbitrary client messages through DecodeClient,
// what the /ws reader does with one, and checks that nothing panics, that
// every refusal is a bad_request CodeError and no echoed ref is too long,
// that the type read without encoding/json is the one encoding/json reads,
// and that a frame that decodes decodes again, to the same frame, after a
// round trip through JSON (what the server accepts is well defined).
func FuzzClientFrame(f *testing.F) {
	for _, s := range []string{
		`{"type":"hello","since":{"r_1":0}}`,
		`{"type":"send","room":"r_1","text":"hi","client_id":"c1","ref":"1"}`,
		`{"type":"send","room":"r_1","attachments":["f_1"],"reply_to":"m_1"}`,
		`{"type":"history","room":"r_1","before":5,"limit":50}`,
		`{"type":"history","room":"r_1","before":0}`,
		`{"type":"typing","room":"r_1","active":true}`,
		`{"type":"read","room":"r_1","seq":3}`,
		`{"type":"status","status":"away","text":"lunch"}`,
		`{"type":"pong"}`,
		`{"type":"edit","room":"r_1","id":"m_1","text":"x"}`,
		`{"type":"delete","room":"r_1","id":"m_1"}`,
		`{"type":"react","room":"r_1","id":"m_1","emoji":"👍","on":false}`,
		`{"type":"send","room":"r_1","text":"\ud800"}`,
		`{"type":"hello","since":{"":-1}}`,
		`[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]`,
		`{"type":"send","text":"\"[{"}`,
		`{"TYPE":"pong","Ref":"r"}`,
		`{"type":"s\u0065nd","room":"r_1","text":"x"}`,
		`{"type":"send","type":"pong"}`,
		`{"type":"pong","type":null}`,
		`{"x":{"type":"send"},"y":["type"],"type":"pong"} `,
		`{"type":"pong","active":"yes"}`,
		`null`, `"send"`, `{}`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if typ, ok := peekType(data); ok && json.Valid(data) {
			var h struct {
				Type string `json:"type"`
			}
			if err := json.Unmarshal(data, &h); err != nil || h.Type != string(typ) {
				t.Fatalf("peekType reads type %q of %s, encoding/json %q (%v)", typ, data, h.Type, err)
			}
		}
		fr, ref, err := DecodeClient(data)
		if len(ref) > MaxRefLen {
			t.Fatalf("ref of %d bytes returned", len(ref))
		}
		if err != nil {
			wantCode(t, err, CodeBadRequest)
			return
		}
		var h struct {
			Type string `json:"type"`
		}
		if err := json.Unmarshal(data, &h); err != nil {
			t.Fatalf("%s decoded, but not as JSON: %v", data, err)
		}
		if got := reflect.ValueOf(fr).Elem().FieldByName("Type").String(); got != h.Type || reflect.TypeOf(newClientFrame([]byte(h.Type))) != reflect.TypeOf(fr) {
			t.Fatalf("%s decoded as %T of type %q", data, fr, got)
		}
		if ref != fr.ref() {
			t.Fatalf("ref %q returned for a frame with ref %q", ref, fr.ref())
		}
		if s, ok := fr.(*ClientSend); ok {
			if _, err := NormalizeText(s.Text, len(s.Attachments) > 0); err != nil {
				wantCode(t, err, CodeBadRequest, CodeTooLarge)
			}
		}
		again, err := json.Marshal(fr)
		if err != nil {
			t.Fatal(err)
		}
		fr2, _, err := DecodeClient(again)
		if err != nil {
			t.Fatalf("%s decoded, its round trip %s does not: %v", data, again, err)
		}
		if again2, _ := json.Marshal(fr2); !bytes.Equal(again, again2) {
			t.Fatalf("%s decoded as %s, then as %s", data, again, again2)
		}
	})
}

// FuzzCheckDepth compares CheckDepth with the nesting encoding/json sees,
// on every input the standard decoder accepts: the check must never refuse
// shallow JSON nor let deep JSON through, whatever strings and escapes hold.
func FuzzCheckDepth(f *testing.F) {
	for _, s := range []string{`{}`, `[[]]`, `{"a":"[[[[\"{{{"}`, `{"a":{"b":[1,{"c":[]}]}}`,
		strings.Repeat("[", 17) + strings.Repeat("]", 17), `"\\"`, `["\\\\\"]"]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if !json.Valid(data) {
			_ = CheckDepth(data, 4) // must not panic
			return
		}
		depth, maxDepth := 0, 0
		dec := json.NewDecoder(bytes.NewReader(data))
		for {
			tok, err := dec.Token()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return // beyond the standard decoder's own nesting limit
			}
			switch tok {
			case json.Delim('{'), json.Delim('['):
				depth++
				maxDepth = max(maxDepth, depth)
			case json.Delim('}'), json.Delim(']'):
				depth--
			}
		}
		for _, limit := range []int{1, 2, 4, MaxJSONDepth} {
			err := CheckDepth(data, limit)
			if (err != nil) != (maxDepth > limit) {
				t.Fatalf("depth %d, limit %d: CheckDepth says %v for %q", maxDepth, limit, err, data)
			}
		}
	})
}

func wantCode(t *testing.T, err error, codes ...string) {
	t.Helper()
	var ce *CodeError
	if !errors.As(err, &ce) {
		t.Fatalf("error %v is not a CodeError", err)
	}
	for _, c := range codes {
		if ce.Code == c {
			if ce.Msg == "" {
				t.Fatalf("%s without a message", c)
			}
			return
		}
	}
	t.Fatalf("code %s, want one of %v (%s)", ce.Code, codes, ce.Msg)
}
