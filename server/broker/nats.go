package broker

import (
	"crypto/rand"
	"encoding/base32"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/rs/zerolog"

	"minichat/server/hub"
	"minichat/server/protocol"
	"minichat/server/store"
)

// Defaults of NATSOptions.
const (
	DefaultHeartbeat = 2 * time.Second
	DefaultMisses    = 3
)

// NATSOptions configure a NATS broker.
type NATSOptions struct {
	// URL is the NATS server (or a comma-separated list of a cluster's).
	URL string
	// Heartbeat is how often the node tells the others which users it has
	// (and the latest seqs it committed); default 2 s.
	Heartbeat time.Duration
	// Misses is how many heartbeats a node may miss before its users count
	// as offline elsewhere; default 3. A node that dies takes its users
	// offline on the other nodes within (Misses+1) × Heartbeat.
	Misses int
	// PresenceGrace is how long the users of a node that shut down
	// gracefully still count as online elsewhere, so that they can
	// reconnect to another node without flapping; default 5 s.
	PresenceGrace time.Duration
	// ReconnectWait is the pause between reconnection attempts; default 1 s.
	ReconnectWait time.Duration
	// Queue bounds the messages waiting to be published; default 65536.
	// A message that finds it full is dropped (and logged): the other
	// nodes fill the gap from the store.
	Queue int
	// Prefix is the first token of every subject; default "minichat".
	// Clusters that share a NATS server need prefixes of their own.
	Prefix string
	Log    zerolog.Logger
}

// NATS is the broker of a node in a cluster.
type NATS struct {
	opts NATSOptions
	log  zerolog.Logger
	node string
	nc   *nats.Conn
	// h is set by Attach, before it subscribes and starts the goroutines
	// that read it; attached tells the connection's callbacks, which may
	// run before, that h is set.
	h        Handler
	attached atomic.Bool
	sub      *nats.Subscription

	out  chan outMsg
	stop chan struct{}
	wg   sync.WaitGroup

	dropped atomic.Int64 // messages dropped since the last warning

	// up is false from a lost connection until it is back and the other
	// nodes' presence has been renewed (reconnected): meanwhile nothing
	// they say can arrive, so nothing of theirs expires (heartbeat).
	up atomic.Bool

	mu       sync.Mutex
	heads    map[string]head // guarded by mu
	allHeads bool            // guarded by mu: the next heartbeat names every head

	closeOnce sync.Once
}

// head is the latest seq this node committed in a room, and when.
type head struct {
	seq int64
	at  time.Time
}

// outMsg is one message to publish: commits (encoded by the publisher) or
// an envelope.
type outMsg struct {
	subject string
	env     *envelope
	commits []store.Event
	beat    bool // env is a heartbeat
}

// NewNATS connects to NATS. The connection reconnects by itself, forever,
// and logs each disconnection and reconnection.
func NewNATS(opts NATSOptions) (*NATS, error) {
	if opts.Heartbeat <= 0 {
		opts.Heartbeat = DefaultHeartbeat
	}
	if opts.Misses <= 0 {
		opts.Misses = DefaultMisses
	}
	if opts.PresenceGrace <= 0 {
		opts.PresenceGrace = hub.DefaultPresenceGrace
	}
	if opts.ReconnectWait <= 0 {
		opts.ReconnectWait = time.Second
	}
	if opts.Prefix == "" {
		opts.Prefix = DefaultPrefix
	}
	if opts.Queue <= 0 {
		opts.Queue = 1 << 16
	}
	b := &NATS{
		opts:  opts,
		log:   opts.Log.With().Str("component", "nats").Logger(),
		node:  newNodeID(),
		out:   make(chan outMsg, opts.Queue),
		stop:  make(chan struct{}),
		heads: make(map[string]head),
	}
	nc, err := nats.Connect(opts.URL,
		nats.Name("minichat "+b.node),
		nats.NoEcho(), // a node hands its own commits to its hub directly
		nats.MaxReconnects(-1),
		nats.ReconnectWait(opts.ReconnectWait),
		nats.DisconnectErrHandler(func(nc *nats.Conn, err error) {
			if nc.IsClosed() {
				return // Close, not a lost connection
			}
			if b.up.Swap(false) {
				b.log.Warn().Err(err).Msg("nats down: reconnecting; local delivery goes on, users of other nodes keep their last known presence until it is back")
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			b.reconnected()
			b.log.Info().Str("url", nc.ConnectedUrlRedacted()).Msg("nats back: filling gaps from the store, presence reconciled by the next heartbeats")
		}),
		nats.ClosedHandler(func(*nats.Conn) { b.log.Debug().Msg("nats connection closed") }),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			b.log.Warn().Err(err).Msg("nats error")
			if b.attached.Load() && errors.Is(err, nats.ErrSlowConsumer) {
				b.h.Resync() // messages were dropped: read what they carried
			}
		}),
	)
	if err != nil {
		return nil, fmt.Errorf("nats %s: %w", redactURL(opts.URL), err)
	}
	b.nc = nc
	b.up.Store(true)
	b.log = b.log.With().Str("node", b.node).Logger()
	b.log.Info().Str("url", nc.ConnectedUrlRedacted()).Msg("nats connected")
	return b, nil
}

