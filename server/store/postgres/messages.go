package postgres

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"minichat/server/protocol"
	"minichat/server/store"
)

// Send appends a chat message to a room's log.
func (s *Store) Send(ctx context.Context, req store.SendRequest) (protocol.Message, bool, error) {
	o := s.sendOp(req)
	if err := s.q.Submit(ctx, o); err != nil {
		return protocol.Message{}, false, fmt.Errorf("send: %w", err)
	}
	return o.send.msg, o.send.dup, nil
}

// SendAsync is Send without waiting; see store.Store.
func (s *Store) SendAsync(ctx context.Context, req store.SendRequest, done func(protocol.Message, bool, error)) {
	if err := ctx.Err(); err != nil {
		done(protocol.Message{}, false, err)
		return
	}
	o := s.sendOp(req)
	if !s.q.Async(o, func(err error) {
		if err != nil {
			done(protocol.Message{}, false, fmt.Errorf("send: %w", err))
			return
		}
		done(o.send.msg, o.send.dup, nil)
	}) {
		done(protocol.Message{}, false, ErrClosed)
	}
}

// sendOp is the write of a send. The writer runs a row of consecutive sends
// pipelined (runSends) and falls back to fn, one send at a time.
func (s *Store) sendOp(req store.SendRequest) *op {
	w := &sendWork{req: req}
	return &op{send: w, rooms: []string{req.RoomID}, fn: func(ctx context.Context, tx pgx.Tx) ([]store.Event, error) {
		var err error
		w.msg, w.dup, err = s.sendTx(ctx, tx, req)
		if err != nil || w.dup {
			return nil, err
		}
		return []store.Event{{Kind: store.EventMessage, RoomID: req.RoomID, Seq: w.msg.Seq, Message: w.msg}}, nil
	}}
}

// sendWork is a send's request and, once run, its results.
type sendWork struct {
	req store.SendRequest
	msg protocol.Message
	dup bool
}

// sendCheckSQL answers, in one lookup, whether the sender ($2) is a member
// of the room ($1) (no row otherwise) and who they are, whether they
// already sent this client_id ($3; NULL never matches), and in which room
// the message replied to ($4) is.
const sendCheckSQL = `SELECT u.id, u.name, u.role,
		(SELECT x.id FROM messages x WHERE x.sender_id = $2 AND x.client_id = $3),
		(SELECT y.room_id FROM messages y WHERE y.id = $4)
	FROM members m JOIN users u ON u.id = m.user_id
	WHERE m.room_id = $1 AND m.user_id = $2`

func sendCheckArgs(req store.SendRequest) []any {
	return []any{req.RoomID, req.SenderID, nullString(req.ClientID), nullString(req.ReplyTo)}
}

// sendCheck is what sendCheckSQL found.
type sendCheck struct {
	member    bool
	sender    protocol.User
	dupID     *string
	replyRoom *string
}

func scanSendCheck(row scanner) (sendCheck, error) {
	var c sendCheck
	err := row.Scan(&c.sender.ID, &c.sender.Name, &c.sender.Role, &c.dupID, &c.replyRoom)
	if isNoRows(err) {
		return c, nil
	}
	c.member = err == nil
	return c, err
}

// sendInsertSQL takes the room's next seq and stores the message.
const sendInsertSQL = nextSeq + `INSERT INTO messages (room_id, seq, id, kind, sender_id, text, ts, client_id, reply_to, attachments)
	SELECT $1, last_seq, $2, 'chat', $3, $4, $5, $6, $7, $8 FROM next RETURNING seq`

// sendFilesSQL links a message to its attachments.
const sendFilesSQL = `INSERT INTO message_files (message_id, file_id, room_id)
	SELECT $1, f, $2 FROM unnest($3::text[]) f ON CONFLICT DO NOTHING`

// plannedSend is a checked send about to be inserted: its message (no seq
// yet), time and stored attachment list.
type plannedSend struct {
	msg         protocol.Message
	ts          int64
	attachments string
}

