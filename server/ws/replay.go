package ws

import (
	"fmt"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"minichat/server/hub"
	"minichat/server/protocol"
)

// Replays. A hello asks for the log of each named room after a seq; the
// replay reads it (from the hub's recent frames or the store), queues it,
// and ends each room with synced. That work never runs on the socket's
// reader: the reader checks the hello, begins the rooms' replays in the hub
// (from that instant their live frames are held) and hands the rest to the
// Handler's replay pool, so it goes on reading — a flood of hellos meets
// the frame limiter at once instead of queueing up behind replays in the
// socket's buffers.
//
// The pool is bounded three ways, so that no account can make the server
// keep working after it stops asking:
//   - one hello per connection at a time: another hello on that connection
//     before the first one's last synced is refused with rate_limited;
//   - per account, hellos are served one at a time, up to
//     maxWaitingHellos more wait for their turn (a hello beyond is refused
//     with rate_limited: the client says it again when told; every tab of
//     a person opening at once each get their first hello answered), and
//     the rooms they name are
//     counted: Options.ReplayBurst at once, then
//     Options.ReplayRate a second (a reconnect of every tab of a person
//     in a few hundred rooms fits in the burst); a hello beyond them is
//     answered rate_limited with the time to wait;
//   - at most replayWorkers hellos are served at once in all, the
//     accounts taking turns.
//
// A replay carries at most Options.ReplayMax entries of a room: when more
// follow since, the newest ReplayMax are replayed and synced names the
// range left out (PROTOCOL.md §3).

// replayWorkers bounds the goroutines serving hellos at once. Most of a
// replay's time is a wait (for the store, or for a slow client to read a
// page), so it is more than the CPUs; each account has one at most.
const replayWorkers = 64

// maxWaitingHellos bounds the hellos of one account waiting for their turn
// (each connection has one at most): enough for every tab and device of a
// person reconnecting at once, while the rooms they name are charged to
// the account's replay budget.
const maxWaitingHellos = 64

// Replay pacing: a replay is read and queued in pages of replayPage entries,
// each once the connection's queue is below replayBacklog bytes, so that
// thousands of connections resuming at once do not each hold a whole replay
// in memory. A client that does not read replayBacklog bytes within
// replayStall is too slow (4429).
const (
	replayPage    = 100
	replayBacklog = 64 << 10
	replayStall   = 10 * time.Second
)

// helloJob is one accepted hello, served by the replay pool.
type helloJob struct {
	c     *conn
	ref   string
	rooms []hub.RoomSince
}

// replayPool serves hellos, one at a time per account, the accounts
// waiting in turn.
type replayPool struct {
	mu       sync.Mutex
	ready    []*accountReplays // accounts with hellos waiting and none served
	accounts map[string]*accountReplays
	running  int // workers
}

type accountReplays struct {
	user    string
	jobs    []*helloJob
	serving bool
}

// hello checks a hello on the reader and hands its replays to the pool.
func (c *conn) hello(f *protocol.ClientHello) {
	ref := f.Ref
	if c.helloBusy.Load() {
		c.sendError(ref, &protocol.CodeError{Code: protocol.CodeRateLimited, Msg: "the previous hello is still being answered; wait for its synced frames", RetryAfter: time.Second})
		return
	}
	if wait := c.h.replayAllowed(c.user.ID, len(f.Since)); wait > 0 {
		c.sendError(ref, &protocol.CodeError{Code: protocol.CodeRateLimited, Msg: "too many replays for this account; say hello again later", RetryAfter: wait})
		return
	}
	if c.h.replays.waiting(c.user.ID) >= maxWaitingHellos {
		c.sendError(ref, &protocol.CodeError{Code: protocol.CodeRateLimited, Msg: "too many hellos of this account are waiting to be answered; say hello again later", RetryAfter: time.Second})
		return
	}
	hl, ok := c.h.opts.Hub.BeginHello(c.hc, f.Since)
	if !ok {
		return // shutting down
	}
	if hl.TooMany {
		c.sendError(ref, protocol.Errorf(protocol.CodeBadRequest, "hello names %d rooms; you belong to %d", len(f.Since), hl.Members))
		return
	}
	for _, room := range hl.Refused {
		c.sendError(ref, protocol.Errorf(protocol.CodeForbidden, "you do not belong to room %s", room))
	}
	if len(hl.Rooms) == 0 {
		return
	}
	c.helloBusy.Store(true)
	c.h.replays.add(c.h, &helloJob{c: c, ref: ref, rooms: hl.Rooms})
}

// replayAllowed takes the replay of rooms rooms from the account's
// budget; it returns how long to wait when there is not enough left.
func (h *Handler) replayAllowed(user string, rooms int) time.Duration {
	h.mu.Lock()
	l := h.hellos[user]
	if l == nil {
		l = rate.NewLimiter(rate.Limit(h.opts.ReplayRate), h.opts.ReplayBurst)
		h.hellos[user] = l
	}
	h.mu.Unlock()
	// A hello of more rooms than the burst costs the whole burst.
	r := l.ReserveN(time.Now(), min(max(rooms, 1), h.opts.ReplayBurst))
	if d := r.Delay(); d > 0 {
		r.Cancel()
		return max(d, time.Millisecond)
	}
	return 0
}

// waiting reports how many hellos of the account wait for their turn.
func (p *replayPool) waiting(user string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if a := p.accounts[user]; a != nil {
		return len(a.jobs)
	}
	return 0
}

