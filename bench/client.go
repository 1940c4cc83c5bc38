package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"minichat/server/protocol"
)

// client is one simulated connection (global index i). Its run goroutine
// owns the socket's lifetime: it dials, reads, and redials after every drop
// until the worker stops, so a connection dropped by churn, a storm or the
// server resumes with hello{since} like a real client.
//
// A socket is read by the run goroutine (coderSock) or by an epoll loop
// of the raw reader (reactor_linux.go); either way by one goroutine at a
// time, which handles every frame. Writes may come from that reader, and
// from the publisher and typing goroutines: both kinds of sock allow that.
type client struct {
	w      *worker
	i      int
	room   string // id of the room this connection sends to (its first)
	token  string
	http   *http.Client
	dialer *net.Dialer // the same source address, for the raw reader
	shard  *Histogram
	pub    bool
	sem    chan struct{}           // in-flight sends of a publisher: one token each
	conn   atomic.Pointer[sockRef] // the open socket, nil between sockets
	drop   atomic.Bool             // the current socket is being dropped on purpose: redial at once
	synced chan struct{}

	mu       sync.Mutex // guards rooms' trackers and counts, unsynced
	rooms    []follow   // the rooms this connection follows (one, but for --scenario team)
	unsynced int        // rooms whose synced has not come since the last hello
	sendSeq  atomic.Int64

	// Counters, read by snapshots while the run goroutine writes them.
	deliveries, warmDeliveries atomic.Int64
	dup, replayDup             atomic.Int64
	sent, warmSent, acked      atomic.Int64
	warmAcked, refused         atomic.Int64
	typingSent, typingRecv     atomic.Int64
	presenceRecv, otherRecv    atomic.Int64
	connects                   atomic.Int64
	lastDeliveryNS             atomic.Int64
	resyncedNS                 atomic.Int64 // when the last synced of the room arrived
	// skippedRanges and skippedSeqs count what capped replays left out
	// (synced.skipped): not losses, the server said so.
	skippedRanges, skippedSeqs atomic.Int64
	// preWelcome counts frames that came before a socket's welcome (the
	// protocol allows none); welcomed is reset before each dial.
	preWelcome atomic.Int64
	welcomed   atomic.Bool
	// heardNS is when the socket last received anything, heartbeatNS the
	// heartbeat of its welcome: a socket silent for two heartbeats is
	// dead (a frozen server) and is dropped by the worker's watchdog.
	heardNS, heartbeatNS atomic.Int64
	deadDrops            atomic.Int64
}

// bufPool holds read buffers: a connection borrows one only while a message
// is being handled, so 19k idle connections do not each keep one.
var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// run keeps the client connected until ctx ends.
func (c *client) run(ctx context.Context) {
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		c.welcomed.Store(false)
		c.heartbeatNS.Store(0)
		conn, err := c.open(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			c.w.countErr("dial")
			sleepCtx(ctx, jitter(backoff))
			backoff = min(backoff*2, 2*time.Second)
			continue
		}
		c.connects.Add(1)
		c.conn.Store(&sockRef{conn})
		if ctx.Err() != nil { // stop raced with the dial: close what we just opened
			conn.closeNow()
			_ = conn.serve(c) // returns at once; the raw reader closes the fd there
			c.conn.Store(nil)
			return
		}
		up := time.Now()
		err = conn.serve(c)
		c.conn.Store(nil)
		conn.closeNow()
		c.releaseInflight()
		if ctx.Err() != nil {
			return
		}
		if c.drop.Swap(false) {
			backoff = 100 * time.Millisecond
			continue // dropped on purpose: reconnect at once
		}
		code := websocket.CloseStatus(err)
		if code == protocol.CloseUnauthenticated {
			c.w.countErr("closed_4401")
			return // the token is no longer valid; a real client would sign in again
		}
		if code >= 0 {
			c.w.countErr("closed_" + strconv.Itoa(int(code)))
		} else {
			c.w.countErr("conn_lost")
		}
		if time.Since(up) > 10*time.Second {
			backoff = 100 * time.Millisecond
		}
		sleepCtx(ctx, jitter(backoff))
		backoff = min(backoff*2, 2*time.Second)
	}
}

