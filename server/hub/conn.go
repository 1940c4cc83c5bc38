package hub

import (
	"sync"
	"sync/atomic"

	"minichat/server/protocol"
)

// Conn is one client connection as the hub sees it: identity plus a bounded
// queue of pre-encoded frames. The transport (the ws package, or a fake in
// tests) runs the only goroutine that drains the queue with Take and watches
// Done to learn when and how to close.
//
// Room-log frames (message and update) pass through a per-room filter so a
// connection receives each room's log in seq order and never the same seq
// twice, even while a replay after hello runs beside live fan-out.
type Conn struct {
	ID        string
	User      protocol.User
	SessionID string

	maxQueue int // bytes of live frames allowed to wait; see Options.MaxQueueBytes

	wake chan struct{} // capacity 1: "the queue is not empty"; unused with a notify
	// notify, when set, replaces the wake channel: it is called (under mu,
	// so it must not block) whenever frames are waiting or the connection
	// must close. The ws package uses it to queue the connection for a
	// flusher.
	notify func()
	done   chan struct{} // closed once by close()

	mu sync.Mutex
	// Guarded by mu.
	queue       [][]byte
	queued      int // bytes in queue
	closed      bool
	closeCode   int
	closeReason string
	rooms       map[string]*roomFilter
	// holding is set from HoldUntilHello until EndHold: every room's log
	// frames are held (each room's filter has a replay) rather than queued.
	holding bool
	// held is the bytes of log frames held for every room's replay; they
	// count against maxQueue with the queue.
	held int

	// Owned by the hub loop.
	mark  uint64 // broadcast epoch, for de-duplicating presence recipients
	dirty uint64 // flush epoch in which frames were queued without a wake
	// pres lists the presence changes of the window this connection may
	// see (indices into the window's changes), presHash hashes it, so that
	// connections with the same list share one frame (presence.go).
	pres     []int32
	presHash uint64

	lastSeen atomic.Int64 // unix nanos of the last frame received; for heartbeats
}

// roomFilter is the delivery state of one room on one connection: 16
// bytes, as an account may belong to hundreds of rooms.
type roomFilter struct {
	last   int64   // highest seq queued
	replay *replay // a hello replay is reading the store: hold live frames
}

// replay holds a room's live frames while its replay runs, or, before
// the connection's first hello (HoldUntilHello), until it comes.
type replay struct {
	held []LogFrame
	// hello is set when a hello named the room (BeginReplay): EndHold
	// leaves such a room to its EndReplay.
	hello bool
}

// NewConn returns a connection for user in session. maxQueueBytes bounds the
// live frames waiting to be written (0: DefaultMaxQueueBytes); a connection
// that exceeds it is closed with 4429.
func NewConn(id string, user protocol.User, sessionID string, maxQueueBytes int) *Conn {
	if maxQueueBytes <= 0 {
		maxQueueBytes = DefaultMaxQueueBytes
	}
	return &Conn{
		ID:        id,
		User:      user,
		SessionID: sessionID,
		maxQueue:  maxQueueBytes,
		wake:      make(chan struct{}, 1),
		done:      make(chan struct{}),
	}
}

// Wake is signalled whenever frames are waiting, and when the connection
// must close; the writer then calls Take.
func (c *Conn) Wake() <-chan struct{} { return c.wake }

// Done is closed when the connection must close; CloseCode tells how.
func (c *Conn) Done() <-chan struct{} { return c.done }

// CloseCode returns the close code and reason once Done is closed.
func (c *Conn) CloseCode() (int, string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closeCode, c.closeReason
}

// Touch records that the client sent something (it is alive).
func (c *Conn) Touch(unixNano int64) { c.lastSeen.Store(unixNano) }

// LastSeen returns the time of the last Touch in unix nanoseconds.
func (c *Conn) LastSeen() int64 { return c.lastSeen.Load() }

// Take moves waiting frames into dst (which it returns, appended), in
// order: all of them when maxBytes is 0, else as many as fit in maxBytes
// (at least one), so one write — and the writer's buffer — stays bounded
// whatever has piled up. closed reports that the connection must close (see
// CloseCode). Only the writer calls it.
func (c *Conn) Take(dst [][]byte, maxBytes int) (_ [][]byte, closed bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return dst, true
	}
	n, size := len(c.queue), 0
	if maxBytes > 0 {
		for i, f := range c.queue {
			if size += len(f); size > maxBytes && i > 0 {
				n, size = i, size-len(f)
				break
			}
		}
	} else {
		size = c.queued
	}
	dst = append(dst, c.queue[:n]...)
	rest := copy(c.queue, c.queue[n:])
	clear(c.queue[rest:])
	c.queue = c.queue[:rest]
	c.queued -= size
	if rest == 0 && cap(c.queue) > 256 {
		c.queue = nil // don't keep a burst's backing array on an idle connection
	}
	if rest > 0 {
		c.wakeUp() // the writer comes back for the rest
	}
	return dst, false
}