// add queues a hello, starting a worker when one is free.
func (p *replayPool) add(h *Handler, job *helloJob) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.accounts == nil {
		p.accounts = make(map[string]*accountReplays)
	}
	a := p.accounts[job.c.user.ID]
	if a == nil {
		a = &accountReplays{user: job.c.user.ID}
		p.accounts[a.user] = a
	}
	a.jobs = append(a.jobs, job)
	if a.serving || len(a.jobs) > 1 {
		return // served, or already waiting in ready
	}
	p.ready = append(p.ready, a)
	if p.running < replayWorkers {
		p.running++
		h.wg.Add(1)
		go p.work(h)
	}
}

// work serves hellos until none is waiting.
func (p *replayPool) work(h *Handler) {
	defer h.wg.Done()
	for {
		p.mu.Lock()
		if len(p.ready) == 0 {
			p.running--
			p.ready = nil
			p.mu.Unlock()
			return
		}
		a := p.ready[0]
		p.ready[0] = nil
		p.ready = p.ready[1:]
		job := a.jobs[0]
		a.jobs[0] = nil
		a.jobs = a.jobs[1:]
		a.serving = true
		p.mu.Unlock()

		job.run()

		p.mu.Lock()
		a.serving = false
		if len(a.jobs) > 0 {
			p.ready = append(p.ready, a)
		} else {
			delete(p.accounts, a.user)
		}
		p.mu.Unlock()
	}
}

// run replays the hello's rooms in turn.
func (j *helloJob) run() {
	c := j.c
	done := false
	// The last seq of every room of the user, read once for all the rooms
	// the hub's recent frames do not cover.
	var lasts map[string]int64
	lastSeq := func(room string) (int64, error) {
		if lasts == nil {
			var err error
			if lasts, err = c.h.opts.Chat.LastSeqs(c.ctx, c.user); err != nil {
				return 0, err
			}
		}
		last, ok := lasts[room]
		if !ok {
			return 0, protocol.Errorf(protocol.CodeNotFound, "room %s not found among your rooms", room)
		}
		return last, nil
	}
	for i, rs := range j.rooms {
		if c.hc.Closed() {
			break
		}
		if i == len(j.rooms)-1 {
			// The connection may say hello again once the last synced is
			// queued: let it go before that, so the next hello is never
			// refused for arriving too soon.
			c.helloBusy.Store(false)
			done = true
		}
		c.replayRoom(j.ref, rs.Room, rs.Since, lastSeq)
	}
	if !done {
		c.helloBusy.Store(false)
	}
}

// replayRoom replays one room after since: at most ReplayMax entries, the
// newest, then synced (naming the range left out, if any), then the live
// frames held meanwhile.
func (c *conn) replayRoom(ref, room string, since int64, lastSeq func(string) (int64, error)) {
	if !c.hc.Replaying(room) {
		return // the user left the room since the hello
	}
	max := c.h.opts.ReplayMax
	var skipped *protocol.SeqRange
	synced := func(last int64) []byte {
		return protocol.Encode(protocol.Synced{Type: protocol.TypeSynced, Room: room, LastSeq: last, Skipped: skipped})
	}
	// The hub keeps the latest frames of active rooms: a connection that
	// was away for a short while is replayed from memory.
	if frames, from, ok := c.h.opts.Hub.Tail(room, since, max); ok {
		if from > since {
			skipped = &protocol.SeqRange{From: since + 1, To: from}
			c.hc.SkipReplay(room, from)
		}
		c.hc.EndReplay(room, frames, synced)
		return
	}
	err := c.replayStore(room, since, max, &skipped, lastSeq)
	c.hc.EndReplay(room, nil, synced)
	if err != nil {
		c.sendError(ref, fmt.Errorf("replay of room %s: %w", room, err))
	}
}

// replayStore queues the newest max log entries of the room after since
// from the store, page by page; *skipped is set when older ones are left
// out.
func (c *conn) replayStore(room string, since int64, max int, skipped **protocol.SeqRange, lastSeq func(string) (int64, error)) error {
	last, err := lastSeq(room)
	if err != nil {
		return err
	}
	if last <= since {
		// Nothing to read; whatever was committed after the rooms were
		// read is held and follows synced.
		return nil
	}
	after := since
	if last-since > int64(max) {
		after = last - int64(max)
		*skipped = &protocol.SeqRange{From: since + 1, To: after}
		c.hc.SkipReplay(room, after)
	}
	for total := 0; total < max; {
		evs, more, err := c.h.opts.Chat.Replay(c.ctx, c.user, room, after, min(replayPage, max-total))
		if err != nil {
			return err
		}
		frames := make([]hub.LogFrame, len(evs))
		for i, ev := range evs {
			frames[i] = hub.LogFrame{Seq: ev.Seq, Frame: hub.EncodeLog(ev)}
			after = ev.Seq
		}
		c.hc.ReplayFrames(room, frames)
		total += len(evs)
		if !more || len(evs) == 0 || !c.waitDrained() {
			break
		}
	}
	return nil
}

// waitDrained waits until the queue is below replayBacklog. It reports
// false when the connection closed meanwhile, or was closed for stalling.
func (c *conn) waitDrained() bool {
	deadline := time.Now().Add(replayStall)
	for c.hc.Queued() > replayBacklog {
		if c.hc.Closed() {
			return false
		}
		if time.Now().After(deadline) {
			c.hc.Close(protocol.CloseTooSlow, hub.ReasonTooSlow)
			return false
		}
		time.Sleep(2 * time.Millisecond)
	}
	return !c.hc.Closed()
}
