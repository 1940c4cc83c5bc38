package chaos

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// Client is one user of the chat in one room, behaving as PROTOCOL.md asks
// of a real client, and recording what it sees for the checks:
//
//   - it sends at a steady rate, each message with a client_id, through an
//     outbox paced to the messages_per_second and burst of welcome.limits;
//     what is not acknowledged goes out again with the same client_id after
//     every resume, and after the retry_after_ms of an error;
//   - on every connection it answers welcome with hello since the last seq
//     of its stream, and keeps its copy of the room's log in a roomLog
//     (de-duplication, order, the skipped range paged with history);
//   - a connection that carries nothing for two heartbeats is dead: the
//     client closes it, as it does any connection that ends, and moves to
//     the next node (the suite plays the balancer: a dead node's clients
//     land on the others);
//   - reconnections back off with full jitter from 100 ms up to 2 s (the
//     protocol's 0.5 s to 30 s, scaled down so that a scenario lasts
//     seconds, not minutes).
type Client struct {
	Name  string
	token string
	room  string
	nodes []*Node
	peers []string // the other users whose presence it watches
	rate  time.Duration

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu        sync.Mutex
	log       *roomLog
	cur       *conn // nil between connections
	next      int   // index in nodes of the next node to dial
	conns     []*ConnRecord
	dials     int // failed dials
	replayMax int
	n         int // messages made so far
	pending   map[string]*outgoing
	acked     map[string]Acked
	errors    []ErrorFrame
	other     []Violation // beyond the room log's: acks, undecodable frames
	presence  map[string]string
	offline   []PresenceObs
	sending   bool
	paused    bool
	resume    chan struct{}
	histBusy  bool
	histAfter time.Time
}

// ConnRecord is one connection of a client.
type ConnRecord struct {
	Node      string
	Dialed    time.Time
	Welcomed  time.Time // zero if no welcome came
	Synced    time.Time // zero if synced never came
	LastFrame time.Time
	Ended     time.Time // zero while open
	// Why it ended: "closed 1001" (a close frame and its code), "dropped"
	// (the socket failed without one), "silent" (nothing for two
	// heartbeats), "write" (a write failed or timed out), "client" (the
	// suite paused or stopped the client).
	Reason string
	Detail string
}

// outgoing is a message not yet acknowledged.
type outgoing struct {
	queued time.Time // when the user "pressed send"
	sent   time.Time // its last transmission; zero until the first
	node   string    // the node of that transmission
	tries  int
	due    time.Time // when to send it (again); zero while in flight
}

// Acked is an acknowledged message.
type Acked struct {
	Seq      int64
	ID       string
	Queued   time.Time // when it was made
	Sent     time.Time // its last transmission before the ack
	SentNode string    // the node of that transmission
	At       time.Time
	Node     string // of the connection the ack came on
	Tries    int
}

// ErrorFrame is an error frame the client received.
type ErrorFrame struct {
	At           time.Time
	Node         string
	Ref          string
	Code         string
	Message      string
	RetryAfterMS int64
}

// PresenceObs is a user shown offline to the client after being shown
// online, by a presence frame or by a welcome that leaves them out.
type PresenceObs struct {
	At          time.Time
	User        string
	Node        string
	FromWelcome bool
}

// conn is one open connection.
type conn struct {
	ws     *websocket.Conn
	rec    *ConnRecord
	out    chan []byte
	cancel context.CancelFunc
	hb     time.Duration
	ready  bool   // the room is synced: sends may go out
	reason string // set by whoever ends it from outside the reader
	// The outbox's pace: a token bucket of the connection's limits, which
	// the server enforces per connection.
	tokens, rate, burst float64
	refilled            time.Time
}

// ClientOptions configure NewClient.
type ClientOptions struct {
	Name, Token, Room string
	Nodes             []*Node // the first is the client's first node
	Peers             []string
	Rate              float64 // messages per second while sending
}

// NewClient starts a client; it connects at once and sends once
// StartSending is called. Close stops it.
func NewClient(o ClientOptions) *Client {
	ctx, cancel := context.WithCancel(context.Background())
	c := &Client{Name: o.Name, token: o.Token, room: o.Room, nodes: o.Nodes, peers: o.Peers,
		rate: time.Duration(float64(time.Second) / o.Rate), ctx: ctx, cancel: cancel,
		log: newRoomLog(time.Now), replayMax: 500, pending: map[string]*outgoing{}, acked: map[string]Acked{},
		presence: map[string]string{}, resume: make(chan struct{})}
	c.wg.Add(2)
	go c.run()
	go c.tick()
	return c
}

// Close stops the client and waits for its goroutines.
func (c *Client) Close() {
	c.mu.Lock()
	if cn := c.cur; cn != nil && cn.reason == "" {
		cn.reason = "client"
	}
	c.mu.Unlock()
	c.cancel()
	c.wg.Wait()
}

