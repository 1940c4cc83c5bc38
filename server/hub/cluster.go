package hub

import (
	"context"
	"slices"
	"time"

	"minichat/server/protocol"
	"minichat/server/store"
)

// This file is the hub's side of a cluster of nodes (see package broker):
// room logs delivered in seq order with gaps filled from the store,
// typing and presence of users connected to other nodes, and closes asked
// for on another node. A single node (Options.Cluster and Options.Fill
// nil) uses none of it.

// Cluster carries what only this hub knows to the other nodes. Its methods
// are called from the hub's loop and must not block (a broker queues them).
type Cluster interface {
	// Typing: a local user started, renewed or stopped typing in room.
	Typing(room string, user protocol.User, active bool)
	// Presence: a local user's presence changed (Status offline: the user
	// has no connection on this node any more).
	Presence(p UserPresence)
	// CloseSession and CloseUser ask every other node to close the
	// connections of a session or of a user.
	CloseSession(sessionID string, code int, reason string)
	CloseUser(userID string, code int, reason string)
}

// FillFunc reads a room's log after a seq, at most limit entries
// (store.Store.Since): how a hub fills a gap it detects.
type FillFunc func(ctx context.Context, roomID string, after int64, limit int) ([]store.Event, error)

// UserPresence is one user's presence on one node, with the rooms the user
// belongs to (the members of those rooms are who may see it).
type UserPresence struct {
	User   protocol.User `json:"user"`
	Status string        `json:"status"`
	Text   string        `json:"text,omitempty"`
	Rooms  []string      `json:"rooms,omitempty"`
}

// DefaultGapWait is how long a hub waits for a missing seq to arrive from
// the broker before it reads it from the store.
const DefaultGapWait = 150 * time.Millisecond

// fillLimit is how many log entries one gap-filling read takes, and
// maxPending how many a room holds behind a gap.
const (
	fillLimit  = 500
	maxPending = 10000
)

// remoteUser is a user connected to other nodes.
type remoteUser struct {
	user  protocol.User
	nodes map[string]*UserPresence // by node id
	rooms map[string]int           // room id -> how many nodes list it
	mark  uint64                   // onlineFor epoch, as userState.mark
}

// nodeState is another node as its presence messages describe it: its
// users, each until it is restated, and the node itself until it speaks
// again.
type nodeState struct {
	users   map[string]time.Time
	expires time.Time
}

// clustered reports whether the hub orders room logs and fills gaps.
func (h *Hub) clustered() bool { return h.opts.Fill != nil }

// logEvent delivers a room-log event (message or update) to the room's
// connections. In a cluster it keeps each room's log in seq order: an
// event that is already delivered is dropped, one that leaves a gap is held
// until the gap is filled by the broker or, after GapWait, from the store.
func (h *Hub) logEvent(ev *store.Event) {
	if !h.clustered() {
		h.deliver(ev) // a single node's commits come in order
		return
	}
	r := h.rooms[ev.RoomID]
	if r == nil {
		return
	}
	if !r.known {
		r.known, r.last = true, ev.Seq-1
	}
	switch {
	case ev.Seq <= r.last:
		return
	case ev.Seq == r.last+1:
		h.deliver(ev)
		r.last = ev.Seq
		h.drainPending(ev.RoomID, r)
	default:
		i, found := slices.BinarySearchFunc(r.pending, ev.Seq, func(e store.Event, seq int64) int { return int(e.Seq - seq) })
		if !found && len(r.pending) < maxPending {
			// Past maxPending (the store has been failing for a while)
			// the fill reads the rest again rather than hold it.
			r.pending = slices.Insert(r.pending, i, *ev)
		}
		r.want = max(r.want, ev.Seq)
		h.armGap(ev.RoomID, r)
	}
}

// deliver fans one log event out, in the order the caller ensures.
func (h *Hub) deliver(ev *store.Event) {
	if ev.Kind == store.EventMessage {
		if m := ev.Message; m.Kind == protocol.KindChat && m.Sender != nil {
			h.stopTyping(ev.RoomID, m.Sender.ID)
		}
	}
	h.fanOut(ev.RoomID, ev.Seq, EncodeLog(*ev))
}

