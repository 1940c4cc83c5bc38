package chat

import (
	"context"
	"errors"
	"slices"

	"minichat/server/protocol"
	"minichat/server/store"
)

// The rules and writes of what members change of a room itself: its topic,
// its name, whether it is archived; and group direct messages.

// notArchived: an archived room is read-only — nothing is posted, edited,
// deleted or reacted to in it until it is unarchived.
func notArchived(r protocol.Room) error {
	if r.Archived {
		return protocol.Errorf(protocol.CodeArchived, "this room is archived: it is read-only until someone unarchives it")
	}
	return nil
}

// maySetTopic: any member may set the topic of a room that is not
// archived, a direct-message room included.
func maySetTopic(r protocol.Room) error { return mayWrite(r, "set its topic") }

// mayManage: who may rename, archive and unarchive a room (r as the user
// sees it): an admin, and the member who created it. Rooms made before
// rooms recorded their creator are the admins' only; direct-message rooms
// are nobody's to rename or archive.
func mayManage(r protocol.Room, user protocol.User, what string) error {
	if err := mayView(r); err != nil {
		return err
	}
	if r.Kind == protocol.RoomDM {
		return protocol.Errorf(protocol.CodeForbidden, "a direct-message room cannot be %s", what)
	}
	if user.Role == protocol.RoleAdmin || (r.Member && r.CreatedBy != "" && r.CreatedBy == user.ID) {
		return nil
	}
	return protocol.Errorf(protocol.CodeForbidden, "only the room's creator or an admin may %s it", verb(what))
}

func verb(what string) string {
	switch what {
	case "renamed":
		return "rename"
	case "archived":
		return "archive"
	}
	return "unarchive"
}

// mayGroupDM: a group direct message names 2 to 7 other people, each once,
// who exist and are not disabled (others as read; the caller is not among
// them).
func mayGroupDM(user protocol.User, ids []string, others []store.Account) error {
	if len(ids) < protocol.MinGroupOthers || len(ids) > protocol.MaxGroupOthers {
		return protocol.Errorf(protocol.CodeBadRequest, "a group conversation has %d to %d people besides you", protocol.MinGroupOthers, protocol.MaxGroupOthers)
	}
	for i, id := range ids {
		if id == user.ID {
			return protocol.Errorf(protocol.CodeBadRequest, "list the other people only, not yourself")
		}
		if slices.Contains(ids[:i], id) {
			return protocol.Errorf(protocol.CodeBadRequest, "%s is listed twice", id)
		}
	}
	for _, a := range others {
		if a.Disabled {
			return protocol.Errorf(protocol.CodeForbidden, "%s's account is disabled", a.Name)
		}
	}
	return nil
}

// The system messages of room changes.
func topicText(name, topic string) string {
	if topic == "" {
		return name + " cleared the topic"
	}
	return name + " set the topic: " + topic
}
func renamedText(name, from, to string) string {
	return name + " renamed the room from " + from + " to " + to
}
func archivedText(name string, archived bool) string {
	if archived {
		return name + " archived the room"
	}
	return name + " unarchived the room"
}

// systemEvent appends a system message to a room's log and returns its event.
func systemEvent(tx store.Tx, roomID, text string) ([]store.Event, error) {
	msg, err := tx.AppendSystem(roomID, text)
	if err != nil {
		return nil, err
	}
	return []store.Event{{Kind: store.EventMessage, RoomID: roomID, Seq: msg.Seq, Message: msg}}, nil
}

// SetTopic sets a room's topic (maySetTopic); "" clears it. The change is
// a system message in the room's log ("NAME set the topic: …"), so that
// every member sees it live, after a reconnect and in history; setting the
// same topic again changes nothing. It returns the room as the user sees it.
func (s *Service) SetTopic(ctx context.Context, user protocol.User, roomID, topic string) (protocol.Room, error) {
	if err := checkRoomID(roomID); err != nil {
		return protocol.Room{}, err
	}
	topic, err := protocol.NormalizeTopic(topic)
	if err != nil {
		return protocol.Room{}, err
	}
	var room protocol.Room
	err = s.write(ctx, "room", []string{roomID}, func(tx store.Tx) ([]store.Event, error) {
		r, err := roomOf(tx, roomID, user.ID)
		if err != nil {
			return nil, err
		}
		if err := maySetTopic(r); err != nil {
			return nil, err
		}
		cur, err := tx.View(roomID, user.ID)
		if err != nil || cur.Topic == topic {
			room = cur
			return nil, err
		}
		u, err := account(tx, user.ID)
		if err != nil {
			return nil, err
		}
		if err := tx.SetTopic(roomID, topic); err != nil {
			return nil, err
		}
		evs, err := systemEvent(tx, roomID, topicText(u.Name, topic))
		if err != nil {
			return nil, err
		}
		room, err = tx.View(roomID, user.ID)
		return evs, err
	})
	return room, err
}