// StartSending and StopSending turn the steady traffic on and off;
// retries of what is not acknowledged go on regardless.
func (c *Client) StartSending() { c.mu.Lock(); c.sending = true; c.mu.Unlock() }

// StopSending stops making new messages.
func (c *Client) StopSending() { c.mu.Lock(); c.sending = false; c.mu.Unlock() }

// Pause closes the client's connection and keeps it away (and silent)
// until Resume: a user whose laptop sleeps.
func (c *Client) Pause() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.paused = true
	if cn := c.cur; cn != nil {
		cn.reason = "client"
		cn.cancel()
	}
}

// Resume lets a paused client reconnect.
func (c *Client) Resume() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.paused {
		c.paused = false
		close(c.resume)
		c.resume = make(chan struct{})
	}
}

// with runs f with the client's state locked, for the checks.
func (c *Client) with(f func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	f()
}

// Node is the node of the open connection ("" between connections).
func (c *Client) Node() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cur == nil || c.cur.rec.Welcomed.IsZero() {
		return ""
	}
	return c.cur.rec.Node
}

// Synced reports whether the client's connection has synced the room.
func (c *Client) Synced() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cur != nil && c.cur.ready
}

// High is the last seq of the client's stream.
func (c *Client) High() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.log.high
}

// run dials, serves and redials until Close.
func (c *Client) run() {
	defer c.wg.Done()
	attempt := 0
	for {
		c.mu.Lock()
		paused, resume := c.paused, c.resume
		node := c.nodes[c.next%len(c.nodes)]
		c.mu.Unlock()
		if paused {
			select {
			case <-resume:
			case <-c.ctx.Done():
				return
			}
			continue
		}
		lived := c.connect(node)
		c.mu.Lock()
		c.next++
		c.mu.Unlock()
		if c.ctx.Err() != nil {
			return
		}
		if lived > 5*time.Second {
			attempt = 0
		}
		wait := time.Duration(rand.Int64N(int64(min(2*time.Second, 100*time.Millisecond<<min(attempt, 5))) + 1))
		attempt++
		select {
		case <-time.After(wait):
		case <-c.ctx.Done():
			return
		}
	}
}

// connect serves one connection to node until it ends, and returns how
// long it was open.
func (c *Client) connect(node *Node) time.Duration {
	ctx, cancel := context.WithCancel(c.ctx)
	defer cancel()
	dctx, dcancel := context.WithTimeout(ctx, 3*time.Second)
	ws, _, err := websocket.Dial(dctx, "ws://"+node.Addr+"/ws", &websocket.DialOptions{
		HTTPHeader: http.Header{"Authorization": {"Bearer " + c.token}},
	})
	dcancel()
	if err != nil {
		c.mu.Lock()
		c.dials++
		c.mu.Unlock()
		return 0
	}
	ws.SetReadLimit(1 << 24)
	now := time.Now()
	cn := &conn{ws: ws, rec: &ConnRecord{Node: node.Name, Dialed: now, LastFrame: now}, out: make(chan []byte, 4096), cancel: cancel}
	c.mu.Lock()
	c.cur = cn
	c.conns = append(c.conns, cn.rec)
	c.mu.Unlock()

	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		for {
			select {
			case b := <-cn.out:
				wctx, wcancel := context.WithTimeout(ctx, 2*time.Second)
				err := ws.Write(wctx, websocket.MessageText, b)
				wcancel()
				if err != nil {
					c.end(cn, "write", err.Error())
					return
				}
			case <-ctx.Done():
				return
			}
		}
	}()

	reason, detail := "", ""
	for {
		// Until welcome says the heartbeat, the dial's bound.
		c.mu.Lock()
		silent := 3 * time.Second
		if cn.hb > 0 {
			silent = 2 * cn.hb
		}
		c.mu.Unlock()
		rctx, rcancel := context.WithTimeout(ctx, silent)
		_, data, err := ws.Read(rctx)
		timedOut := errors.Is(rctx.Err(), context.DeadlineExceeded)
		rcancel()
		if err != nil {
			switch code := websocket.CloseStatus(err); {
			case ctx.Err() != nil:
			case code != -1:
				reason = fmt.Sprintf("closed %d", code)
			case timedOut:
				reason, detail = "silent", fmt.Sprintf("nothing for %v", silent)
			default:
				reason, detail = "dropped", err.Error()
			}
			break
		}
		c.mu.Lock()
		cn.rec.LastFrame = time.Now()
		for line := range bytes.SplitSeq(data, []byte("\n")) {
			c.handle(cn, line)
		}
		c.mu.Unlock()
	}
	cancel()
	_ = ws.CloseNow()
	<-writerDone
	c.mu.Lock()
	defer c.mu.Unlock()
	if cn.reason == "" {
		cn.reason = reason
		cn.rec.Detail = detail
	}
	cn.rec.Reason = cn.reason
	cn.rec.Ended = time.Now()
	c.cur = nil
	c.histBusy = false
	return cn.rec.Ended.Sub(cn.rec.Dialed)
}

