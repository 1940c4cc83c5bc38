package sqlite

import (
	"context"
	"fmt"
	"strings"

	"minichat/server/protocol"
	"minichat/server/store"
)

// matchExpr renders search terms as an FTS5 MATCH expression on the text
// column: every term a quoted string (a phrase of its words, or one word),
// joined by spaces, which FTS5 reads as AND. Inside a string only '"' is
// special, and it is doubled, so no term can produce an FTS5 syntax error.
// With rooms the room column must hold one of them too.
func matchExpr(terms []string, rooms []string) (string, error) {
	if len(terms) == 0 {
		return "", fmt.Errorf("search without terms: %w", store.ErrInvalid)
	}
	var b strings.Builder
	if len(rooms) > 0 {
		b.WriteString("room : (")
		for i, r := range rooms {
			if i > 0 {
				b.WriteString(" OR ")
			}
			quote(&b, r)
		}
		b.WriteString(") AND ")
	}
	b.WriteString("text : (")
	for i, t := range terms {
		if strings.TrimSpace(t) == "" {
			return "", fmt.Errorf("empty search term: %w", store.ErrInvalid)
		}
		if i > 0 {
			b.WriteByte(' ')
		}
		quote(&b, t)
	}
	b.WriteByte(')')
	return b.String(), nil
}

func quote(b *strings.Builder, s string) {
	b.WriteByte('"')
	b.WriteString(strings.ReplaceAll(s, `"`, `""`))
	b.WriteByte('"')
}

// maxRoomFilter is the most rooms a search names in its MATCH expression.
const maxRoomFilter = 32

// Search walks the index's matches from the newest doc down, keeping those
// of rooms the user may read, until it has req.Limit. When the user reads
// few rooms (or asks for one), the index itself is told which rooms, so
// matches elsewhere are skipped inside FTS5 rather than looked up one by
// one; otherwise most matches are readable and the walk ends early anyway.
func (s *Store) Search(ctx context.Context, req store.SearchRequest) ([]protocol.Message, error) {
	if _, err := matchExpr(req.Terms, nil); err != nil {
		return nil, fmt.Errorf("search: %w", err)
	}
	limit := req.Limit
	if limit <= 0 {
		limit = protocol.MaxSearch
	}
	// The readable rooms: public ones and the user's own. With a room,
	// only that one, if readable.
	rooms := `SELECT id FROM rooms WHERE kind = 'public' UNION SELECT room_id FROM members WHERE user_id = ?2`
	if req.RoomID != "" {
		rooms = `SELECT id FROM rooms r WHERE r.id = ?4 AND (r.kind = 'public'
			OR EXISTS (SELECT 1 FROM members m WHERE m.room_id = r.id AND m.user_id = ?2))`
	}
	var filter []string
	if req.RoomID != "" {
		filter = []string{req.RoomID}
	} else {
		ids, all, err := s.readableRooms(ctx, req.UserID)
		if err != nil {
			return nil, fmt.Errorf("search: %w", err)
		}
		if len(ids) == 0 {
			return []protocol.Message{}, nil
		}
		if !all && len(ids) <= maxRoomFilter {
			filter = ids
		}
	}
	expr, err := matchExpr(req.Terms, filter)
	if err != nil {
		return nil, fmt.Errorf("search: %w", err)
	}
	rows, err := s.reads.query(ctx, `SELECT `+msgCols+` FROM (
			SELECT d.doc, d.message_id FROM search_text t JOIN search_docs d ON d.doc = t.rowid
			WHERE search_text MATCH ?1 AND d.room_id IN (`+rooms+`)
			ORDER BY t.rowid DESC LIMIT ?3) f
		JOIN messages m ON m.id = f.message_id LEFT JOIN users u ON u.id = m.sender_id
		ORDER BY f.doc DESC`,
		expr, req.UserID, limit, req.RoomID)
	if err != nil {
		return nil, fmt.Errorf("search: %w", err)
	}
	msgs, err := scanMessages(rows)
	if err != nil {
		return nil, fmt.Errorf("search: %w", err)
	}
	if err := loadDetails(ctx, s.reads, msgs); err != nil {
		return nil, fmt.Errorf("search: %w", err)
	}
	out := make([]protocol.Message, len(msgs))
	for i, m := range msgs {
		out[i] = m.Message
	}
	return out, nil
}

// readableRooms lists the ids of the rooms userID may read, stopping after
// maxRoomFilter+1, and reports whether they are all the rooms there are.
func (s *Store) readableRooms(ctx context.Context, userID string) (ids []string, all bool, err error) {
	rows, err := s.reads.query(ctx, `SELECT id FROM rooms WHERE kind = 'public'
		UNION SELECT room_id FROM members WHERE user_id = ? LIMIT ?`, userID, maxRoomFilter+1)
	if err != nil {
		return nil, false, err
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, false, err
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return nil, false, err
	}
	var hidden bool
	err = s.reads.queryRow(ctx, `SELECT EXISTS (SELECT 1 FROM rooms r WHERE r.kind <> 'public'
		AND NOT EXISTS (SELECT 1 FROM members m WHERE m.room_id = r.id AND m.user_id = ?))`, userID).Scan(&hidden)
	return ids, !hidden, err
}
