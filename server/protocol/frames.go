package protocol

import "encoding/json"

// Server frame types.
const (
	TypeWelcome  = "welcome"
	TypeMessage  = "message"
	TypeAck      = "ack"
	TypeHistory  = "history"
	TypeSynced   = "synced"
	TypeTyping   = "typing"
	TypePresence = "presence"
	// TypePresenceBatch: the presence changes of several users at once,
	// gathered for a short window (an addition to the contract).
	TypePresenceBatch = "presence_batch"
	TypeRoom          = "room"
	TypeUpdate        = "update"
	TypeError         = "error"
	TypePing          = "ping"
	TypeUser          = "user" // a user's profile changed (an addition to the contract)
)

// Client frame types (typing and history are shared with the server side).
const (
	TypeHello  = "hello"
	TypeSend   = "send"
	TypeRead   = "read"
	TypeStatus = "status"
	TypePong   = "pong"
	TypeEdit   = "edit"
	TypeDelete = "delete"
	TypeReact  = "react"
)

// Welcome is the first frame after the upgrade.
type Welcome struct {
	Type        string     `json:"type"`
	Session     string     `json:"session"`
	User        User       `json:"user"`
	Rooms       []Room     `json:"rooms"`
	Online      []Presence `json:"online"`
	HeartbeatMS int64      `json:"heartbeat_ms"`
	Limits      Limits     `json:"limits"`
	Server      ServerInfo `json:"server"`
}

// MessageFrame carries a new message of a room the user belongs to.
type MessageFrame struct {
	Type    string  `json:"type"`
	Message Message `json:"message"`
}

// Ack answers a send once the message is durably stored.
type Ack struct {
	Type    string  `json:"type"`
	Ref     string  `json:"ref,omitempty"`
	Message Message `json:"message"`
}

// History answers a history frame.
type History struct {
	Type     string    `json:"type"`
	Ref      string    `json:"ref,omitempty"`
	Room     string    `json:"room"`
	Messages []Message `json:"messages"`
	// HasMore: older messages than the page's exist.
	HasMore bool `json:"has_more"`
	// HasNewer: newer messages than the page's exist (always false for
	// the newest page). An addition to the contract; absent means false.
	HasNewer bool `json:"has_newer,omitempty"`
}

// Synced ends the replay of one room after hello. LastSeq is the last seq
// replayed (since, when nothing was); from here on the room's live frames
// follow without a gap.
type Synced struct {
	Type    string `json:"type"`
	Room    string `json:"room"`
	LastSeq int64  `json:"last_seq"`
	// Skipped, when set, is the range after since that a capped replay
	// left out (more than Limits.ReplayMax entries followed since): From is
	// since+1 and To the first replayed seq − 1. The client's copy of that
	// range is stale; it pages it again with history. An addition to the
	// contract (PROTOCOL.md §3).
	Skipped *SeqRange `json:"skipped,omitempty"`
}

// SeqRange is a range of a room's log, both ends included.
type SeqRange struct {
	From int64 `json:"from"`
	To   int64 `json:"to"`
}

// Typing tells that another member started or stopped typing.
type Typing struct {
	Type   string `json:"type"`
	Room   string `json:"room"`
	User   User   `json:"user"`
	Active bool   `json:"active"`
}

// PresenceFrame tells that a user's status changed.
type PresenceFrame struct {
	Type   string `json:"type"`
	User   User   `json:"user"`
	Status string `json:"status" tstype:"PresenceStatus"`
	Text   string `json:"text,omitempty"`
}

// PresenceBatch tells the presence of several users whose status changed
// within one short window, each with the state it ended in: the server
// gathers the changes a connection may see (for 250 ms by default) and
// sends them as one frame. A window with a single change is sent as a
// PresenceFrame. Applying Users in order, each as a presence frame, gives
// the same state. An addition to the contract (PROTOCOL.md §3).
type PresenceBatch struct {
	Type  string     `json:"type"`
	Users []Presence `json:"users"`
}

// UserFrame tells that a user's profile (display name, avatar, status
// text) changed: it reaches the user's own connections and those of every
// member of a room the user belongs to, with the whole profile as it is
// now. An addition to the contract.
type UserFrame struct {
	Type string `json:"type"`
	User User   `json:"user"`
}

// RoomFrame tells that a room or the user's membership changed.
type RoomFrame struct {
	Type  string `json:"type"`
	Room  Room   `json:"room"`
	Event string `json:"event" tstype:"RoomEvent"`
}

// Update carries the whole current state of a changed message; Seq is the
// change's place in the room's log, Message.Seq is unchanged.
type Update struct {
	Type    string  `json:"type"`
	Room    string  `json:"room"`
	Seq     int64   `json:"seq"`
	Message Message `json:"message"`
}

// Error tells that a frame was refused.
type Error struct {
	Type         string `json:"type"`
	Ref          string `json:"ref,omitempty"`
	Code         string `json:"code" tstype:"ErrorCode"`
	Message      string `json:"message"`
	RetryAfterMS int64  `json:"retry_after_ms,omitempty"`
}

// Ping is sent every heartbeat; the client answers with Pong.
type Ping struct {
	Type string `json:"type"`
}

// Encode marshals a server frame. Frames hold only plain data, so Encode
// panics only on a programming error.
func Encode(frame any) []byte {
	b, err := json.Marshal(frame)
	if err != nil {
		panic("protocol: encode frame: " + err.Error())
	}
	return b
}