// Close asks the transport to close the connection with code. The first
// call wins; later calls do nothing.
func (c *Conn) Close(code int, reason string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closeLocked(code, reason)
}

func (c *Conn) closeLocked(code int, reason string) {
	if c.closed {
		return
	}
	c.closed = true
	c.closeCode, c.closeReason = code, reason
	c.queue, c.queued, c.rooms, c.held = nil, 0, nil, 0
	close(c.done)
	c.wakeUp() // the writer learns it through Take
}

// Closed reports whether Close has been called.
func (c *Conn) Closed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}

// Send queues a frame that is not part of a room log (ack, error, history,
// typing, presence...). Such frames are answers or small notices, so they are
// queued even past the live limit; it reports false only when closed.
func (c *Conn) Send(frame []byte) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return false
	}
	c.pushLocked(frame)
	return true
}

// sendLive queues a broadcast frame that is not part of a room log (typing,
// presence, ping). A connection whose queue is over its limit is closed 4429.
func (c *Conn) sendLive(frame []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	if c.queued+len(frame) > c.maxQueue {
		c.closeLocked(protocol.CloseTooSlow, ReasonTooSlow)
		return
	}
	c.pushLocked(frame)
}

// sendLog queues frame, the room-log entry seq of the room whose filter
// is f (see filter), from live fan-out, without waking the writer: the
// hub wakes every connection it queued to once per batch of events
// (wakeUp), so that one write carries them all. It reports whether a
// frame was queued, and whether it was held for a replay instead (it is
// queued when the replay ends).
func (c *Conn) sendLog(f *roomFilter, seq int64, frame []byte) (queued, held bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return false, false
	}
	if f.replay == nil && c.holding {
		f.replay = &replay{}
	}
	if f.replay != nil {
		if c.queued+c.held+len(frame) > c.maxQueue {
			c.closeLocked(protocol.CloseTooSlow, ReasonTooSlow)
			return false, false
		}
		f.replay.held = append(f.replay.held, LogFrame{seq, frame})
		c.held += len(frame)
		return false, true
	}
	if seq <= f.last {
		return false, false // already queued (by the replay)
	}
	if c.queued+c.held+len(frame) > c.maxQueue {
		c.closeLocked(protocol.CloseTooSlow, ReasonTooSlow)
		return false, false
	}
	f.last = seq
	c.queue = append(c.queue, frame)
	c.queued += len(frame)
	return true, false
}

// wakeUp tells the writer that frames are waiting.
func (c *Conn) wakeUp() {
	if c.notify != nil {
		c.notify()
		return
	}
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// SetNotify makes fn the way the connection signals waiting frames, in
// place of Wake. Call it before the connection is registered.
func (c *Conn) SetNotify(fn func()) { c.notify = fn }

// PendingClosed reports, at one instant, whether frames are waiting and
// whether the connection must close.
func (c *Conn) PendingClosed() (pending, closed bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.queue) > 0, c.closed
}

// filter returns the delivery state of room, made if missing. The hub
// keeps it beside the connection in the room's set from the room's first
// frame for the connection; it stays the one in rooms until the user
// leaves the room (forgetRoom, after the hub has taken the connection out
// of the room).
func (c *Conn) filter(room string) *roomFilter {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return &roomFilter{} // never used: nothing is queued on a closed connection
	}
	return c.filterLocked(room)
}

func (c *Conn) filterLocked(room string) *roomFilter {
	if c.rooms == nil {
		c.rooms = make(map[string]*roomFilter)
	}
	f := c.rooms[room]
	if f == nil {
		f = &roomFilter{}
		c.rooms[room] = f
	}
	return f
}

func (c *Conn) pushLocked(frame []byte) {
	c.queue = append(c.queue, frame)
	c.queued += len(frame)
	c.wakeUp()
}

