// Package hub is the channel-based heart of minichat: it knows which
// connections are open, which rooms each connected user belongs to, who is
// online, away or typing, and fans every committed room-log entry out to the
// connections of the room's members.
//
// One goroutine (the loop) owns all of that state; nothing else touches it,
// so it needs no mutex. Callers talk to the loop with typed requests over a
// channel, and every entry point also selects on the hub's stop channel, so
// no call blocks after Shutdown. The loop does no I/O: a broadcast is
// encoded once and handed to each connection's bounded queue without
// blocking; a connection whose queue is full is closed (4429) and will
// reconnect and resume from the store. The hub imports neither the
// WebSocket library nor SQL nor HTTP.
package hub

import (
	"context"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"minichat/server/protocol"
	"minichat/server/store"
)

// Defaults of Options.
const (
	DefaultPresenceGrace = 5 * time.Second
	DefaultTypingTimeout = 6 * time.Second
	DefaultMaxQueueBytes = 1 << 20
)

// Options configure a Hub.
type Options struct {
	// PresenceGrace is how long a user whose last connection closed still
	// counts as online; default 5 s.
	PresenceGrace time.Duration
	// PresenceWindow is how long presence changes are gathered before
	// they are told, several in one frame (presence.go); default
	// DefaultPresenceWindow, negative: each change at once.
	PresenceWindow time.Duration
	// TypingTimeout ends a typing state that was not renewed; default 6 s.
	TypingTimeout time.Duration
	// Log receives the hub's own warnings; default: discard.
	Log zerolog.Logger

	// In a cluster (see cluster.go): Cluster tells other nodes about local
	// typing, presence and closes; Fill reads a room's log from the store
	// to fill a gap, and turns on seq ordering of room logs; GapWait is how
	// long a gap may wait for the broker before Fill runs (default
	// DefaultGapWait). All nil or zero for a single node.
	Cluster Cluster
	Fill    FillFunc
	GapWait time.Duration
}

// Hub routes frames between connections. Create it with New, feed it
// committed store events with Publish, and stop it with Shutdown.
type Hub struct {
	opts Options
	log  zerolog.Logger

	reqs   chan func()        // run on the loop
	events chan []store.Event // committed changes, in commit order
	stop   chan struct{}      // closed by Shutdown: callers stop waiting
	done   chan struct{}      // closed when the loop has returned

	// Owned by the loop goroutine.
	users map[string]*userState
	rooms map[string]*roomState
	// relays are the typing and status changes held back (relay.go).
	relays map[string]*relay
	// presence is the presence changes of the current window (presence.go).
	presence presencePending
	epoch    uint64
	// Connections that fan-out queued frames to without waking their
	// writers; flushed (woken) once the inbox of events is drained.
	dirty      []*Conn
	flushEpoch uint64
	// members are the latest membership changes, for Register to bring a
	// registration read from the store up to date (see MemberMark).
	members memberLog

	// Cluster state, owned by the loop too (cluster.go): users connected
	// to other nodes, the index of their rooms, and the other nodes.
	remote      map[string]*remoteUser
	remoteRooms map[string]map[string]struct{}
	nodes       map[string]*nodeState
	// ctx ends at Shutdown; fills counts the gap-filling reads under way.
	ctx       context.Context
	cancel    context.CancelFunc
	fills     sync.WaitGroup
	delivered atomic.Uint64 // see Stats; added to by the loop only
}

// userState is a connected (or recently connected) user.
type userState struct {
	user   protocol.User
	conns  map[*Conn]struct{}
	rooms  map[string]struct{} // ids of the rooms the user belongs to
	status string              // online or away while connected
	text   string
	mark   uint64 // epoch of the last onlineFor that listed the user
	// enc is the user's presence encoded, as it was in encOf (welcome.go).
	enc   []byte
	encOf protocol.Presence
	// grace is running while the user has no connection but is not yet
	// announced offline; graceGen tells a stale timer from the current one.
	grace    *time.Timer
	graceGen uint64
}

// roomState is a room with at least one connected member.
type roomState struct {
	// conns are the room's connections, each with its delivery state for
	// the room (the filter in the connection's own rooms), so fan-out
	// reaches it without a lookup by room id on every connection. It is
	// nil until the room's first frame for the connection: an idle
	// connection of an account in many rooms keeps no state for them.
	conns map[*Conn]*roomFilter
	// users counts the connections of each connected member, so presence
	// lists cost one step per user rather than per connection.
	users map[string]int
	// online is the room's people online as welcome lists them, encoded
	// (a JSON array sorted by name); nil when one of them changed since
	// (see welcomeOnline).
	online []byte
	typing map[string]*typingState // by user id
	// recent holds the room's latest log frames, contiguous in seq, as
	// they were fanned out: a resuming connection is replayed from here
	// without reading or encoding anything (see Recent).
	recent []LogFrame

	// In a cluster (cluster.go): last is the seq delivered last (known
	// once set), pending the events held behind a gap, want the highest
	// seq known to exist; gapArmed and filling tell that a gap is waited
	// for or read from the store.
	last     int64
	known    bool
	pending  []store.Event
	want     int64
	gapArmed bool
	filling  bool
}

