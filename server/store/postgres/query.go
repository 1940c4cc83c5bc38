package postgres

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"minichat/server/protocol"
	"minichat/server/store"
)

// msgCols are the columns scanMessage reads, from messages m LEFT JOIN users u.
const msgCols = `m.id, m.room_id, m.seq, m.kind, m.sender_id, u.name, u.role, m.text, m.ts,
	m.client_id, m.edited_at, m.deleted, m.reply_to, m.attachments, m.reactions`

// msgFrom is the FROM clause that goes with msgCols.
const msgFrom = `messages m LEFT JOIN users u ON u.id = m.sender_id`

// scanned is a message read from the database; reactions counts the rows
// still to be loaded into Reactions by loadReactions.
type scanned struct {
	protocol.Message
	reactions   int
	attachments string // space-separated file ids, loaded by loadDetails
}

type scanner interface{ Scan(dest ...any) error }

func scanMessage(r scanner, extra ...any) (scanned, error) {
	var (
		m                          scanned
		senderID, senderName, role *string
		clientID, replyTo          *string
		ts                         int64
		editedAt                   *int64
	)
	dest := append(extra, &m.ID, &m.Room, &m.Seq, &m.Kind, &senderID, &senderName, &role, &m.Text, &ts,
		&clientID, &editedAt, &m.Deleted, &replyTo, &m.attachments, &m.reactions)
	if err := r.Scan(dest...); err != nil {
		return m, err
	}
	if senderID != nil {
		m.Sender = &protocol.User{ID: *senderID, Name: deref(senderName), Role: deref(role)}
	}
	m.TS = formatMilli(ts)
	m.ClientID = deref(clientID)
	if editedAt != nil {
		m.EditedAt = formatMilli(*editedAt)
	}
	m.ReplyTo = deref(replyTo)
	return m, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// nullString is nil for "", so that an absent optional value is NULL.
func nullString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func formatMilli(ms int64) string { return protocol.FormatTime(time.UnixMilli(ms)) }

// loadDetails fills the Attachments and Reactions of the messages that have
// any, with one query for each.
func loadDetails(ctx context.Context, q querier, msgs []scanned) error {
	var ids []string
	for i := range msgs {
		ids = append(ids, strings.Fields(msgs[i].attachments)...)
	}
	if len(ids) > 0 {
		files, err := filesByID(ctx, q, ids)
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
	return loadReactions(ctx, q, msgs)
}

// loadReactions fills the Reactions of the messages that have any, with
// one query for all of them.
func loadReactions(ctx context.Context, q querier, msgs []scanned) error {
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
	rows, err := q.Query(ctx, `SELECT r.message_id, r.emoji, u.name FROM reactions r JOIN users u ON u.id = r.user_id
		WHERE r.message_id = ANY($1) ORDER BY r.id`, ids)
	if err != nil {
		return fmt.Errorf("load reactions: %w", err)
	}
	defer rows.Close()
	byMsg := map[string][]protocol.Reaction{}
	idx := map[[2]string]int{}
	for rows.Next() {
		var msgID, emoji, name string
		if err := rows.Scan(&msgID, &emoji, &name); err != nil {
			return fmt.Errorf("load reactions: %w", err)
		}
		rs := byMsg[msgID]
		k := [2]string{msgID, emoji}
		i, ok := idx[k]
		if !ok {
			i = len(rs)
			idx[k] = i
			rs = append(rs, protocol.Reaction{Emoji: emoji})
		}
		rs[i].Users = append(rs[i].Users, name)
		byMsg[msgID] = rs
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("load reactions: %w", err)
	}
	for id, rs := range byMsg {
		for j, i := range at[id] {
			if j > 0 {
				rs = cloneReactions(rs) // each message owns its slices
			}
			msgs[i].Reactions = rs
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

// messageByID returns the current state of a message.
func messageByID(ctx context.Context, q querier, id string) (protocol.Message, error) {
	m, err := scanMessage(q.QueryRow(ctx, `SELECT `+msgCols+` FROM `+msgFrom+` WHERE m.id = $1`, id))
	if isNoRows(err) {
		return protocol.Message{}, fmt.Errorf("message %s: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return protocol.Message{}, fmt.Errorf("load message %s: %w", id, err)
	}
	ms := []scanned{m}
	if err := loadDetails(ctx, q, ms); err != nil {
		return protocol.Message{}, err
	}
	return ms[0].Message, nil
}

// roomCols renders a room as viewer $1 sees it; roomFrom goes with them.
// The unread count stops at store.MaxUnread.
const roomCols = `r.id, r.kind, r.name, r.last_seq,
	(SELECT COUNT(*) FROM members c WHERE c.room_id = r.id),
	m.user_id IS NOT NULL, COALESCE(m.read_seq, 0),
	CASE WHEN r.kind = 'dm' THEN (SELECT u.name FROM members o JOIN users u ON u.id = o.user_id
		WHERE o.room_id = r.id AND o.user_id <> $1 ORDER BY u.name LIMIT 1) END,
	CASE WHEN m.user_id IS NOT NULL THEN (SELECT COUNT(*) FROM (SELECT 1 FROM messages x
		WHERE x.room_id = r.id AND x.seq > m.read_seq AND x.kind = 'chat' AND NOT x.deleted
		AND x.sender_id <> $1 LIMIT ` + maxUnreadSQL + `) c) ELSE 0 END`

// maxUnreadSQL caps the unread count (store.MaxUnread).
const maxUnreadSQL = "1000"

const roomFrom = `rooms r LEFT JOIN members m ON m.room_id = r.id AND m.user_id = $1`

func scanRoom(r scanner) (protocol.Room, error) {
	var (
		room   protocol.Room
		dmName *string
	)
	err := r.Scan(&room.ID, &room.Kind, &room.Name, &room.LastSeq, &room.Members,
		&room.Member, &room.ReadSeq, &dmName, &room.Unread)
	if room.Kind == protocol.RoomDM {
		room.Name = deref(dmName)
	}
	return room, err
}

// roomAs returns a room as viewer sees it, whether or not viewer may see it;
// ErrNotFound only when the room does not exist.
func roomAs(ctx context.Context, q querier, roomID, viewerID string) (protocol.Room, error) {
	room, err := scanRoom(q.QueryRow(ctx, `SELECT `+roomCols+` FROM `+roomFrom+` WHERE r.id = $2`, viewerID, roomID))
	if isNoRows(err) {
		return room, fmt.Errorf("room %s: %w", roomID, store.ErrNotFound)
	}
	if err != nil {
		return room, fmt.Errorf("load room %s: %w", roomID, err)
	}
	return room, nil
}

// userByID loads a user.
func userByID(ctx context.Context, q querier, id string) (protocol.User, error) {
	var u protocol.User
	err := q.QueryRow(ctx, `SELECT id, name, role FROM users WHERE id = $1`, id).Scan(&u.ID, &u.Name, &u.Role)
	if isNoRows(err) {
		return u, fmt.Errorf("user %s: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return u, fmt.Errorf("load user %s: %w", id, err)
	}
	return u, nil
}

// readStrings runs a one-column query of text on the read pool and returns
// every row; errors are wrapped with what.
func (s *Store) readStrings(ctx context.Context, what, sql string, args ...any) ([]string, error) {
	q, err := s.reads()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	out, err := collect[string](rows)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return out, nil
}

// collect reads every row of a one-column query.
func collect[T any](rows interface {
	Next() bool
	Scan(...any) error
	Err() error
	Close()
}) ([]T, error) {
	defer rows.Close()
	var out []T
	for rows.Next() {
		var v T
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}
