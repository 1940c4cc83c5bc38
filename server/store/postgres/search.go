package postgres

import (
	"context"
	"fmt"
	"strings"

	"minichat/server/protocol"
	"minichat/server/store"
)

// searchQuery renders search terms as a tsquery expression over the
// parameters from $first on: each term goes through phraseto_tsquery with
// the 'simple' configuration (one word, or its words in a row), and the
// terms are joined with && (all must match). Terms are passed as
// parameters, never spliced into the SQL.
func searchQuery(terms []string, first int) (string, []any, error) {
	if len(terms) == 0 {
		return "", nil, fmt.Errorf("search without terms: %w", store.ErrInvalid)
	}
	var (
		b    strings.Builder
		args []any
	)
	for i, t := range terms {
		if strings.TrimSpace(t) == "" {
			return "", nil, fmt.Errorf("empty search term: %w", store.ErrInvalid)
		}
		if i > 0 {
			b.WriteString(" && ")
		}
		fmt.Fprintf(&b, "phraseto_tsquery('simple', $%d)", first+i)
		args = append(args, t)
	}
	return "(" + b.String() + ")", args, nil
}

// Search finds chat messages through the GIN index of messages.search,
// keeps those of rooms the user may read, newest first by ts.
func (s *Store) Search(ctx context.Context, req store.SearchRequest) ([]protocol.Message, error) {
	tsq, targs, err := searchQuery(req.Terms, 3)
	if err != nil {
		return nil, fmt.Errorf("search: %w", err)
	}
	q, err := s.reads()
	if err != nil {
		return nil, fmt.Errorf("search: %w", err)
	}
	limit := req.Limit
	if limit <= 0 {
		limit = protocol.MaxSearch
	}
	// The readable rooms, first, as a list: public ones and the user's
	// own; with a room, only that one, if readable. Given as an array, the
	// planner can weigh the rooms' share of the log (a user who may read
	// one small room) against the words' (a common word).
	var rooms []string
	if req.RoomID != "" {
		err = q.QueryRow(ctx, `SELECT COALESCE(array_agg(r.id), '{}') FROM rooms r WHERE r.id = $2 AND (r.kind = 'public'
			OR EXISTS (SELECT 1 FROM members x WHERE x.room_id = r.id AND x.user_id = $1))`, req.UserID, req.RoomID).Scan(&rooms)
	} else {
		err = q.QueryRow(ctx, `SELECT COALESCE(array_agg(id), '{}') FROM (SELECT id FROM rooms WHERE kind = 'public'
			UNION SELECT room_id FROM members WHERE user_id = $1) r`, req.UserID).Scan(&rooms)
	}
	if err != nil {
		return nil, fmt.Errorf("search: %w", err)
	}
	if len(rooms) == 0 {
		return []protocol.Message{}, nil
	}
	args := append([]any{rooms, limit}, targs...)
	rows, err := q.Query(ctx, `SELECT `+msgCols+` FROM `+msgFrom+`
		WHERE m.search @@ `+tsq+` AND m.kind = 'chat' AND NOT m.deleted AND m.room_id = ANY($1)
		ORDER BY m.ts DESC, m.id DESC LIMIT $2`, args...)
	if err != nil {
		return nil, fmt.Errorf("search: %w", err)
	}
	msgs, err := scanMessages(rows)
	if err != nil {
		return nil, fmt.Errorf("search: %w", err)
	}
	if err := loadDetails(ctx, q, msgs); err != nil {
		return nil, fmt.Errorf("search: %w", err)
	}
	out := make([]protocol.Message, len(msgs))
	for i, m := range msgs {
		out[i] = m.Message
	}
	return out, nil
}