// drainPending delivers the held events that have become contiguous.
func (h *Hub) drainPending(room string, r *roomState) {
	n := 0
	for _, ev := range r.pending {
		if ev.Seq > r.last+1 {
			break
		}
		if ev.Seq == r.last+1 {
			h.deliver(&ev)
			r.last = ev.Seq
		}
		n++
	}
	if n > 0 {
		clear(r.pending[:n])
		r.pending = r.pending[n:]
		if len(r.pending) == 0 {
			r.pending = nil
		}
	}
}

// armGap starts the gap timer of a room unless it runs or a fill is under
// way.
func (h *Hub) armGap(room string, r *roomState) {
	if r.gapArmed || r.filling {
		return
	}
	r.gapArmed = true
	time.AfterFunc(h.opts.GapWait, func() {
		h.post(func() {
			r.gapArmed = false
			if h.rooms[room] == r && r.want > r.last {
				h.fill(room, r)
			}
		})
	})
}

// fill reads the room's log after the last delivered seq from the store,
// off the loop, and delivers it on the loop.
func (h *Hub) fill(room string, r *roomState) {
	if r.filling {
		return
	}
	r.filling = true
	after := r.last
	h.fills.Add(1)
	go func() {
		defer h.fills.Done()
		ctx, cancel := context.WithTimeout(h.ctx, 10*time.Second)
		evs, err := h.opts.Fill(ctx, room, after, fillLimit)
		cancel()
		h.post(func() { h.filled(room, r, evs, err) })
	}()
}

func (h *Hub) filled(room string, r *roomState, evs []store.Event, err error) {
	r.filling = false
	if h.rooms[room] != r {
		return // the room went idle meanwhile
	}
	if err != nil {
		h.log.Warn().Err(err).Str("room", room).Msg("filling a gap in a room's log from the store")
		if r.want > r.last {
			h.armGap(room, r)
		}
		return
	}
	for i := range evs {
		ev := &evs[i]
		if ev.Seq <= r.last {
			continue
		}
		if ev.Seq != r.last+1 {
			break // never from a store without gaps; the next fill tries again
		}
		h.deliver(ev)
		r.last = ev.Seq
		r.want = max(r.want, ev.Seq)
	}
	h.drainPending(room, r)
	switch {
	case len(evs) == fillLimit:
		h.fill(room, r) // the store may have more
	case r.want <= r.last:
	default:
		h.armGap(room, r)
	}
	h.dropRoomIfIdle(room)
}

// RemoteHeads tells the hub the latest seqs other nodes committed in some
// rooms (from their heartbeats): a room delivered only up to an older seq
// has a gap at its end — a lost broker message nothing came after — which
// is then filled like any other.
func (h *Hub) RemoteHeads(heads map[string]int64) {
	if !h.clustered() || len(heads) == 0 {
		return
	}
	h.post(func() {
		for room, seq := range heads {
			if r := h.rooms[room]; r != nil && r.known && seq > r.last {
				r.want = max(r.want, seq)
				h.armGap(room, r)
			}
		}
	})
}

// Resync reads every active room's log after its last delivered seq from
// the store: after the broker reconnects, whatever it missed meanwhile.
func (h *Hub) Resync() {
	if !h.clustered() {
		return
	}
	h.post(func() {
		for id, r := range h.rooms {
			if r.known {
				h.fill(id, r)
			}
		}
	})
}

// setBaseline records, for the rooms of a new connection that the hub has
// no delivered seq for yet, the room's last seq as read for its welcome.
func (h *Hub) setBaseline(rooms []protocol.Room) {
	if !h.clustered() {
		return
	}
	for _, rm := range rooms {
		if r := h.rooms[rm.ID]; r != nil && rm.Member && !r.known {
			r.known, r.last = true, rm.LastSeq
		}
	}
}

// RemoteTyping applies a typing state of a user connected to another node.
func (h *Hub) RemoteTyping(room string, user protocol.User, active bool) {
	h.post(func() {
		if h.rooms[room] == nil {
			return // nobody here to tell
		}
		if active {
			h.startTyping(room, user)
		} else {
			h.stopTyping(room, user.ID)
		}
	})
}

// RemoteClose closes the connections on this node of a session (sessionID
// set) or of a user, as asked by another node.
func (h *Hub) RemoteClose(sessionID, userID string, code int, reason string) {
	h.post(func() {
		if sessionID != "" {
			h.closeSession(sessionID, code, reason)
		} else {
			h.closeUser(userID, code, reason)
		}
	})
}