// Connected reports whether the node is connected to NATS.
func (b *NATS) Connected() bool { return b.up.Load() }

// Node is this node's id in the cluster (new at every start).
func (b *NATS) Node() string { return b.node }

// Cluster returns the broker itself.
func (b *NATS) Cluster() hub.Cluster { return b }

// Attach subscribes to the cluster's subjects and starts the publisher and
// the heartbeat.
func (b *NATS) Attach(h Handler) error {
	b.h = h
	b.attached.Store(true)
	sub, err := b.nc.Subscribe(b.opts.Prefix+".>", b.receive)
	if err != nil {
		return fmt.Errorf("nats subscribe: %w", err)
	}
	// Room traffic can burst; let the subscription hold more than the
	// default before it counts as slow.
	_ = sub.SetPendingLimits(1<<20, 256<<20)
	b.sub = sub
	if err := b.nc.Flush(); err != nil {
		b.log.Warn().Err(err).Msg("nats flush after subscribing")
	}
	b.wg.Add(2)
	go b.publisher()
	go b.heartbeat()
	return nil
}

// Commit hands the events to this node's Handler, then queues them for the
// other nodes.
func (b *NATS) Commit(evs []store.Event) {
	if len(evs) == 0 {
		return
	}
	b.h.Publish(evs)
	now := time.Now()
	b.mu.Lock()
	for i := range evs {
		if ev := &evs[i]; ev.Seq > 0 && ev.Seq > b.heads[ev.RoomID].seq {
			b.heads[ev.RoomID] = head{ev.Seq, now}
		}
	}
	b.mu.Unlock()
	b.enqueue(outMsg{commits: evs})
}

// Typing tells the room's other nodes.
func (b *NATS) Typing(room string, user protocol.User, active bool) {
	b.enqueue(outMsg{subject: b.roomSubject(room), env: &envelope{Typing: &typing{Room: room, User: user, Active: active}}})
}

// Presence tells the other nodes a local user's presence.
func (b *NATS) Presence(p hub.UserPresence) {
	b.enqueue(outMsg{subject: b.opts.Prefix + subjectPresence, env: &envelope{Presence: []hub.UserPresence{p}}})
}

// CloseSession asks the other nodes to close a session's connections.
func (b *NATS) CloseSession(sessionID string, code int, reason string) {
	b.enqueue(outMsg{subject: b.opts.Prefix + subjectClose, env: &envelope{Close: &closeReq{Session: sessionID, Code: code, Reason: reason}}})
}

// CloseUser asks the other nodes to close a user's connections.
func (b *NATS) CloseUser(userID string, code int, reason string) {
	b.enqueue(outMsg{subject: b.userSubject(userID), env: &envelope{Close: &closeReq{User: userID, Code: code, Reason: reason}}})
}