// open dials a socket: through the raw reader for a subscriber when the
// worker has one (raw.go), else through coder/websocket.
func (c *client) open(ctx context.Context) (sock, error) {
	select {
	case c.w.dialSem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-c.w.dialSem }()
	dctx, cancel := context.WithTimeout(ctx, c.w.cfg.DialTimeout)
	defer cancel()
	if rs := c.w.reactors; len(rs) > 0 && !c.pub {
		return rs[c.i%len(rs)].dial(dctx, c)
	}
	conn, err := c.dial(dctx)
	if err != nil {
		return nil, err
	}
	return coderSock{conn}, nil
}

func (c *client) dial(dctx context.Context) (*websocket.Conn, error) {
	conn, resp, err := websocket.Dial(dctx, c.w.wsURL, &websocket.DialOptions{
		HTTPClient: c.http,
		HTTPHeader: http.Header{"Authorization": {"Bearer " + c.token}},
	})
	if resp != nil && resp.Body != nil {
		resp.Body.Close()
	}
	if err != nil {
		return nil, err
	}
	// The server puts every frame queued for a connection into one message,
	// so a message can be far larger than coder/websocket's 32 KiB default.
	conn.SetReadLimit(64 << 20)
	return conn, nil
}

// sock is one open WebSocket of a client.
type sock interface {
	// serve reads the socket, handing each message to the client, until
	// it fails; it returns why.
	serve(c *client) error
	writeText(b []byte) error
	// closeNow drops the socket without a close handshake; serve returns.
	closeNow()
}

// sockRef holds a sock for an atomic pointer.
type sockRef struct{ sock }

// coderSock is a socket read by a goroutine of its own through
// coder/websocket: publishers' sockets, and every socket where the raw
// reader is not used.
type coderSock struct{ *websocket.Conn }

func (s coderSock) writeText(b []byte) error {
	return s.Write(context.Background(), websocket.MessageText, b)
}

func (s coderSock) closeNow() { s.CloseNow() }

// serve reads until the socket fails. Reads use a context without a
// deadline: coder/websocket closes the connection when a read's context
// ends, and a context per read costs an allocation; closing the socket
// ends the read.
func (s coderSock) serve(c *client) error {
	bg := context.Background()
	var f frame
	for {
		_, r, err := s.Reader(bg)
		if err != nil {
			return err
		}
		buf := bufPool.Get().(*bytes.Buffer)
		buf.Reset()
		_, err = buf.ReadFrom(r)
		if err != nil {
			bufPool.Put(buf)
			return err
		}
		err = c.message(s, buf.Bytes(), time.Now(), &f)
		bufPool.Put(buf)
		if err != nil {
			return err
		}
	}
}

// message handles one server message (one or more frames) that arrived at
// now; f is the caller's scratch frame.
func (c *client) message(s sock, msg []byte, now time.Time, f *frame) error {
	c.heardNS.Store(now.UnixNano())
	var herr error
	splitFrames(msg, func(b []byte) {
		if herr != nil {
			return
		}
		if perr := parseFrame(b, f); perr != nil {
			c.w.countErr("bad_frame")
			return
		}
		herr = c.handle(s, f, now)
	})
	return herr
}