// RecentFrames is how many of a room's latest log frames the hub keeps
// while the room has connected members: enough for a full replay
// (protocol.MaxReplay, the default replay_max) after a reconnect storm.
const RecentFrames = 512

// remember appends a fanned-out frame to the room's recent frames.
func (r *roomState) remember(seq int64, frame []byte) {
	if n := len(r.recent); n > 0 && r.recent[n-1].Seq+1 != seq {
		r.recent = r.recent[:0] // not contiguous: start again from here
	}
	if len(r.recent) == 2*RecentFrames {
		// Keep the newest half; copying every RecentFrames appends keeps
		// remembering O(1) amortised.
		n := copy(r.recent, r.recent[RecentFrames:])
		clear(r.recent[n:])
		r.recent = r.recent[:n]
	}
	r.recent = append(r.recent, LogFrame{Seq: seq, Frame: frame})
}

func (r *roomState) add(c *Conn) {
	if _, ok := r.conns[c]; ok {
		return
	}
	r.conns[c] = nil // see conns
	if r.users[c.User.ID] == 0 {
		r.online = nil
	}
	r.users[c.User.ID]++
}

func (r *roomState) remove(c *Conn) {
	if _, ok := r.conns[c]; !ok {
		return
	}
	delete(r.conns, c)
	if r.users[c.User.ID]--; r.users[c.User.ID] <= 0 {
		delete(r.users, c.User.ID)
		r.online = nil
	}
}

type typingState struct {
	user  protocol.User
	timer *time.Timer
	gen   uint64
}

// New starts a hub. It runs until Shutdown.
func New(opts Options) *Hub {
	if opts.PresenceGrace <= 0 {
		opts.PresenceGrace = DefaultPresenceGrace
	}
	if opts.PresenceWindow == 0 {
		opts.PresenceWindow = DefaultPresenceWindow
	}
	if opts.TypingTimeout <= 0 {
		opts.TypingTimeout = DefaultTypingTimeout
	}
	if opts.GapWait <= 0 {
		opts.GapWait = DefaultGapWait
	}
	h := &Hub{
		opts:   opts,
		log:    opts.Log,
		reqs:   make(chan func(), 256),
		events: make(chan []store.Event, 1024),
		stop:   make(chan struct{}),
		done:   make(chan struct{}),
		users:  make(map[string]*userState),
		rooms:  make(map[string]*roomState),
		relays: make(map[string]*relay),

		remote:      make(map[string]*remoteUser),
		remoteRooms: make(map[string]map[string]struct{}),
		nodes:       make(map[string]*nodeState),
	}
	h.ctx, h.cancel = context.WithCancel(context.Background())
	go h.loop()
	return h
}

func (h *Hub) loop() {
	defer close(h.done)
	for {
		select {
		case fn := <-h.reqs:
			fn()
			if len(h.dirty) > 0 {
				h.flush() // a gap filled from the store (cluster.go)
			}
		case evs := <-h.events:
			h.apply(evs)
			// Take whatever else has been committed meanwhile, so each
			// writer sends it all in one write.
		more:
			for i := 0; i < maxCoalesce; i++ {
				select {
				case evs := <-h.events:
					h.apply(evs)
				default:
					break more
				}
			}
			h.flush()
		case <-h.stop:
			h.closeAll()
			return
		}
	}
}

// maxCoalesce bounds how many event batches the loop fans out before it
// wakes the writers, which bounds the latency coalescing can add.
const maxCoalesce = 64

// flush wakes every connection that fan-out queued frames to.
func (h *Hub) flush() {
	for i, c := range h.dirty {
		c.wakeUp()
		h.dirty[i] = nil
	}
	h.dirty = h.dirty[:0]
	h.flushEpoch++
}

// do runs fn on the loop and waits for it. It returns false without running
// fn when the hub has stopped.
func (h *Hub) do(fn func()) bool {
	ran := make(chan struct{})
	select {
	case h.reqs <- func() { fn(); close(ran) }:
	case <-h.stop:
		return false
	}
	select {
	case <-ran:
		return true
	case <-h.done:
		return false
	}
}

// post runs fn on the loop without waiting for it.
func (h *Hub) post(fn func()) {
	select {
	case h.reqs <- fn:
	case <-h.stop:
	}
}

