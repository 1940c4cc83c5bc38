package hub

import (
	"minichat/server/protocol"
	"minichat/server/store"
)

// profile applies an EventUser: the user's profile changed. The user
// frame, encoded once, goes to the user's own connections and to every
// connection in a room the user belongs to, once each; the user's
// presence (welcome's online lists, presence frames) carries the new
// profile from here on.
func (h *Hub) profile(ev *store.Event) {
	uid := ev.User.ID
	if u := h.users[uid]; u != nil {
		u.user = ev.User
	}
	h.staleOnline(uid, ev.Rooms)
	frame := protocol.Encode(protocol.UserFrame{Type: protocol.TypeUser, User: ev.User})
	h.epoch++
	send := func(c *Conn) {
		if c.mark == h.epoch {
			return
		}
		c.mark = h.epoch
		c.sendLive(frame)
	}
	if u := h.users[uid]; u != nil {
		for c := range u.conns {
			send(c)
		}
	}
	for _, id := range ev.Rooms {
		if r := h.rooms[id]; r != nil {
			for c := range r.conns {
				send(c)
			}
		}
	}
}