func (c *client) handle(conn sock, f *frame, now time.Time) error {
	w := c.w
	if f.Type != protocol.TypeWelcome && !c.welcomed.Load() {
		c.preWelcome.Add(1)
	}
	switch f.Type {
	case protocol.TypeMessage, protocol.TypeUpdate:
		c.mu.Lock()
		fl := c.follow(f.Room)
		if fl == nil || fl.tracker == nil { // not followed, or a frame before welcome
			c.mu.Unlock()
			return nil
		}
		out := fl.tracker.seen(f.Seq)
		kind, sentNS := benchText(f.Text, w.runID)
		replay := fl.replay
		switch {
		case out == seqNew && f.Type == protocol.TypeMessage && kind == benchMeasured:
			fl.deliveries++
		case out == seqDup && !fl.replay: // a replay may repeat (PROTOCOL.md)
			fl.dup++
		}
		ix := fl.ix
		c.mu.Unlock()
		switch out {
		case seqNew:
			if f.Type == protocol.TypeMessage {
				c.delivered(ix, kind, sentNS, now)
			}
		case seqDup:
			if replay {
				c.replayDup.Add(1)
			} else {
				c.dup.Add(1)
			}
		}
	case protocol.TypeAck:
		kind, sentNS := benchText(f.Text, w.runID)
		c.mu.Lock()
		isNew, ix := false, 0
		if fl := c.follow(f.Room); fl != nil {
			isNew, ix = fl.tracker != nil && fl.tracker.acked(f.Seq), fl.ix
			if kind == benchMeasured {
				fl.acked++
				if isNew {
					fl.deliveries++
				}
			}
		}
		c.mu.Unlock()
		if isNew {
			c.delivered(ix, kind, sentNS, now)
		}
		switch kind {
		case benchMeasured:
			c.acked.Add(1)
		case benchWarmup:
			c.warmAcked.Add(1)
		}
		c.release()
	case protocol.TypeError:
		w.countErr("error_" + f.Code)
		if bytes.HasPrefix(f.Ref, []byte("s")) { // the answer to a send
			if f.Code == protocol.CodeRateLimited {
				c.refused.Add(1)
			}
			c.release()
		}
	case protocol.TypePing:
		return conn.writeText([]byte(`{"type":"pong"}`))
	case protocol.TypeTyping:
		c.typingRecv.Add(1)
	case protocol.TypePresence, protocol.TypePresenceBatch:
		c.presenceRecv.Add(1)
	case protocol.TypeWelcome:
		return c.welcome(conn, f.Welcome)
	case protocol.TypeSynced:
		c.mu.Lock()
		fl := c.follow(f.Room)
		if fl == nil {
			c.mu.Unlock()
			return nil
		}
		// A capped replay names the range it left out: counted apart
		// from losses (a real client pages it with history).
		if sk := f.Skipped; sk != nil && fl.tracker != nil && sk.From <= sk.To {
			c.skippedRanges.Add(1)
			c.skippedSeqs.Add(fl.tracker.skip(sk.From, sk.To))
		}
		if fl.replay {
			fl.replay = false
			c.unsynced--
		}
		all := c.unsynced == 0
		c.mu.Unlock()
		if all {
			c.resyncedNS.Store(now.UnixNano())
			select {
			case <-c.synced:
			default:
				close(c.synced) // only the socket's reader closes it, once
			}
		}
	default:
		c.otherRecv.Add(1)
	}
	return nil
}

// follow is one room a connection follows, with its seq tracker and
// counts (guarded by the client's mu).
type follow struct {
	id      string
	ix      int // the room's index: in cfg.roomName order, or the team layout's
	tracker *tracker
	replay  bool // between hello and synced

	acked, deliveries, dup int64 // of measured messages
}

// follow returns the followed room with id room, or nil. The caller holds mu.
func (c *client) follow(room []byte) *follow {
	for i := range c.rooms {
		if c.rooms[i].id == string(room) {
			return &c.rooms[i]
		}
	}
	return nil
}

// welcome starts each room's tracker on the first connection (at the
// room's last seq then) and asks for the replay of everything after the
// last seq seen, in every followed room.
func (c *client) welcome(conn sock, wel *protocol.Welcome) error {
	w := c.w
	last := make(map[string]int64, len(wel.Rooms))
	for i := range wel.Rooms {
		last[wel.Rooms[i].ID] = wel.Rooms[i].LastSeq
	}
	if c.pub {
		w.noteLimits(wel.Limits)
	}
	c.welcomed.Store(true)
	c.heartbeatNS.Store(wel.HeartbeatMS * int64(time.Millisecond))
	since := make(map[string]int64, len(c.rooms))
	c.mu.Lock()
	for i := range c.rooms {
		fl := &c.rooms[i]
		seq, ok := last[fl.id]
		if !ok {
			c.mu.Unlock()
			w.countErr("room_not_in_welcome")
			return errors.New("welcome does not list a followed room")
		}
		if fl.tracker == nil {
			fl.tracker = newTracker(seq)
		}
		since[fl.id] = fl.tracker.last
		fl.replay = true
	}
	c.unsynced = len(c.rooms)
	c.mu.Unlock()
	return c.hello(conn, since)
}

// hello asks for the replay of the followed rooms after since.
func (c *client) hello(conn sock, since map[string]int64) error {
	hello, _ := json.Marshal(map[string]any{
		"type":  protocol.TypeHello,
		"since": since,
	})
	return conn.writeText(hello)
}

