package hub

import (
	"bytes"
	"slices"
	"strings"

	"minichat/server/protocol"
)

// A welcome lists everyone online who shares a room with the user. In a
// team where everyone is in one big room, that list is the same for every
// connection: each room keeps it encoded (roomState.online) until someone
// in it changes, and a welcome whose rooms' people are all in its largest
// room splices that room's encoded list into the frame rather than
// gathering, sorting and encoding a thousand entries per connection.

// onlineNull is how Welcome encodes a nil Online list; the first
// occurrence is the field itself, as the string values before it escape
// their quotes.
var onlineNull = []byte(`"online":null`)

// encodeWelcome encodes w with the online list of u.
func (h *Hub) encodeWelcome(w protocol.Welcome, u *userState) []byte {
	list := h.welcomeOnline(u)
	if list == nil {
		w.Online = h.onlineFor(u)
		return protocol.Encode(w)
	}
	w.Online = nil
	b := protocol.Encode(w)
	i := bytes.Index(b, onlineNull)
	if i < 0 {
		panic("hub: welcome without its online field")
	}
	cut := i + len(`"online":`)
	out := make([]byte, 0, len(b)-len("null")+len(list))
	out = append(out, b[:cut]...)
	out = append(out, list...)
	return append(out, b[cut+len("null"):]...)
}

// welcomeOnline is the encoded online list of u's largest room when the
// people of u's other rooms are all in it (so it is u's whole list), else
// nil. Users of other nodes are not in rooms' lists: in a cluster it is
// nil once any are known.
func (h *Hub) welcomeOnline(u *userState) []byte {
	if len(h.remote) > 0 {
		return nil
	}
	var big *roomState
	for id := range u.rooms {
		if r := h.rooms[id]; r != nil && (big == nil || len(r.users) > len(big.users)) {
			big = r
		}
	}
	if big == nil {
		return nil
	}
	if _, ok := big.users[u.user.ID]; !ok {
		return nil
	}
	for id := range u.rooms {
		r := h.rooms[id]
		if r == nil || r == big {
			continue
		}
		for uid := range r.users {
			if _, ok := big.users[uid]; !ok {
				return nil
			}
		}
	}
	if big.online == nil {
		list := make([]*userState, 0, len(big.users))
		size := 2
		for uid := range big.users {
			if o := h.users[uid]; o != nil && o.status != protocol.StatusOffline {
				list = append(list, o)
				size += len(o.entry()) + 1
			}
		}
		slices.SortFunc(list, func(a, b *userState) int { return strings.Compare(a.user.Name, b.user.Name) })
		b := make([]byte, 0, size)
		b = append(b, '[')
		for i, o := range list {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, o.entry()...)
		}
		big.online = append(b, ']')
	}
	return big.online
}

// entry is u's presence as an element of welcome's online list, encoded
// once for each state of the user.
func (u *userState) entry() []byte {
	p := protocol.Presence{User: u.user, Status: u.status, Text: u.text}
	if u.enc == nil || u.encOf != p {
		u.enc, u.encOf = protocol.Encode(p), p
	}
	return u.enc
}

// staleOnline drops the encoded online lists of the rooms uid is in, and
// of rooms (the ones uid was in), after a change of uid's presence.
func (h *Hub) staleOnline(uid string, rooms []string) {
	for _, id := range rooms {
		if r := h.rooms[id]; r != nil {
			r.online = nil
		}
	}
	if u := h.users[uid]; u != nil {
		for id := range u.rooms {
			if r := h.rooms[id]; r != nil {
				r.online = nil
			}
		}
	}
}
