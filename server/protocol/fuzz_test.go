package protocol

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
)

// FuzzClientFrame feeds arbitrary client messages through what the /ws
// reader does with one — depth check, decode, validate — and checks that
// nothing panics, that every refusal is a bad_request or too_large
// CodeError, and that a frame that validates keeps validating after a
// round trip through JSON (what the server accepts is well defined).
func FuzzClientFrame(f *testing.F) {
	for _, s := range []string{
		`{"type":"hello","since":{"r_1":0}}`,
		`{"type":"send","room":"r_1","text":"hi","client_id":"c1","ref":"1"}`,
		`{"type":"send","room":"r_1","attachments":["f_1"],"reply_to":"m_1"}`,
		`{"type":"history","room":"r_1","before":5,"limit":50}`,
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
		`null`, `"send"`, `{}`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := CheckDepth(data, MaxJSONDepth); err != nil {
			wantCode(t, err, CodeBadRequest)
			return
		}
		var fr ClientFrame
		if err := json.Unmarshal(data, &fr); err != nil {
			return // answered bad_request by the reader
		}
		err := fr.Validate()
		if err != nil {
			wantCode(t, err, CodeBadRequest)
			return
		}
		switch fr.Type {
		case TypeHello, TypeSend, TypeHistory, TypeTyping, TypeRead, TypeStatus, TypePong, TypeEdit, TypeDelete, TypeReact:
		default:
			t.Fatalf("frame of type %q validated", fr.Type)
		}
		if len(fr.Ref) > MaxRefLen {
			t.Fatalf("ref of %d bytes validated", len(fr.Ref))
		}
		if fr.Type == TypeSend {
			if fr.Room == "" || len(fr.ClientID) > MaxClientIDLen || len(fr.Attachments) > MaxAttachments {
				t.Fatalf("send validated: %+v", fr)
			}
			if fr.Text != nil {
				if _, err := NormalizeText(*fr.Text, len(fr.Attachments) > 0); err != nil {
					wantCode(t, err, CodeBadRequest, CodeTooLarge)
				}
			}
		}
		again, err := json.Marshal(fr)
		if err != nil {
			t.Fatal(err)
		}
		var fr2 ClientFrame
		if err := json.Unmarshal(again, &fr2); err != nil {
			t.Fatalf("re-decode %s: %v", again, err)
		}
		if err := fr2.Validate(); err != nil {
			t.Fatalf("%s validated, its round trip %s does not: %v", data, again, err)
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