func (c *client) delivered(ix, kind int, sentNS int64, now time.Time) {
	switch kind {
	case benchMeasured:
		c.deliveries.Add(1)
		d := time.Duration(now.UnixNano() - sentNS)
		c.shard.Record(d)
		if t := c.w.team; t != nil {
			c.w.classHists[t.class(ix)].Record(d)
		}
		ns := now.UnixNano()
		if ns > c.lastDeliveryNS.Load() {
			c.lastDeliveryNS.Store(ns) // only the socket's reader writes it
		}
	case benchWarmup:
		c.warmDeliveries.Add(1)
	}
}

// send publishes one bench message; it waits for an in-flight slot and
// reports whether the message went out.
func (c *client) send(ctx context.Context, warm bool, seq int64) bool {
	return c.sendTo(ctx, c.room, warm, seq)
}

// sendTo publishes one bench message to room; a publisher (c.sem set)
// first waits for an in-flight slot.
func (c *client) sendTo(ctx context.Context, room string, warm bool, seq int64) bool {
	if c.sem != nil {
		select {
		case c.sem <- struct{}{}:
		case <-ctx.Done():
			return false
		}
	}
	conn := c.conn.Load()
	if conn == nil {
		c.release() // non-blocking: releaseInflight may have freed the slot already
		c.w.countErr("send_no_conn")
		return false
	}
	prefix := textMeasured
	if warm {
		prefix = textWarmup
	}
	var b []byte
	b = append(b, `{"type":"send","ref":"s`...)
	b = strconv.AppendInt(b, seq, 10)
	b = append(b, `","room":"`...)
	b = append(b, room...)
	b = append(b, `","client_id":"`...)
	b = append(b, c.w.runID...)
	b = append(b, '-')
	b = strconv.AppendInt(b, int64(c.i), 10)
	b = append(b, '-')
	b = strconv.AppendInt(b, seq, 10)
	b = append(b, `","text":"`...)
	b = append(b, prefix...)
	b = strconv.AppendInt(b, time.Now().UnixNano(), 10)
	b = append(b, ' ')
	b = append(b, c.w.runID...)
	b = append(b, `"}`...)
	if err := conn.writeText(b); err != nil {
		c.release()
		c.w.countErr("send_failed")
		return false
	}
	if warm {
		c.warmSent.Add(1)
	} else {
		c.sent.Add(1)
	}
	return true
}

// release frees one in-flight slot (an ack or a refusal arrived).
func (c *client) release() {
	select {
	case <-c.sem:
	default:
	}
}

// releaseInflight frees the slots of sends whose answer died with the socket.
func (c *client) releaseInflight() {
	if c.sem == nil {
		return
	}
	for {
		select {
		case <-c.sem:
			c.w.countErr("unanswered_send")
		default:
			return
		}
	}
}

func (c *client) inflight() int { return len(c.sem) }

// typing sends one typing notice to the connection's room.
func (c *client) typing() { c.typingIn(c.room) }

// typingIn sends one typing notice to room and reports whether it went out.
func (c *client) typingIn(room string) bool {
	conn := c.conn.Load()
	if conn == nil {
		return false
	}
	b := []byte(`{"type":"typing","room":"` + room + `","active":true}`)
	if conn.writeText(b) != nil {
		return false
	}
	c.typingSent.Add(1)
	return true
}

// dropNow closes the socket without a close handshake, as a network failure
// would; run redials at once and resumes.
func (c *client) dropNow() bool {
	conn := c.conn.Load()
	if conn == nil {
		return false
	}
	c.drop.Store(true)
	conn.closeNow()
	return true
}

// lost returns the seqs this client skipped over in room k of its rooms
// (gaps) and those after its last seq up to final (not arrived by the end
// of the run).
func (c *client) lost(k int, final int64) (gaps, tail int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.rooms[k].tracker
	if t == nil {
		return 0, 0
	}
	return t.gaps(), t.tail(final)
}

// complete reports whether every followed room is seen up to its final
// seq (finals by room index).
func (c *client) complete(finals []int64) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, fl := range c.rooms {
		if fl.tracker == nil || !fl.tracker.complete(finals[fl.ix]) {
			return false
		}
	}
	return true
}

func jitter(d time.Duration) time.Duration {
	return d/2 + rand.N(d/2+1)
}

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
