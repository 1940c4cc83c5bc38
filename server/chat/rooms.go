package chat

import (
	"context"
	"errors"

	"minichat/server/protocol"
	"minichat/server/store"
)

// CreateRoom creates a public or private room with user as its member.
// Events: the creator's membership (Created), then the system message
// "NAME created the room".
func (s *Service) CreateRoom(ctx context.Context, user protocol.User, name string, private bool) (protocol.Room, error) {
	if err := protocol.CheckName("room name", name); err != nil {
		return protocol.Room{}, err
	}
	kind := protocol.RoomPublic
	if private {
		kind = protocol.RoomPrivate
	}
	taken := func() error { return protocol.Errorf(protocol.CodeConflict, "a room named %q already exists", name) }
	var room protocol.Room
	err := s.write(ctx, "room", nil, func(tx store.Tx) ([]store.Event, error) {
		u, err := account(tx, user.ID)
		if err != nil {
			return nil, err
		}
		switch _, err := tx.RoomByName(name); {
		case err == nil:
			return nil, taken()
		case !errors.Is(err, store.ErrNotFound):
			return nil, err
		}
		id, err := tx.CreateRoom(store.NewRoom{Name: name, Kind: kind, CreatedBy: u.ID})
		if errors.Is(err, store.ErrConflict) {
			return nil, taken()
		}
		if err != nil {
			return nil, err
		}
		evs, err := join(tx, id, u.User, true)
		if err != nil {
			return nil, err
		}
		room, err = tx.View(id, u.ID)
		return evs, err
	})
	return room, err
}

// userNamed finds the account of a name someone typed.
func (s *Service) userNamed(ctx context.Context, username string) (store.Account, error) {
	if err := protocol.CheckName("username", username); err != nil {
		return store.Account{}, err
	}
	a, err := s.Store.UserByName(ctx, username)
	return a, codeErr(err, "user")
}

// account reads a user inside a write; not_found when there is none.
func account(tx store.Tx, id string) (store.Account, error) {
	a, err := tx.User(id)
	if errors.Is(err, store.ErrNotFound) {
		return a, protocol.Errorf(protocol.CodeNotFound, "user not found")
	}
	return a, err
}

// join makes u a member of a room and returns what follows: u's
// membership event (with the room as u now sees it), then the system
// message "NAME joined" (or "NAME created the room").
func join(tx store.Tx, roomID string, u protocol.User, created bool) ([]store.Event, error) {
	if err := tx.AddMember(roomID, u.ID); err != nil {
		return nil, err
	}
	view, err := tx.View(roomID, u.ID)
	if err != nil {
		return nil, err
	}
	text := joinedText(u.Name)
	if created {
		text = createdText(u.Name)
	}
	msg, err := tx.AppendSystem(roomID, text)
	if err != nil {
		return nil, err
	}
	return []store.Event{
		{Kind: store.EventMember, RoomID: roomID, UserID: u.ID, Joined: true, Room: view, Created: created},
		{Kind: store.EventMessage, RoomID: roomID, Seq: msg.Seq, Message: msg},
	}, nil
}

// Join makes the user a member of a public room (mayJoin).
func (s *Service) Join(ctx context.Context, user protocol.User, roomID string) (protocol.Room, error) {
	if err := checkRoomID(roomID); err != nil {
		return protocol.Room{}, err
	}
	var room protocol.Room
	err := s.write(ctx, "room", []string{roomID}, func(tx store.Tx) ([]store.Event, error) {
		r, err := roomOf(tx, roomID, user.ID)
		if err != nil {
			return nil, err
		}
		already, err := mayJoin(r)
		if err != nil {
			return nil, err
		}
		var evs []store.Event
		if !already {
			u, err := account(tx, user.ID)
			if err != nil {
				return nil, err
			}
			if evs, err = join(tx, roomID, u.User, false); err != nil {
				return nil, err
			}
		}
		room, err = tx.View(roomID, user.ID)
		return evs, err
	})
	return room, err
}

