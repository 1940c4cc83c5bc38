package bench

import (
	"encoding/json"

	"minichat/server/protocol"
)

// A welcome lists everyone online who shares a room with the user: with a
// thousand people online it is ~85 KB, and decoding it whole with
// encoding/json cost the tool more than a millisecond of CPU per socket in
// a connect storm (over half its CPU), which made the tool, not the server,
// the bound on the connect rate. The tool needs only the rooms, the
// heartbeat and the limits, so it skims the frame's top level and decodes
// those values alone; the online list is stepped over without being parsed.

var (
	prefixWelcome  = []byte(`{"type":"welcome",`)
	prefixPresence = []byte(`{"type":"presence",`)
	prefixBatch    = []byte(`{"type":"presence_batch",`)
)

// fastWelcome decodes the parts of a welcome frame the tool uses.
func fastWelcome(b []byte, f *frame) bool {
	var w protocol.Welcome
	ok := skimObject(b, func(key, val []byte) bool {
		switch string(key) {
		case "rooms":
			return json.Unmarshal(val, &w.Rooms) == nil
		case "heartbeat_ms":
			return json.Unmarshal(val, &w.HeartbeatMS) == nil
		case "limits":
			return json.Unmarshal(val, &w.Limits) == nil
		case "session":
			return json.Unmarshal(val, &w.Session) == nil
		}
		return true
	})
	if !ok {
		return false
	}
	w.Type = protocol.TypeWelcome
	f.Type, f.Welcome = protocol.TypeWelcome, &w
	return true
}

// skimObject calls fn with each key (raw, without its quotes; keys with
// escapes are passed as they are) and the raw bytes of its value in the
// JSON object b, stopping with false when fn does or b is not an object
// it can step through.
func skimObject(b []byte, fn func(key, val []byte) bool) bool {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return false
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return true
	}
	for i < len(b) {
		if b[i] != '"' {
			return false
		}
		end := skipString(b, i)
		if end < 0 {
			return false
		}
		key := b[i+1 : end-1]
		i = skipSpace(b, end)
		if i >= len(b) || b[i] != ':' {
			return false
		}
		i = skipSpace(b, i+1)
		end = skipValue(b, i)
		if end < 0 {
			return false
		}
		if !fn(key, b[i:end]) {
			return false
		}
		i = skipSpace(b, end)
		if i >= len(b) {
			return false
		}
		switch b[i] {
		case ',':
			i = skipSpace(b, i+1)
		case '}':
			return true
		default:
			return false
		}
	}
	return false
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the index just past the JSON string starting at
// b[i] (its opening quote), or -1.
func skipString(b []byte, i int) int {
	for i++; i < len(b); i++ {
		switch b[i] {
		case '"':
			return i + 1
		case '\\':
			i++ // the escaped byte is never the closing quote
		}
	}
	return -1
}

// skipValue returns the index just past the JSON value starting at b[i],
// or -1. Objects and arrays are stepped over by depth, strings by their
// quotes; the value is not validated (json.Unmarshal does that for the
// values that are decoded).
func skipValue(b []byte, i int) int {
	if i >= len(b) {
		return -1
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for i < len(b) {
			switch b[i] {
			case '"':
				i = skipString(b, i)
				if i < 0 {
					return -1
				}
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
			i++
		}
		return -1
	default: // number, true, false, null
		j := i
		for j < len(b) && b[j] != ',' && b[j] != '}' && b[j] != ']' && b[j] != ' ' && b[j] != '\n' && b[j] != '\t' && b[j] != '\r' {
			j++
		}
		if j == i {
			return -1
		}
		return j
	}
}
