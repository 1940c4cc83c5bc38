package sqlstore

import (
	"context"
	"fmt"
	"strings"
	"time"

	"minichat/server/protocol"
	"minichat/server/store"
)

// sendWork is a send's request and rule and, once run, its results. A send
// may run more than once (sendRow resets it).
type sendWork struct {
	req  store.SendRequest
	rule store.SendRule

	facts store.SendFacts
	dupID string // the sender's message with this client_id, if any
	ts    int64  // the new message's time, Unix milliseconds
	msg   protocol.Message
	dup   bool
	err   error // the rule's refusal or the send's own failure
}

// sendOp is a send's op and work in one allocation.
type sendOp struct {
	op
	sendWork
}

// SendAsync appends a chat message; see store.Store.
func (s *Store) SendAsync(ctx context.Context, req store.SendRequest, rule store.SendRule, done func(protocol.Message, bool, error)) {
	if err := ctx.Err(); err != nil {
		done(protocol.Message{}, false, err)
		return
	}
	o := &sendOp{sendWork: sendWork{req: req, rule: rule}}
	o.send = &o.sendWork
	if !s.q.Async(&o.op, func(err error) {
		// err is the send's own (sendWork.err, as the rule made it) or the
		// batch's, already wrapped.
		if err != nil {
			done(protocol.Message{}, false, err)
			return
		}
		done(o.msg, o.dup, nil)
	}) {
		done(protocol.Message{}, false, ErrClosed)
	}
}

// sendFactsSQL reads the SendFacts of sends: one row per send of
// {{send_rows}} (room_id, sender_id, client_id, reply_to and ord, its
// number from 1), which a dialect fills with one send or with a row of them.
const sendFactsSQL = `SELECT t.ord, r.kind, u.id, u.name, u.role,
		EXISTS (SELECT 1 FROM members m WHERE m.room_id = t.room_id AND m.user_id = t.sender_id),
		(SELECT x.id FROM messages x WHERE x.sender_id = t.sender_id AND x.client_id = t.client_id),
		(SELECT y.room_id FROM messages y WHERE y.id = t.reply_to)
	FROM {{send_rows}} LEFT JOIN rooms r ON r.id = t.room_id LEFT JOIN users u ON u.id = t.sender_id`

// scanSendFacts reads a row of sendFactsSQL into the work of its send,
// which it picks out of ws by the row's ord.
func scanSendFacts(r row, ws []*sendWork) error {
	var (
		ord                  int64
		kind, id, name, role *string
		member               bool
		dupID, replyRoom     *string
	)
	if err := r.Scan(&ord, &kind, &id, &name, &role, &member, &dupID, &replyRoom); err != nil {
		return err
	}
	if ord < 1 || int(ord) > len(ws) {
		return fmt.Errorf("send facts: row %d of %d", ord, len(ws))
	}
	sw := ws[ord-1]
	f := &sw.facts
	f.Room.Kind, f.Room.Member = deref(kind), member
	if id != nil {
		f.Sender = protocol.User{ID: *id, Name: deref(name), Role: deref(role)}
	}
	sw.dupID, f.Duplicate = deref(dupID), dupID != nil
	f.ReplyRoom = deref(replyRoom)
	return nil
}

// attachFiles fills the Files facts of sends from the records of their
// attachments.
func attachFiles(ws []*sendWork, files map[string]store.File) {
	for _, sw := range ws {
		if len(sw.req.Attachments) == 0 {
			continue
		}
		sw.facts.Files = make([]store.File, len(sw.req.Attachments))
		for i, id := range sw.req.Attachments {
			sw.facts.Files[i] = files[id] // the zero File when unknown
		}
	}
}

// runSends stores a row of consecutive sends of a batch, with as few
// statements for the whole row as the dialect manages. Should those fail
// (on Postgres: another node stored the same client_id a moment ago, or a
// deadlock), nothing of the row is stored, and each send runs again on its
// own, under its own savepoint, as any other write. The caller makes sure
// that no two sends of the row share a sender and client_id, so that no
// send's facts depend on an earlier send of the row.
func (s *Store) runSends(w *wtx, row []*op) {
	ws := make([]*sendWork, len(row))
	for i, o := range row {
		ws[i] = o.send
	}
	if err := s.sendRow(w, ws); err == nil {
		return
	}
	for _, o := range row {
		_, o.send.err = s.runOp(w, o)
	}
}

