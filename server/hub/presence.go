package hub

import (
	"slices"
	"time"

	"minichat/server/protocol"
)

// Presence changes are gathered for Options.PresenceWindow and then told
// to each connection as one frame listing the changes it may see, each
// with the state it ended in: when a thousand people come online within a
// second, a connection receives a few presence_batch frames rather than a
// thousand presence frames. A window with a single change for a
// connection sends the presence frame of before.

// DefaultPresenceWindow is how long presence changes are gathered.
const DefaultPresenceWindow = 250 * time.Millisecond

// presencePending is the users whose presence may have changed during
// the current window, each with their presence and rooms before the
// first change of the window, in the order of their first change.
type presencePending struct {
	was   map[string]presenceWas
	order []string
	timer *time.Timer
}

// pendPresence records that uid's presence may have changed since was.
func (h *Hub) pendPresence(uid string, was presenceWas) {
	h.staleOnline(uid, was.rooms)
	p := &h.presence
	if p.was == nil {
		p.was = make(map[string]presenceWas)
	}
	if _, ok := p.was[uid]; ok {
		return // the first state of the window is what counts
	}
	p.was[uid] = was
	p.order = append(p.order, uid)
	if p.timer == nil && h.opts.PresenceWindow >= 0 {
		p.timer = time.AfterFunc(h.opts.PresenceWindow, func() {
			h.post(func() {
				h.presence.timer = nil
				h.flushPresence()
			})
		})
	}
}

// flushPresence tells the presence changes of the window. Each change is
// added, as an index, to the list of every connection that may see it
// (the user's own connections and those of the rooms the user was or is
// in); then each connection gets one frame. Connections with the same
// list (everyone in one big room) share one encoded frame.
func (h *Hub) flushPresence() {
	p := &h.presence
	if len(p.order) == 0 {
		return
	}
	changes := make([]protocol.Presence, 0, len(p.order))
	var touched []*Conn
	add := func(c *Conn, i int32) {
		if c.mark == h.epoch {
			return
		}
		c.mark = h.epoch
		if len(c.pres) == 0 {
			touched = append(touched, c)
			c.presHash = 14695981039346656037
		}
		c.pres = append(c.pres, i)
		c.presHash = (c.presHash ^ uint64(i)) * 1099511628211
	}
	var rooms []string
	for _, uid := range p.order {
		was := p.was[uid]
		after := h.presenceOf(uid)
		if after.Status == protocol.StatusOffline {
			after = protocol.Presence{User: was.p.User, Status: protocol.StatusOffline}
		}
		if after == was.p {
			continue
		}
		i := int32(len(changes))
		changes = append(changes, after)
		h.epoch++
		if u := h.users[uid]; u != nil {
			for c := range u.conns {
				add(c, i)
			}
		}
		rooms = h.roomsOf(uid, append(rooms[:0], was.rooms...))
		for _, id := range rooms {
			if r := h.rooms[id]; r != nil {
				for c := range r.conns {
					add(c, i)
				}
			}
		}
	}
	clear(p.was)
	p.order = p.order[:0]

	type shared struct {
		list  []int32
		frame []byte
	}
	singles := make([][]byte, len(changes))
	batches := make(map[uint64]shared)
	for _, c := range touched {
		var frame []byte
		if len(c.pres) == 1 {
			i := c.pres[0]
			if singles[i] == nil {
				ch := changes[i]
				singles[i] = protocol.Encode(protocol.PresenceFrame{Type: protocol.TypePresence, User: ch.User, Status: ch.Status, Text: ch.Text})
			}
			frame = singles[i]
		} else if s, ok := batches[c.presHash]; ok && slices.Equal(s.list, c.pres) {
			frame = s.frame
		} else {
			users := make([]protocol.Presence, len(c.pres))
			for k, i := range c.pres {
				users[k] = changes[i]
			}
			frame = protocol.Encode(protocol.PresenceBatch{Type: protocol.TypePresenceBatch, Users: users})
			if !ok {
				batches[c.presHash] = shared{c.pres, frame}
				c.pres = nil // kept by batches until the end of the flush
			}
		}
		c.sendLive(frame)
		if cap(c.pres) > 64 {
			c.pres = nil
		} else {
			c.pres = c.pres[:0]
		}
	}
}

// stopPresence stops the window's timer at shutdown.
func (h *Hub) stopPresence() {
	if h.presence.timer != nil {
		h.presence.timer.Stop()
	}
}