// Publish hands committed store events to the hub, in commit order. It
// blocks only while the hub's inbox is full, and returns at once after
// Shutdown.
func (h *Hub) Publish(evs []store.Event) {
	if len(evs) == 0 {
		return
	}
	select {
	case h.events <- evs:
	case <-h.stop:
	}
}

// Shutdown closes every connection with 1001 (going away) and stops the
// loop. It is idempotent and returns when the loop has stopped or ctx ends.
func (h *Hub) Shutdown(ctx context.Context) error {
	select {
	case <-h.stop:
	default:
		close(h.stop)
	}
	h.cancel()
	select {
	case <-h.done:
	case <-ctx.Done():
		return ctx.Err()
	}
	fills := make(chan struct{})
	go func() { h.fills.Wait(); close(fills) }()
	select {
	case <-fills:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (h *Hub) closeAll() {
	h.stopPresence()
	for _, u := range h.users {
		if u.grace != nil {
			u.grace.Stop()
		}
		for c := range u.conns {
			c.Close(protocol.CloseGoingAway, "server shutting down")
		}
	}
	for _, r := range h.rooms {
		for _, t := range r.typing {
			t.timer.Stop()
		}
	}
	h.users, h.rooms = nil, nil
}

// Registration is what the hub needs to admit a connection.
type Registration struct {
	// Rooms are the ids of the rooms the user belongs to, read from the
	// store just before Register.
	RoomIDs []string
	// Mark is what MemberMark returned before the rooms were read from
	// the store: the membership changes the hub applied since then are
	// applied to RoomIDs and Welcome.Rooms, so that a leave or join
	// committed between the read and Register is not lost. 0: none.
	Mark uint64
	// Welcome is the welcome frame without its Online list, which the hub
	// fills in; it is queued before any other frame of the connection.
	Welcome protocol.Welcome
}

// Register admits c. The welcome frame is queued first; from then on c
// receives the live frames of its user's rooms. If the user was offline (not
// merely within the grace period), everyone who shares a room with them is
// told they are online. Register returns false after Shutdown.
func (h *Hub) Register(c *Conn, reg Registration) bool {
	return h.do(func() {
		if reg.Mark > 0 && !h.members.bringUpToDate(c.User.ID, &reg) {
			// More membership changes than the hub keeps happened while
			// the connection opened: the registration cannot be trusted.
			c.Close(protocol.CloseInternal, "busy; reconnect")
			return
		}
		u := h.users[c.User.ID]
		announce := false
		var was presenceWas
		if u == nil {
			was = h.presenceBefore(c.User.ID)
			u = &userState{user: c.User, conns: make(map[*Conn]struct{}), rooms: make(map[string]struct{}), status: protocol.StatusOnline}
			h.users[c.User.ID] = u
			announce = true
		}
		if u.grace != nil {
			u.grace.Stop()
			u.grace = nil
			u.graceGen++
		}
		if u.user != c.User {
			u.user = c.User
			h.staleOnline(u.user.ID, nil)
		}
		for _, id := range reg.RoomIDs {
			u.rooms[id] = struct{}{}
		}
		u.conns[c] = struct{}{}
		for id := range u.rooms {
			h.room(id).add(c)
		}
		h.setBaseline(reg.Welcome.Rooms)
		w := reg.Welcome
		w.Type = protocol.TypeWelcome
		c.Send(h.encodeWelcome(w, u))
		// A typing state of someone else in these rooms is worth knowing now.
		for id := range u.rooms {
			for uid, t := range h.rooms[id].typing {
				if uid != c.User.ID {
					c.Send(protocol.Encode(protocol.Typing{Type: protocol.TypeTyping, Room: id, User: t.user, Active: true}))
				}
			}
		}
		if announce {
			h.presenceAfter(u.user.ID, was)
			h.publishPresence(u)
		}
	})
}

// Unregister removes c after its transport closed. When it was the user's
// last connection, their typing states end at once and, after the grace
// period, the user is announced offline.
func (h *Hub) Unregister(c *Conn) {
	h.post(func() {
		u := h.users[c.User.ID]
		if u == nil {
			return
		}
		if _, ok := u.conns[c]; !ok {
			return
		}
		delete(u.conns, c)
		for id := range u.rooms {
			if r := h.rooms[id]; r != nil {
				r.remove(c)
			}
		}
		if len(u.conns) > 0 {
			return
		}
		for id := range u.rooms {
			if r := h.rooms[id]; h.opts.Cluster != nil && r != nil && r.typing[u.user.ID] != nil {
				h.opts.Cluster.Typing(id, u.user, false)
			}
			h.stopTyping(id, u.user.ID)
			h.dropRoomIfIdle(id)
		}
		u.graceGen++
		gen := u.graceGen
		uid := u.user.ID
		u.grace = time.AfterFunc(h.opts.PresenceGrace, func() {
			h.post(func() { h.goOffline(uid, gen) })
		})
	})
}

func (h *Hub) goOffline(uid string, gen uint64) {
	u := h.users[uid]
	if u == nil || u.graceGen != gen || len(u.conns) > 0 {
		return // reconnected meanwhile
	}
	h.changePresence(uid, func() { u.status, u.text = protocol.StatusOffline, "" })
	h.publishPresence(u)
	for id := range u.rooms {
		h.dropRoomIfIdle(id)
	}
	delete(h.users, uid)
}

func (h *Hub) room(id string) *roomState {
	r := h.rooms[id]
	if r == nil {
		r = &roomState{conns: make(map[*Conn]*roomFilter), users: make(map[string]int)}
		h.rooms[id] = r
	}
	return r
}

func (h *Hub) dropRoomIfIdle(id string) {
	if r := h.rooms[id]; r != nil && len(r.conns) == 0 && len(r.typing) == 0 {
		delete(h.rooms, id)
	}
}

// onlineFor lists the users online or away who share a room with u (u
// included), sorted by name.
func (h *Hub) onlineFor(u *userState) []protocol.Presence {
	// Users are de-duplicated with the broadcast epoch rather than a map:
	// this runs for every connection that opens.
	h.epoch++
	out := make([]protocol.Presence, 0, 16)
	add := func(o *userState) {
		if o.mark == h.epoch || o.status == protocol.StatusOffline {
			return
		}
		o.mark = h.epoch
		out = append(out, protocol.Presence{User: o.user, Status: o.status, Text: o.text})
	}
	add(u)
	for id := range u.rooms {
		r := h.rooms[id]
		if r == nil {
			continue
		}
		for uid := range r.users {
			if o := h.users[uid]; o != nil {
				add(o)
			}
		}
	}
	out = h.addRemoteOnline(u, out)
	slices.SortFunc(out, func(a, b protocol.Presence) int { return strings.Compare(a.User.Name, b.User.Name) })
	return out
}

// SetStatus sets the user's status (online or away) and status text, and
// tells everyone who shares a room with them.
func (h *Hub) SetStatus(c *Conn, status, text string) {
	h.post(func() {
		if u := h.users[c.User.ID]; u == nil || (u.status == status && u.text == text) {
			return
		}
		// At most one change per RelayInterval; the last one wins.
		h.throttle(statusKey(c.User.ID), func() {
			u := h.users[c.User.ID]
			if u == nil || (u.status == status && u.text == text) {
				return
			}
			h.changePresence(u.user.ID, func() { u.status, u.text = status, text })
			h.publishPresence(u)
		})
	})
}

// IsMember reports whether the hub knows c's user as a member of room.
func (h *Hub) IsMember(c *Conn, room string) bool {
	var ok bool
	h.do(func() {
		if u := h.users[c.User.ID]; u != nil {
			_, ok = u.rooms[room]
		}
	})
	return ok
}

// CloseSession closes every connection of a session with code (4401 after
// logout), on every node of a cluster.
func (h *Hub) CloseSession(sessionID string, code int, reason string) {
	h.do(func() {
		h.closeSession(sessionID, code, reason)
		if h.opts.Cluster != nil {
			h.opts.Cluster.CloseSession(sessionID, code, reason)
		}
	})
}

func (h *Hub) closeSession(sessionID string, code int, reason string) {
	for _, u := range h.users {
		for c := range u.conns {
			if c.SessionID == sessionID {
				c.Close(code, reason)
			}
		}
	}
}

// CloseUser closes every connection of a user with code, on every node of
// a cluster.
func (h *Hub) CloseUser(userID string, code int, reason string) {
	h.do(func() {
		h.closeUser(userID, code, reason)
		if h.opts.Cluster != nil {
			h.opts.Cluster.CloseUser(userID, code, reason)
		}
	})
}

func (h *Hub) closeUser(userID string, code int, reason string) {
	if u := h.users[userID]; u != nil {
		for c := range u.conns {
			c.Close(code, reason)
		}
	}
}

// Stats is a snapshot of the hub's size.
type Stats struct {
	Users, Conns, Rooms int
}

// Stats returns the number of users, connections and active rooms.
func (h *Hub) Stats() Stats {
	var s Stats
	h.do(func() {
		s.Users, s.Rooms = len(h.users), len(h.rooms)
		for _, u := range h.users {
			s.Conns += len(u.conns)
		}
	})
	return s
}

// Conns calls fn for every connection, on the loop; fn must not block.
func (h *Hub) Conns(fn func(*Conn)) {
	h.do(func() {
		for _, u := range h.users {
			for c := range u.conns {
				fn(c)
			}
		}
	})
}
