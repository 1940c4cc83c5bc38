package broker

import (
	"encoding/hex"
	"encoding/json"

	"minichat/server/hub"
	"minichat/server/protocol"
	"minichat/server/store"
)

// Subjects, under a prefix (NATSOptions.Prefix, default "minichat"); see
// the package documentation.
const (
	DefaultPrefix   = "minichat"
	subjectRoom     = ".room."
	subjectUser     = ".user."
	subjectPresence = ".cluster.presence"
	subjectClose    = ".cluster.close"
)

// envelope is every message between nodes.
type envelope struct {
	Node string `json:"node"`
	// Events are committed store events of one room, in commit order.
	Events []event `json:"events,omitempty"`
	Typing *typing `json:"typing,omitempty"`
	// Presence lists users of the node: every one when Full (a
	// heartbeat), else changes.
	Presence []hub.UserPresence `json:"presence,omitempty"`
	Full     bool               `json:"full,omitempty"`
	// Heads are the latest seqs the node committed per room.
	Heads map[string]int64 `json:"heads,omitempty"`
	// Bye: the node is shutting down.
	Bye   bool      `json:"bye,omitempty"`
	Close *closeReq `json:"close,omitempty"`
}

// event is a store.Event on the wire.
type event struct {
	Kind    store.EventKind   `json:"kind"`
	Room    string            `json:"room"`
	Seq     int64             `json:"seq,omitempty"`
	Message *protocol.Message `json:"message,omitempty"`
	User    string            `json:"user,omitempty"`
	Joined  bool              `json:"joined,omitempty"`
	Info    *protocol.Room    `json:"info,omitempty"`
	Created bool              `json:"created,omitempty"`
	// Profile and Rooms carry an EventUser.
	Profile *protocol.User `json:"profile,omitempty"`
	Rooms   []string       `json:"rooms,omitempty"`
}

type typing struct {
	Room   string        `json:"room"`
	User   protocol.User `json:"user"`
	Active bool          `json:"active"`
}

type closeReq struct {
	Session string `json:"session,omitempty"`
	User    string `json:"user,omitempty"`
	Code    int    `json:"code"`
	Reason  string `json:"reason,omitempty"`
}

func toWire(ev *store.Event) event {
	w := event{Kind: ev.Kind, Room: ev.RoomID, Seq: ev.Seq}
	switch ev.Kind {
	case store.EventMessage, store.EventUpdate:
		m := ev.Message
		w.Message = &m
	case store.EventMember:
		r := ev.Room
		w.User, w.Joined, w.Info, w.Created = ev.UserID, ev.Joined, &r, ev.Created
	case store.EventUser:
		u := ev.User
		w.Profile, w.Rooms = &u, ev.Rooms
	}
	return w
}

func fromWire(w *event) store.Event {
	ev := store.Event{Kind: w.Kind, RoomID: w.Room, Seq: w.Seq, UserID: w.User, Joined: w.Joined, Created: w.Created}
	if w.Message != nil {
		ev.Message = *w.Message
	}
	if w.Info != nil {
		ev.Room = *w.Info
	}
	if w.Profile != nil {
		ev.User, ev.Rooms = *w.Profile, w.Rooms
	}
	return ev
}

// encodeEvents encodes the events of one room as one envelope.
func encodeEvents(node string, evs []store.Event) ([]byte, error) {
	env := envelope{Node: node, Events: make([]event, len(evs))}
	for i := range evs {
		env.Events[i] = toWire(&evs[i])
	}
	return json.Marshal(env)
}

// token makes an id usable as one token of a subject: an id of letters,
// digits, '_' and '-' (as all of minichat's are) stays as it is; any other,
// and any starting with 'x', is hex-encoded behind an 'x', so two ids never
// share a token.
func token(id string) string {
	plain := id != "" && id[0] != 'x'
	for i := 0; plain && i < len(id); i++ {
		c := id[i]
		plain = c == '_' || c == '-' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
	}
	if plain {
		return id
	}
	return "x" + hex.EncodeToString([]byte(id))
}

func (b *NATS) roomSubject(room string) string { return b.opts.Prefix + subjectRoom + token(room) }
func (b *NATS) userSubject(user string) string { return b.opts.Prefix + subjectUser + token(user) }
