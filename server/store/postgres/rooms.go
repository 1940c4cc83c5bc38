package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"minichat/server/protocol"
	"minichat/server/store"
)

// CreateRoom creates a public or private room with the creator as its only
// member.
func (s *Store) CreateRoom(ctx context.Context, creatorID, name, kind string) (protocol.Room, error) {
	if kind != protocol.RoomPublic && kind != protocol.RoomPrivate {
		return protocol.Room{}, fmt.Errorf("create room: kind %q: %w", kind, store.ErrInvalid)
	}
	var room protocol.Room
	err := s.write(ctx, nil, func(ctx context.Context, tx pgx.Tx) ([]store.Event, error) {
		now := s.opts.Now()
		creator, err := userByID(ctx, tx, creatorID)
		if err != nil {
			return nil, err
		}
		var taken bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM rooms WHERE lower(name) = lower($1) AND kind <> 'dm')`, name).Scan(&taken); err != nil {
			return nil, err
		}
		if taken {
			return nil, fmt.Errorf("room name %q: %w", name, store.ErrConflict)
		}
		id := store.NewID("r_")
		if _, err := tx.Exec(ctx, `INSERT INTO rooms (id, name, kind, created_at) VALUES ($1, $2, $3, $4)`,
			id, name, kind, now.UnixMilli()); err != nil {
			return nil, err
		}
		evs, err := joinEvents(ctx, tx, id, creator, now, true)
		if err != nil {
			return nil, err
		}
		room, err = roomAs(ctx, tx, id, creatorID)
		return evs, err
	})
	if err != nil {
		return protocol.Room{}, fmt.Errorf("create room: %w", err)
	}
	return room, nil
}

// Room returns a room as viewer sees it; ErrNotFound when it does not exist
// or is a private or DM room the viewer is not in.
func (s *Store) Room(ctx context.Context, roomID, viewerID string) (protocol.Room, error) {
	q, err := s.reads()
	if err != nil {
		return protocol.Room{}, fmt.Errorf("room: %w", err)
	}
	room, err := roomAs(ctx, q, roomID, viewerID)
	if err == nil && !store.Visible(room) {
		err = fmt.Errorf("room %s: %w", roomID, store.ErrNotFound)
	}
	if err != nil {
		return protocol.Room{}, fmt.Errorf("room: %w", err)
	}
	return room, nil
}

// Rooms lists the user's rooms plus every public room, ordered by kind
// (public, private, dm) then name.
func (s *Store) Rooms(ctx context.Context, userID string) ([]protocol.Room, error) {
	q, err := s.reads()
	if err != nil {
		return nil, fmt.Errorf("list rooms: %w", err)
	}
	rows, err := q.Query(ctx, `SELECT `+roomCols+` FROM `+roomFrom+`
		WHERE r.kind = 'public' OR m.user_id IS NOT NULL`, userID)
	if err != nil {
		return nil, fmt.Errorf("list rooms: %w", err)
	}
	defer rows.Close()
	var out []protocol.Room
	for rows.Next() {
		r, err := scanRoom(rows)
		if err != nil {
			return nil, fmt.Errorf("list rooms: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list rooms: %w", err)
	}
	store.SortRooms(out)
	return out, nil
}

// MemberRoomIDs lists the ids of the rooms the user belongs to.
func (s *Store) MemberRoomIDs(ctx context.Context, userID string) ([]string, error) {
	return s.readStrings(ctx, "member rooms", `SELECT room_id FROM members WHERE user_id = $1 ORDER BY room_id COLLATE "C"`, userID)
}

// IsMember reports whether the user belongs to the room.
func (s *Store) IsMember(ctx context.Context, roomID, userID string) (bool, error) {
	q, err := s.reads()
	if err != nil {
		return false, fmt.Errorf("is member: %w", err)
	}
	ok, err := isMember(ctx, q, roomID, userID)
	if err != nil {
		return false, fmt.Errorf("is member: %w", err)
	}
	return ok, nil
}

// Join makes the user a member of a public room.
func (s *Store) Join(ctx context.Context, roomID, userID string) (protocol.Room, error) {
	var room protocol.Room
	err := s.write(ctx, []string{roomID}, func(ctx context.Context, tx pgx.Tx) ([]store.Event, error) {
		u, err := userByID(ctx, tx, userID)
		if err != nil {
			return nil, err
		}
		room, err = roomAs(ctx, tx, roomID, userID)
		if err != nil {
			return nil, err
		}
		if room.Member {
			return nil, nil // joining twice changes nothing
		}
		if room.Kind != protocol.RoomPublic {
			return nil, fmt.Errorf("room %s is %s: %w", roomID, room.Kind, store.ErrForbidden)
		}
		evs, err := joinEvents(ctx, tx, roomID, u, s.opts.Now(), false)
		if err != nil {
			return nil, err
		}
		room, err = roomAs(ctx, tx, roomID, userID)
		return evs, err
	})
	if err != nil {
		return protocol.Room{}, fmt.Errorf("join: %w", err)
	}
	return room, nil
}

// Leave removes the user from a room: system message "NAME left", then
// EventMember (Joined false).
func (s *Store) Leave(ctx context.Context, roomID, userID string) error {
	err := s.write(ctx, []string{roomID}, func(ctx context.Context, tx pgx.Tx) ([]store.Event, error) {
		u, err := userByID(ctx, tx, userID)
		if err != nil {
			return nil, err
		}
		room, err := roomAs(ctx, tx, roomID, userID)
		if err != nil {
			return nil, err
		}
		if !room.Member {
			return nil, fmt.Errorf("user %s in room %s: %w", userID, roomID, store.ErrNotFound)
		}
		if room.Kind == protocol.RoomDM {
			return nil, fmt.Errorf("leave a direct-message room: %w", store.ErrForbidden)
		}
		msg, err := appendSystem(ctx, tx, roomID, u.Name+" left", s.opts.Now())
		if err != nil {
			return nil, err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM members WHERE room_id = $1 AND user_id = $2`, roomID, userID); err != nil {
			return nil, err
		}
		ev, err := memberEvent(ctx, tx, roomID, userID, false, false)
		if err != nil {
			return nil, err
		}
		return []store.Event{{Kind: store.EventMessage, RoomID: roomID, Seq: msg.Seq, Message: msg}, ev}, nil
	})
	if err != nil {
		return fmt.Errorf("leave: %w", err)
	}
	return nil
}

