package sqlstore

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"minichat/server/protocol"
	"minichat/server/store"
)

// msgCols are the columns scanMessage reads, from msgFrom. Columns that may
// be NULL come as empty values instead: a NULL scans only into a pointer,
// which costs an allocation per value.
const msgCols = `m.id, m.room_id, m.seq, m.kind, COALESCE(m.sender_id, '') AS sender_id,
	COALESCE(u.name, '') AS sender_name, COALESCE(u.role, '') AS sender_role, COALESCE(u.bot, {{false}}) AS sender_bot,
	COALESCE(u.display_name, '') AS sender_display, COALESCE(u.avatar, '') AS sender_avatar, m.text, m.ts,
	COALESCE(m.client_id, '') AS client_id, COALESCE(m.edited_at, 0) AS edited_at, m.deleted,
	COALESCE(m.reply_to, '') AS reply_to, m.attachments, m.reactions,
	COALESCE(m.style, '') AS style, COALESCE(m.via, '') AS via, COALESCE(m.preview, '') AS preview`

// msgFrom is the FROM clause that goes with msgCols.
const msgFrom = `messages m LEFT JOIN users u ON u.id = m.sender_id`

// scanned is a message read from the database; reactions counts its rows in
// reactions and attachments lists its file ids, both still to be loaded
// into Reactions and Attachments by loadDetails.
type scanned struct {
	protocol.Message
	reactions   int
	attachments string
	// style, via and preview are the columns of step 13 (hooks.go).
	style, via, preview string
}

// scanMessage reads msgCols, after the extra columns before them.
func scanMessage(r row, extra ...any) (scanned, error) {
	var (
		m        scanned
		sender   protocol.User
		ts       int64
		editedAt int64
	)
	dest := append(extra, &m.ID, &m.Room, &m.Seq, &m.Kind, &sender.ID, &sender.Name, &sender.Role, &sender.Bot, &sender.DisplayName, &sender.Avatar, &m.Text, &ts,
		&m.ClientID, &editedAt, &m.Deleted, &m.ReplyTo, &m.attachments, &m.reactions, &m.style, &m.via, &m.preview)
	if err := r.Scan(dest...); err != nil {
		return m, err
	}
	if err := m.extras(); err != nil {
		return m, err
	}
	if sender.ID != "" {
		m.Sender = &sender
	}
	m.TS = formatMilli(ts)
	if editedAt != 0 {
		m.EditedAt = formatMilli(editedAt)
	}
	return m, nil
}

func formatMilli(ms int64) string { return protocol.FormatTime(time.UnixMilli(ms)) }

// queryMessages runs q, which selects msgCols, and returns its messages.
func queryMessages(ctx context.Context, q db, sql string, args ...any) ([]scanned, error) {
	return queryRows(ctx, q, sql, noExtra(scanMessage), args...)
}

// loadDetails fills the Attachments and Reactions of the messages that have
// any, with one query for each.
func (s *Store) loadDetails(ctx context.Context, q db, msgs []scanned) error {
	var ids []string
	for i := range msgs {
		ids = append(ids, strings.Fields(msgs[i].attachments)...)
	}
	if len(ids) > 0 {
		files, err := filesByID(ctx, q, s.d.list(ids))
		if err != nil {
			return err
		}
		for i := range msgs {
			for _, id := range strings.Fields(msgs[i].attachments) {
				f, ok := files[id]
				if !ok {
					return fmt.Errorf("load attachments of %s: file %s: %w", msgs[i].ID, id, store.ErrNotFound)
				}
				msgs[i].Attachments = append(msgs[i].Attachments, f.Attachment())
			}
		}
	}
	return s.loadReactions(ctx, q, msgs)
}

