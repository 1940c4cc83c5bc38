package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"minichat/server/protocol"
	"minichat/server/store"
)

// Send appends a chat message to a room's log.
func (s *Store) Send(ctx context.Context, req store.SendRequest) (protocol.Message, bool, error) {
	var (
		msg protocol.Message
		dup bool
	)
	// A send without attachments changes the database with one INSERT
	// (its triggers index the text), atomic by itself, so it needs no
	// savepoint: every check before it only reads. Links to attachments
	// are more statements, which a savepoint keeps together.
	o := &op{fn: s.sendOp(ctx, req, &msg, &dup), atomic: len(req.Attachments) == 0}
	err := s.q.Submit(ctx, o)
	if err != nil {
		return protocol.Message{}, false, fmt.Errorf("send: %w", err)
	}
	return msg, dup, nil
}

// SendAsync is Send without waiting; see store.Store.
func (s *Store) SendAsync(ctx context.Context, req store.SendRequest, done func(protocol.Message, bool, error)) {
	if err := ctx.Err(); err != nil {
		done(protocol.Message{}, false, err)
		return
	}
	var (
		msg protocol.Message
		dup bool
	)
	o := &op{fn: s.sendOp(ctx, req, &msg, &dup), atomic: len(req.Attachments) == 0}
	if !s.q.Async(o, func(err error) {
		if err != nil {
			done(protocol.Message{}, false, fmt.Errorf("send: %w", err))
			return
		}
		done(msg, dup, nil)
	}) {
		done(protocol.Message{}, false, ErrClosed)
	}
}

// sendOp is the write of a send; it stores its results in msg and dup.
func (s *Store) sendOp(ctx context.Context, req store.SendRequest, msgOut *protocol.Message, dupOut *bool) func(w *stmtCache) ([]store.Event, error) {
	return func(w *stmtCache) ([]store.Event, error) {
		msg, dup, evs, err := s.sendTx(ctx, w, req)
		*msgOut, *dupOut = msg, dup
		return evs, err
	}
}

// sendTx stores one chat message inside the writer's transaction.
func (s *Store) sendTx(ctx context.Context, w *stmtCache, req store.SendRequest) (msg protocol.Message, dup bool, _ []store.Event, _ error) {
	evs, err := func() ([]store.Event, error) {
		var (
			sender protocol.User
			dupID  sql.NullString
		)
		// One lookup answers both: is the sender a member, and did they
		// already send this client_id (NULL never matches)?
		err := w.queryRow(ctx, `SELECT u.id, u.name, u.role,
				(SELECT x.id FROM messages x WHERE x.sender_id = ?2 AND x.client_id = ?3)
			FROM members m JOIN users u ON u.id = m.user_id
			WHERE m.room_id = ?1 AND m.user_id = ?2`, req.RoomID, req.SenderID, nullString(req.ClientID)).
			Scan(&sender.ID, &sender.Name, &sender.Role, &dupID)
		if errors.Is(err, sql.ErrNoRows) {
			return nil, notMember(ctx, w, req.RoomID, req.SenderID)
		}
		if err != nil {
			return nil, err
		}
		if dupID.Valid {
			// A retry of a stored message: answer with the original in its
			// current state; store nothing, emit nothing.
			msg, err = messageByID(ctx, w, dupID.String)
			dup = true
			return nil, err
		}
		if req.ReplyTo != "" {
			var room string
			err := w.queryRow(ctx, `SELECT room_id FROM messages WHERE id = ?`, req.ReplyTo).Scan(&room)
			if errors.Is(err, sql.ErrNoRows) || (err == nil && room != req.RoomID) {
				return nil, fmt.Errorf("reply_to %s in room %s: %w", req.ReplyTo, req.RoomID, store.ErrNotFound)
			}
			if err != nil {
				return nil, err
			}
		}
		var files []protocol.Attachment
		for _, id := range req.Attachments {
			f, err := fileByID(ctx, w, id)
			if err == nil && f.UploaderID != req.SenderID {
				err = fmt.Errorf("file %s of another user: %w", id, store.ErrNotFound)
			}
			if err != nil {
				return nil, fmt.Errorf("attachment: %w", err)
			}
			files = append(files, f.Attachment())
		}
		now := s.opts.Now()
		ts := now.UnixMilli()
		msg = protocol.Message{
			ID: store.NewMessageID(now), Room: req.RoomID, Kind: protocol.KindChat, Sender: &sender,
			Text: req.Text, TS: formatMilli(ts), ClientID: req.ClientID, ReplyTo: req.ReplyTo,
			Attachments: files,
		}
		attachments := strings.Join(req.Attachments, " ")
		if err := w.queryRow(ctx, `INSERT INTO messages (room_id, seq, id, kind, sender_id, text, ts, client_id, reply_to, attachments)
			VALUES (?1, `+seqExpr+`, ?2, 'chat', ?3, ?4, ?5, ?6, ?7, ?8) RETURNING seq`,
			req.RoomID, msg.ID, req.SenderID, req.Text, ts, nullString(req.ClientID), nullString(req.ReplyTo), attachments).
			Scan(&msg.Seq); err != nil {
			return nil, err
		}
		for _, id := range req.Attachments {
			if _, err := w.exec(ctx, `INSERT INTO message_files (message_id, file_id, room_id) VALUES (?, ?, ?)
				ON CONFLICT DO NOTHING`, msg.ID, id, req.RoomID); err != nil {
				return nil, err
			}
		}
		return []store.Event{{Kind: store.EventMessage, RoomID: req.RoomID, Seq: msg.Seq, Message: msg}}, nil
	}()
	return msg, dup, evs, err
}

