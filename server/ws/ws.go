// Package ws is the /ws endpoint: it authenticates and origin-checks the
// upgrade, admits the connection to the hub, and runs one goroutine per
// connection: a reader that decodes, validates and rate-limits client
// frames. While the connection is idle the reader hands the wait for the
// client to a fresh goroutine with a small stack (idleWaiter). Writing is
// shared: a few flushers per Handler (flush.go) take the frames the hub
// queued for a connection and put every one that is ready into one
// WebSocket message (frames separated by newlines), which is what lets one
// server write serve many deliveries; a socket that cannot take a write
// at once gets a goroutine of its own until it has. One sweeper goroutine
// per Handler sends heartbeats, closes connections that stopped answering
// (4408) and aborts writes stuck for longer than the write timeout.
package ws

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/rs/zerolog"
	"golang.org/x/time/rate"

	"minichat/server/chat"
	"minichat/server/hub"
	"minichat/server/protocol"
	"minichat/server/store"
)

// Options configure a Handler. Zero values take the defaults named.
type Options struct {
	Hub  *hub.Hub
	Chat *chat.Service
	// Authenticate returns the session of a request (cookie or bearer
	// token), or an error for an anonymous one.
	Authenticate func(r *http.Request) (store.Session, error)
	// AllowedOrigins are origins besides the server's own allowed to open a
	// socket, as "https://host:port" or a host pattern like "*.example.com".
	AllowedOrigins []string
	// Heartbeat is the ping interval; default 25 s. A connection that sends
	// nothing for two intervals is closed with 4408.
	Heartbeat time.Duration
	// WriteTimeout bounds one socket write; default 10 s.
	WriteTimeout time.Duration
	// MaxFrameBytes is the read limit of a client message; default 65536.
	MaxFrameBytes int
	// Rate and Burst limit the writing frames (send, edit, delete, react) of
	// one connection; default 5/s and 20.
	Rate  float64
	Burst int
	// MaxQueueBytes bounds a connection's queue; default hub.DefaultMaxQueueBytes.
	MaxQueueBytes int
	// ReadBufferSize and WriteBufferSize size the socket's buffers after the
	// upgrade, replacing net/http's 4 KiB ones, which every idle connection
	// would keep; defaults 512 and 256. Client frames are small, and the
	// write buffer carries only the library's control frames (the
	// flushers write their messages whole); it is never below 256.
	ReadBufferSize, WriteBufferSize int
	// MaxConnsPerUser and MaxConnsPerIP cap the sockets one account and one
	// client address may hold open at once; an upgrade beyond either is
	// answered 429 (rate_limited) before any upgrade. Defaults 32 and 512;
	// a negative value means no cap.
	MaxConnsPerUser, MaxConnsPerIP int
	// ClientIP returns the client address of a request (for the per-IP
	// cap); default the host of r.RemoteAddr. The API passes its own, which
	// believes X-Forwarded-For only from trusted proxies.
	ClientIP func(r *http.Request) string
	// MaxUploadBytes is announced in welcome's limits (the upload limit
	// of POST /api/uploads); 0 leaves it out.
	MaxUploadBytes int64
	// ReplayMax is how many log entries a hello replays per room at most
	// (the newest; synced names the range left out); announced in
	// welcome's limits. Default protocol.MaxReplay (500).
	ReplayMax int
	// ReplayRate and ReplayBurst bound the room replays one account may
	// ask for with hello: ReplayBurst rooms at once (default 2000), then
	// ReplayRate rooms a second (default 200). A hello beyond them is
	// answered rate_limited. See replay.go for the other bounds.
	ReplayRate  float64
	ReplayBurst int
	// HelloWait is how long a new connection's room-log frames are held
	// for its first frame (normally hello, whose replays they must not
	// precede); default 1 s. Any first frame, or the end of the wait,
	// releases the rooms hello did not name.
	HelloWait time.Duration
	Version   string
	Log       zerolog.Logger

	// collect runs a garbage collection after a reconnect storm (see
	// settle); tests count the calls instead.
	collect func()
}

