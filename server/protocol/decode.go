package protocol

import (
	"encoding/json"
	"errors"
)

// DecodeClient decodes one client message: it checks its nesting depth,
// reads the frame's type, decodes the frame into the Go type of that type
// and validates it. Every refusal — not JSON, no or an unknown type, a
// field of the wrong JSON type, a missing or bad field — is a CodeError,
// bad_request, saying what is wrong; fields the frame's type does not have
// are ignored. ref is the frame's ref whenever it could be read and is at
// most MaxRefLen bytes, also with an error, so that the error frame
// answering a bad frame can echo it.
//
// The type is read by a scan that neither decodes nor allocates (peekType);
// a frame it cannot read plainly takes encoding/json, twice.
func DecodeClient(data []byte) (f ClientFrame, ref string, err error) {
	if err := CheckDepth(data, MaxJSONDepth); err != nil {
		return nil, "", err
	}
	if typ, ok := peekType(data); ok {
		f = newClientFrame(typ)
	}
	if f == nil {
		var h struct {
			Type string `json:"type"`
			Ref  string `json:"ref"`
		}
		err := json.Unmarshal(data, &h)
		ref := shortRef(h.Ref)
		switch {
		case err != nil:
			return nil, ref, notProtocol(err)
		case len(h.Ref) > MaxRefLen:
			return nil, "", checkRef(h.Ref)
		case h.Type == "":
			return nil, ref, Errorf(CodeBadRequest, "frame needs a type")
		}
		if f = newClientFrame([]byte(h.Type)); f == nil {
			return nil, ref, Errorf(CodeBadRequest, "unknown frame type %q", h.Type)
		}
	}
	// The frame types that look for required fields decode themselves
	// (UnmarshalJSON, by json.Unmarshal, which validates the JSON); called
	// directly, they spare a second scan of the whole message.
	if u, ok := f.(json.Unmarshaler); ok {
		err = u.UnmarshalJSON(data)
	} else {
		err = json.Unmarshal(data, f)
	}
	if err != nil {
		var ce *CodeError
		if !errors.As(err, &ce) {
			err = notProtocol(err)
		}
		return nil, readRef(data), err
	}
	if err := f.Validate(); err != nil {
		return nil, shortRef(f.ref()), err
	}
	return f, f.ref(), nil
}

// newClientFrame returns a new frame of the Go type of typ, or nil when
// typ is not the type of a client frame. It takes bytes so that the type
// peekType found costs no string.
func newClientFrame(typ []byte) ClientFrame {
	switch string(typ) {
	case TypeHello:
		return new(ClientHello)
	case TypeSend:
		return new(ClientSend)
	case TypeHistory:
		return new(ClientHistory)
	case TypeTyping:
		return new(ClientTyping)
	case TypeRead:
		return new(ClientRead)
	case TypeStatus:
		return new(ClientStatus)
	case TypePong:
		return new(ClientPong)
	case TypeEdit:
		return new(ClientEdit)
	case TypeDelete:
		return new(ClientDelete)
	case TypeReact:
		return new(ClientReact)
	}
	return nil
}

func notProtocol(err error) error {
	return Errorf(CodeBadRequest, "frame is not a valid JSON object of the protocol: %v", err)
}

// readRef reads the ref of a frame that could not be decoded whole, for
// the error that answers it: "" when there is none, it cannot be read, or
// it is longer than MaxRefLen.
func readRef(data []byte) string {
	var h struct {
		Ref string `json:"ref"`
	}
	_ = json.Unmarshal(data, &h) // a field of the wrong type still leaves ref read
	return shortRef(h.Ref)
}

// shortRef is ref when it may be echoed (at most MaxRefLen bytes), else "".
func shortRef(ref string) string {
	if len(ref) > MaxRefLen {
		return ""
	}
	return ref
}

// peekType returns the value of the top-level "type" of the JSON object b —
// what encoding/json decodes into a field tagged "type", or nil when b has
// no such key — without decoding anything else or allocating. It reports
// false when it cannot tell plainly, and then encoding/json must: b does
// not start as an object, a top-level key or the type's value has an
// escape or a non-ASCII byte, or the type is not a string. It does not
// validate b; a frame it reads still goes through encoding/json, which
// refuses invalid JSON.
//
// Keys match as encoding/json matches them, ASCII case-insensitively, and
// the last "type" wins. A key with a non-ASCII byte is never taken for
// "type": no non-ASCII character folds to one of its letters, but such keys
// are rare enough to leave to encoding/json rather than argue it.
func peekType(b []byte) (typ []byte, ok bool) {
	i := skipSpace(b, 0)
	if i == len(b) || b[i] != '{' {
		return nil, false
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return nil, true
	}
	for {
		if i == len(b) || b[i] != '"' {
			return nil, false
		}
		key, next, plain := plainString(b, i+1)
		if !plain {
			return nil, false
		}
		i = skipSpace(b, next)
		if i == len(b) || b[i] != ':' {
			return nil, false
		}
		i = skipSpace(b, i+1)
		if isTypeKey(key) {
			if i == len(b) || b[i] != '"' {
				return nil, false
			}
			if typ, i, plain = plainString(b, i+1); !plain {
				return nil, false
			}
		} else if i = skipValue(b, i); i < 0 {
			return nil, false
		}
		i = skipSpace(b, i)
		if i == len(b) {
			return nil, false
		}
		switch b[i] {
		case ',':
			i = skipSpace(b, i+1)
		case '}':
			return typ, true
		default:
			return nil, false
		}
	}
}

// isTypeKey reports whether key is "type", ASCII case-insensitively.
func isTypeKey(key []byte) bool {
	const want = "type"
	if len(key) != len(want) {
		return false
	}
	for i := range len(want) {
		if key[i]|0x20 != want[i] {
			return false
		}
	}
	return true
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// plainString returns the contents of the string whose opening quote is
// just before b[i], and the index after its closing quote; plain is false
// when the string is unterminated or holds an escape, a control character
// or a non-ASCII byte.
func plainString(b []byte, i int) (s []byte, next int, plain bool) {
	for j := i; j < len(b); j++ {
		switch c := b[j]; {
		case c == '"':
			return b[i:j], j + 1, true
		case c == '\\' || c < 0x20 || c >= 0x80:
			return nil, 0, false
		}
	}
	return nil, 0, false
}

// skipValue returns the index after the JSON value starting at b[i], or -1
// when b ends first. It only finds the value's end (strings, escapes in
// them, and nesting); encoding/json validates it.
func skipValue(b []byte, i int) int {
	depth := 0
	inString, escaped := false, false
	for ; i < len(b); i++ {
		c := b[i]
		if inString {
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
				if depth == 0 {
					return i + 1
				}
			}
			continue
		}
		switch c {
		case '"':
			inString = true
		case '{', '[':
			depth++
		case '}', ']':
			if depth == 0 {
				return i // the end of the enclosing object: a scalar ended
			}
			if depth--; depth == 0 {
				return i + 1
			}
		case ',', ' ', '\t', '\n', '\r':
			if depth == 0 {
				return i
			}
		}
	}
	if depth == 0 && !inString {
		return i // a scalar at the end of b; the caller finds no '}'
	}
	return -1
}