// enqueue queues a message for the publisher without blocking: a full
// queue drops it (the hubs of other nodes fill log gaps from the store,
// and the next heartbeat restates presence).
func (b *NATS) enqueue(m outMsg) {
	select {
	case b.out <- m:
	default:
		if b.dropped.Add(1) == 1 {
			b.log.Warn().Msg("nats publish queue full: dropping messages until it drains")
		}
	}
}

// publisher encodes and publishes queued messages, in order.
func (b *NATS) publisher() {
	defer b.wg.Done()
	var failing bool
	for {
		select {
		case m := <-b.out:
			err := b.publish(m)
			if err != nil && !failing {
				b.log.Warn().Err(err).Msg("nats publish failed; other nodes will read the store")
			}
			failing = err != nil
			if n := b.dropped.Swap(0); n > 0 {
				b.log.Warn().Int64("dropped", n).Msg("nats publish queue drained")
			}
		case <-b.stop:
			// Publish what is queued, then stop.
			for {
				select {
				case m := <-b.out:
					_ = b.publish(m)
				default:
					return
				}
			}
		}
	}
}

func (b *NATS) publish(m outMsg) error {
	if m.beat {
		m.env.Node = b.node
		return b.publishBeat(m.env)
	}
	if m.commits == nil {
		m.env.Node = b.node
		data, err := json.Marshal(m.env)
		if err != nil {
			return err
		}
		return b.nc.Publish(m.subject, data)
	}
	// One envelope per room, each room's events in commit order.
	evs := m.commits
	var firstErr error
	for len(evs) > 0 {
		room := evs[0].RoomID
		same := evs[:0:0]
		rest := evs[:0:0]
		for i := range evs {
			if evs[i].RoomID == room {
				same = append(same, evs[i])
			} else {
				rest = append(rest, evs[i])
			}
		}
		if len(rest) == 0 {
			same = evs // the common case: one room, no copy
		}
		if err := b.publishEvents(room, same); err != nil && firstErr == nil {
			firstErr = err
		}
		evs = rest
	}
	return firstErr
}

// publishEvents publishes one room's events, in as many messages as the
// server's payload limit requires.
func (b *NATS) publishEvents(room string, evs []store.Event) error {
	data, err := encodeEvents(b.node, evs)
	if err != nil {
		return err
	}
	if max := b.nc.MaxPayload(); max > 0 && int64(len(data)) > max && len(evs) > 1 {
		half := len(evs) / 2
		if err := b.publishEvents(room, evs[:half]); err != nil {
			return err
		}
		return b.publishEvents(room, evs[half:])
	}
	return b.nc.Publish(b.roomSubject(room), data)
}

// heartbeat tells the other nodes, every Heartbeat, which users this node
// has and the latest seqs it committed, and forgets the nodes that stopped
// speaking.
func (b *NATS) heartbeat() {
	defer b.wg.Done()
	t := time.NewTicker(b.opts.Heartbeat)
	defer t.Stop()
	b.beat()
	for {
		select {
		case <-t.C:
			b.beat()
			if b.up.Load() {
				// While NATS is down no node can be heard, dead or alive:
				// their users keep their last known presence (no
				// offline/online flap reaches clients) until it is back.
				b.h.ExpireNodes(time.Now())
			}
		case <-b.stop:
			return
		}
	}
}

func (b *NATS) beat() {
	users, ok := b.h.LocalPresence()
	if !ok {
		return // the hub has shut down: the goodbye tells the rest
	}
	b.enqueue(outMsg{subject: b.opts.Prefix + subjectPresence, env: &envelope{Presence: users, Full: true, Heads: b.recentHeads()}, beat: true})
}

// publishBeat publishes a heartbeat: in one message when it fits the
// server's payload limit, else in parts that each restate some users (not
// full: the users a part does not name are not gone).
func (b *NATS) publishBeat(env *envelope) error {
	data, err := json.Marshal(env)
	if err != nil {
		return err
	}
	if max := b.nc.MaxPayload(); max > 0 && int64(len(data)) > max && len(env.Presence) > 1 {
		half := len(env.Presence) / 2
		first := &envelope{Node: env.Node, Presence: env.Presence[:half], Heads: env.Heads}
		if err := b.publishBeat(first); err != nil {
			return err
		}
		return b.publishBeat(&envelope{Node: env.Node, Presence: env.Presence[half:]})
	}
	return b.nc.Publish(b.opts.Prefix+subjectPresence, data)
}