// Leave removes the user from a room (mayLeave). Events: the system message
// "NAME left", then the membership's end.
func (s *Service) Leave(ctx context.Context, user protocol.User, roomID string) error {
	if err := checkRoomID(roomID); err != nil {
		return err
	}
	return s.write(ctx, "room", []string{roomID}, func(tx store.Tx) ([]store.Event, error) {
		r, err := roomOf(tx, roomID, user.ID)
		if err != nil {
			return nil, err
		}
		if err := mayLeave(r); err != nil {
			return nil, err
		}
		u, err := account(tx, user.ID)
		if err != nil {
			return nil, err
		}
		msg, err := tx.AppendSystem(roomID, leftText(u.Name))
		if err != nil {
			return nil, err
		}
		if err := tx.RemoveMember(roomID, user.ID); err != nil {
			return nil, err
		}
		// The hooks the user made here stop with the membership.
		if err := tx.DeleteHooksOf(roomID, user.ID); err != nil {
			return nil, err
		}
		view, err := tx.View(roomID, user.ID)
		if err != nil {
			return nil, err
		}
		return []store.Event{
			{Kind: store.EventMessage, RoomID: roomID, Seq: msg.Seq, Message: msg},
			{Kind: store.EventMember, RoomID: roomID, UserID: user.ID, Joined: false, Room: view},
		}, nil
	})
}

// Invite adds another user to a room the user belongs to (mayInvite).
// Inviting a member again changes nothing. Events: as join.
func (s *Service) Invite(ctx context.Context, user protocol.User, roomID, username string) error {
	if err := checkRoomID(roomID); err != nil {
		return err
	}
	other, err := s.userNamed(ctx, username)
	if err != nil {
		return err
	}
	return s.write(ctx, "room", []string{roomID}, func(tx store.Tx) ([]store.Event, error) {
		r, err := roomOf(tx, roomID, user.ID)
		if err != nil {
			return nil, err
		}
		if err := mayInvite(r); err != nil {
			return nil, err
		}
		invitee, err := tx.Room(roomID, other.ID)
		if err != nil || invitee.Member {
			return nil, err
		}
		u, err := account(tx, other.ID)
		if err != nil {
			return nil, err
		}
		return join(tx, roomID, u.User, false)
	})
}

// DM returns the one direct-message room of the user and username, creating
// it (both members; events: each one's membership, no system message) on the
// first call from either side. The room is as the user sees it.
func (s *Service) DM(ctx context.Context, user protocol.User, username string) (protocol.Room, error) {
	other, err := s.userNamed(ctx, username)
	if err != nil {
		return protocol.Room{}, err
	}
	if err := mayDM(user, other.User); err != nil {
		return protocol.Room{}, err
	}
	return s.openConversation(ctx, user, []string{other.ID}, nil)
}

// openConversation returns the one direct-message room of the user and
// the users of others, as the user sees it, creating it on the first call
// from any of them: every member's membership event, the user's marked
// Created (the side that opened the conversation); no system message.
// check, when not nil, is asked inside the transaction, with the others'
// accounts, before the room is created. DM and GroupDM both come here.
func (s *Service) openConversation(ctx context.Context, user protocol.User, others []string, check func([]store.Account) error) (protocol.Room, error) {
	all := append([]string{user.ID}, others...)
	key := conversationKey(all)
	var room protocol.Room
	err := s.write(ctx, "room", nil, func(tx store.Tx) ([]store.Event, error) {
		id, err := tx.DMRoom(key)
		if err == nil {
			room, err = tx.View(id, user.ID)
			return nil, err
		}
		if !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
		accounts := make([]store.Account, len(all))
		for i, uid := range all {
			if accounts[i], err = account(tx, uid); err != nil {
				return nil, err
			}
		}
		if check != nil {
			if err := check(accounts[1:]); err != nil {
				return nil, err
			}
		}
		// Two nodes creating the room at once: the loser's insert finds the
		// key taken, runs again and finds the winner's room.
		if id, err = tx.CreateRoom(store.NewRoom{Kind: protocol.RoomDM, DMKey: key}); err != nil {
			return nil, err
		}
		for _, uid := range all {
			if err := tx.AddMember(id, uid); err != nil {
				return nil, err
			}
		}
		var evs []store.Event
		for _, uid := range all {
			view, err := tx.View(id, uid)
			if err != nil {
				return nil, err
			}
			evs = append(evs, store.Event{Kind: store.EventMember, RoomID: id, UserID: uid, Joined: true, Room: view, Created: uid == user.ID})
		}
		room, err = tx.View(id, user.ID)
		return evs, err
	})
	return room, err
}