// Defaults of the socket's protocol limits; see Options.
const (
	DefaultHeartbeat     = 25 * time.Second
	DefaultWriteTimeout  = 10 * time.Second
	DefaultMaxFrameBytes = 64 << 10
	DefaultRate          = 5 // sends per second per socket
	DefaultBurst         = 20
	DefaultReadBuffer    = 512
	DefaultHelloWait     = time.Second
)

// Default connection caps; see Options.
const (
	DefaultMaxConnsPerUser = 32
	DefaultMaxConnsPerIP   = 512
)

// Default replay budget of an account; see Options.
const (
	DefaultReplayRate  = 200
	DefaultReplayBurst = 2000
)

// Handler serves /ws.
type Handler struct {
	opts Options
	log  zerolog.Logger
	ping []byte
	// stats are counters for monitoring (Stats), updated atomically.
	stats stats

	wg       sync.WaitGroup // connection goroutines and the sweeper
	mu       sync.Mutex
	conns    map[*conn]struct{} // guarded by mu
	opened   uint32             // connections registered, guarded by mu: deals sweep slices
	stopOnce sync.Once
	stopped  chan struct{}

	// perUser and perIP count the sockets admitted (see admit), guarded by
	// mu; an entry is removed when its count drops to zero.
	perUser map[string]int
	perIP   map[string]int
	// hellos are the hello budgets of the accounts with sockets open,
	// guarded by mu; an entry goes with the account's last socket.
	hellos map[string]*rate.Limiter

	flush   flushPool  // connections with frames to write (flush.go)
	replays replayPool // hellos being answered (replay.go)
}

// New returns a Handler and starts its heartbeat sweeper; Shutdown stops it.
func New(opts Options) *Handler {
	if opts.Heartbeat <= 0 {
		opts.Heartbeat = DefaultHeartbeat
	}
	if opts.WriteTimeout <= 0 {
		opts.WriteTimeout = DefaultWriteTimeout
	}
	if opts.MaxFrameBytes <= 0 {
		opts.MaxFrameBytes = DefaultMaxFrameBytes
	}
	if opts.Rate <= 0 {
		opts.Rate = DefaultRate
	}
	if opts.Burst <= 0 {
		opts.Burst = DefaultBurst
	}
	if opts.ReadBufferSize <= 0 {
		opts.ReadBufferSize = DefaultReadBuffer
	}
	opts.WriteBufferSize = max(opts.WriteBufferSize, minWriteBuffer) // also the default
	if opts.MaxConnsPerUser == 0 {
		opts.MaxConnsPerUser = DefaultMaxConnsPerUser
	}
	if opts.MaxConnsPerIP == 0 {
		opts.MaxConnsPerIP = DefaultMaxConnsPerIP
	}
	if opts.ClientIP == nil {
		opts.ClientIP = remoteHost
	}
	if opts.ReplayMax <= 0 {
		opts.ReplayMax = protocol.MaxReplay
	}
	if opts.ReplayRate <= 0 {
		opts.ReplayRate = DefaultReplayRate
	}
	if opts.ReplayBurst <= 0 {
		opts.ReplayBurst = DefaultReplayBurst
	}
	if opts.HelloWait <= 0 {
		opts.HelloWait = DefaultHelloWait
	}
	if opts.collect == nil {
		opts.collect = debug.FreeOSMemory
	}
	h := &Handler{
		opts:    opts,
		log:     opts.Log,
		ping:    protocol.Encode(protocol.Ping{Type: protocol.TypePing}),
		conns:   make(map[*conn]struct{}),
		perUser: make(map[string]int),
		perIP:   make(map[string]int),
		hellos:  make(map[string]*rate.Limiter),
		stopped: make(chan struct{}),
	}
	h.flush.max = runtime.GOMAXPROCS(0)
	h.flush.wake = make(chan struct{}, h.flush.max)
	h.wg.Add(2)
	go h.sweep()
	go h.settle()
	return h
}

// Shutdown waits for every connection's goroutines to finish (the hub's own
// Shutdown closes them with 1001 first) and stops the sweeper. When ctx ends
// first, the remaining sockets are closed at once.
func (h *Handler) Shutdown(ctx context.Context) error {
	h.stopOnce.Do(func() { close(h.stopped) })
	done := make(chan struct{})
	go func() { h.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		// Abort every socket still open: blocked reads and writes return.
		h.mu.Lock()
		for c := range h.conns {
			_ = c.ws.CloseNow()
		}
		h.mu.Unlock()
		<-done
		return ctx.Err()
	}
}