// LocalPresence lists the users connected to this node (or within their
// presence grace) with their rooms: what a heartbeat tells other nodes. ok
// is false after Shutdown.
func (h *Hub) LocalPresence() (users []UserPresence, ok bool) {
	ok = h.do(func() {
		users = make([]UserPresence, 0, len(h.users))
		for _, u := range h.users {
			if u.status != protocol.StatusOffline {
				users = append(users, h.userPresence(u))
			}
		}
	})
	return users, ok
}

func (h *Hub) userPresence(u *userState) UserPresence {
	rooms := make([]string, 0, len(u.rooms))
	for id := range u.rooms {
		rooms = append(rooms, id)
	}
	slices.Sort(rooms) // so that a restated presence compares equal
	return UserPresence{User: u.user, Status: u.status, Text: u.text, Rooms: rooms}
}

// publishPresence tells the other nodes a local user's presence.
func (h *Hub) publishPresence(u *userState) {
	if h.opts.Cluster != nil {
		h.opts.Cluster.Presence(h.userPresence(u))
	}
}

// RemotePresence applies what node says of its users (Status offline:
// gone from it). With full, users is every user it has and those it no
// longer lists are gone too; a heartbeat too large for one message comes
// in parts that are not full. The node and the users it names count until
// expires unless restated (ExpireNodes).
func (h *Hub) RemotePresence(node string, users []UserPresence, full bool, expires time.Time) {
	h.post(func() {
		n := h.nodes[node]
		if n == nil {
			n = &nodeState{users: make(map[string]time.Time)}
			h.nodes[node] = n
		}
		n.expires = expires
		if full {
			listed := make(map[string]struct{}, len(users))
			for _, p := range users {
				listed[p.User.ID] = struct{}{}
			}
			for uid := range n.users {
				if _, ok := listed[uid]; !ok {
					h.setRemote(node, n, UserPresence{User: h.remote[uid].user, Status: protocol.StatusOffline}, expires)
				}
			}
		}
		for _, p := range users {
			h.setRemote(node, n, p, expires)
		}
	})
}

// NodeExpires moves the time at which a node's users stop counting: a node
// that shuts down says so, and its users go offline after the presence
// grace unless they reconnect elsewhere.
func (h *Hub) NodeExpires(node string, at time.Time) {
	h.post(func() {
		if n := h.nodes[node]; n != nil {
			n.expires = at
		}
	})
}

// HoldNodes makes every other node, and each user it listed, count until
// at least until: after the broker comes back, so that a node gets time to
// restate its users (its next full heartbeat reconciles them) instead of
// being forgotten for the silence the outage imposed.
func (h *Hub) HoldNodes(until time.Time) {
	h.post(func() {
		for _, n := range h.nodes {
			if n.expires.Before(until) {
				n.expires = until
			}
			for uid, t := range n.users {
				if t.Before(until) {
					n.users[uid] = until
				}
			}
		}
	})
}

// ExpireNodes forgets the nodes not heard from in time, and so their
// users (a node that died takes its users offline), and the users a live
// node stopped restating.
func (h *Hub) ExpireNodes(now time.Time) {
	h.post(func() {
		for id, n := range h.nodes {
			dead := !n.expires.After(now)
			for uid, until := range n.users {
				if dead || !until.After(now) {
					h.setRemote(id, n, UserPresence{User: h.remote[uid].user, Status: protocol.StatusOffline}, now)
				}
			}
			if dead {
				delete(h.nodes, id)
			}
		}
	})
}