// end closes cn from outside its reader, saying why.
func (c *Client) end(cn *conn, reason, detail string) {
	c.mu.Lock()
	if cn.reason == "" {
		cn.reason, cn.rec.Detail = reason, detail
	}
	c.mu.Unlock()
	cn.cancel()
}

// enqueue hands a frame to the connection's writer; a connection whose
// writer is that far behind is treated as dead. c.mu is held.
func (c *Client) enqueue(cn *conn, frame any) {
	b, _ := json.Marshal(frame)
	select {
	case cn.out <- b:
	default:
		if cn.reason == "" {
			cn.reason, cn.rec.Detail = "write", "the client's write queue is full"
		}
		cn.cancel()
	}
}

// frame is what the client reads of a server frame.
type frame struct {
	Type        string          `json:"type"`
	Ref         string          `json:"ref"`
	Room        json.RawMessage `json:"room"`
	Seq         int64           `json:"seq"`
	LastSeq     int64           `json:"last_seq"`
	Skipped     *span           `json:"skipped"`
	HeartbeatMS int64           `json:"heartbeat_ms"`
	Limits      struct {
		ReplayMax         int     `json:"replay_max"`
		MessagesPerSecond float64 `json:"messages_per_second"`
		Burst             int     `json:"burst"`
	} `json:"limits"`
	Code         string `json:"code"`
	Message      json.RawMessage
	RetryAfterMS int64 `json:"retry_after_ms"`
	Status       string
	User         struct{ Name string }
	Online       []struct {
		User   struct{ Name string }
		Status string
	}
	Users []struct { // presence_batch
		User   struct{ Name string }
		Status string
	}
	Rooms []struct {
		ID      string
		LastSeq int64 `json:"last_seq"`
	}
	Messages []message
	HasMore  bool `json:"has_more"`
}

// message is what the client reads of a Message.
type message struct {
	ID   string
	Room string
	Seq  int64
	Text string
}

// handle takes one frame. c.mu is held.
func (c *Client) handle(cn *conn, line []byte) {
	var f frame
	if err := json.Unmarshal(line, &f); err != nil {
		c.other = append(c.other, Violation{At: time.Now(), Kind: "frame", Detail: fmt.Sprintf("undecodable frame %.200s: %v", line, err)})
		return
	}
	var room string
	_ = json.Unmarshal(f.Room, &room) // a string in most frames
	var m message
	if len(f.Message) > 0 && f.Message[0] == '{' {
		_ = json.Unmarshal(f.Message, &m)
	}
	now := time.Now()
	switch f.Type {
	case "welcome":
		cn.rec.Welcomed = now
		cn.hb = time.Duration(f.HeartbeatMS) * time.Millisecond
		cn.rate, cn.burst = f.Limits.MessagesPerSecond, float64(f.Limits.Burst)
		if cn.rate <= 0 || cn.burst < 1 {
			cn.rate, cn.burst = 5, 20 // the server's defaults
		}
		cn.tokens, cn.refilled = cn.burst, now
		if f.Limits.ReplayMax > 0 {
			c.replayMax = f.Limits.ReplayMax
		}
		for _, r := range f.Rooms {
			if r.ID == c.room {
				c.log.welcome(r.LastSeq)
			}
		}
		listed := map[string]string{}
		for _, p := range f.Online {
			listed[p.User.Name] = p.Status
		}
		for _, p := range c.peers {
			st := listed[p]
			if st == "" {
				st = "offline"
			}
			c.see(p, st, cn.rec.Node, true)
		}
		c.enqueue(cn, map[string]any{"type": "hello", "since": map[string]int64{c.room: c.log.hello()}})
	case "message":
		if m.Room == c.room {
			c.log.frame(m.Seq, m.ID)
		}
	case "update":
		if room == c.room {
			c.log.frame(f.Seq, "update of "+m.ID)
		}
	case "synced":
		if room != c.room {
			return
		}
		c.log.synced(f.LastSeq, f.Skipped)
		cn.rec.Synced = now
		cn.ready = true
		// Everything not acknowledged goes again: the client_id makes a
		// resend of a committed message return the original.
		for _, o := range c.pending {
			o.due = now
		}
		c.flush(cn, now)
	case "ack":
		c.acknowledge(f.Ref, m, cn.rec.Node, now)
	case "history":
		if !strings.HasPrefix(f.Ref, "h:") {
			return
		}
		var before int64
		fmt.Sscan(f.Ref[2:], &before)
		seqs, ids := make([]int64, len(f.Messages)), make([]string, len(f.Messages))
		for i, hm := range f.Messages {
			seqs[i], ids[i] = hm.Seq, hm.ID
		}
		c.log.history(before, seqs, ids, f.HasMore)
		c.histBusy = false
	case "error":
		c.errors = append(c.errors, ErrorFrame{At: now, Node: cn.rec.Node, Ref: f.Ref, Code: f.Code, RetryAfterMS: f.RetryAfterMS, Message: strings.Trim(string(f.Message), `"`)})
		wait := time.Duration(f.RetryAfterMS) * time.Millisecond
		if wait <= 0 {
			wait = time.Second
		}
		if strings.HasPrefix(f.Ref, "h:") {
			c.histBusy, c.histAfter = false, now.Add(wait)
		} else if o := c.pending[f.Ref]; o != nil {
			o.due = now.Add(max(wait, 100*time.Millisecond))
		}
	case "presence":
		if f.User.Name != c.Name {
			c.see(f.User.Name, f.Status, cn.rec.Node, false)
		}
	case "presence_batch":
		for _, p := range f.Users {
			if p.User.Name != c.Name {
				c.see(p.User.Name, p.Status, cn.rec.Node, false)
			}
		}
	case "ping":
		c.enqueue(cn, map[string]string{"type": "pong"})
	}
}