// planSend checks a send that is not a duplicate against what sendCheckSQL
// and the attachments' records (files) say, and builds its message.
func (s *Store) planSend(req store.SendRequest, c sendCheck, files map[string]store.File) (plannedSend, error) {
	if err := checkText(req.Text); err != nil {
		return plannedSend{}, err
	}
	if req.ReplyTo != "" && (c.replyRoom == nil || *c.replyRoom != req.RoomID) {
		return plannedSend{}, fmt.Errorf("reply_to %s in room %s: %w", req.ReplyTo, req.RoomID, store.ErrNotFound)
	}
	var atts []protocol.Attachment
	for _, id := range req.Attachments {
		f, ok := files[id]
		if !ok || f.UploaderID != req.SenderID {
			return plannedSend{}, fmt.Errorf("attachment: file %s of the sender: %w", id, store.ErrNotFound)
		}
		atts = append(atts, f.Attachment())
	}
	now := s.opts.Now()
	ts := now.UnixMilli()
	sender := c.sender
	msg := protocol.Message{
		ID: store.NewMessageID(now), Room: req.RoomID, Kind: protocol.KindChat, Sender: &sender,
		Text: req.Text, TS: formatMilli(ts), ClientID: req.ClientID, ReplyTo: req.ReplyTo,
		Attachments: atts,
	}
	return plannedSend{msg: msg, ts: ts, attachments: strings.Join(req.Attachments, " ")}, nil
}

func sendInsertArgs(req store.SendRequest, p plannedSend) []any {
	return []any{req.RoomID, p.msg.ID, req.SenderID, req.Text, p.ts, nullString(req.ClientID), nullString(req.ReplyTo), p.attachments}
}

// sendTx stores one chat message inside the writer's transaction. A
// client_id stored by another node at the same moment makes the insert fail
// on messages_client; the writer then runs sendTx again, which finds the
// other node's message and answers with it as a duplicate.
func (s *Store) sendTx(ctx context.Context, tx pgx.Tx, req store.SendRequest) (protocol.Message, bool, error) {
	c, err := scanSendCheck(tx.QueryRow(ctx, sendCheckSQL, sendCheckArgs(req)...))
	if err != nil {
		return protocol.Message{}, false, err
	}
	if !c.member {
		return protocol.Message{}, false, notMember(ctx, tx, req.RoomID, req.SenderID)
	}
	if c.dupID != nil {
		// A retry of a stored message: answer with the original in its
		// current state; store nothing, emit nothing.
		msg, err := messageByID(ctx, tx, *c.dupID)
		return msg, true, err
	}
	var files map[string]store.File
	if len(req.Attachments) > 0 {
		if files, err = filesByID(ctx, tx, req.Attachments); err != nil {
			return protocol.Message{}, false, err
		}
	}
	p, err := s.planSend(req, c, files)
	if err != nil {
		return protocol.Message{}, false, err
	}
	msg := p.msg
	if err := tx.QueryRow(ctx, sendInsertSQL, sendInsertArgs(req, p)...).Scan(&msg.Seq); err != nil {
		return protocol.Message{}, false, err
	}
	if len(req.Attachments) > 0 {
		if _, err := tx.Exec(ctx, sendFilesSQL, msg.ID, req.RoomID, req.Attachments); err != nil {
			return protocol.Message{}, false, err
		}
	}
	return msg, false, nil
}

// checkText refuses text Postgres cannot store: a NUL character (U+0000),
// valid UTF-8 but not allowed in a text value.
func checkText(text string) error {
	if strings.IndexByte(text, 0) >= 0 {
		return fmt.Errorf("text with a NUL character: %w", store.ErrInvalid)
	}
	return nil
}