// setRemote records one user's presence on another node and tells local
// connections when the user's cluster-wide presence changed.
func (h *Hub) setRemote(node string, n *nodeState, p UserPresence, expires time.Time) {
	uid := p.User.ID
	ru := h.remote[uid]
	if p.Status == protocol.StatusOffline && (ru == nil || ru.nodes[node] == nil) {
		return
	}
	if ru != nil && p.Status != protocol.StatusOffline {
		if old := ru.nodes[node]; old != nil && old.User == p.User && old.Status == p.Status && old.Text == p.Text && slices.Equal(old.Rooms, p.Rooms) {
			n.users[uid] = expires // restated as it was: a heartbeat
			return
		}
	}
	h.changePresence(uid, func() {
		if ru == nil {
			ru = &remoteUser{user: p.User, nodes: make(map[string]*UserPresence), rooms: make(map[string]int)}
			h.remote[uid] = ru
		}
		if old := ru.nodes[node]; old != nil {
			for _, id := range old.Rooms {
				if ru.rooms[id]--; ru.rooms[id] <= 0 {
					delete(ru.rooms, id)
					h.unindexRemote(id, uid)
				}
			}
			delete(ru.nodes, node)
			delete(n.users, uid)
		}
		if p.Status != protocol.StatusOffline {
			p := p
			ru.user = p.User
			ru.nodes[node] = &p
			n.users[uid] = expires
			for _, id := range p.Rooms {
				if ru.rooms[id]++; ru.rooms[id] == 1 {
					set := h.remoteRooms[id]
					if set == nil {
						set = make(map[string]struct{})
						h.remoteRooms[id] = set
					}
					set[uid] = struct{}{}
				}
			}
		}
		if len(ru.nodes) == 0 {
			delete(h.remote, uid)
		}
	})
}

func (h *Hub) unindexRemote(room, uid string) {
	if set := h.remoteRooms[room]; set != nil {
		delete(set, uid)
		if len(set) == 0 {
			delete(h.remoteRooms, room)
		}
	}
}

// presenceOf is a user's presence across the cluster: this node's state
// when the user is connected here, else what other nodes say (online wins
// over away).
func (h *Hub) presenceOf(uid string) protocol.Presence {
	if u := h.users[uid]; u != nil && u.status != protocol.StatusOffline {
		return protocol.Presence{User: u.user, Status: u.status, Text: u.text}
	}
	if ru := h.remote[uid]; ru != nil {
		var best *UserPresence
		for _, p := range ru.nodes {
			if best == nil || (p.Status == protocol.StatusOnline && best.Status != protocol.StatusOnline) {
				best = p
			}
		}
		if best != nil {
			return protocol.Presence{User: ru.user, Status: best.Status, Text: best.Text}
		}
	}
	return protocol.Presence{Status: protocol.StatusOffline}
}

// changePresence runs change and, when it changed the user's cluster-wide
// presence, tells every local connection that shares a room with the user
// (before or after the change) and the user's own.
func (h *Hub) changePresence(uid string, change func()) {
	was := h.presenceBefore(uid)
	change()
	h.presenceAfter(uid, was)
}

// presenceWas is a user's presence and rooms before a change.
type presenceWas struct {
	p     protocol.Presence
	rooms []string
}

func (h *Hub) presenceBefore(uid string) presenceWas {
	return presenceWas{h.presenceOf(uid), h.roomsOf(uid, nil)}
}

// presenceAfter tells the presence of a user to the connections that may
// see it, if it differs from what it was: at the end of the presence
// window (presence.go), or at once when the window is off.
func (h *Hub) presenceAfter(uid string, was presenceWas) {
	h.pendPresence(uid, was)
	if h.opts.PresenceWindow < 0 {
		h.flushPresence()
	}
}

// roomsOf appends the rooms of a user known here (local and remote) to dst.
func (h *Hub) roomsOf(uid string, dst []string) []string {
	if u := h.users[uid]; u != nil {
		for id := range u.rooms {
			dst = append(dst, id)
		}
	}
	if ru := h.remote[uid]; ru != nil {
		for id := range ru.rooms {
			dst = append(dst, id)
		}
	}
	return dst
}

// addRemoteOnline appends the users of other nodes who share a room with u
// and are not connected here (onlineFor's cluster half).
func (h *Hub) addRemoteOnline(u *userState, out []protocol.Presence) []protocol.Presence {
	if len(h.remote) == 0 {
		return out
	}
	for id := range u.rooms {
		for uid := range h.remoteRooms[id] {
			if lu := h.users[uid]; lu != nil {
				if lu.mark != h.epoch && lu.status != protocol.StatusOffline {
					lu.mark = h.epoch
					out = append(out, protocol.Presence{User: lu.user, Status: lu.status, Text: lu.text})
				}
				continue
			}
			ru := h.remote[uid]
			if ru == nil || ru.mark == h.epoch {
				continue
			}
			ru.mark = h.epoch
			if p := h.presenceOf(uid); p.Status != protocol.StatusOffline {
				out = append(out, p)
			}
		}
	}
	return out
}
