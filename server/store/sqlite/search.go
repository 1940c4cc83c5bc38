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
// With roomID the room column must hold it too.
func matchExpr(terms []string, roomID string) (string, error) {
	if len(terms) == 0 {
		return "", fmt.Errorf("search without terms: %w", store.ErrInvalid)
	}
	var b strings.Builder
	if roomID != "" {
		b.WriteString("room : ")
		quote(&b, roomID)
		b.WriteString(" AND ")
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

// Search walks the index's matches from the newest doc down, keeping those
// of rooms the user may read, until it has req.Limit.
func (s *Store) Search(ctx context.Context, req store.SearchRequest) ([]protocol.Message, error) {
	expr, err := matchExpr(req.Terms, req.RoomID)
	if err != nil {
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
