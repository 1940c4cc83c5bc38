package bench

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"

	"minichat/server/protocol"
)

// Text prefixes of the messages the tool sends: "bench <send time in Unix
// ns> <run id>", so any receiver computes the delivery latency without a
// shared table, and messages of another run in the same room (an earlier
// run's workers still going, another operator) are not counted as this
// run's. Warm-up messages are checked for seq continuity like the others
// but do not count as deliveries.
const (
	textMeasured = "bench "
	textWarmup   = "bench-w "
)

// Kinds of bench text carried by a message.
const (
	benchNone = iota
	benchMeasured
	benchWarmup
)

// splitFrames calls fn for every frame of a server message: one or more JSON
// frames separated by '\n' (PROTOCOL.md §2). Empty lines are skipped.
func splitFrames(msg []byte, fn func(frame []byte)) {
	for len(msg) > 0 {
		i := bytes.IndexByte(msg, '\n')
		var f []byte
		if i < 0 {
			f, msg = msg, nil
		} else {
			f, msg = msg[:i], msg[i+1:]
		}
		f = bytes.TrimSpace(f)
		if len(f) > 0 {
			fn(f)
		}
	}
}

// frame is what the tool needs of a server frame. Its byte slices point into
// the buffer that was parsed and are valid only until it is reused.
type frame struct {
	Type    string
	Ref     []byte
	Room    []byte // message.room for message and ack, room for synced, typing, update
	Seq     int64  // message.seq for message and ack, seq for update, last_seq for synced
	Text    []byte // message.text, raw (only when it needs no unescaping, else decoded)
	Code    string // error code
	Welcome *protocol.Welcome
	Skipped *protocol.SeqRange // synced: the range a capped replay left out
}

var (
	prefixMessage = []byte(`{"type":"message",`)
	prefixAck     = []byte(`{"type":"ack",`)
	prefixWelcome = []byte(`{"type":"welcome",`)
	keyRoom       = []byte(`"room":"`)
	keySeq        = []byte(`"seq":`)
	keyText       = []byte(`"text":"`)
	keyRef        = []byte(`"ref":"`)
)

var errFrame = errors.New("malformed frame")

// parseFrame decodes a server frame. message and ack frames, the bulk of the
// traffic, take a fast path that looks up the few keys it needs without
// decoding the whole object (JSON never holds an unescaped quote inside a
// string, so a key pattern cannot match inside a value); any frame the fast
// path does not recognise goes through encoding/json.
func parseFrame(b []byte, f *frame) error {
	*f = frame{}
	switch {
	case bytes.HasPrefix(b, prefixMessage):
		if fastMessage(b, f) {
			f.Type = protocol.TypeMessage
			return nil
		}
	case bytes.HasPrefix(b, prefixWelcome):
		return welcomeFrame(b, f)
	case bytes.HasPrefix(b, prefixAck):
		if fastMessage(b, f) {
			f.Type = protocol.TypeAck
			if i := bytes.Index(b, keyRef); i >= 0 {
				f.Ref, _ = stringAt(b, i+len(keyRef))
			}
			return nil
		}
	}
	return slowFrame(b, f)
}

func fastMessage(b []byte, f *frame) bool {
	// The keys are looked for in the order the server encodes them, each
	// from where the previous one was found, and from the start otherwise.
	i := bytes.Index(b, keyRoom)
	if i < 0 {
		return false
	}
	room, ok := stringAt(b, i+len(keyRoom))
	if !ok {
		return false
	}
	at := i + len(keyRoom) + len(room)
	i = indexFrom(b, keySeq, at)
	if i < 0 {
		return false
	}
	seq, ok := intAt(b, i+len(keySeq))
	if !ok {
		return false
	}
	i = indexFrom(b, keyText, i)
	if i < 0 {
		return false
	}
	text, ok := stringAt(b, i+len(keyText))
	if !ok {
		return false
	}
	f.Room, f.Seq, f.Text = room, seq, text
	return true
}

// indexFrom is bytes.Index(b, key), trying b[from:] first.
func indexFrom(b, key []byte, from int) int {
	if j := bytes.Index(b[from:], key); j >= 0 {
		return from + j
	}
	return bytes.Index(b[:min(from+len(key), len(b))], key)
}