// notMember explains why a user may not write to a room: ErrNotFound when
// the room does not exist, ErrForbidden otherwise.
func notMember(ctx context.Context, w *stmtCache, roomID, userID string) error {
	var exists bool
	if err := w.queryRow(ctx, `SELECT EXISTS (SELECT 1 FROM rooms WHERE id = ?)`, roomID).Scan(&exists); err != nil {
		return err
	}
	if !exists {
		return fmt.Errorf("room %s: %w", roomID, store.ErrNotFound)
	}
	return fmt.Errorf("user %s is not a member of room %s: %w", userID, roomID, store.ErrForbidden)
}

func nullString(s string) sql.NullString { return sql.NullString{String: s, Valid: s != ""} }

// target loads a message of a room for a change by userID: ErrNotFound when
// it is not in that room, ErrForbidden when userID is neither its sender nor
// an admin.
func target(ctx context.Context, w *stmtCache, roomID, msgID, userID string, admin bool) (protocol.Message, error) {
	m, err := messageByID(ctx, w, msgID)
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
func logUpdate(ctx context.Context, w *stmtCache, roomID, msgID string) (store.Event, error) {
	var seq int64
	if err := w.queryRow(ctx, `INSERT INTO updates (room_id, seq, message_id) VALUES (?1, `+seqExpr+`, ?2) RETURNING seq`,
		roomID, msgID).Scan(&seq); err != nil {
		return store.Event{}, err
	}
	m, err := messageByID(ctx, w, msgID)
	if err != nil {
		return store.Event{}, err
	}
	return store.Event{Kind: store.EventUpdate, RoomID: roomID, Seq: seq, Message: m}, nil
}

// Edit replaces the text of a chat message.
func (s *Store) Edit(ctx context.Context, roomID, msgID, userID string, admin bool, text string) (protocol.Message, error) {
	var msg protocol.Message
	err := s.write(ctx, func(w *stmtCache) ([]store.Event, error) {
		m, err := target(ctx, w, roomID, msgID, userID, admin)
		if err != nil {
			return nil, err
		}
		if m.Deleted {
			return nil, fmt.Errorf("message %s is deleted: %w", msgID, store.ErrNotFound)
		}
		if m.Kind != protocol.KindChat {
			return nil, fmt.Errorf("edit a %s message: %w", m.Kind, store.ErrForbidden)
		}
		if _, err := w.exec(ctx, `UPDATE messages SET text = ?, edited_at = ? WHERE id = ?`,
			text, s.opts.Now().UnixMilli(), msgID); err != nil {
			return nil, err
		}
		ev, err := logUpdate(ctx, w, roomID, msgID)
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
	err := s.write(ctx, func(w *stmtCache) ([]store.Event, error) {
		m, err := target(ctx, w, roomID, msgID, userID, admin)
		if err != nil {
			return nil, err
		}
		if m.Deleted {
			msg = m // deleting twice changes nothing
			return nil, nil
		}
		if _, err := w.exec(ctx, `UPDATE messages SET text = '', deleted = 1, reactions = 0, attachments = '' WHERE id = ?`, msgID); err != nil {
			return nil, err
		}
		if _, err := w.exec(ctx, `DELETE FROM reactions WHERE message_id = ?`, msgID); err != nil {
			return nil, err
		}
		if _, err := w.exec(ctx, `DELETE FROM message_files WHERE message_id = ?`, msgID); err != nil {
			return nil, err
		}
		ev, err := logUpdate(ctx, w, roomID, msgID)
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
	err := s.write(ctx, func(w *stmtCache) ([]store.Event, error) {
		in, err := isMember(ctx, w, roomID, userID)
		if err != nil {
			return nil, err
		}
		if !in {
			return nil, notMember(ctx, w, roomID, userID)
		}
		m, err := messageByID(ctx, w, msgID)
		if err != nil {
			return nil, err
		}
		if m.Room != roomID || m.Deleted {
			return nil, fmt.Errorf("message %s in room %s: %w", msgID, roomID, store.ErrNotFound)
		}
		var res sql.Result
		if on {
			res, err = w.exec(ctx, `INSERT INTO reactions (message_id, emoji, user_id) VALUES (?, ?, ?)
				ON CONFLICT DO NOTHING`, msgID, emoji, userID)
		} else {
			res, err = w.exec(ctx, `DELETE FROM reactions WHERE message_id = ? AND emoji = ? AND user_id = ?`, msgID, emoji, userID)
		}
		if err != nil {
			return nil, err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return nil, err
		}
		if n == 0 {
			msg = m
			return nil, nil
		}
		if !on {
			n = -n
		}
		if _, err := w.exec(ctx, `UPDATE messages SET reactions = reactions + ? WHERE id = ?`, n, msgID); err != nil {
			return nil, err
		}
		ev, err := logUpdate(ctx, w, roomID, msgID)
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
	if limit <= 0 {
		limit = protocol.DefaultHistory
	}
	if before <= 0 {
		before = 1<<63 - 1
	}
	rows, err := s.reads.query(ctx, `SELECT `+msgCols+` FROM `+msgFrom+`
		WHERE m.room_id = ? AND m.seq < ? ORDER BY m.seq DESC LIMIT ?`, roomID, before, limit+1)
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
	if err := loadDetails(ctx, s.reads, msgs); err != nil {
		return nil, false, fmt.Errorf("history: %w", err)
	}
	out := make([]protocol.Message, len(msgs))
	for i, m := range msgs {
		out[len(msgs)-1-i] = m.Message // newest first from the query, oldest first out
	}
	return out, more, nil
}

func scanMessages(rows *sql.Rows) ([]scanned, error) {
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
// one snapshot and the result has no gap; each half is a range scan of its
// (room_id, seq) key, merged in seq order.
func (s *Store) Since(ctx context.Context, roomID string, after int64, limit int) ([]store.Event, error) {
	if limit <= 0 {
		limit = protocol.MaxReplay
	}
	rows, err := s.reads.query(ctx, `
		SELECT * FROM (SELECT m.seq AS lseq, 0 AS upd, `+msgCols+` FROM `+msgFrom+`
			WHERE m.room_id = ?1 AND m.seq > ?2 ORDER BY m.seq LIMIT ?3)
		UNION ALL
		SELECT * FROM (SELECT l.seq AS lseq, 1 AS upd, `+msgCols+` FROM updates l
			JOIN messages m ON m.id = l.message_id LEFT JOIN users u ON u.id = m.sender_id
			WHERE l.room_id = ?1 AND l.seq > ?2 ORDER BY l.seq LIMIT ?3)
		ORDER BY lseq LIMIT ?3`, roomID, after, limit)
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
	if err := loadDetails(ctx, s.reads, msgs); err != nil {
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
	err := s.write(ctx, func(w *stmtCache) ([]store.Event, error) {
		res, err := w.exec(ctx, `UPDATE members
			SET read_seq = MAX(read_seq, MIN(?3, (SELECT last_seq FROM rooms WHERE id = ?1)))
			WHERE room_id = ?1 AND user_id = ?2`, roomID, userID, seq)
		if err != nil {
			return nil, err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil, fmt.Errorf("user %s in room %s: %w", userID, roomID, store.ErrNotFound)
		}
		return nil, nil
	})
	if err != nil {
		return fmt.Errorf("set read: %w", err)
	}
	return nil
}
