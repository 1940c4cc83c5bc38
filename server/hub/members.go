package hub

import (
	"slices"

	"minichat/server/protocol"
	"minichat/server/store"
)

// The leave race. An upgrade reads the user's rooms from the store, then
// registers the connection; a membership change committed in between
// reaches the hub while the user may have no connection, so the hub has
// nobody to apply it to, and Register would then add a room the user has
// just left (and its private messages would follow). So the hub keeps the
// latest membership changes in a log, numbered as they are applied; the
// upgrade takes the log's position (MemberMark) before it reads the store,
// and Register applies every change from that position on to what was
// read. Applying a change twice is harmless — the last change of a
// (user, room) wins, and changes arrive in commit order — so a change the
// read already saw does no harm either.

// memberLogKeep is how many membership changes the hub keeps; a
// registration whose mark is older than them is refused (the client
// reconnects). Twice as many are kept before the older half is dropped.
const memberLogKeep = 4096

// memberLog is the hub's log of recent membership changes; the loop owns it.
type memberLog struct {
	next    uint64 // position of the next change; starts at 1
	entries []memberChange
}

type memberChange struct {
	pos    uint64
	user   string
	room   string
	joined bool
	view   protocol.Room // the room as the user sees it after the change
}

func (l *memberLog) add(ev *store.Event) {
	if l.next == 0 {
		l.next = 1
	}
	if len(l.entries) == 2*memberLogKeep {
		n := copy(l.entries, l.entries[memberLogKeep:])
		clear(l.entries[n:])
		l.entries = l.entries[:n]
	}
	l.entries = append(l.entries, memberChange{pos: l.next, user: ev.UserID, room: ev.RoomID, joined: ev.Joined, view: ev.Room})
	l.next++
}

// mark is the position of the next change: Register applies the changes
// from there on.
func (l *memberLog) mark() uint64 { return max(l.next, 1) }

// bringUpToDate applies the changes of reg's user from reg.Mark on to
// reg.RoomIDs and reg.Welcome.Rooms. It reports false when changes after
// the mark are no longer kept.
func (l *memberLog) bringUpToDate(user string, reg *Registration) bool {
	if len(l.entries) == 0 {
		return reg.Mark >= l.mark()
	}
	if reg.Mark < l.entries[0].pos {
		return false
	}
	i, _ := slices.BinarySearchFunc(l.entries, reg.Mark, func(e memberChange, pos uint64) int {
		switch {
		case e.pos < pos:
			return -1
		case e.pos > pos:
			return 1
		}
		return 0
	})
	changed := false
	for _, e := range l.entries[i:] {
		if e.user != user {
			continue
		}
		if !changed {
			// The caller's slices may be shared: change copies.
			reg.RoomIDs = slices.Clone(reg.RoomIDs)
			reg.Welcome.Rooms = slices.Clone(reg.Welcome.Rooms)
			changed = true
		}
		reg.RoomIDs = slices.DeleteFunc(reg.RoomIDs, func(id string) bool { return id == e.room })
		if e.joined {
			reg.RoomIDs = append(reg.RoomIDs, e.room)
		}
		reg.Welcome.Rooms = welcomeRoom(reg.Welcome.Rooms, e)
	}
	return true
}

// welcomeRoom updates the welcome's room list with a change: a room
// joined is listed as the change saw it; a room left is taken out, or
// listed as no longer a member when the list also carries rooms the user
// does not belong to.
func welcomeRoom(rooms []protocol.Room, e memberChange) []protocol.Room {
	i := slices.IndexFunc(rooms, func(r protocol.Room) bool { return r.ID == e.room })
	if e.joined {
		if i >= 0 {
			rooms[i] = e.view
			return rooms
		}
		return append(rooms, e.view)
	}
	if i < 0 {
		return rooms
	}
	others := slices.ContainsFunc(rooms, func(r protocol.Room) bool { return !r.Member })
	if others && e.view.ID == e.room {
		rooms[i] = e.view
		return rooms
	}
	return slices.Delete(rooms, i, i+1)
}

// MemberMark returns the position of the hub's next membership change.
// Take it before reading a user's rooms from the store for Register
// (Registration.Mark).
func (h *Hub) MemberMark() uint64 {
	var m uint64
	h.do(func() { m = h.members.mark() })
	return m
}
