package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

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
	err := s.write(ctx, func(w *stmtCache) ([]store.Event, error) {
		now := s.opts.Now()
		creator, err := userByID(ctx, w, creatorID)
		if err != nil {
			return nil, err
		}
		var taken bool
		if err := w.queryRow(ctx, `SELECT EXISTS (SELECT 1 FROM rooms WHERE name = ? AND kind <> 'dm')`, name).Scan(&taken); err != nil {
			return nil, err
		}
		if taken {
			return nil, fmt.Errorf("room name %q: %w", name, store.ErrConflict)
		}
		id := store.NewID("r_")
		if _, err := w.exec(ctx, `INSERT INTO rooms (id, name, kind, created_at) VALUES (?, ?, ?, ?)`,
			id, name, kind, now.UnixMilli()); err != nil {
			return nil, err
		}
		evs, err := joinEvents(ctx, w, id, creator, now, true)
		if err != nil {
			return nil, err
		}
		room, err = roomAs(ctx, w, id, creatorID)
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
	room, err := roomAs(ctx, s.reads, roomID, viewerID)
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
	rows, err := s.reads.query(ctx, `SELECT `+roomCols+` FROM `+roomFrom+`
		WHERE r.kind = 'public' OR m.user_id IS NOT NULL`, "", userID)
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
	ids, err := s.reads.queryStrings(ctx, `SELECT room_id FROM members WHERE user_id = ? ORDER BY room_id`, userID)
	if err != nil {
		return nil, fmt.Errorf("member rooms: %w", err)
	}
	return ids, nil
}

// IsMember reports whether the user belongs to the room.
func (s *Store) IsMember(ctx context.Context, roomID, userID string) (bool, error) {
	var ok bool
	err := s.reads.queryRow(ctx, `SELECT EXISTS (SELECT 1 FROM members WHERE room_id = ? AND user_id = ?)`,
		roomID, userID).Scan(&ok)
	if err != nil {
		return false, fmt.Errorf("is member: %w", err)
	}
	return ok, nil
}

// Join makes the user a member of a public room.
func (s *Store) Join(ctx context.Context, roomID, userID string) (protocol.Room, error) {
	var room protocol.Room
	err := s.write(ctx, func(w *stmtCache) ([]store.Event, error) {
		u, err := userByID(ctx, w, userID)
		if err != nil {
			return nil, err
		}
		room, err = roomAs(ctx, w, roomID, userID)
		if err != nil {
			return nil, err
		}
		if room.Member {
			return nil, nil // joining twice changes nothing
		}
		if room.Kind != protocol.RoomPublic {
			return nil, fmt.Errorf("room %s is %s: %w", roomID, room.Kind, store.ErrForbidden)
		}
		evs, err := joinEvents(ctx, w, roomID, u, s.opts.Now(), false)
		if err != nil {
			return nil, err
		}
		room, err = roomAs(ctx, w, roomID, userID)
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
	err := s.write(ctx, func(w *stmtCache) ([]store.Event, error) {
		u, err := userByID(ctx, w, userID)
		if err != nil {
			return nil, err
		}
		room, err := roomAs(ctx, w, roomID, userID)
		if err != nil {
			return nil, err
		}
		if !room.Member {
			return nil, fmt.Errorf("user %s in room %s: %w", userID, roomID, store.ErrNotFound)
		}
		if room.Kind == protocol.RoomDM {
			return nil, fmt.Errorf("leave a direct-message room: %w", store.ErrForbidden)
		}
		msg, err := appendSystem(ctx, w, roomID, u.Name+" left", s.opts.Now())
		if err != nil {
			return nil, err
		}
		if _, err := w.exec(ctx, `DELETE FROM members WHERE room_id = ? AND user_id = ?`, roomID, userID); err != nil {
			return nil, err
		}
		ev, err := memberEvent(ctx, w, roomID, userID, false, false)
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
	err := s.write(ctx, func(w *stmtCache) ([]store.Event, error) {
		room, err := roomAs(ctx, w, roomID, inviterID)
		if err != nil {
			return nil, err
		}
		if !room.Member {
			return nil, fmt.Errorf("inviter %s in room %s: %w", inviterID, roomID, store.ErrNotFound)
		}
		if room.Kind == protocol.RoomDM {
			return nil, fmt.Errorf("invite to a direct-message room: %w", store.ErrForbidden)
		}
		invitee, err := userByID(ctx, w, inviteeID)
		if err != nil {
			return nil, err
		}
		in, err := isMember(ctx, w, roomID, inviteeID)
		if err != nil || in {
			return nil, err // inviting a member again changes nothing
		}
		return joinEvents(ctx, w, roomID, invitee, s.opts.Now(), false)
	})
	if err != nil {
		return fmt.Errorf("invite: %w", err)
	}
	return nil
}

// DM returns the direct-message room of two distinct users, creating it on
// the first call from either side.
func (s *Store) DM(ctx context.Context, userID, otherID string) (protocol.Room, error) {
	if userID == otherID {
		return protocol.Room{}, fmt.Errorf("direct-message room with oneself: %w", store.ErrInvalid)
	}
	// The key does not depend on who asks, so both sides find one room.
	key := userID + "|" + otherID
	if otherID < userID {
		key = otherID + "|" + userID
	}
	var room protocol.Room
	err := s.write(ctx, func(w *stmtCache) ([]store.Event, error) {
		var id string
		err := w.queryRow(ctx, `SELECT id FROM rooms WHERE dm_key = ?`, key).Scan(&id)
		if err == nil {
			room, err = roomAs(ctx, w, id, userID)
			return nil, err
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return nil, err
		}
		for _, uid := range []string{userID, otherID} {
			if _, err := userByID(ctx, w, uid); err != nil {
				return nil, err
			}
		}
		now := s.opts.Now()
		id = store.NewID("r_")
		if _, err := w.exec(ctx, `INSERT INTO rooms (id, name, kind, dm_key, created_at) VALUES (?, '', 'dm', ?, ?)`,
			id, key, now.UnixMilli()); err != nil {
			return nil, err
		}
		var evs []store.Event
		for _, uid := range []string{userID, otherID} {
			if err := addMember(ctx, w, id, uid, now); err != nil {
				return nil, err
			}
		}
		for _, uid := range []string{userID, otherID} {
			// Created marks the side that opened the conversation.
			ev, err := memberEvent(ctx, w, id, uid, true, uid == userID)
			if err != nil {
				return nil, err
			}
			evs = append(evs, ev)
		}
		room, err = roomAs(ctx, w, id, userID)
		return evs, err
	})
	if err != nil {
		return protocol.Room{}, fmt.Errorf("direct-message room: %w", err)
	}
	return room, nil
}

func isMember(ctx context.Context, q *stmtCache, roomID, userID string) (bool, error) {
	var ok bool
	err := q.queryRow(ctx, `SELECT EXISTS (SELECT 1 FROM members WHERE room_id = ? AND user_id = ?)`,
		roomID, userID).Scan(&ok)
	return ok, err
}

// addMember inserts a membership with the read marker at the room's current
// end, so that a newcomer's unread count starts at what follows.
func addMember(ctx context.Context, w *stmtCache, roomID, userID string, now time.Time) error {
	_, err := w.exec(ctx, `INSERT INTO members (room_id, user_id, read_seq, joined_at)
		VALUES (?1, ?2, (SELECT last_seq FROM rooms WHERE id = ?1), ?3)`, roomID, userID, now.UnixMilli())
	return err
}

// memberEvent is the EventMember of userID in a room, with the room as that
// user sees it now.
func memberEvent(ctx context.Context, w *stmtCache, roomID, userID string, joined, created bool) (store.Event, error) {
	room, err := roomAs(ctx, w, roomID, userID)
	if err != nil {
		return store.Event{}, err
	}
	return store.Event{Kind: store.EventMember, RoomID: roomID, UserID: userID, Joined: joined, Room: room, Created: created}, nil
}

// seqExpr is the next seq of room ?1, for the seq column of an insert into
// messages or updates; the tables' triggers store it into rooms.last_seq.
const seqExpr = `(SELECT last_seq + 1 FROM rooms WHERE id = ?1)`

// appendSystem appends a system message to a room's log.
func appendSystem(ctx context.Context, w *stmtCache, roomID, text string, now time.Time) (protocol.Message, error) {
	ts := now.UnixMilli()
	msg := protocol.Message{ID: store.NewMessageID(now), Room: roomID, Kind: protocol.KindSystem, Text: text, TS: formatMilli(ts)}
	err := w.queryRow(ctx, `INSERT INTO messages (room_id, seq, id, kind, text, ts)
		VALUES (?1, `+seqExpr+`, ?2, 'system', ?3, ?4) RETURNING seq`, roomID, msg.ID, text, ts).Scan(&msg.Seq)
	return msg, err
}