// conn is one socket and its hub connection.
type conn struct {
	h  *Handler
	ws *websocket.Conn
	hc *hub.Conn
	// ctx is the context of every read, write and store call. It is never
	// cancelled: a context per operation allocates, and a cancellable one
	// costs on every write. A stuck socket is aborted with CloseNow instead
	// (the sweeper, Shutdown).
	ctx  context.Context
	user protocol.User
	ip   string // the client address counted by admit
	// idle, when not nil, waits for the client on a small goroutine while
	// the connection is idle (see idleWaiter).
	idle *idleWaiter
	// closing is held by the closer while websocket.Close reads the peer's
	// close frame, and by the reader while it looks into the read buffer
	// (idleWouldBlock): the two must not use the buffer at once.
	closing sync.Mutex

	// sw is the socket under the WebSocket library (see socket.go).
	sw *sockWriter
	// state says whether the connection waits for a flusher (flushIdle …).
	state  atomic.Int32
	slice  uint32 // the sweeper's slice: when it pings and checks this connection
	writes *rate.Limiter
	frames *rate.Limiter
	// hold, until the client's first frame, releases the room-log frames
	// held for a hello (hub.Conn.HoldUntilHello) after Options.HelloWait;
	// the reader stops it and sets it to nil at the first frame.
	hold *time.Timer
	// helloBusy is set while a hello of this connection is being answered.
	helloBusy atomic.Bool
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	sess, err := h.opts.Authenticate(r)
	if err != nil {
		if errors.Is(err, store.ErrUnavailable) {
			// Not a signed-out client: it reconnects after the hint.
			writeError(w, err)
			return
		}
		writeError(w, protocol.Errorf(protocol.CodeUnauthorized, "sign in first"))
		return
	}
	if !h.originAllowed(r) {
		writeError(w, protocol.Errorf(protocol.CodeForbidden, "origin %q is not allowed", r.Header.Get("Origin")))
		return
	}
	select {
	case <-h.stopped:
		writeError(w, protocol.Errorf(protocol.CodeInternal, "server is shutting down"))
		return
	default:
	}
	ip := h.opts.ClientIP(r)
	if err := h.admit(sess.User.ID, ip); err != nil {
		writeError(w, err)
		return
	}
	// The hub's position in membership changes, taken before the rooms
	// are read: Register applies what changed after it (the leave race).
	mark := h.opts.Hub.MemberMark()
	rooms, err := h.opts.Chat.Rooms(r.Context(), sess.User)
	if err != nil {
		h.release(sess.User.ID, ip)
		if !errors.Is(err, store.ErrUnavailable) { // the store logs outages once
			h.log.Error().Err(err).Msg("load rooms for welcome")
		}
		writeError(w, err)
		return
	}
	memberOf := make([]string, 0, len(rooms))
	for _, rm := range rooms {
		if rm.Member {
			memberOf = append(memberOf, rm.ID)
		}
	}
	// The origin was checked above, with the configured allow-list.
	sb := &smallBuffers{ResponseWriter: w, readSize: h.opts.ReadBufferSize, writeSize: h.opts.WriteBufferSize, wg: &h.wg}
	wsc, err := websocket.Accept(sb, r, &websocket.AcceptOptions{
		InsecureSkipVerify: true,
		CompressionMode:    websocket.CompressionDisabled,
	})
	if err != nil {
		h.release(sess.User.ID, ip)
		return // Accept has answered
	}
	wsc.SetReadLimit(int64(h.opts.MaxFrameBytes))
	id := newID()
	c := &conn{
		h:      h,
		ws:     wsc,
		hc:     hub.NewConn(id, sess.User, sess.ID, h.opts.MaxQueueBytes),
		sw:     sb.sw,
		ctx:    context.Background(),
		user:   sess.User,
		ip:     ip,
		idle:   sb.idleWaiter(),
		writes: rate.NewLimiter(rate.Limit(h.opts.Rate), h.opts.Burst),
		// Any frame counts against the flood limit: ten times the write
		// limit, and never below 50/s, leaves room for typing, reads and pongs.
		frames: rate.NewLimiter(rate.Limit(max(50, 10*h.opts.Rate)), max(100, 10*h.opts.Burst)),
	}
	c.hc.Touch(time.Now().UnixNano())
	c.hc.SetNotify(c.kick)
	c.sw.onDrained = c.drained
	welcome := protocol.Welcome{
		Session:     sess.ID,
		User:        sess.User,
		Rooms:       rooms,
		HeartbeatMS: h.opts.Heartbeat.Milliseconds(),
		Limits: protocol.Limits{
			MaxFrameBytes:     h.opts.MaxFrameBytes,
			MaxTextChars:      protocol.MaxTextChars,
			MessagesPerSecond: h.opts.Rate,
			Burst:             h.opts.Burst,
			MaxUploadBytes:    h.opts.MaxUploadBytes,
			ReplayMax:         h.opts.ReplayMax,
		},
		Server: protocol.ServerInfo{Version: h.opts.Version},
	}
	h.stats.accepted.Add(1)
	// The reader's count is taken before the first kick can start a flusher.
	h.wg.Add(1)
	c.hc.HoldUntilHello()
	if !h.opts.Hub.Register(c.hc, hub.Registration{RoomIDs: memberOf, Mark: mark, Welcome: welcome}) {
		c.hc.Close(protocol.CloseGoingAway, "server shutting down")
	}
	c.hold = time.AfterFunc(h.opts.HelloWait, c.hc.EndHold)
	// Only now may the sweeper ping it: the welcome is queued, and it is
	// the first frame of every connection.
	h.mu.Lock()
	h.conns[c] = struct{}{}
	c.slice = h.opened % sweepSlices
	h.opened++
	h.mu.Unlock()
	if h.log.GetLevel() <= zerolog.DebugLevel {
		c.logger().Debug().Msg("connected")
	}
	// The handler returns so net/http lets go of its per-request state; the
	// reader and the flushers (kicked when there is something to write —
	// the welcome is already queued) own the connection from here.
	go c.readLoop()
}

