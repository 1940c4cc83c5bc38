package protocol

import (
	"encoding/json"
	"strings"
	"unicode/utf8"
)

// ClientFrame is a client frame decoded into the Go type of its "type":
// one of *ClientHello, *ClientSend, *ClientHistory, *ClientTyping,
// *ClientRead, *ClientStatus, *ClientPong, *ClientEdit, *ClientDelete and
// *ClientReact (the set is closed). Handlers switch on the dynamic type.
// A frame from DecodeClient has passed Validate, so its fields hold what
// its type needs.
type ClientFrame interface {
	// Validate checks the frame's fields, its ref included, and returns a
	// CodeError (bad_request) describing the first problem.
	Validate() error
	// ref returns the frame's ref.
	ref() string
}

// Every client frame's fields are plain values: a field the protocol
// requires is refused when absent while the frame is decoded (the
// UnmarshalJSON methods below), so no field depends on a check made
// elsewhere to be safe to read. Optional fields say what their zero value
// means.

// ClientHello asks for the replay of each room of Since after the seq given
// for it; every replay ends with a synced frame. Rooms absent from Since are
// not replayed, and so a hello without since replays nothing.
type ClientHello struct {
	Type  string           `json:"type"`
	Ref   string           `json:"ref,omitempty"`
	Since map[string]int64 `json:"since"`
}

// ClientSend posts a message to a room.
type ClientSend struct {
	Type string `json:"type"`
	Ref  string `json:"ref,omitempty"`
	Room string `json:"room"`
	// Text may be empty only when the message has attachments.
	Text string `json:"text"`
	// ClientID is unique per sender: a send repeating one is answered
	// with the original message. Empty, the send is not de-duplicated.
	ClientID string `json:"client_id"`
	// Attachments are ids of the sender's uploads.
	Attachments []string `json:"attachments,omitempty"`
	// ReplyTo is the id of a message of the same room; empty for none.
	ReplyTo string `json:"reply_to,omitempty"`
	// Kind is "chat" (the default, also "") or "me" for an action. An
	// addition to the contract.
	Kind string `json:"kind,omitempty" tstype:"MessageKind"`
}

// ClientHistory asks for a page of a room's messages, as GET
// /api/rooms/{id}/messages does.
type ClientHistory struct {
	Type string `json:"type"`
	Ref  string `json:"ref,omitempty"`
	Room string `json:"room"`
	// Before pages back: only messages with a lower seq. 0 (absent) asks
	// for the newest page; an explicit 0 is refused, as by the HTTP call.
	Before int64 `json:"before,omitempty"`
	// After pages forward: only messages with a higher seq, the oldest
	// first. An addition to the contract; at most one of Before, After,
	// Around and AroundID is set.
	After int64 `json:"after,omitempty"`
	// Around asks for the page around a seq: the messages at or before it
	// (half the page, the target included) and those after it. An
	// addition to the contract.
	Around int64 `json:"around,omitempty"`
	// AroundID asks for the page around a message of the room, by id. An
	// addition to the contract.
	AroundID string `json:"around_id,omitempty"`
	// Limit is the page size, 1 to MaxHistory; 0 (absent) means
	// DefaultHistory, and an explicit 0 is refused.
	Limit int `json:"limit,omitempty"`
}

// ClientTyping tells the room's other members that the user started or
// stopped typing.
type ClientTyping struct {
	Type   string `json:"type"`
	Ref    string `json:"ref,omitempty"`
	Room   string `json:"room"`
	Active bool   `json:"active"`
}

// ClientRead moves the user's read marker in a room to Seq.
type ClientRead struct {
	Type string `json:"type"`
	Ref  string `json:"ref,omitempty"`
	Room string `json:"room"`
	Seq  int64  `json:"seq"`
}

// ClientStatus sets the user's presence.
type ClientStatus struct {
	Type   string `json:"type"`
	Ref    string `json:"ref,omitempty"`
	Status string `json:"status" tstype:"typeof StatusOnline | typeof StatusAway"`
	// Text is a short note shown with the status; empty for none.
	Text string `json:"text,omitempty"`
}

// ClientPong answers a ping.
type ClientPong struct {
	Type string `json:"type"`
	Ref  string `json:"ref,omitempty"`
}

// ClientEdit replaces the text of a message.
type ClientEdit struct {
	Type string `json:"type"`
	Ref  string `json:"ref,omitempty"`
	Room string `json:"room"`
	ID   string `json:"id"`
	Text string `json:"text"`
}

// ClientDelete turns a message into a tombstone.
type ClientDelete struct {
	Type string `json:"type"`
	Ref  string `json:"ref,omitempty"`
	Room string `json:"room"`
	ID   string `json:"id"`
}

