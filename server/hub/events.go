package hub

import (
	"time"

	"minichat/server/protocol"
	"minichat/server/store"
)

// apply fans committed events out, in order. Events arrive in commit order,
// so each room's log entries arrive in seq order.
func (h *Hub) apply(evs []store.Event) {
	for i := range evs {
		ev := &evs[i]
		switch ev.Kind {
		case store.EventMessage, store.EventUpdate:
			h.logEvent(ev)
		case store.EventMember:
			h.member(ev)
		case store.EventUser:
			h.profile(ev)
		}
	}
}

// EncodeLog encodes a room-log event (EventMessage or EventUpdate) as the
// frame a client receives: message or update.
func EncodeLog(ev store.Event) []byte {
	if ev.Kind == store.EventUpdate {
		return protocol.Encode(protocol.Update{Type: protocol.TypeUpdate, Room: ev.RoomID, Seq: ev.Seq, Message: ev.Message})
	}
	return protocol.Encode(protocol.MessageFrame{Type: protocol.TypeMessage, Message: ev.Message})
}

func (h *Hub) fanOut(roomID string, seq int64, frame []byte) {
	r := h.rooms[roomID]
	if r == nil {
		return
	}
	r.remember(seq, frame)
	var n uint64
	for c, f := range r.conns {
		if f == nil {
			f = c.filter(roomID)
			r.conns[c] = f
		}
		queued, held := c.sendLog(f, seq, frame)
		if held {
			n++ // delivered when its replay, or the wait for hello, ends
		}
		if !queued {
			continue
		}
		n++
		if c.dirty != h.flushEpoch+1 {
			c.dirty = h.flushEpoch + 1 // the epoch flush will end
			h.dirty = append(h.dirty, c)
		}
	}
	if n > 0 {
		h.delivered.Add(n)
	}
}

// member applies a membership change: the user's connections start or stop
// receiving the room, and are told with a room frame.
func (h *Hub) member(ev *store.Event) {
	h.members.add(ev)
	u := h.users[ev.UserID]
	if u == nil {
		return // not connected: the next welcome will list the room
	}
	if _, member := u.rooms[ev.RoomID]; h.clustered() && member == ev.Joined {
		// From another node, after the user connected here: the welcome
		// already had it.
		return
	}
	event := protocol.RoomJoined
	switch {
	case ev.Joined && ev.Created:
		event = protocol.RoomCreated
	case !ev.Joined:
		event = protocol.RoomLeft
	}
	frame := protocol.Encode(protocol.RoomFrame{Type: protocol.TypeRoom, Room: ev.Room, Event: event})
	if ev.Joined {
		u.rooms[ev.RoomID] = struct{}{}
		if len(u.conns) > 0 {
			r := h.room(ev.RoomID)
			for c := range u.conns {
				r.add(c)
			}
			if h.clustered() && !r.known {
				// The room as the member event saw it, before the log
				// entries of the same commit.
				r.known, r.last = true, ev.Room.LastSeq
			}
		}
	} else {
		delete(u.rooms, ev.RoomID)
		h.stopTyping(ev.RoomID, u.user.ID)
		if r := h.rooms[ev.RoomID]; r != nil {
			for c := range u.conns {
				r.remove(c)
				c.forgetRoom(ev.RoomID)
			}
			h.dropRoomIfIdle(ev.RoomID)
		}
	}
	for c := range u.conns {
		c.Send(frame)
	}
}

// Typing records that c's user started (active) or stopped typing in room
// and tells the room's other members. An active state ends by itself after
// Options.TypingTimeout unless renewed, when the user sends a message, and
// when their last connection closes. It returns false when the user is not a
// member of the room.
func (h *Hub) Typing(c *Conn, room string, active bool) bool {
	ok := false
	h.do(func() {
		u := h.users[c.User.ID]
		if u == nil {
			return
		}
		if _, ok = u.rooms[room]; !ok {
			return
		}
		// At most one change per RelayInterval and room; the last wins.
		userID := u.user.ID
		h.throttle(typingKey(room, userID), func() {
			u := h.users[userID]
			if u == nil {
				return
			}
			if _, member := u.rooms[room]; !member {
				return
			}
			if active {
				h.startTyping(room, u.user)
			} else {
				h.stopTyping(room, userID)
			}
			if h.opts.Cluster != nil {
				h.opts.Cluster.Typing(room, u.user, active)
			}
		})
	})
	return ok
}

func (h *Hub) startTyping(roomID string, user protocol.User) {
	r := h.room(roomID)
	if r.typing == nil {
		r.typing = make(map[string]*typingState)
	}
	t := r.typing[user.ID]
	if t != nil {
		// Renewed: restart the clock without telling anyone again.
		t.gen++
		t.timer.Stop()
		h.armTyping(roomID, user.ID, t)
		return
	}
	t = &typingState{user: user}
	r.typing[user.ID] = t
	h.armTyping(roomID, user.ID, t)
	h.broadcastTyping(r, roomID, user, true)
}

func (h *Hub) armTyping(roomID, userID string, t *typingState) {
	gen := t.gen
	t.timer = time.AfterFunc(h.opts.TypingTimeout, func() {
		h.post(func() {
			if r := h.rooms[roomID]; r != nil {
				if cur := r.typing[userID]; cur == t && cur.gen == gen {
					h.stopTyping(roomID, userID)
				}
			}
		})
	})
}

// stopTyping ends a typing state, if any, and tells the room. A start held
// back (throttle) is dropped: a message sent, a leave or a disconnect ends
// typing for good.
func (h *Hub) stopTyping(roomID, userID string) {
	h.dropPending(typingKey(roomID, userID))
	r := h.rooms[roomID]
	if r == nil {
		return
	}
	t := r.typing[userID]
	if t == nil {
		return
	}
	t.timer.Stop()
	delete(r.typing, userID)
	h.broadcastTyping(r, roomID, t.user, false)
	h.dropRoomIfIdle(roomID)
}

// broadcastTyping tells the room's connections, except the typist's own.
func (h *Hub) broadcastTyping(r *roomState, roomID string, user protocol.User, active bool) {
	frame := protocol.Encode(protocol.Typing{Type: protocol.TypeTyping, Room: roomID, User: user, Active: active})
	for c := range r.conns {
		if c.User.ID != user.ID {
			c.sendLive(frame)
		}
	}
}