// recentHeads returns the heads committed within the last few heartbeats
// (so one lost heartbeat loses nothing), or every head after a reconnect.
func (b *NATS) recentHeads() map[string]int64 {
	now := time.Now()
	recent := now.Add(-time.Duration(b.opts.Misses+1) * b.opts.Heartbeat)
	b.mu.Lock()
	defer b.mu.Unlock()
	all := b.allHeads
	b.allHeads = false
	var out map[string]int64
	for room, hd := range b.heads {
		if hd.at.Before(now.Add(-time.Hour)) {
			delete(b.heads, room)
			continue
		}
		if all || hd.at.After(recent) {
			if out == nil {
				out = make(map[string]int64)
			}
			out[room] = hd.seq
		}
	}
	return out
}

// reconnected runs after the NATS connection came back: the other nodes'
// users count until each node has had time to restate them (its next full
// heartbeat then reconciles: users gone meanwhile go offline, new ones
// come online), what this node missed is read from the store, and the next
// heartbeat names every head this node committed, for what the others
// missed.
func (b *NATS) reconnected() {
	b.mu.Lock()
	b.allHeads = true
	b.mu.Unlock()
	if b.attached.Load() {
		// Every node gets a full heartbeat's time to restate its users
		// before any expires; the hub's loop runs this before the next
		// ExpireNodes, which waits for up.
		b.h.HoldNodes(time.Now().Add(time.Duration(b.opts.Misses) * b.opts.Heartbeat))
		b.h.Resync()
	}
	b.up.Store(true)
}

// receive handles one message from another node.
func (b *NATS) receive(m *nats.Msg) {
	var env envelope
	if err := json.Unmarshal(m.Data, &env); err != nil {
		b.log.Warn().Err(err).Str("subject", m.Subject).Msg("undecodable cluster message")
		return
	}
	if env.Node == b.node {
		return
	}
	switch {
	case len(env.Events) > 0:
		evs := make([]store.Event, len(env.Events))
		for i := range env.Events {
			evs[i] = fromWire(&env.Events[i])
		}
		b.h.Publish(evs)
	case env.Typing != nil:
		b.h.RemoteTyping(env.Typing.Room, env.Typing.User, env.Typing.Active)
	case env.Close != nil:
		b.h.RemoteClose(env.Close.Session, env.Close.User, env.Close.Code, env.Close.Reason)
	case env.Bye:
		b.h.NodeExpires(env.Node, time.Now().Add(b.opts.PresenceGrace))
	case m.Subject == b.opts.Prefix+subjectPresence:
		ttl := time.Duration(b.opts.Misses) * b.opts.Heartbeat
		b.h.RemotePresence(env.Node, env.Presence, env.Full, time.Now().Add(ttl))
		b.h.RemoteHeads(env.Heads)
	}
}

// Close publishes what is queued, says goodbye and disconnects.
func (b *NATS) Close() error {
	b.closeOnce.Do(func() {
		close(b.stop)
		b.wg.Wait()
		if data, err := json.Marshal(envelope{Node: b.node, Bye: true}); err == nil {
			_ = b.nc.Publish(b.opts.Prefix+subjectPresence, data)
		}
		if err := b.nc.FlushTimeout(2 * time.Second); err != nil {
			b.log.Debug().Err(err).Msg("nats flush at close")
		}
		b.nc.Close()
	})
	return nil
}

func newNodeID() string {
	var p [8]byte
	_, _ = rand.Read(p[:])
	return "n_" + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(p[:]))
}

// redactURL hides the password of a URL's user info.
func redactURL(u string) string {
	if i := strings.Index(u, "@"); i >= 0 {
		if j := strings.Index(u, "://"); j >= 0 && j < i {
			return u[:j+3] + "…" + u[i:]
		}
	}
	return u
}