// admit counts a new socket of user from ip, or refuses it (rate_limited)
// when either already holds its cap. The caller gives the slot back with
// release if the socket does not open; the reader gives it back when the
// socket closes.
func (h *Handler) admit(user, ip string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if n := h.opts.MaxConnsPerUser; n > 0 && h.perUser[user] >= n {
		return &protocol.CodeError{Code: protocol.CodeRateLimited, Msg: fmt.Sprintf("too many connections for this account (at most %d); close some tabs or devices", n), RetryAfter: time.Second}
	}
	if n := h.opts.MaxConnsPerIP; n > 0 && h.perIP[ip] >= n {
		return &protocol.CodeError{Code: protocol.CodeRateLimited, Msg: fmt.Sprintf("too many connections from this address (at most %d)", n), RetryAfter: time.Second}
	}
	h.perUser[user]++
	h.perIP[ip]++
	return nil
}

func (h *Handler) release(user, ip string) {
	h.mu.Lock()
	h.releaseLocked(user, ip)
	h.mu.Unlock()
}

func (h *Handler) releaseLocked(user, ip string) {
	if h.perUser[user]--; h.perUser[user] <= 0 {
		delete(h.perUser, user)
		delete(h.hellos, user)
	}
	if h.perIP[ip]--; h.perIP[ip] <= 0 {
		delete(h.perIP, ip)
	}
}

// remoteHost is the host part of r.RemoteAddr.
func remoteHost(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// maxWrite bounds the frames one write carries (a frame larger than this
// goes alone), and with it the flushers' buffers: 10,000 connections
// catching up at once are written a bounded piece at a time.
const maxWrite = 16 << 10

// joinBufSize holds maxWrite bytes of frames and their separators.
const joinBufSize = maxWrite + maxWrite/4

func (h *Handler) originAllowed(r *http.Request) bool {
	return OriginAllowed(r, h.opts.AllowedOrigins)
}

// OriginAllowed reports whether the request's Origin may act on this server:
// no Origin (not a browser, so no cross-site risk), the request's own host,
// or an entry of allowed ("https://host:port", "host:port", "*.domain", or
// "*" for every origin — which opens the server to cross-site requests).
// The /ws upgrade and the API's cross-site request check share this rule.
func OriginAllowed(r *http.Request, allowed []string) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false
	}
	if strings.EqualFold(u.Host, r.Host) {
		return true
	}
	for _, a := range allowed {
		a = strings.TrimSuffix(strings.TrimSpace(a), "/")
		if a == "*" || strings.EqualFold(a, origin) || strings.EqualFold(a, u.Host) {
			return true
		}
		if strings.HasPrefix(a, "*.") && strings.HasSuffix(strings.ToLower(u.Hostname()), strings.ToLower(a[1:])) {
			return true
		}
	}
	return false
}

