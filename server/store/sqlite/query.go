package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
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
// and attachments lists the file ids still to be loaded into Reactions and
// Attachments by loadDetails.
type scanned struct {
	protocol.Message
	reactions   int
	attachments string
}

type scanner interface{ Scan(dest ...any) error }

func scanMessage(r scanner, extra ...any) (scanned, error) {
	var (
		m                          scanned
		senderID, senderName, role sql.NullString
		clientID, replyTo          sql.NullString
		ts                         int64
		editedAt                   sql.NullInt64
		deleted                    bool
	)
	dest := append(extra, &m.ID, &m.Room, &m.Seq, &m.Kind, &senderID, &senderName, &role, &m.Text, &ts,
		&clientID, &editedAt, &deleted, &replyTo, &m.attachments, &m.reactions)
	if err := r.Scan(dest...); err != nil {
		return m, err
	}
	if senderID.Valid {
		m.Sender = &protocol.User{ID: senderID.String, Name: senderName.String, Role: role.String}
	}
	m.TS = formatMilli(ts)
	m.ClientID = clientID.String
	if editedAt.Valid {
		m.EditedAt = formatMilli(editedAt.Int64)
	}
	m.Deleted = deleted
	m.ReplyTo = replyTo.String
	return m, nil
}

func formatMilli(ms int64) string { return protocol.FormatTime(time.UnixMilli(ms)) }

// loadDetails fills the Reactions and Attachments of the messages that
// have any.
func loadDetails(ctx context.Context, q *stmtCache, msgs []scanned) error {
	for i := range msgs {
		if msgs[i].attachments == "" {
			continue
		}
		for _, id := range strings.Fields(msgs[i].attachments) {
			f, err := fileByID(ctx, q, id)
			if err != nil {
				return fmt.Errorf("load attachments of %s: %w", msgs[i].ID, err)
			}
			msgs[i].Attachments = append(msgs[i].Attachments, f.Attachment())
		}
	}
	return loadReactions(ctx, q, msgs)
}

// loadReactions fills the Reactions of the messages that have any.
func loadReactions(ctx context.Context, q *stmtCache, msgs []scanned) error {
	for i := range msgs {
		if msgs[i].reactions == 0 {
			continue
		}
		rs, err := reactionsOf(ctx, q, msgs[i].ID)
		if err != nil {
			return err
		}
		msgs[i].Reactions = rs
	}
	return nil
}

// reactionsOf aggregates the reactions of a message: emojis in the order of
// their oldest remaining reaction, users in the order they reacted.
func reactionsOf(ctx context.Context, q *stmtCache, msgID string) ([]protocol.Reaction, error) {
	rows, err := q.query(ctx, `SELECT r.emoji, u.name FROM reactions r JOIN users u ON u.id = r.user_id
		WHERE r.message_id = ? ORDER BY r.rowid`, msgID)
	if err != nil {
		return nil, fmt.Errorf("load reactions: %w", err)
	}
	defer rows.Close()
	var out []protocol.Reaction
	idx := map[string]int{}
	for rows.Next() {
		var emoji, name string
		if err := rows.Scan(&emoji, &name); err != nil {
			return nil, fmt.Errorf("load reactions: %w", err)
		}
		i, ok := idx[emoji]
		if !ok {
			i = len(out)
			idx[emoji] = i
			out = append(out, protocol.Reaction{Emoji: emoji})
		}
		out[i].Users = append(out[i].Users, name)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("load reactions: %w", err)
	}
	return out, nil
}

// messageByID returns the current state of a message.
func messageByID(ctx context.Context, q *stmtCache, id string) (protocol.Message, error) {
	m, err := scanMessage(q.queryRow(ctx, `SELECT `+msgCols+` FROM `+msgFrom+` WHERE m.id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
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

// roomCols renders a room as viewer ?2 sees it; roomFrom goes with them.
// The unread count is a range scan of the messages primary key from the
// viewer's read marker, stopped at store.MaxUnread.
const roomCols = `r.id, r.kind, r.name, r.last_seq,
	(SELECT COUNT(*) FROM members c WHERE c.room_id = r.id),
	m.user_id IS NOT NULL, COALESCE(m.read_seq, 0),
	CASE WHEN r.kind = 'dm' THEN (SELECT u.name FROM members o JOIN users u ON u.id = o.user_id
		WHERE o.room_id = r.id AND o.user_id <> ?2 ORDER BY u.name LIMIT 1) END,
	CASE WHEN m.user_id IS NOT NULL THEN (SELECT COUNT(*) FROM (SELECT 1 FROM messages x
		WHERE x.room_id = r.id AND x.seq > m.read_seq AND x.kind = 'chat' AND x.deleted = 0
		AND x.sender_id <> ?2 LIMIT ` + maxUnreadSQL + `)) ELSE 0 END`

// maxUnreadSQL caps the unread count (store.MaxUnread), so listing rooms
// costs the same for a reader who is far behind as for one who is not.
const maxUnreadSQL = "1000"

const roomFrom = `rooms r LEFT JOIN members m ON m.room_id = r.id AND m.user_id = ?2`

func scanRoom(r scanner) (protocol.Room, error) {
	var (
		room   protocol.Room
		dmName sql.NullString
	)
	err := r.Scan(&room.ID, &room.Kind, &room.Name, &room.LastSeq, &room.Members,
		&room.Member, &room.ReadSeq, &dmName, &room.Unread)
	if room.Kind == protocol.RoomDM {
		room.Name = dmName.String
	}
	return room, err
}

// roomAs returns a room as viewer sees it, whether or not viewer may see it;
// ErrNotFound only when the room does not exist.
func roomAs(ctx context.Context, q *stmtCache, roomID, viewerID string) (protocol.Room, error) {
	room, err := scanRoom(q.queryRow(ctx, `SELECT `+roomCols+` FROM `+roomFrom+` WHERE r.id = ?1`, roomID, viewerID))
	if errors.Is(err, sql.ErrNoRows) {
		return room, fmt.Errorf("room %s: %w", roomID, store.ErrNotFound)
	}
	if err != nil {
		return room, fmt.Errorf("load room %s: %w", roomID, err)
	}
	return room, nil
}

// userByID loads a user.
func userByID(ctx context.Context, q *stmtCache, id string) (protocol.User, error) {
	var u protocol.User
	err := q.queryRow(ctx, `SELECT id, name, role FROM users WHERE id = ?`, id).Scan(&u.ID, &u.Name, &u.Role)
	if errors.Is(err, sql.ErrNoRows) {
		return u, fmt.Errorf("user %s: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return u, fmt.Errorf("load user %s: %w", id, err)
	}
	return u, nil
}
