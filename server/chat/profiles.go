package chat

import (
	"context"
	"strings"

	"minichat/server/protocol"
	"minichat/server/store"
)

// UpdateProfile changes the fields of user's profile that ch names
// (display name, status text), normalised (protocol.NormalizeDisplayName,
// NormalizeStatusText), and returns the user as it is now. A change tells
// the user's connections and every member of the user's rooms (an
// EventUser); a change that changes nothing tells no one.
func (s *Service) UpdateProfile(ctx context.Context, user protocol.User, ch protocol.ProfileChange) (protocol.User, error) {
	var name, status *string
	if ch.DisplayName != nil {
		n, err := protocol.NormalizeDisplayName(*ch.DisplayName)
		if err != nil {
			return protocol.User{}, err
		}
		name = &n
	}
	if ch.StatusText != nil {
		t, err := protocol.NormalizeStatusText(*ch.StatusText)
		if err != nil {
			return protocol.User{}, err
		}
		status = &t
	}
	var u protocol.User
	err := s.write(ctx, "user", nil, func(tx store.Tx) ([]store.Event, error) {
		a, err := account(tx, user.ID)
		if err != nil {
			return nil, err
		}
		u = a.User
		if name != nil {
			u.DisplayName = *name
		}
		if status != nil {
			u.StatusText = *status
		}
		if u == a.User {
			return nil, nil
		}
		if err := tx.SetProfile(u.ID, u.DisplayName, u.StatusText); err != nil {
			return nil, err
		}
		return userEvent(tx, u)
	})
	return u, err
}

// SetAvatar replaces user's avatar with the picture served at path (""
// removes it) and returns the user as it is now and the path it replaced
// ("" when none), whose files the caller may remove. Members of the user's
// rooms are told, as by UpdateProfile.
func (s *Service) SetAvatar(ctx context.Context, user protocol.User, path string) (u protocol.User, old string, err error) {
	err = s.write(ctx, "user", nil, func(tx store.Tx) ([]store.Event, error) {
		a, err := account(tx, user.ID)
		if err != nil {
			return nil, err
		}
		u, old = a.User, a.Avatar
		if old == path {
			return nil, nil
		}
		if old, err = tx.SetAvatar(u.ID, path); err != nil {
			return nil, err
		}
		u.Avatar = path
		return userEvent(tx, u)
	})
	if err != nil || old == path {
		return u, "", err
	}
	return u, old, nil
}

// userEvent is the event of a profile change: the user as it is now and
// the rooms whose members are told.
func userEvent(tx store.Tx, u protocol.User) ([]store.Event, error) {
	rooms, err := tx.MemberRoomIDs(u.ID)
	if err != nil {
		return nil, err
	}
	return []store.Event{{Kind: store.EventUser, User: u, Rooms: rooms}}, nil
}

// SearchUsers returns a page of the people a signed-in user may find —
// every account that is not disabled, with its public profile and no more
// — whose name, display name or a word of it starts with query, ordered by
// name. cursor is the previous page's Next ("" for the first page); limit
// <= 0 takes protocol.DefaultUserSearch, and at most MaxUserSearch.
func (s *Service) SearchUsers(ctx context.Context, viewer protocol.User, query, cursor string, limit int) (protocol.Users, error) {
	_ = viewer // every member may find every active account: anyone may be invited or written to
	if len(query) > protocol.MaxUserQuery {
		return protocol.Users{}, protocol.Errorf(protocol.CodeBadRequest, "q must be at most %d bytes", protocol.MaxUserQuery)
	}
	if err := protocol.CheckText("q", query); err != nil {
		return protocol.Users{}, err
	}
	if cursor != "" && !protocol.ValidName(cursor) {
		return protocol.Users{}, protocol.Errorf(protocol.CodeBadRequest, "cursor must be the next of a previous page")
	}
	switch {
	case limit <= 0:
		limit = protocol.DefaultUserSearch
	case limit > protocol.MaxUserSearch:
		limit = protocol.MaxUserSearch
	}
	// A leading @ is how people write a name in a message.
	query = strings.TrimPrefix(strings.TrimSpace(query), "@")
	users, err := s.Store.SearchUsers(ctx, query, strings.ToLower(cursor), limit+1)
	if err != nil {
		return protocol.Users{}, codeErr(err, "users")
	}
	page := protocol.Users{Users: users}
	if len(users) > limit {
		page.Users = users[:limit]
		next := strings.ToLower(page.Users[limit-1].Name)
		page.Next = &next
	}
	return page, nil
}