// readLoop reads client frames until the socket closes. When the next
// read would wait for the client, it hands the wait to a fresh goroutine
// with a small stack and returns (see idleWaiter); that goroutine runs
// readLoop again once the client sends something.
//
// It is kept small on purpose: without an idle waiter (TLS) an idle
// connection sits in ws.Read below this frame, and a goroutine stack is
// halved by the garbage collector only while less than a quarter of it is
// in use, so every byte of this frame decides whether idle readers fit in
// 4 KiB stacks or need 8.
func (c *conn) readLoop() {
	for {
		if c.idle != nil && c.idleWouldBlock() {
			go c.waitIdle()
			return
		}
		typ, data, err := c.ws.Read(c.ctx)
		if err != nil {
			c.readFailed(err)
			return
		}
		c.received(typ, data)
	}
}

// idleWouldBlock reports whether the next read would wait for the client.
//
//go:noinline
func (c *conn) idleWouldBlock() bool {
	c.closing.Lock()
	defer c.closing.Unlock()
	return c.idle.wouldBlock()
}

// waitIdle waits, on a goroutine of its own with a small stack, until the
// client sends something, then reads.
func (c *conn) waitIdle() {
	c.idle.block()
	c.readLoop()
}

// readFailed ends the reader: the socket is closed or broken.
//
//go:noinline
func (c *conn) readFailed(err error) {
	code := websocket.CloseStatus(err)
	if code == -1 {
		code = protocol.CloseNormal
	}
	if c.h.log.GetLevel() <= zerolog.DebugLevel {
		c.logger().Debug().Int("code", int(code)).Msg("disconnected")
	}
	c.hc.Close(int(code), "")
	if c.hold != nil {
		c.hold.Stop()
	}
	c.h.mu.Lock()
	delete(c.h.conns, c)
	c.h.releaseLocked(c.user.ID, c.ip)
	c.h.mu.Unlock()
	c.h.wg.Done()
}

// received handles one client message.
//
//go:noinline
func (c *conn) received(typ websocket.MessageType, data []byte) {
	c.hc.Touch(time.Now().UnixNano())
	if !c.frames.Allow() {
		c.hc.Close(protocol.CloseTooSlow, "flooding")
		return // the closer closes the socket; Read then fails
	}
	if typ != websocket.MessageText {
		c.sendError("", protocol.Errorf(protocol.CodeBadRequest, "frames are JSON text messages"))
		return
	}
	c.handle(data)
	if c.hold != nil {
		// The first frame (after a hello's rooms began their replays):
		// the other rooms' held frames go out.
		c.hold.Stop()
		c.hold = nil
		c.hc.EndHold()
	}
}

// logger returns a logger for this connection. It is built on demand:
// kept per connection it would cost most of a kilobyte each.
func (c *conn) logger() *zerolog.Logger {
	l := c.h.log.With().Str("conn_id", c.hc.ID).Str("user", c.user.Name).Logger()
	return &l
}

// sendError answers a refused frame.
func (c *conn) sendError(ref string, err error) {
	frame := protocol.Error{Type: protocol.TypeError, Ref: ref, Code: protocol.ErrorCode(err), Message: "internal error"}
	var ce *protocol.CodeError
	if errors.As(err, &ce) {
		frame.Message = ce.Msg
		frame.RetryAfterMS = ce.RetryAfter.Milliseconds()
	} else if !errors.Is(err, context.Canceled) {
		c.logger().Error().Err(err).Msg("frame failed")
	}
	c.hc.Send(protocol.Encode(frame))
}

func newID() string {
	var b [10]byte
	_, _ = rand.Read(b[:])
	return "c_" + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:]))
}
