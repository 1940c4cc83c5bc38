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

	decided bool
	seen    sendSeen // the facts the rule decided on
	err     error    // the rule's refusal or the send's own failure
	dupID   string   // the sender's message with this client_id, to answer with
	ts      int64    // the new message's time, Unix milliseconds
	msg     protocol.Message
	dup     bool
}

// sendSeen is what a send's facts were when its rule decided, in the
// columns of sendFactsSQL: a dialect that reads them before it locks the
// room checks, under the lock, that they still hold.
type sendSeen struct {
	kind, uid, name, role string
	member, archived      bool
	dup, replyRoom        string
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
// Every column is named: the SQLite driver reads the names of a result's
// columns with each query, and an unnamed one is named by its whole text.
const sendFactsSQL = `SELECT t.ord AS ord, COALESCE(r.kind, '') AS kind,
		COALESCE(u.id, '') AS id, COALESCE(u.name, '') AS name, COALESCE(u.role, '') AS role, COALESCE(u.bot, {{false}}) AS bot,
		COALESCE(u.display_name, '') AS display_name, COALESCE(u.avatar, '') AS avatar,
		EXISTS (SELECT 1 FROM members m WHERE m.room_id = t.room_id AND m.user_id = t.sender_id) AS member,
		COALESCE((SELECT x.id FROM messages x WHERE x.sender_id = t.sender_id AND x.client_id = t.client_id), '') AS dup,
		COALESCE((SELECT y.room_id FROM messages y WHERE y.id = t.reply_to), '') AS reply_room,
		COALESCE(r.archived, {{false}}) AS archived
	FROM {{send_rows}} LEFT JOIN rooms r ON r.id = t.room_id LEFT JOIN users u ON u.id = t.sender_id`

// scanSendFacts reads a row of sendFactsSQL into the transaction's scratch
// space, so that reading a send's facts allocates nothing of its own, and
// returns the send of ws the row is about (by its ord).
func scanSendFacts(w *wtx, r row, ws []*sendWork) (*sendWork, error) {
	sc := &w.scratch
	sc.facts = store.SendFacts{}
	if err := r.Scan(&sc.ord, &sc.facts.Room.Kind, &sc.facts.Sender.ID, &sc.facts.Sender.Name, &sc.facts.Sender.Role, &sc.facts.Sender.Bot,
		&sc.facts.Sender.DisplayName, &sc.facts.Sender.Avatar,
		&sc.facts.Room.Member, &sc.dup, &sc.facts.ReplyRoom, &sc.facts.Room.Archived); err != nil {
		return nil, err
	}
	if sc.ord < 1 || int(sc.ord) > len(ws) {
		return nil, fmt.Errorf("send facts: row %d of %d", sc.ord, len(ws))
	}
	sc.facts.Duplicate = sc.dup != ""
	return ws[sc.ord-1], nil
}

// decide asks a send's rule about the facts just read (w.scratch, with
// files, the records of the attachments of the sends being read), and
// prepares what follows: nothing (refused), the answer of a duplicate, or
// a new message.
func (w *wtx) decide(sw *sendWork, files map[string]store.File) {
	f := &w.scratch.facts
	if n := len(sw.req.Attachments); n > 0 {
		f.Files = make([]store.File, n)
		for i, id := range sw.req.Attachments {
			f.Files[i] = files[id] // the zero File when unknown
		}
	}
	sw.decided = true
	sw.seen = sendSeen{kind: f.Room.Kind, uid: f.Sender.ID, name: f.Sender.Name, role: f.Sender.Role,
		member: f.Room.Member, archived: f.Room.Archived, dup: w.scratch.dup, replyRoom: f.ReplyRoom}
	if sw.err = sw.rule(&sw.req, f); sw.err != nil {
		return
	}
	if f.Duplicate {
		sw.dupID = w.scratch.dup
		return
	}
	sw.err = sw.plan(f, w.s.opts.Now())
}

// runSends stores a row of consecutive sends of a batch, with as few
// statements for the whole row as the dialect manages. Should those fail
// (on Postgres: another node stored the same client_id a moment ago, or a
// deadlock), nothing of the row is stored, and each send runs again on its
// own, under its own savepoint, as any other write. The caller makes sure
// that no two sends of the row share a sender and client_id, so that no
// send's facts depend on an earlier send of the row.
func (s *Store) runSends(w *wtx, row []*op) {
	ws := s.row.work[:0]
	for _, o := range row {
		ws = append(ws, o.send)
	}
	s.row.work = ws
	if err := s.sendRow(w, ws); err == nil {
		return
	}
	for _, o := range row {
		_, o.send.err = s.runOp(w, o)
	}
}

// sendRow runs sends: the dialect reads their facts and decides each send
// as it reads it; then duplicates are answered and the rest stored. The
// sends' own outcomes are in their work; an error means the row's
// statements failed and nothing of it was stored.
func (s *Store) sendRow(w *wtx, ws []*sendWork) error {
	resetSends(ws)
	if err := s.d.sendFacts(w, ws); err != nil {
		return fmt.Errorf("read the facts of sends: %w", err)
	}
	pending := s.row.pending[:0]
	defer func() { s.row.pending = pending }()
	for _, sw := range ws {
		switch {
		case !sw.decided:
			sw.err = fmt.Errorf("send to room %s: no facts read", sw.req.RoomID)
		case sw.err != nil:
		case sw.dupID != "":
			// A retry of a stored message: answer with the original in its
			// current state; store nothing, emit nothing.
			sw.msg, sw.err = s.message(w.ctx, w.db, sw.dupID)
			sw.dup = sw.err == nil
		default:
			pending = append(pending, sw)
		}
	}
	if len(pending) == 0 {
		return nil
	}
	return s.d.insertSends(w, pending)
}

// resetSends clears what an earlier run of sends left in their work.
func resetSends(ws []*sendWork) {
	for _, sw := range ws {
		sw.decided, sw.err, sw.dupID, sw.msg, sw.dup = false, nil, "", protocol.Message{}, false
	}
}

// plan builds the message of a send the rule let through, all but its seq.
// What the rule cannot overrule — a room, a sender or a file that does not
// exist — is refused here.
func (sw *sendWork) plan(f *store.SendFacts, now time.Time) error {
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
		Attachments: atts, Via: sw.req.Via,
	}
	if sw.req.Kind == protocol.KindMe {
		sw.msg.Kind = protocol.KindMe
	}
	return nil
}

// attachmentList is how messages.attachments stores a send's file ids.
func (sw *sendWork) attachmentList() string { return strings.Join(sw.req.Attachments, " ") }

// appendMessageSQL appends a message to room $1's log at its next seq
// ({{seq}}: see the dialects) and returns that seq.
const appendMessageSQL = `{{seq_with}}INSERT INTO messages (room_id, seq, id, kind, sender_id, text, ts, client_id, reply_to, attachments, style, via)
	SELECT $1, {{seq}}, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11{{seq_from}} RETURNING seq`

// kindChat is the kind of a chat message as an argument, made once.
var kindChat any = protocol.KindChat

// insertMessage stores the message of one send, alone.
func (w *wtx) insertMessage(sw *sendWork) error {
	m := &sw.msg
	err := w.scan(appendMessageSQL, []any{m.Room, m.ID, kindChat, sw.req.SenderID, m.Text, sw.ts,
		nullString(m.ClientID), nullString(m.ReplyTo), sw.attachmentList(), sw.style(), sw.viaJSON()}, &m.Seq)
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
