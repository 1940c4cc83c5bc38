package sqlstore

import (
	"context"
	"fmt"
	"slices"

	"minichat/server/protocol"
	"minichat/server/store"
)

// roomCols render a room as viewer $1 sees it; roomFrom goes with them.
// (Every column is named: see sendFactsSQL.)
// The unread count is a range scan of the messages primary key from the
// viewer's read marker, stopped at store.MaxUnread, so listing rooms costs
// the same for a reader who is far behind as for one who is not. Mentions
// (unread messages holding "@name", case-insensitively) are looked for
// among the last store.MentionWindow entries of the log only, for the same
// reason; a name that another begins with counts that one's mentions too.
const roomCols = `r.id, r.kind, r.name, r.last_seq,
	r.member_count AS members,
	m.user_id IS NOT NULL AS member, COALESCE(m.read_seq, 0) AS read_seq,
	CASE WHEN r.kind = 'dm' THEN COALESCE({{dm_names}}, '') ELSE '' END AS dm_name,
	CASE WHEN m.user_id IS NOT NULL THEN (SELECT COUNT(*) FROM (SELECT 1 FROM messages x
		WHERE x.room_id = r.id AND x.seq > m.read_seq AND x.kind = 'chat' AND NOT x.deleted
		AND x.sender_id <> $1 LIMIT 1000) c) ELSE 0 END AS unread,
	CASE WHEN m.user_id IS NOT NULL AND r.last_seq > m.read_seq THEN (SELECT COUNT(*) FROM (SELECT 1 FROM messages x
		WHERE x.room_id = r.id AND x.seq > m.read_seq AND x.seq > r.last_seq - 5000 AND x.kind = 'chat' AND NOT x.deleted
		AND x.sender_id <> $1 AND {{lower}}(x.text) LIKE (SELECT '%@' || REPLACE({{lower}}(v.name), '_', '\_') || '%'
			FROM users v WHERE v.id = $1) ESCAPE '\' LIMIT 1000) c) ELSE 0 END AS mentions,
	r.topic, r.archived, COALESCE(r.created_by, '') AS created_by,
	COALESCE(m.notify, '') AS notify`

const roomFrom = `rooms r LEFT JOIN members m ON m.room_id = r.id AND m.user_id = $1`

// memberRoomsFrom goes with roomCols for the rooms $1 belongs to: from the
// viewer's memberships (the members_user index) rather than every room, so
// a welcome's list costs the viewer's rooms, not the instance's.
const memberRoomsFrom = `members m JOIN rooms r ON r.id = m.room_id WHERE m.user_id = $1`

func scanRoom(r row) (protocol.Room, error) {
	var (
		room   protocol.Room
		dmName string
	)
	err := r.Scan(&room.ID, &room.Kind, &room.Name, &room.LastSeq, &room.Members,
		&room.Member, &room.ReadSeq, &dmName, &room.Unread, &room.Mentions,
		&room.Topic, &room.Archived, &room.CreatedBy, &room.Notify)
	if room.Kind == protocol.RoomDM {
		room.Name = dmName
	}
	return room, err
}

// view returns a room as viewer sees it.
func view(ctx context.Context, q db, roomID, viewerID string) (protocol.Room, error) {
	room, err := scanRoom(q.queryRow(ctx, `SELECT `+roomCols+` FROM `+roomFrom+` WHERE r.id = $2`, viewerID, roomID))
	if err != nil {
		return protocol.Room{}, fmt.Errorf("load room: %w", notFound(err, "room %s", roomID))
	}
	return room, nil
}

// roomByNameSQL finds a public or private room by name, case-insensitively
// (through the rooms_name index).
const roomByNameSQL = `SELECT id, name, kind, last_seq FROM rooms WHERE {{lower}}(name) = {{lower}}($1) AND kind <> 'dm'`

func roomByName(ctx context.Context, q db, name string) (protocol.Room, error) {
	var r protocol.Room
	err := q.queryRow(ctx, roomByNameSQL, name).Scan(&r.ID, &r.Name, &r.Kind, &r.LastSeq)
	if err != nil {
		return protocol.Room{}, fmt.Errorf("room by name: %w", notFound(err, "room %q", name))
	}
	return r, nil
}

// Room returns a room as viewer sees it.
func (s *Store) Room(ctx context.Context, roomID, viewerID string) (protocol.Room, error) {
	q, err := s.reads()
	if err != nil {
		return protocol.Room{}, fmt.Errorf("room: %w", err)
	}
	return view(ctx, q, roomID, viewerID)
}

// RoomByName returns the row of a public or private room by name.
func (s *Store) RoomByName(ctx context.Context, name string) (protocol.Room, error) {
	q, err := s.reads()
	if err != nil {
		return protocol.Room{}, fmt.Errorf("room by name: %w", err)
	}
	return roomByName(ctx, q, name)
}

// Rooms lists the rooms of a scope, ordered by kind then name.
func (s *Store) Rooms(ctx context.Context, sc store.Scope) ([]protocol.Room, error) {
	q, err := s.reads()
	if err != nil {
		return nil, fmt.Errorf("list rooms: %w", err)
	}
	stmt := `SELECT ` + roomCols + ` FROM ` + memberRoomsFrom
	if sc.Public {
		stmt = `SELECT ` + roomCols + ` FROM ` + roomFrom + `
			WHERE r.kind = 'public' OR m.user_id IS NOT NULL`
	}
	out, err := queryRows(ctx, q, stmt, scanRoom, sc.UserID)
	if err != nil {
		return nil, fmt.Errorf("list rooms: %w", err)
	}
	store.SortRooms(out)
	return out, nil
}