// notMember explains why a user may not write to a room: ErrNotFound when
// the room does not exist, ErrForbidden otherwise.
func notMember(ctx context.Context, q querier, roomID, userID string) error {
	var exists bool
	if err := q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM rooms WHERE id = $1)`, roomID).Scan(&exists); err != nil {
		return err
	}
	if !exists {
		return fmt.Errorf("room %s: %w", roomID, store.ErrNotFound)
	}
	return fmt.Errorf("user %s is not a member of room %s: %w", userID, roomID, store.ErrForbidden)
}

// target loads a message of a room for a change by userID: ErrNotFound when
// it is not in that room, ErrForbidden when userID is neither its sender nor
// an admin.
func target(ctx context.Context, q querier, roomID, msgID, userID string, admin bool) (protocol.Message, error) {
	m, err := messageByID(ctx, q, msgID)
	if err != nil {
		return m, err
	}
	if m.Room != roomID {
		return m, fmt.Errorf("message %s in room %s: %w", msgID, roomID, store.ErrNotFound)
	}
	if !admin && (m.Sender == nil || m.Sender.ID != userID) {
		return m, fmt.Errorf("change message %s: %w", msgID, store.ErrForbidden)
	}
	return m, nil
}

// logUpdate takes the room's next seq for a change of msgID and returns its
// EventUpdate with the message's current state.
func logUpdate(ctx context.Context, tx pgx.Tx, roomID, msgID string) (store.Event, error) {
	var seq int64
	if err := tx.QueryRow(ctx, nextSeq+`INSERT INTO updates (room_id, seq, message_id)
		SELECT $1, last_seq, $2 FROM next RETURNING seq`, roomID, msgID).Scan(&seq); err != nil {
		return store.Event{}, err
	}
	m, err := messageByID(ctx, tx, msgID)
	if err != nil {
		return store.Event{}, err
	}
	return store.Event{Kind: store.EventUpdate, RoomID: roomID, Seq: seq, Message: m}, nil
}

// Edit replaces the text of a chat message.
func (s *Store) Edit(ctx context.Context, roomID, msgID, userID string, admin bool, text string) (protocol.Message, error) {
	var msg protocol.Message
	err := s.write(ctx, []string{roomID}, func(ctx context.Context, tx pgx.Tx) ([]store.Event, error) {
		m, err := target(ctx, tx, roomID, msgID, userID, admin)
		if err != nil {
			return nil, err
		}
		if m.Deleted {
			return nil, fmt.Errorf("message %s is deleted: %w", msgID, store.ErrNotFound)
		}
		if m.Kind != protocol.KindChat {
			return nil, fmt.Errorf("edit a %s message: %w", m.Kind, store.ErrForbidden)
		}
		if err := checkText(text); err != nil {
			return nil, err
		}
		if _, err := tx.Exec(ctx, `UPDATE messages SET text = $1, edited_at = $2 WHERE id = $3`,
			text, s.opts.Now().UnixMilli(), msgID); err != nil {
			return nil, err
		}
		ev, err := logUpdate(ctx, tx, roomID, msgID)
		msg = ev.Message
		return []store.Event{ev}, err
	})
	if err != nil {
		return protocol.Message{}, fmt.Errorf("edit: %w", err)
	}
	return msg, nil
}

// Delete turns a message into a tombstone: deleted, text, reactions and
// attachments gone.
func (s *Store) Delete(ctx context.Context, roomID, msgID, userID string, admin bool) (protocol.Message, error) {
	var msg protocol.Message
	err := s.write(ctx, []string{roomID}, func(ctx context.Context, tx pgx.Tx) ([]store.Event, error) {
		m, err := target(ctx, tx, roomID, msgID, userID, admin)
		if err != nil {
			return nil, err
		}
		if m.Deleted {
			msg = m // deleting twice changes nothing
			return nil, nil
		}
		if _, err := tx.Exec(ctx, `UPDATE messages SET text = '', deleted = true, reactions = 0, attachments = '' WHERE id = $1`, msgID); err != nil {
			return nil, err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM reactions WHERE message_id = $1`, msgID); err != nil {
			return nil, err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM message_files WHERE message_id = $1`, msgID); err != nil {
			return nil, err
		}
		ev, err := logUpdate(ctx, tx, roomID, msgID)
		msg = ev.Message
		return []store.Event{ev}, err
	})
	if err != nil {
		return protocol.Message{}, fmt.Errorf("delete: %w", err)
	}
	return msg, nil
}

// React adds or removes the user's reaction; a change that changes nothing
// emits nothing.
func (s *Store) React(ctx context.Context, roomID, msgID, userID, emoji string, on bool) (protocol.Message, error) {
	var msg protocol.Message
	err := s.write(ctx, []string{roomID}, func(ctx context.Context, tx pgx.Tx) ([]store.Event, error) {
		in, err := isMember(ctx, tx, roomID, userID)
		if err != nil {
			return nil, err
		}
		if !in {
			return nil, notMember(ctx, tx, roomID, userID)
		}
		m, err := messageByID(ctx, tx, msgID)
		if err != nil {
			return nil, err
		}
		if m.Room != roomID || m.Deleted {
			return nil, fmt.Errorf("message %s in room %s: %w", msgID, roomID, store.ErrNotFound)
		}
		var n int64
		if on {
			tag, err := tx.Exec(ctx, `INSERT INTO reactions (message_id, emoji, user_id) VALUES ($1, $2, $3)
				ON CONFLICT DO NOTHING`, msgID, emoji, userID)
			if err != nil {
				return nil, err
			}
			n = tag.RowsAffected()
		} else {
			tag, err := tx.Exec(ctx, `DELETE FROM reactions WHERE message_id = $1 AND emoji = $2 AND user_id = $3`, msgID, emoji, userID)
			if err != nil {
				return nil, err
			}
			n = -tag.RowsAffected()
		}
		if n == 0 {
			msg = m
			return nil, nil
		}
		if _, err := tx.Exec(ctx, `UPDATE messages SET reactions = reactions + $1 WHERE id = $2`, n, msgID); err != nil {
			return nil, err
		}
		ev, err := logUpdate(ctx, tx, roomID, msgID)
		msg = ev.Message
		return []store.Event{ev}, err
	})
	if err != nil {
		return protocol.Message{}, fmt.Errorf("react: %w", err)
	}
	return msg, nil
}

// History returns up to limit messages with seq < before (before <= 0: the
// newest), oldest first, and whether older ones exist. It walks the
// (room_id, seq) primary key backwards from before.
func (s *Store) History(ctx context.Context, roomID string, before int64, limit int) ([]protocol.Message, bool, error) {
	q, err := s.reads()
	if err != nil {
		return nil, false, fmt.Errorf("history: %w", err)
	}
	if limit <= 0 {
		limit = protocol.DefaultHistory
	}
	if before <= 0 {
		before = 1<<63 - 1
	}
	rows, err := q.Query(ctx, `SELECT `+msgCols+` FROM `+msgFrom+`
		WHERE m.room_id = $1 AND m.seq < $2 ORDER BY m.seq DESC LIMIT $3`, roomID, before, limit+1)
	if err != nil {
		return nil, false, fmt.Errorf("history: %w", err)
	}
	msgs, err := scanMessages(rows)
	if err != nil {
		return nil, false, fmt.Errorf("history: %w", err)
	}
	more := len(msgs) > limit
	if more {
		msgs = msgs[:limit]
	}
	if err := loadDetails(ctx, q, msgs); err != nil {
		return nil, false, fmt.Errorf("history: %w", err)
	}
	out := make([]protocol.Message, len(msgs))
	for i, m := range msgs {
		out[len(msgs)-1-i] = m.Message
	}
	return out, more, nil
}

func scanMessages(rows pgx.Rows) ([]scanned, error) {
	defer rows.Close()
	var out []scanned
	for rows.Next() {
		m, err := scanMessage(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// Since returns the log entries of a room with seq > after, oldest first, at
// most limit. One statement reads both halves of the log, so they come from
// one snapshot; a room's seqs are committed in order (the room's row lock),
// so a snapshot never holds a later seq without the earlier ones.
func (s *Store) Since(ctx context.Context, roomID string, after int64, limit int) ([]store.Event, error) {
	q, err := s.reads()
	if err != nil {
		return nil, fmt.Errorf("since: %w", err)
	}
	if limit <= 0 {
		limit = protocol.MaxReplay
	}
	rows, err := q.Query(ctx, `
		SELECT * FROM (
			(SELECT m.seq AS lseq, false AS upd, `+msgCols+` FROM `+msgFrom+`
				WHERE m.room_id = $1 AND m.seq > $2 ORDER BY m.seq LIMIT $3)
			UNION ALL
			(SELECT l.seq AS lseq, true AS upd, `+msgCols+` FROM updates l
				JOIN messages m ON m.id = l.message_id LEFT JOIN users u ON u.id = m.sender_id
				WHERE l.room_id = $1 AND l.seq > $2 ORDER BY l.seq LIMIT $3)
		) log ORDER BY lseq LIMIT $3`, roomID, after, limit)
	if err != nil {
		return nil, fmt.Errorf("since: %w", err)
	}
	defer rows.Close()
	var (
		msgs  []scanned
		seqs  []int64
		kinds []store.EventKind
	)
	for rows.Next() {
		var (
			seq int64
			upd bool
		)
		m, err := scanMessage(rows, &seq, &upd)
		if err != nil {
			return nil, fmt.Errorf("since: %w", err)
		}
		kind := store.EventMessage
		if upd {
			kind = store.EventUpdate
		}
		msgs, seqs, kinds = append(msgs, m), append(seqs, seq), append(kinds, kind)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("since: %w", err)
	}
	if err := loadDetails(ctx, q, msgs); err != nil {
		return nil, fmt.Errorf("since: %w", err)
	}
	out := make([]store.Event, len(msgs))
	for i, m := range msgs {
		out[i] = store.Event{Kind: kinds[i], RoomID: roomID, Seq: seqs[i], Message: m.Message}
	}
	return out, nil
}

// SetRead moves the user's read marker forward to seq, clamped to the
// room's last seq (ErrNotFound when the user is not a member).
func (s *Store) SetRead(ctx context.Context, roomID, userID string, seq int64) error {
	err := s.write(ctx, nil, func(ctx context.Context, tx pgx.Tx) ([]store.Event, error) {
		tag, err := tx.Exec(ctx, `UPDATE members
			SET read_seq = GREATEST(read_seq, LEAST($3, (SELECT last_seq FROM rooms WHERE id = $1)))
			WHERE room_id = $1 AND user_id = $2`, roomID, userID, seq)
		if err != nil {
			return nil, err
		}
		if tag.RowsAffected() == 0 {
			return nil, fmt.Errorf("user %s in room %s: %w", userID, roomID, store.ErrNotFound)
		}
		return nil, nil
	})
	if err != nil {
		return fmt.Errorf("set read: %w", err)
	}
	return nil
}