// ClientReact adds (On) or removes the user's reaction Emoji to a message.
type ClientReact struct {
	Type  string `json:"type"`
	Ref   string `json:"ref,omitempty"`
	Room  string `json:"room"`
	ID    string `json:"id"`
	Emoji string `json:"emoji"`
	On    bool   `json:"on"`
}

func (f *ClientHello) ref() string   { return f.Ref }
func (f *ClientSend) ref() string    { return f.Ref }
func (f *ClientHistory) ref() string { return f.Ref }
func (f *ClientTyping) ref() string  { return f.Ref }
func (f *ClientRead) ref() string    { return f.Ref }
func (f *ClientStatus) ref() string  { return f.Ref }
func (f *ClientPong) ref() string    { return f.Ref }
func (f *ClientEdit) ref() string    { return f.Ref }
func (f *ClientDelete) ref() string  { return f.Ref }
func (f *ClientReact) ref() string   { return f.Ref }

// Validate checks Since.
func (f *ClientHello) Validate() error {
	if err := checkRef(f.Ref); err != nil {
		return err
	}
	for room, seq := range f.Since {
		if room == "" || seq < 0 {
			return Errorf(CodeBadRequest, "since must map room ids to seqs >= 0")
		}
	}
	return nil
}

// Validate checks the room, that there is text or an attachment, the
// client_id and the number of attachments. The text itself is checked
// (NormalizeText) where the message is stored, as for the HTTP call.
func (f *ClientSend) Validate() error {
	if err := checkRef(f.Ref); err != nil {
		return err
	}
	if err := needRoom(TypeSend, f.Room); err != nil {
		return err
	}
	if f.Text == "" && len(f.Attachments) == 0 {
		return Errorf(CodeBadRequest, "send needs text")
	}
	if err := CheckSendKind(f.Kind); err != nil {
		return err
	}
	if err := CheckClientID(f.ClientID); err != nil {
		return err
	}
	if len(f.Attachments) > MaxAttachments {
		return Errorf(CodeBadRequest, "at most %d attachments", MaxAttachments)
	}
	return nil
}

// Validate checks the room and the bounds of Before and Limit.
func (f *ClientHistory) Validate() error {
	if err := checkRef(f.Ref); err != nil {
		return err
	}
	if err := needRoom(TypeHistory, f.Room); err != nil {
		return err
	}
	if f.Limit < 0 || f.Limit > MaxHistory {
		return errHistoryLimit()
	}
	return CheckHistoryPlace(f.Before, f.After, f.Around, f.AroundID)
}

// CheckHistoryPlace checks where a history page is asked for: seqs are
// >= 1 when given (0 means absent), an id is an id, and at most one place
// is given.
func CheckHistoryPlace(before, after, around int64, aroundID string) error {
	if before < 0 {
		return errHistoryBefore()
	}
	if after < 0 {
		return Errorf(CodeBadRequest, "after must be a seq >= 1")
	}
	if around < 0 {
		return Errorf(CodeBadRequest, "around must be a seq >= 1")
	}
	if aroundID != "" && !ValidID(aroundID) {
		return Errorf(CodeBadRequest, "around_id must be a message id")
	}
	n := 0
	for _, set := range []bool{before > 0, after > 0, around > 0, aroundID != ""} {
		if set {
			n++
		}
	}
	if n > 1 {
		return Errorf(CodeBadRequest, "give at most one of before, after, around and around_id")
	}
	return nil
}

// Validate checks the room.
func (f *ClientTyping) Validate() error {
	if err := checkRef(f.Ref); err != nil {
		return err
	}
	return needRoom(TypeTyping, f.Room)
}

// Validate checks the room and the seq.
func (f *ClientRead) Validate() error {
	if err := checkRef(f.Ref); err != nil {
		return err
	}
	if err := needRoom(TypeRead, f.Room); err != nil {
		return err
	}
	if f.Seq < 0 {
		return errReadSeq()
	}
	return nil
}

// Validate checks the status and its text.
func (f *ClientStatus) Validate() error {
	if err := checkRef(f.Ref); err != nil {
		return err
	}
	if f.Status != StatusOnline && f.Status != StatusAway {
		return Errorf(CodeBadRequest, "status must be online or away")
	}
	if utf8.RuneCountInString(f.Text) > MaxStatusText {
		return Errorf(CodeBadRequest, "status text must be at most %d characters", MaxStatusText)
	}
	if err := CheckText("status text", f.Text); err != nil {
		return err
	}
	return nil
}

// Validate checks the ref, all a pong has.
func (f *ClientPong) Validate() error { return checkRef(f.Ref) }