// Invite makes invitee a member of a room inviter belongs to.
func (s *Store) Invite(ctx context.Context, roomID, inviterID, inviteeID string) error {
	err := s.write(ctx, []string{roomID}, func(ctx context.Context, tx pgx.Tx) ([]store.Event, error) {
		room, err := roomAs(ctx, tx, roomID, inviterID)
		if err != nil {
			return nil, err
		}
		if !room.Member {
			return nil, fmt.Errorf("inviter %s in room %s: %w", inviterID, roomID, store.ErrNotFound)
		}
		if room.Kind == protocol.RoomDM {
			return nil, fmt.Errorf("invite to a direct-message room: %w", store.ErrForbidden)
		}
		invitee, err := userByID(ctx, tx, inviteeID)
		if err != nil {
			return nil, err
		}
		in, err := isMember(ctx, tx, roomID, inviteeID)
		if err != nil || in {
			return nil, err // inviting a member again changes nothing
		}
		return joinEvents(ctx, tx, roomID, invitee, s.opts.Now(), false)
	})
	if err != nil {
		return fmt.Errorf("invite: %w", err)
	}
	return nil
}

// DM returns the direct-message room of two distinct users, creating it on
// the first call from either side. When both sides (on two nodes) create it
// at once, the loser's insert hits the unique dm_key, runs again and finds
// the winner's room.
func (s *Store) DM(ctx context.Context, userID, otherID string) (protocol.Room, error) {
	if userID == otherID {
		return protocol.Room{}, fmt.Errorf("direct-message room with oneself: %w", store.ErrInvalid)
	}
	key := userID + "|" + otherID
	if otherID < userID {
		key = otherID + "|" + userID
	}
	var room protocol.Room
	err := s.write(ctx, nil, func(ctx context.Context, tx pgx.Tx) ([]store.Event, error) {
		var id string
		err := tx.QueryRow(ctx, `SELECT id FROM rooms WHERE dm_key = $1`, key).Scan(&id)
		if err == nil {
			room, err = roomAs(ctx, tx, id, userID)
			return nil, err
		}
		if !isNoRows(err) {
			return nil, err
		}
		for _, uid := range []string{userID, otherID} {
			if _, err := userByID(ctx, tx, uid); err != nil {
				return nil, err
			}
		}
		now := s.opts.Now()
		id = store.NewID("r_")
		if _, err := tx.Exec(ctx, `INSERT INTO rooms (id, name, kind, dm_key, created_at) VALUES ($1, '', 'dm', $2, $3)`,
			id, key, now.UnixMilli()); err != nil {
			return nil, err
		}
		var evs []store.Event
		for _, uid := range []string{userID, otherID} {
			if err := addMember(ctx, tx, id, uid, now); err != nil {
				return nil, err
			}
		}
		for _, uid := range []string{userID, otherID} {
			ev, err := memberEvent(ctx, tx, id, uid, true, uid == userID)
			if err != nil {
				return nil, err
			}
			evs = append(evs, ev)
		}
		room, err = roomAs(ctx, tx, id, userID)
		return evs, err
	})
	if err != nil {
		return protocol.Room{}, fmt.Errorf("direct-message room: %w", err)
	}
	return room, nil
}