// HoldUntilHello makes the connection hold the log frames of every room
// until EndHold, so that a client resuming with hello receives nothing of
// a room before its replay (PROTOCOL.md §3). Call it before Register.
func (c *Conn) HoldUntilHello() {
	c.mu.Lock()
	c.holding = true
	c.mu.Unlock()
}

// EndHold ends HoldUntilHello: the frames held for every room that no
// hello named (BeginReplay) are queued, in seq order, and later ones flow
// live. Rooms a hello named stay held until their EndReplay. It is safe to
// call more than once.
func (c *Conn) EndHold() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || !c.holding {
		return
	}
	c.holding = false
	woke := false
	for _, f := range c.rooms {
		if r := f.replay; r != nil && !r.hello {
			f.replay = nil
			c.releaseLocked(r)
			for _, lf := range r.held {
				if lf.Seq > f.last {
					f.last = lf.Seq
					c.queue = append(c.queue, lf.Frame)
					c.queued += len(lf.Frame)
					woke = true
				}
			}
		}
	}
	if woke {
		c.wakeUp()
	}
}

// releaseLocked takes the frames r held off the held count.
func (c *Conn) releaseLocked(r *replay) {
	for _, lf := range r.held {
		c.held -= len(lf.Frame)
	}
}

// BeginReplay starts a replay of room after seq since: from now on live
// frames of that room are held until EndReplay (frames held since
// HoldUntilHello stay held). Call it before reading the store, so nothing
// committed after the read is missed ("register first, then read,
// de-duplicate by seq").
func (c *Conn) BeginReplay(room string, since int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	f := c.filterLocked(room)
	if f.replay == nil {
		f.replay = &replay{}
	}
	f.replay.hello = true
	f.last = since
}

// Replaying reports whether a replay of room is under way (BeginReplay
// without its EndReplay): false once the user left the room meanwhile.
func (c *Conn) Replaying(room string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	f := c.rooms[room]
	return !c.closed && f != nil && f.replay != nil && f.replay.hello
}

// LogFrame is one encoded room-log frame with its seq.
type LogFrame struct {
	Seq   int64
	Frame []byte
}

// ReplayFrames queues a page of a running replay (seq order): the frames
// after the last one queued for the room. A replay read in pages, each
// queued once the connection has written the previous ones, bounds what a
// reconnecting connection holds in memory.
func (c *Conn) ReplayFrames(room string, frames []LogFrame) {
	c.mu.Lock()
	defer c.mu.Unlock()
	f := c.rooms[room]
	if c.closed || f == nil || f.replay == nil {
		return // closed, or the user left the room meanwhile
	}
	c.pushAfterLocked(f, frames)
}

// SkipReplay says that the replay of room leaves out the log up to seq
// (a capped replay): nothing up to seq is queued for the room from now on.
func (c *Conn) SkipReplay(room string, seq int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if f := c.rooms[room]; !c.closed && f != nil && f.replay != nil {
		f.last = max(f.last, seq)
	}
}

// pushAfterLocked queues the frames (seq order) that come after the last
// one queued for the room of f.
func (c *Conn) pushAfterLocked(f *roomFilter, frames []LogFrame) {
	for _, lf := range frames {
		if lf.Seq > f.last {
			f.last = lf.Seq
			c.pushLocked(lf.Frame)
		}
	}
}

// Queued returns the bytes of frames waiting to be written.
func (c *Conn) Queued() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.queued
}

// EndReplay queues the replayed frames (seq order) and the synced frame
// that synced builds from the last seq queued for the room, then the live
// frames held meanwhile that come after it, so that the room's stream goes
// on from synced without a gap or a repeat. It does nothing when the
// connection closed or the user left the room meanwhile.
func (c *Conn) EndReplay(room string, frames []LogFrame, synced func(last int64) []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	f := c.rooms[room]
	if c.closed || f == nil || f.replay == nil {
		return
	}
	c.pushAfterLocked(f, frames)
	r := f.replay
	c.pushLocked(synced(f.last))
	if c.holding {
		// Before EndHold: the room's next live frames are held like
		// every other room's, and released after synced by EndHold.
		r.hello = false
		return
	}
	f.replay = nil
	c.releaseLocked(r)
	c.pushAfterLocked(f, r.held)
}

// forgetRoom drops the delivery state of a room the user left.
func (c *Conn) forgetRoom(room string) {
	c.mu.Lock()
	if f := c.rooms[room]; f != nil && f.replay != nil {
		c.releaseLocked(f.replay)
	}
	delete(c.rooms, room)
	c.mu.Unlock()
}