// see records a user's status as shown to this client, and each time a
// user shown online is then shown offline. c.mu is held.
func (c *Client) see(user, status, node string, fromWelcome bool) {
	if status == "offline" && c.presence[user] != "" && c.presence[user] != "offline" {
		c.offline = append(c.offline, PresenceObs{At: time.Now(), User: user, Node: node, FromWelcome: fromWelcome})
	}
	c.presence[user] = status
}

// acknowledge takes an ack. c.mu is held.
func (c *Client) acknowledge(cid string, m message, node string, now time.Time) {
	if o := c.pending[cid]; o != nil {
		c.acked[cid] = Acked{Seq: m.Seq, ID: m.ID, Queued: o.queued, Sent: o.sent, SentNode: o.node, At: now, Tries: o.tries, Node: node}
		delete(c.pending, cid)
		return
	}
	if a, ok := c.acked[cid]; ok && (a.Seq != m.Seq || a.ID != m.ID) {
		c.other = append(c.other, Violation{At: now, Kind: KindConflict,
			Detail: fmt.Sprintf("client_id %s acknowledged as %s (seq %d) and as %s (seq %d)", cid, a.ID, a.Seq, m.ID, m.Seq)})
	}
}

// tick makes a message every c.rate while sending, sends what is due,
// and asks for the next page of a skipped range.
func (c *Client) tick() {
	defer c.wg.Done()
	t := time.NewTicker(c.rate)
	defer t.Stop()
	for {
		select {
		case <-c.ctx.Done():
			return
		case now := <-t.C:
			c.mu.Lock()
			if c.sending && !c.paused {
				c.n++
				c.pending[fmt.Sprintf("%s-%d", c.Name, c.n)] = &outgoing{queued: now, due: now}
			}
			if cn := c.cur; cn != nil && cn.ready {
				c.flush(cn, now)
				if !c.histBusy && !now.Before(c.histAfter) {
					if before, limit, ok := c.log.nextHistory(); ok {
						c.histBusy = true
						c.enqueue(cn, map[string]any{"type": "history", "room": c.room, "before": before, "limit": limit, "ref": fmt.Sprintf("h:%d", before)})
					}
				}
			}
			c.mu.Unlock()
		}
	}
}

// flush sends the due messages of the outbox, oldest first, as far as the
// connection's pace allows; the rest wait for the next tick. c.mu is held.
func (c *Client) flush(cn *conn, now time.Time) {
	cn.tokens = min(cn.burst, cn.tokens+now.Sub(cn.refilled).Seconds()*cn.rate)
	cn.refilled = now
	var due []string
	for cid, o := range c.pending {
		if !o.due.IsZero() && !now.Before(o.due) {
			due = append(due, cid)
		}
	}
	slices.SortFunc(due, func(a, b string) int { return c.pending[a].queued.Compare(c.pending[b].queued) })
	for _, cid := range due {
		if cn.tokens < 1 {
			return
		}
		cn.tokens--
		o := c.pending[cid]
		o.sent, o.node, o.due = now, cn.rec.Node, time.Time{}
		o.tries++
		c.enqueue(cn, map[string]string{"type": "send", "room": c.room, "text": cid, "client_id": cid, "ref": cid})
	}
}