func isMember(ctx context.Context, q querier, roomID, userID string) (bool, error) {
	var ok bool
	err := q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM members WHERE room_id = $1 AND user_id = $2)`,
		roomID, userID).Scan(&ok)
	return ok, err
}

// addMember inserts a membership with the read marker at the room's current
// end, so that a newcomer's unread count starts at what follows.
func addMember(ctx context.Context, tx pgx.Tx, roomID, userID string, now time.Time) error {
	_, err := tx.Exec(ctx, `INSERT INTO members (room_id, user_id, read_seq, joined_at)
		VALUES ($1, $2, (SELECT last_seq FROM rooms WHERE id = $1), $3)`, roomID, userID, now.UnixMilli())
	return err
}

// memberEvent is the EventMember of userID in a room, with the room as that
// user sees it now.
func memberEvent(ctx context.Context, tx pgx.Tx, roomID, userID string, joined, created bool) (store.Event, error) {
	room, err := roomAs(ctx, tx, roomID, userID)
	if err != nil {
		return store.Event{}, err
	}
	return store.Event{Kind: store.EventMember, RoomID: roomID, UserID: userID, Joined: joined, Room: room, Created: created}, nil
}

// nextSeq is a CTE that takes room $1's next seq: the UPDATE locks the
// room's row until the transaction ends, so concurrent writers of the room
// (on any node) take seqs one after another, and a statement that fails
// leaves last_seq as it was.
const nextSeq = `WITH next AS (UPDATE rooms SET last_seq = last_seq + 1 WHERE id = $1 RETURNING last_seq) `

// appendSystem appends a system message to a room's log.
func appendSystem(ctx context.Context, tx pgx.Tx, roomID, text string, now time.Time) (protocol.Message, error) {
	ts := now.UnixMilli()
	msg := protocol.Message{ID: store.NewMessageID(now), Room: roomID, Kind: protocol.KindSystem, Text: text, TS: formatMilli(ts)}
	err := tx.QueryRow(ctx, nextSeq+`INSERT INTO messages (room_id, seq, id, kind, text, ts)
		SELECT $1, last_seq, $2, 'system', $3, $4 FROM next RETURNING seq`, roomID, msg.ID, text, ts).Scan(&msg.Seq)
	if isNoRows(err) {
		return msg, fmt.Errorf("room %s: %w", roomID, store.ErrNotFound)
	}
	return msg, err
}