// loadReactions fills the Reactions of the messages that have any, with one
// query for all of them: emojis in the order of their oldest remaining
// reaction, users in the order they reacted.
func (s *Store) loadReactions(ctx context.Context, q db, msgs []scanned) error {
	var ids []string
	at := map[string][]int{} // a log may hold one message more than once
	for i := range msgs {
		if msgs[i].reactions > 0 {
			if _, ok := at[msgs[i].ID]; !ok {
				ids = append(ids, msgs[i].ID)
			}
			at[msgs[i].ID] = append(at[msgs[i].ID], i)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	type reaction struct{ msgID, emoji, name string }
	reactions, err := queryRows(ctx, q, `SELECT r.message_id, r.emoji, u.name FROM reactions r JOIN users u ON u.id = r.user_id
		WHERE r.message_id {{in $1}} ORDER BY {{reaction_order}}`, func(r row) (x reaction, err error) {
		err = r.Scan(&x.msgID, &x.emoji, &x.name)
		return x, err
	}, s.d.list(ids))
	if err != nil {
		return fmt.Errorf("load reactions: %w", err)
	}
	byMsg := map[string][]protocol.Reaction{}
	idx := map[[2]string]int{}
	for _, x := range reactions {
		k := [2]string{x.msgID, x.emoji}
		i, ok := idx[k]
		if !ok {
			i = len(byMsg[x.msgID])
			idx[k] = i
			byMsg[x.msgID] = append(byMsg[x.msgID], protocol.Reaction{Emoji: x.emoji})
		}
		byMsg[x.msgID][i].Users = append(byMsg[x.msgID][i].Users, x.name)
	}
	for id, r := range byMsg {
		for j, i := range at[id] {
			if j > 0 {
				r = cloneReactions(r) // each message owns its slices
			}
			msgs[i].Reactions = r
		}
	}
	return nil
}

func cloneReactions(rs []protocol.Reaction) []protocol.Reaction {
	out := make([]protocol.Reaction, len(rs))
	for i, r := range rs {
		out[i] = protocol.Reaction{Emoji: r.Emoji, Users: slices.Clone(r.Users)}
	}
	return out
}

// message returns the current state of a message.
func (s *Store) message(ctx context.Context, q db, id string) (protocol.Message, error) {
	m, err := scanMessage(q.queryRow(ctx, `SELECT `+msgCols+` FROM `+msgFrom+` WHERE m.id = $1`, id))
	if err != nil {
		return protocol.Message{}, fmt.Errorf("load message: %w", notFound(err, "message %s", id))
	}
	ms := []scanned{m}
	if err := s.loadDetails(ctx, q, ms); err != nil {
		return protocol.Message{}, err
	}
	return ms[0].Message, nil
}

// messages turns scanned messages into messages, with their details.
func (s *Store) messages(ctx context.Context, q db, msgs []scanned) ([]protocol.Message, error) {
	if err := s.loadDetails(ctx, q, msgs); err != nil {
		return nil, err
	}
	out := make([]protocol.Message, len(msgs))
	for i, m := range msgs {
		out[i] = m.Message
	}
	return out, nil
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
	msgs, more, err := pageBefore(ctx, q, roomID, before, limit)
	if err != nil {
		return nil, false, fmt.Errorf("history: %w", err)
	}
	out, err := s.messages(ctx, q, msgs)
	if err != nil {
		return nil, false, fmt.Errorf("history: %w", err)
	}
	return out, more, nil
}

// Since returns the log entries of a room with seq > after, oldest first, at
// most limit. One statement reads both halves of the log, so they come from
// one snapshot; a room's seqs are committed in order (one writer, or on
// Postgres the room's row lock), so a snapshot never holds a later seq
// without the earlier ones. Each half is a range scan of its (room_id, seq)
// key, merged in seq order.
func (s *Store) Since(ctx context.Context, roomID string, after int64, limit int) ([]store.Event, error) {
	q, err := s.reads()
	if err != nil {
		return nil, fmt.Errorf("since: %w", err)
	}
	if limit <= 0 {
		limit = protocol.MaxReplay
	}
	type entry struct {
		seq int64
		upd bool
		m   scanned
	}
	entries, err := queryRows(ctx, q, `SELECT * FROM (
			SELECT * FROM (SELECT m.seq AS lseq, false AS upd, `+msgCols+` FROM `+msgFrom+`
				WHERE m.room_id = $1 AND m.seq > $2 ORDER BY m.seq LIMIT $3) a
			UNION ALL
			SELECT * FROM (SELECT l.seq AS lseq, true AS upd, `+msgCols+` FROM updates l
				JOIN messages m ON m.id = l.message_id LEFT JOIN users u ON u.id = m.sender_id
				WHERE l.room_id = $1 AND l.seq > $2 ORDER BY l.seq LIMIT $3) b
		) log ORDER BY lseq LIMIT $3`, func(r row) (e entry, err error) {
		e.m, err = scanMessage(r, &e.seq, &e.upd)
		return e, err
	}, roomID, after, limit)
	if err != nil {
		return nil, fmt.Errorf("since: %w", err)
	}
	msgs := make([]scanned, len(entries))
	for i, e := range entries {
		msgs[i] = e.m
	}
	if err := s.loadDetails(ctx, q, msgs); err != nil {
		return nil, fmt.Errorf("since: %w", err)
	}
	out := make([]store.Event, len(msgs))
	for i, e := range entries {
		kind := store.EventMessage
		if e.upd {
			kind = store.EventUpdate
		}
		out[i] = store.Event{Kind: kind, RoomID: roomID, Seq: e.seq, Message: msgs[i].Message}
	}
	return out, nil
}

// Message returns a message in its current state.
func (w *wtx) Message(id string) (protocol.Message, error) {
	m, err := w.s.message(w.ctx, w.db, id)
	return m, w.saw(err)
}

// AppendSystem appends a system message to a room's log.
func (w *wtx) AppendSystem(roomID, text string) (protocol.Message, error) {
	now := w.s.opts.Now()
	ts := now.UnixMilli()
	m := protocol.Message{ID: store.NewMessageID(now), Room: roomID, Kind: protocol.KindSystem, Text: text, TS: formatMilli(ts)}
	err := w.scan(appendMessageSQL, []any{roomID, m.ID, m.Kind, nil, text, ts, nil, nil, "", nil, nil}, &m.Seq)
	if err != nil {
		return protocol.Message{}, fmt.Errorf("append system message: %w", notFound(err, "room %s", roomID))
	}
	return m, nil
}

// AppendUpdate appends the entry of a change of msgID to a room's log.
func (w *wtx) AppendUpdate(roomID, msgID string) (int64, error) {
	var seq int64
	err := w.scan(`{{seq_with}}INSERT INTO updates (room_id, seq, message_id) SELECT $1, {{seq}}, $2{{seq_from}} RETURNING seq`,
		[]any{roomID, msgID}, &seq)
	if err != nil {
		return 0, fmt.Errorf("append update: %w", notFound(err, "room %s", roomID))
	}
	return seq, nil
}

// SetText replaces a message's text and stamps it edited.
func (w *wtx) SetText(msgID, text string) error {
	return w.execOne("edit message "+msgID, `UPDATE messages SET text = $1, edited_at = $2 WHERE id = $3`,
		text, w.s.opts.Now().UnixMilli(), msgID)
}

// Tombstone turns a message into a tombstone.
func (w *wtx) Tombstone(msgID string) error {
	if err := w.execOne("delete message "+msgID, `UPDATE messages SET text = '', deleted = true, reactions = 0, attachments = ''
		WHERE id = $1`, msgID); err != nil {
		return err
	}
	if _, err := w.exec(`DELETE FROM reactions WHERE message_id = $1`, msgID); err != nil {
		return fmt.Errorf("delete reactions: %w", err)
	}
	// Files no other message carries are released: off the uploader's
	// quota, and deleted with the unattached uploads.
	if _, err := w.exec(`UPDATE files SET released = (1 = 1) WHERE id IN (SELECT file_id FROM message_files WHERE message_id = $1)
		AND NOT EXISTS (SELECT 1 FROM message_files o WHERE o.file_id = files.id AND o.message_id <> $1)`, msgID); err != nil {
		return fmt.Errorf("release attachments: %w", err)
	}
	if _, err := w.exec(`DELETE FROM message_files WHERE message_id = $1`, msgID); err != nil {
		return fmt.Errorf("delete attachments: %w", err)
	}
	return nil
}

// React adds or removes a user's reaction and reports whether it changed
// anything; messages.reactions counts the rows, so that pages without any
// skip the reactions table.
func (w *wtx) React(msgID, userID, emoji string, on bool) (bool, error) {
	var (
		n   int64
		err error
	)
	if on {
		n, err = w.exec(`INSERT INTO reactions (message_id, emoji, user_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`,
			msgID, emoji, userID)
	} else {
		n, err = w.exec(`DELETE FROM reactions WHERE message_id = $1 AND emoji = $2 AND user_id = $3`, msgID, emoji, userID)
		n = -n
	}
	if err != nil {
		return false, fmt.Errorf("react: %w", err)
	}
	if n == 0 {
		return false, nil
	}
	if err := w.execOne("react to message "+msgID, `UPDATE messages SET reactions = reactions + $1 WHERE id = $2`, n, msgID); err != nil {
		return false, err
	}
	return true, nil
}