// Rename gives a public or private room a new name, keeping its id
// (mayManage); the change is a system message. Renaming to the same name
// changes nothing; a name another room has is a conflict.
func (s *Service) Rename(ctx context.Context, user protocol.User, roomID, name string) (protocol.Room, error) {
	if err := checkRoomID(roomID); err != nil {
		return protocol.Room{}, err
	}
	if err := protocol.CheckName("room name", name); err != nil {
		return protocol.Room{}, err
	}
	taken := func() error { return protocol.Errorf(protocol.CodeConflict, "a room named %q already exists", name) }
	var room protocol.Room
	err := s.write(ctx, "room", []string{roomID}, func(tx store.Tx) ([]store.Event, error) {
		r, err := roomOf(tx, roomID, user.ID)
		if err != nil {
			return nil, err
		}
		if err := mayManage(r, user, "renamed"); err != nil {
			return nil, err
		}
		if r.Name == name {
			room, err = tx.View(roomID, user.ID)
			return nil, err
		}
		switch other, err := tx.RoomByName(name); {
		case err == nil && other.ID != roomID:
			return nil, taken()
		case err != nil && !errors.Is(err, store.ErrNotFound):
			return nil, err
		}
		u, err := account(tx, user.ID)
		if err != nil {
			return nil, err
		}
		if err := tx.SetRoomName(roomID, name); errors.Is(err, store.ErrConflict) {
			return nil, taken()
		} else if err != nil {
			return nil, err
		}
		evs, err := systemEvent(tx, roomID, renamedText(u.Name, r.Name, name))
		if err != nil {
			return nil, err
		}
		room, err = tx.View(roomID, user.ID)
		return evs, err
	})
	return room, err
}

// Archive archives a room (archived) or brings it back (mayManage): an
// archived room is read-only and out of the directory. The change is a
// system message; asking for the state the room is in changes nothing.
func (s *Service) Archive(ctx context.Context, user protocol.User, roomID string, archived bool) (protocol.Room, error) {
	if err := checkRoomID(roomID); err != nil {
		return protocol.Room{}, err
	}
	what := "archived"
	if !archived {
		what = "unarchived"
	}
	var room protocol.Room
	err := s.write(ctx, "room", []string{roomID}, func(tx store.Tx) ([]store.Event, error) {
		r, err := roomOf(tx, roomID, user.ID)
		if err != nil {
			return nil, err
		}
		if err := mayManage(r, user, what); err != nil {
			return nil, err
		}
		if r.Archived == archived {
			room, err = tx.View(roomID, user.ID)
			return nil, err
		}
		u, err := account(tx, user.ID)
		if err != nil {
			return nil, err
		}
		if err := tx.SetArchived(roomID, archived); err != nil {
			return nil, err
		}
		// The note goes in while the room is still writable, or once it
		// is again: either way it is the log's last word on the change.
		evs, err := systemEvent(tx, roomID, archivedText(u.Name, archived))
		if err != nil {
			return nil, err
		}
		room, err = tx.View(roomID, user.ID)
		return evs, err
	})
	return room, err
}

// Members lists a page of a room's members by name (for those who may see
// the room: mayView), after the name after ("" from the first), and the
// cursor of the next page ("" after the last).
func (s *Service) Members(ctx context.Context, user protocol.User, roomID, after string, limit int) ([]protocol.User, string, error) {
	if limit == 0 {
		limit = protocol.DefaultMembersPage
	}
	if limit < 1 || limit > protocol.MaxMembersPage {
		return nil, "", protocol.Errorf(protocol.CodeBadRequest, "limit must be 1-%d", protocol.MaxMembersPage)
	}
	if after != "" && !protocol.ValidName(after) {
		return nil, "", protocol.Errorf(protocol.CodeBadRequest, "after must be a username")
	}
	r, err := s.viewOf(ctx, user, roomID)
	if err == nil {
		err = mayView(r)
	}
	if err != nil {
		return nil, "", err
	}
	users, err := s.Store.Members(ctx, roomID, lower(after), limit+1)
	if err != nil {
		return nil, "", codeErr(err, "room")
	}
	next := ""
	if len(users) > limit {
		users = users[:limit]
		next = users[limit-1].Name
	}
	return users, next, nil
}

func lower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// GroupDMNamed is GroupDM with the other people named by username.
func (s *Service) GroupDMNamed(ctx context.Context, user protocol.User, names []string) (protocol.Room, error) {
	if len(names) < protocol.MinGroupOthers || len(names) > protocol.MaxGroupOthers {
		return protocol.Room{}, mayGroupDM(user, names, nil)
	}
	ids := make([]string, len(names))
	for i, n := range names {
		a, err := s.userNamed(ctx, n)
		if err != nil {
			return protocol.Room{}, err
		}
		ids[i] = a.ID
	}
	return s.GroupDM(ctx, user, ids)
}

// GroupDM returns the one direct-message room of the user and the users of
// ids (2 to 7 others: mayGroupDM), creating it on the first call from any
// of them (every member's membership event, the creator's marked Created;
// no system message). Its name is, per viewer, the other members' names.
func (s *Service) GroupDM(ctx context.Context, user protocol.User, ids []string) (protocol.Room, error) {
	if err := mayGroupDM(user, ids, nil); err != nil {
		return protocol.Room{}, err
	}
	for _, id := range ids {
		if !protocol.ValidID(id) {
			return protocol.Room{}, protocol.Errorf(protocol.CodeNotFound, "user not found")
		}
	}
	return s.openConversation(ctx, user, ids, func(others []store.Account) error {
		return mayGroupDM(user, ids, others)
	})
}
