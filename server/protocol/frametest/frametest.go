// Package frametest decodes server frames for tests that speak the
// protocol as a client does: each frame into the protocol type its type
// names, refusing fields that type does not have, so that a test reads
// typed fields and a frame the server writes beyond its own types fails
// it.
package frametest

import (
	"bytes"
	"encoding/json"
	"fmt"

	"minichat/server/protocol"
)

// Frame is one server frame, decoded into the protocol type its Type
// names (the field of that name); the other fields stay zero. Decoding
// refuses fields the protocol type does not have, so a frame the server
// writes beyond its own types is an error.
type Frame struct {
	Type          string
	Welcome       protocol.Welcome
	Message       protocol.MessageFrame
	Ack           protocol.Ack
	History       protocol.History
	Synced        protocol.Synced
	Typing        protocol.Typing
	Presence      protocol.PresenceFrame
	PresenceBatch protocol.PresenceBatch
	Room          protocol.RoomFrame
	Update        protocol.Update
	Error         protocol.Error
	User          protocol.UserFrame
}

// Decode decodes one frame (one line of a server message).
func Decode(data []byte) (Frame, error) {
	var f Frame
	var head struct{ Type string }
	if err := json.Unmarshal(data, &head); err != nil {
		return f, err
	}
	f.Type = head.Type
	var into any
	switch f.Type {
	case protocol.TypeWelcome:
		into = &f.Welcome
	case protocol.TypeMessage:
		into = &f.Message
	case protocol.TypeAck:
		into = &f.Ack
	case protocol.TypeHistory:
		into = &f.History
	case protocol.TypeSynced:
		into = &f.Synced
	case protocol.TypeTyping:
		into = &f.Typing
	case protocol.TypePresence:
		into = &f.Presence
	case protocol.TypePresenceBatch:
		into = &f.PresenceBatch
	case protocol.TypeRoom:
		into = &f.Room
	case protocol.TypeUpdate:
		into = &f.Update
	case protocol.TypeError:
		into = &f.Error
	case protocol.TypeUser:
		into = &f.User
	case protocol.TypePing:
		into = &protocol.Ping{}
	default:
		return f, fmt.Errorf("unknown frame type %q", f.Type)
	}
	d := json.NewDecoder(bytes.NewReader(data))
	d.DisallowUnknownFields()
	return f, d.Decode(into)
}

// Presences is the presence changes a presence or presence_batch frame
// carries, in order; nil for other frames.
func (f Frame) Presences() []protocol.Presence {
	switch f.Type {
	case protocol.TypePresence:
		p := f.Presence
		return []protocol.Presence{{User: p.User, Status: p.Status, Text: p.Text}}
	case protocol.TypePresenceBatch:
		return f.PresenceBatch.Users
	}
	return nil
}

// Split is f as the frames of one change each: a presence_batch becomes
// one presence frame per user it lists, in order; any other frame is
// itself. A client that applies the split frames ends where the batch
// leaves it.
func (f Frame) Split() []Frame {
	if f.Type != protocol.TypePresenceBatch {
		return []Frame{f}
	}
	out := make([]Frame, len(f.PresenceBatch.Users))
	for i, p := range f.PresenceBatch.Users {
		out[i] = Frame{Type: protocol.TypePresence, Presence: protocol.PresenceFrame{Type: protocol.TypePresence, User: p.User, Status: p.Status, Text: p.Text}}
	}
	return out
}

// Msg is the message a message, ack or update frame carries.
func (f Frame) Msg() protocol.Message {
	switch f.Type {
	case protocol.TypeAck:
		return f.Ack.Message
	case protocol.TypeUpdate:
		return f.Update.Message
	}
	return f.Message.Message
}

// Seq is the log position of a message or update frame.
func (f Frame) Seq() int64 {
	if f.Type == protocol.TypeUpdate {
		return f.Update.Seq
	}
	return f.Msg().Seq
}

// Ref is the ref an ack, history or error frame echoes.
func (f Frame) Ref() string {
	switch f.Type {
	case protocol.TypeError:
		return f.Error.Ref
	case protocol.TypeHistory:
		return f.History.Ref
	}
	return f.Ack.Ref
}