// sendRow runs sends: it reads their facts, asks each send's rule, answers
// duplicates and stores the rest. The sends' own outcomes are in their
// work; an error means the row's statements failed and nothing of it was
// stored.
func (s *Store) sendRow(w *wtx, ws []*sendWork) error {
	for _, sw := range ws {
		sw.facts, sw.dupID, sw.msg, sw.dup, sw.err = store.SendFacts{}, "", protocol.Message{}, false, nil
	}
	if err := s.d.sendFacts(w, ws); err != nil {
		return fmt.Errorf("read the facts of sends: %w", err)
	}
	pending := make([]*sendWork, 0, len(ws))
	for _, sw := range ws {
		if sw.err = sw.rule(&sw.req, &sw.facts); sw.err != nil {
			continue
		}
		if sw.dupID != "" {
			// A retry of a stored message: answer with the original in its
			// current state; store nothing, emit nothing.
			sw.msg, sw.err = w.s.message(w.ctx, w.db, sw.dupID)
			sw.dup = sw.err == nil
			continue
		}
		if sw.err = sw.plan(s.opts.Now()); sw.err == nil {
			pending = append(pending, sw)
		}
	}
	if len(pending) == 0 {
		return nil
	}
	return s.d.insertSends(w, pending)
}

// plan builds the message of a send the rule let through, all but its seq.
// What the rule cannot overrule — a room, a sender or a file that does not
// exist — is refused here.
func (sw *sendWork) plan(now time.Time) error {
	f := &sw.facts
	switch {
	case f.Room.Kind == "":
		return fmt.Errorf("room %s: %w", sw.req.RoomID, store.ErrNotFound)
	case f.Sender.ID == "":
		return fmt.Errorf("user %s: %w", sw.req.SenderID, store.ErrNotFound)
	}
	var atts []protocol.Attachment
	for i, id := range sw.req.Attachments {
		if f.Files[i].ID == "" {
			return fmt.Errorf("file %s: %w", id, store.ErrNotFound)
		}
		atts = append(atts, f.Files[i].Attachment())
	}
	sender := f.Sender
	sw.ts = now.UnixMilli()
	sw.msg = protocol.Message{
		ID: store.NewMessageID(now), Room: sw.req.RoomID, Kind: protocol.KindChat, Sender: &sender,
		Text: sw.req.Text, TS: formatMilli(sw.ts), ClientID: sw.req.ClientID, ReplyTo: sw.req.ReplyTo,
		Attachments: atts,
	}
	return nil
}

// attachmentList is how messages.attachments stores a send's file ids.
func (sw *sendWork) attachmentList() string { return strings.Join(sw.req.Attachments, " ") }

// appendMessageSQL appends a message to room $1's log at its next seq
// ({{seq}}: see the dialects) and returns that seq.
const appendMessageSQL = `{{seq_with}}INSERT INTO messages (room_id, seq, id, kind, sender_id, text, ts, client_id, reply_to, attachments)
	SELECT $1, {{seq}}, $2, $3, $4, $5, $6, $7, $8, $9{{seq_from}} RETURNING seq`

// insertMessage stores the message of one send, alone.
func (w *wtx) insertMessage(sw *sendWork) error {
	m := &sw.msg
	err := w.scan(appendMessageSQL, []any{m.Room, m.ID, m.Kind, sw.req.SenderID, m.Text, sw.ts,
		nullString(m.ClientID), nullString(m.ReplyTo), sw.attachmentList()}, &m.Seq)
	if err != nil {
		return fmt.Errorf("store message: %w", notFound(err, "room %s", m.Room))
	}
	return nil
}

// linkFilesSQL links message $1 of room $2 to its files $3 (a list).
const linkFilesSQL = `INSERT INTO message_files (message_id, file_id, room_id)
	SELECT $1, value, $2 FROM {{each $3}} WHERE true ON CONFLICT DO NOTHING`

// linkFiles links the message of one send to its attachments.
func (w *wtx) linkFiles(sw *sendWork) error {
	_, err := w.exec(linkFilesSQL, sw.msg.ID, sw.msg.Room, w.s.d.list(sw.req.Attachments))
	return err
}