// Validate checks the room, the id and that there is text; the text itself
// is checked (NormalizeText) where the edit is stored.
func (f *ClientEdit) Validate() error {
	if err := checkRef(f.Ref); err != nil {
		return err
	}
	if err := needRoom(TypeEdit, f.Room); err != nil {
		return err
	}
	if f.ID == "" || f.Text == "" {
		return Errorf(CodeBadRequest, "edit needs id and text")
	}
	return nil
}

// Validate checks the room and the id.
func (f *ClientDelete) Validate() error {
	if err := checkRef(f.Ref); err != nil {
		return err
	}
	if err := needRoom(TypeDelete, f.Room); err != nil {
		return err
	}
	if f.ID == "" {
		return Errorf(CodeBadRequest, "delete needs id")
	}
	return nil
}

// Validate checks the room, the id and the emoji.
func (f *ClientReact) Validate() error {
	if err := checkRef(f.Ref); err != nil {
		return err
	}
	if err := needRoom(TypeReact, f.Room); err != nil {
		return err
	}
	if f.ID == "" {
		return errReactFields()
	}
	if f.Emoji == "" || len(f.Emoji) > MaxEmojiBytes || strings.ContainsAny(f.Emoji, " \t\r\n") {
		return Errorf(CodeBadRequest, "emoji must be 1-%d bytes without spaces", MaxEmojiBytes)
	}
	if err := CheckText("emoji", f.Emoji); err != nil {
		return err
	}
	return nil
}

// UnmarshalJSON refuses an explicit before or limit of 0: the protocol
// gives neither a meaning (absent, they ask for the newest page and the
// default size), and the HTTP call refuses them too.
func (f *ClientHistory) UnmarshalJSON(b []byte) error {
	type plain ClientHistory
	var w struct {
		plain
		Before *int64 `json:"before"`
		After  *int64 `json:"after"`
		Around *int64 `json:"around"`
		Limit  *int   `json:"limit"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*f = ClientHistory(w.plain)
	if w.Before != nil {
		if *w.Before == 0 {
			return errHistoryBefore()
		}
		f.Before = *w.Before
	}
	if w.After != nil {
		if *w.After == 0 {
			return Errorf(CodeBadRequest, "after must be a seq >= 1")
		}
		f.After = *w.After
	}
	if w.Around != nil {
		if *w.Around == 0 {
			return Errorf(CodeBadRequest, "around must be a seq >= 1")
		}
		f.Around = *w.Around
	}
	if w.Limit != nil {
		if *w.Limit == 0 {
			return errHistoryLimit()
		}
		f.Limit = *w.Limit
	}
	return nil
}

// UnmarshalJSON refuses a typing frame without active: a frame that lacks
// it is malformed, not a stop.
func (f *ClientTyping) UnmarshalJSON(b []byte) error {
	type plain ClientTyping
	var w struct {
		plain
		Active *bool `json:"active"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	if w.Active == nil {
		return Errorf(CodeBadRequest, "typing needs active")
	}
	*f = ClientTyping(w.plain)
	f.Active = *w.Active
	return nil
}

// UnmarshalJSON refuses a read frame without seq (0 is a seq).
func (f *ClientRead) UnmarshalJSON(b []byte) error {
	type plain ClientRead
	var w struct {
		plain
		Seq *int64 `json:"seq"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	if w.Seq == nil {
		return errReadSeq()
	}
	*f = ClientRead(w.plain)
	f.Seq = *w.Seq
	return nil
}

// UnmarshalJSON refuses a react frame without on: a frame that lacks it is
// malformed, not a removal.
func (f *ClientReact) UnmarshalJSON(b []byte) error {
	type plain ClientReact
	var w struct {
		plain
		On *bool `json:"on"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	if w.On == nil {
		return errReactFields()
	}
	*f = ClientReact(w.plain)
	f.On = *w.On
	return nil
}

func checkRef(ref string) error {
	if len(ref) > MaxRefLen {
		return Errorf(CodeBadRequest, "ref must be at most %d bytes", MaxRefLen)
	}
	return nil
}

func needRoom(typ, room string) error {
	if room == "" {
		return Errorf(CodeBadRequest, "%s needs a room", typ)
	}
	return nil
}

func errHistoryBefore() error { return Errorf(CodeBadRequest, "before must be a seq >= 1") }
func errHistoryLimit() error  { return Errorf(CodeBadRequest, "limit must be 1-%d", MaxHistory) }
func errReadSeq() error       { return Errorf(CodeBadRequest, "read needs a seq >= 0") }
func errReactFields() error   { return Errorf(CodeBadRequest, "react needs id, emoji and on") }
