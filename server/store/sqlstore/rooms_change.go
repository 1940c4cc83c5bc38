package sqlstore

import (
	"context"
	"fmt"
	"slices"

	"minichat/server/protocol"
	"minichat/server/store"
)

// SetTopic replaces a room's topic.
func (w *wtx) SetTopic(roomID, topic string) error {
	return w.execOne("topic of room "+roomID, `UPDATE rooms SET topic = $1 WHERE id = $2`, topic, roomID)
}

// SetRoomName renames a public or private room; the rooms_name index keeps
// names unique.
func (w *wtx) SetRoomName(roomID, name string) error {
	err := w.execOne("name of room "+roomID, `UPDATE rooms SET name = $1 WHERE id = $2 AND kind <> 'dm'`, name, roomID)
	return w.s.conflict(err)
}

// SetArchived sets a room's archived flag.
func (w *wtx) SetArchived(roomID string, archived bool) error {
	return w.execOne("archive room "+roomID, `UPDATE rooms SET archived = $1 WHERE id = $2`, archived, roomID)
}

// MemberIDs lists the ids of a room's members.
func (w *wtx) MemberIDs(roomID string) ([]string, error) {
	ids, err := queryStrings(w.ctx, w.db, `SELECT user_id FROM members WHERE room_id = $1`, roomID)
	if err = w.saw(err); err != nil {
		return nil, fmt.Errorf("members of room %s: %w", roomID, err)
	}
	slices.Sort(ids)
	return ids, nil
}

// membersSQL pages a room's members by lowered name (the members primary
// key finds the room's rows, users' primary key their names).
const membersSQL = `SELECT u.id, u.name, u.role FROM members m JOIN users u ON u.id = m.user_id
	WHERE m.room_id = $1 AND lower(u.name) > $2 ORDER BY lower(u.name) LIMIT $3`

// Members lists a room's members by name, paged.
func (s *Store) Members(ctx context.Context, roomID, after string, limit int) ([]protocol.User, error) {
	q, err := s.reads()
	if err != nil {
		return nil, fmt.Errorf("members: %w", err)
	}
	out, err := queryRows(ctx, q, membersSQL, func(r row) (u protocol.User, err error) {
		err = r.Scan(&u.ID, &u.Name, &u.Role)
		return u, err
	}, roomID, after, limit)
	if err != nil {
		return nil, fmt.Errorf("members: %w", err)
	}
	return orEmpty(out), nil
}

var _ store.Store = (*Store)(nil)