// MemberRoomIDs lists the ids of the rooms the user belongs to.
func (s *Store) MemberRoomIDs(ctx context.Context, userID string) ([]string, error) {
	q, err := s.reads()
	if err != nil {
		return nil, fmt.Errorf("member rooms: %w", err)
	}
	ids, err := queryStrings(ctx, q, `SELECT room_id FROM members WHERE user_id = $1`, userID)
	if err != nil {
		return nil, fmt.Errorf("member rooms: %w", err)
	}
	slices.Sort(ids) // byte order, whatever the database's collation
	return ids, nil
}

// LastSeqs maps each room the user belongs to to its last seq.
func (s *Store) LastSeqs(ctx context.Context, userID string) (map[string]int64, error) {
	q, err := s.reads()
	if err != nil {
		return nil, fmt.Errorf("last seqs: %w", err)
	}
	type last struct {
		id  string
		seq int64
	}
	ls, err := queryRows(ctx, q, `SELECT r.id, r.last_seq FROM `+memberRoomsFrom, func(r row) (l last, err error) {
		err = r.Scan(&l.id, &l.seq)
		return l, err
	}, userID)
	if err != nil {
		return nil, fmt.Errorf("last seqs: %w", err)
	}
	out := make(map[string]int64, len(ls))
	for _, l := range ls {
		out[l.id] = l.seq
	}
	return out, nil
}

const isMemberSQL = `SELECT EXISTS (SELECT 1 FROM members WHERE room_id = $1 AND user_id = $2) AS member`

// IsMember reports whether the user belongs to the room.
func (s *Store) IsMember(ctx context.Context, roomID, userID string) (bool, error) {
	q, err := s.reads()
	if err != nil {
		return false, fmt.Errorf("is member: %w", err)
	}
	var ok bool
	if err := q.queryRow(ctx, isMemberSQL, roomID, userID).Scan(&ok); err != nil {
		return false, fmt.Errorf("is member: %w", err)
	}
	return ok, nil
}

// Room returns a room's own row and whether userID is a member.
func (w *wtx) Room(roomID, userID string) (protocol.Room, error) {
	var r protocol.Room
	err := w.scan(`SELECT r.id, r.kind, r.name, r.last_seq,
			EXISTS (SELECT 1 FROM members m WHERE m.room_id = r.id AND m.user_id = $2) AS member,
			r.archived, COALESCE(r.created_by, '') AS created_by
		FROM rooms r WHERE r.id = $1`, []any{roomID, userID}, &r.ID, &r.Kind, &r.Name, &r.LastSeq, &r.Member, &r.Archived, &r.CreatedBy)
	if err != nil {
		return protocol.Room{}, fmt.Errorf("load room: %w", notFound(err, "room %s", roomID))
	}
	return r, nil
}

// View returns a room as viewerID sees it.
func (w *wtx) View(roomID, viewerID string) (protocol.Room, error) {
	r, err := view(w.ctx, w.db, roomID, viewerID)
	return r, w.saw(err)
}

// RoomByName returns the row of a public or private room by name.
func (w *wtx) RoomByName(name string) (protocol.Room, error) {
	r, err := roomByName(w.ctx, w.db, name)
	return r, w.saw(err)
}

// DMRoom returns the id of the direct-message room with that key.
func (w *wtx) DMRoom(key string) (string, error) {
	var id string
	if err := w.scan(`SELECT id FROM rooms WHERE dm_key = $1`, []any{key}, &id); err != nil {
		return "", fmt.Errorf("direct-message room: %w", notFound(err, "room of %s", key))
	}
	return id, nil
}

// CreateRoom stores a new room without members.
func (w *wtx) CreateRoom(r store.NewRoom) (string, error) {
	id := store.NewID("r_")
	_, err := w.exec(`INSERT INTO rooms (id, name, kind, dm_key, created_at, created_by) VALUES ($1, $2, $3, $4, $5, $6)`,
		id, r.Name, r.Kind, nullString(r.DMKey), w.s.opts.Now().UnixMilli(), nullString(r.CreatedBy))
	if err != nil {
		return "", fmt.Errorf("create room: %w", w.s.conflict(err))
	}
	return id, nil
}

// AddMember makes a user a member, with the read marker at the room's end.
func (w *wtx) AddMember(roomID, userID string) error {
	err := w.execOne("add member to room "+roomID, `INSERT INTO members (room_id, user_id, read_seq, joined_at)
		SELECT $1, $2, last_seq, $3 FROM rooms WHERE id = $1`, roomID, userID, w.s.opts.Now().UnixMilli())
	if err != nil {
		return w.s.conflict(err)
	}
	return w.countMembers(roomID, +1)
}

// RemoveMember ends a membership.
func (w *wtx) RemoveMember(roomID, userID string) error {
	if err := w.execOne("remove member of room "+roomID, `DELETE FROM members WHERE room_id = $1 AND user_id = $2`, roomID, userID); err != nil {
		return err
	}
	return w.countMembers(roomID, -1)
}

// countMembers adds delta to the room's member count (schemaMemberCount),
// in the transaction of the membership change.
func (w *wtx) countMembers(roomID string, delta int) error {
	return w.execOne("member count of room "+roomID, `UPDATE rooms SET member_count = member_count + $2 WHERE id = $1`, roomID, delta)
}

// SetRead moves a member's read marker forward, clamped to the room's last
// seq.
func (w *wtx) SetRead(roomID, userID string, seq int64) error {
	return w.execOne("read marker in room "+roomID, `UPDATE members
		SET read_seq = CASE WHEN c.seq > read_seq THEN c.seq ELSE read_seq END
		FROM (SELECT CASE WHEN $3 < last_seq THEN $3 ELSE last_seq END AS seq FROM rooms WHERE id = $1) c
		WHERE room_id = $1 AND user_id = $2`, roomID, userID, seq)
}