// stringAt returns the raw bytes of the JSON string starting at b[i] (just
// after its opening quote). It gives up on escapes: the ids and bench texts
// it is used for have none, and anything else takes the slow path.
func stringAt(b []byte, i int) ([]byte, bool) {
	if i > len(b) {
		return nil, false
	}
	j := bytes.IndexByte(b[i:], '"')
	if j < 0 || bytes.IndexByte(b[i:i+j], '\\') >= 0 {
		return nil, false
	}
	return b[i : i+j], true
}

func intAt(b []byte, i int) (int64, bool) {
	j := i
	for j < len(b) && b[j] >= '0' && b[j] <= '9' {
		j++
	}
	if j == i {
		return 0, false
	}
	if j-i > 18 { // may overflow int64
		n, err := strconv.ParseInt(string(b[i:j]), 10, 64)
		return n, err == nil
	}
	var n int64
	for _, c := range b[i:j] {
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// benchText recognises a text sent by this run of the tool and returns its
// kind and send time.
func benchText(text []byte, runID string) (int, int64) {
	kind := benchNone
	switch {
	case bytes.HasPrefix(text, []byte(textMeasured)):
		kind, text = benchMeasured, text[len(textMeasured):]
	case bytes.HasPrefix(text, []byte(textWarmup)):
		kind, text = benchWarmup, text[len(textWarmup):]
	default:
		return benchNone, 0
	}
	ns, ok := intAt(text, 0)
	if !ok {
		return benchNone, 0
	}
	i := bytes.IndexByte(text, ' ')
	if i < 0 || string(text[i+1:]) != runID {
		return benchNone, 0
	}
	return kind, ns
}

// welcomeFrame decodes the parts of a welcome the tool uses: its rooms,
// heartbeat and limits. The online list, which holds everyone sharing a
// room with the account (thousands of people in a team's general), is
// skipped over instead of decoded, once, where the general path would
// decode the frame twice.
func welcomeFrame(b []byte, f *frame) error {
	var w struct {
		Rooms       []protocol.Room `json:"rooms"`
		HeartbeatMS int64           `json:"heartbeat_ms"`
		Limits      protocol.Limits `json:"limits"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return errFrame
	}
	f.Type = protocol.TypeWelcome
	f.Welcome = &protocol.Welcome{Type: protocol.TypeWelcome, Rooms: w.Rooms, HeartbeatMS: w.HeartbeatMS, Limits: w.Limits}
	return nil
}

// slowFrame is the encoding/json path for every frame type.
func slowFrame(b []byte, f *frame) error {
	var raw struct {
		Type    string             `json:"type"`
		Ref     string             `json:"ref"`
		Room    json.RawMessage    `json:"room"` // a room id, or a Room object in room frames
		Seq     int64              `json:"seq"`
		LastSeq int64              `json:"last_seq"`
		Code    string             `json:"code"`
		Message json.RawMessage    `json:"message"` // a Message, or the text of an error
		Skipped *protocol.SeqRange `json:"skipped"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return errFrame
	}
	if raw.Type == "" {
		return errFrame
	}
	f.Type, f.Code = raw.Type, raw.Code
	if raw.Ref != "" {
		f.Ref = []byte(raw.Ref)
	}
	var room string
	if len(raw.Room) > 0 && raw.Room[0] == '"' {
		_ = json.Unmarshal(raw.Room, &room)
	}
	switch raw.Type {
	case protocol.TypeMessage, protocol.TypeAck:
		var m struct {
			Room string `json:"room"`
			Seq  int64  `json:"seq"`
			Text string `json:"text"`
		}
		if len(raw.Message) == 0 || json.Unmarshal(raw.Message, &m) != nil {
			return errFrame
		}
		room, f.Seq, f.Text = m.Room, m.Seq, []byte(m.Text)
	case protocol.TypeUpdate:
		f.Seq = raw.Seq
	case protocol.TypeSynced:
		f.Seq, f.Skipped = raw.LastSeq, raw.Skipped
	case protocol.TypeWelcome:
		var w protocol.Welcome
		if err := json.Unmarshal(b, &w); err != nil {
			return errFrame
		}
		f.Welcome = &w
	}
	f.Room = []byte(room)
	return nil
}
