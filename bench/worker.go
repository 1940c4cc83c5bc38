package bench

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"minichat/server/protocol"
)

// histShards spreads latency recording over several histograms so readers on
// different cores rarely add to the same cache line.
const histShards = 16

// worker drives the share of the connections of one process: those whose
// global index i has i % n == k. With --procs 1 the only worker runs inside
// Main; otherwise each runs in a child process (see procs.go).
type worker struct {
	cfg      *config
	k, n     int
	api      *api
	wsURL    string
	wsHost   string     // host:port of wsURL, for the raw reader's dials
	reactors []*reactor // the raw reader's epoll loops (--reader epoll), else none
	roomIDs  []string   // the bench rooms; connection i follows roomIDs[roomOf(i)]
	runID    string
	tokens   []string  // by account index
	log      io.Writer // warnings (stderr)

	// clients is set once, by setup, under mu: the progress line reads it
	// (snapshot) while setup runs; everything else reads it after setup.
	clients []*client
	hists   [histShards]Histogram
	dialSem chan struct{}

	// The team scenario: its layout, latency by room class, and this
	// worker's share of the messages (nil otherwise).
	team       *team
	classHists [nClasses]Histogram
	plan       *sendPlan

	mu     sync.Mutex // guards errs and warned, and the setting of clients
	errs   map[string]int64
	warned bool

	cancel context.CancelFunc
	wg     sync.WaitGroup

	connectTook            time.Duration
	churned, typingSent    atomic.Int64
	stormAtNS              atomic.Int64
	measureFrom, measureTo atomic.Int64 // unix ns of the measured publishing window
}

func newWorker(cfg *config, k, n int, roomIDs, tokens []string, log io.Writer) *worker {
	base := strings.TrimRight(cfg.URL, "/")
	ws := "ws" + strings.TrimPrefix(base, "http") + "/ws"
	host := ""
	if u, err := url.Parse(ws); err == nil { // validated by parseFlags
		host = u.Host
		if u.Port() == "" {
			host = net.JoinHostPort(u.Hostname(), "80")
		}
	}
	return &worker{
		cfg:     cfg,
		k:       k,
		n:       n,
		api:     &api{base: base, client: newHTTPClient()},
		wsURL:   ws,
		wsHost:  host,
		roomIDs: roomIDs,
		tokens:  tokens,
		runID:   cfg.RunID,
		log:     log,
		errs:    map[string]int64{},
		dialSem: make(chan struct{}, cfg.DialConcurrency),
		team:    cfg.team,
	}
}

func (w *worker) countErr(kind string) {
	w.mu.Lock()
	w.errs[kind]++
	w.mu.Unlock()
}

func (w *worker) errors() map[string]int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make(map[string]int64, len(w.errs))
	for k, v := range w.errs {
		out[k] = v
	}
	return out
}

// noteLimits warns once when the server's per-connection send limit is
// below the rate asked of each publisher.
func (w *worker) noteLimits(l protocol.Limits) {
	per := w.cfg.Rate / float64(w.cfg.Publishers)
	if w.cfg.Rate <= 0 || l.MessagesPerSecond <= 0 || per <= l.MessagesPerSecond {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.warned {
		return
	}
	w.warned = true
	fmt.Fprintf(w.log, "bench: warning: each publisher sends %.1f msg/s but the server allows %.1f/s (burst %d) per connection;"+
		" expect rate_limited errors: start the server with a higher --rate and --burst, or use more --publishers\n",
		per, l.MessagesPerSecond, l.Burst)
}

// setup prepares this worker's connections; the coordinator has signed in
// their accounts (w.tokens, one login per account shared by its sockets).
func (w *worker) setup(ctx context.Context) error {
	cfg := w.cfg
	ips, err := parseSourceIPs(cfg.SourceIPs)
	if err != nil {
		return err
	}
	dialers := make([]*net.Dialer, max(len(ips), 1))
	clientsByIP := make([]*http.Client, len(dialers))
	for j := range clientsByIP {
		d := &net.Dialer{Timeout: cfg.DialTimeout, KeepAlive: -1}
		if len(ips) > 0 {
			d.LocalAddr = sourceFor(ips, j)
		}
		dialers[j] = d
		clientsByIP[j] = &http.Client{Transport: &http.Transport{
			DialContext:       d.DialContext,
			DisableKeepAlives: true, // every dial here becomes a WebSocket
			ForceAttemptHTTP2: false,
		}}
	}

	if cfg.Reader == "epoll" {
		rs, err := newReactors(runtime.GOMAXPROCS(0))
		if err != nil {
			return err
		}
		w.reactors = rs
	}
	var clients []*client
	for i := w.k; i < cfg.Conns; i += w.n {
		u := cfg.accountOf(i)
		c := &client{
			w:      w,
			i:      i,
			token:  w.tokens[u],
			http:   clientsByIP[(i/w.n)%len(clientsByIP)],
			dialer: dialers[(i/w.n)%len(dialers)],
			shard:  &w.hists[len(clients)%histShards],
			pub:    i < cfg.Publishers,
			synced: make(chan struct{}),
		}
		if w.team != nil {
			for _, r := range w.team.roomsOf(u) {
				c.rooms = append(c.rooms, follow{id: w.roomIDs[r], ix: r})
			}
		} else {
			ix := cfg.roomOf(i)
			c.rooms = []follow{{id: w.roomIDs[ix], ix: ix}}
		}
		c.room = c.rooms[0].id
		if c.pub {
			c.sem = make(chan struct{}, cfg.MaxInflight)
		}
		clients = append(clients, c)
	}
	if w.team != nil {
		w.plan = w.team.plan(cfg, clients)
	}
	w.mu.Lock()
	w.clients = clients
	w.mu.Unlock()
	return nil
}

// connect opens every connection and waits until each has its first synced
// or the connect timeout passes; connections that are late keep trying.
func (w *worker) connect(ctx context.Context) error {
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	w.cancel = cancel
	start := time.Now()
	for _, c := range w.clients {
		w.wg.Add(1)
		go func() {
			defer w.wg.Done()
			c.run(runCtx)
		}()
	}
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		w.watch(runCtx)
	}()
	deadline := time.NewTimer(w.cfg.ConnectTimeout)
	defer deadline.Stop()
	for _, c := range w.clients {
		select {
		case <-c.synced:
		case <-deadline.C:
			w.connectTook = time.Since(start)
			return nil // reported as connected < conns
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	w.connectTook = time.Since(start)
	return nil
}

// watch drops every socket that has heard nothing for two heartbeats of
// its welcome: a frozen server or a dead path shows no error, and a client
// that waits for one waits for ever (PROTOCOL.md §3). The client redials
// with its backoff and resumes with hello.
func (w *worker) watch(ctx context.Context) {
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			for _, c := range w.clients {
				hb := c.heartbeatNS.Load()
				if hb <= 0 || c.conn.Load() == nil || now.UnixNano()-c.heardNS.Load() <= 2*hb {
					continue
				}
				if conn := c.conn.Load(); conn != nil {
					c.heartbeatNS.Store(0) // once per socket
					c.deadDrops.Add(1)
					w.countErr("dead_server")
					conn.closeNow()
				}
			}
		}
	}
}

func (w *worker) connected() int {
	n := 0
	for _, c := range w.clients {
		select {
		case <-c.synced:
			n++
		default:
		}
	}
	return n
}

// run publishes, types and churns from t0 on: warm-up, then the measured
// window, then waits for the answers to every send (bounded by the drain
// timeout). A storm drops every connection halfway through the window.
func (w *worker) run(ctx context.Context, t0 time.Time) error {
	cfg := w.cfg
	measureStart := t0.Add(cfg.Warmup)
	end := measureStart.Add(cfg.Duration)
	w.measureFrom.Store(measureStart.UnixNano())
	w.measureTo.Store(end.UnixNano())
	sleepCtx(ctx, time.Until(t0))

	var pubs []*client
	for _, c := range w.clients {
		if c.pub {
			pubs = append(pubs, c)
		}
	}
	actx, stop := context.WithDeadline(ctx, end)
	defer stop()
	var wg, pubWG sync.WaitGroup
	for _, c := range pubs {
		pubWG.Add(1)
		go func() {
			defer pubWG.Done()
			w.publish(actx, c, t0, measureStart)
		}()
	}
	if cfg.Count > 0 && !cfg.Storm {
		// A counted run ends when its messages are out; the window closes then.
		go func() {
			pubWG.Wait()
			if now := time.Now(); now.Before(end) && actx.Err() == nil {
				w.measureTo.Store(now.UnixNano())
			}
			stop()
		}()
	}
	if w.plan != nil && cfg.Rate > 0 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.teamPublish(actx, measureStart)
		}()
	}
	if cfg.Typing > 0 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.every(actx, cfg.Typing/float64(w.n), func() {
				if w.plan != nil { // the team scenario: typing goes where messages go
					w.teamTyping()
					return
				}
				if c := w.clients[rand.N(len(w.clients))]; c.conn.Load() != nil {
					c.typing()
					w.typingSent.Add(1)
				}
			})
		}()
	}
	if cfg.Churn > 0 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.every(actx, cfg.Churn/float64(w.n), func() {
				// Publishers are spared: a drop loses the acks in flight, which
				// would blur sent × connections.
				c := w.clients[rand.N(len(w.clients))]
				if !c.pub && c.dropNow() {
					w.churned.Add(1)
				}
			})
		}()
	}
	if cfg.Storm {
		wg.Add(1)
		go func() {
			defer wg.Done()
			at := measureStart.Add(cfg.Duration / 2)
			sleepCtx(actx, time.Until(at))
			if actx.Err() != nil {
				return
			}
			w.stormAtNS.Store(time.Now().UnixNano())
			for _, c := range w.clients {
				c.dropNow()
			}
		}()
	}
	pubWG.Wait()
	<-actx.Done() // the window lasts its duration, unless a counted run ended it
	wg.Wait()

	// Wait for the answers of the sends in flight.
	deadline := time.Now().Add(cfg.DrainTimeout)
	if w.plan != nil {
		w.waitAcks(ctx, deadline)
	}
	for _, c := range pubs {
		for c.inflight() > 0 && time.Now().Before(deadline) && ctx.Err() == nil {
			sleepCtx(ctx, 5*time.Millisecond)
		}
	}
	return ctx.Err()
}

// publish sends c's share of the messages on a fixed schedule (open loop:
// a late send does not delay the next ones, up to MaxInflight unanswered).
func (w *worker) publish(ctx context.Context, c *client, t0, measureStart time.Time) {
	cfg := w.cfg
	if cfg.Rate <= 0 && cfg.Count <= 0 {
		return
	}
	// Publisher j of P (global order) sends every P/rate seconds, offset so
	// the P publishers interleave evenly.
	j := c.i
	P := cfg.Publishers
	quota := int64(-1)
	if cfg.Count > 0 {
		quota = int64(cfg.Count / P)
		if j < cfg.Count%P {
			quota++
		}
	}
	var interval time.Duration
	if cfg.Rate > 0 {
		interval = time.Duration(float64(P) / cfg.Rate * float64(time.Second))
	}
	next := t0.Add(interval * time.Duration(j) / time.Duration(P))
	var seq, measured int64
	for ctx.Err() == nil {
		if quota >= 0 && measured >= quota {
			return
		}
		if interval > 0 {
			if d := time.Until(next); d > 0 {
				sleepCtx(ctx, d)
				if ctx.Err() != nil {
					return
				}
			}
			next = next.Add(interval)
		}
		warm := time.Now().Before(measureStart)
		seq++
		if c.send(ctx, warm, seq) && !warm {
			measured++
		}
	}
}

// every calls fn about perSecond times a second until ctx ends.
func (w *worker) every(ctx context.Context, perSecond float64, fn func()) {
	if perSecond <= 0 {
		return
	}
	interval := time.Duration(float64(time.Second) / perSecond)
	next := time.Now()
	for {
		next = next.Add(interval)
		sleepCtx(ctx, time.Until(next))
		if ctx.Err() != nil {
			return
		}
		fn()
	}
}

// drain waits until every connection has seen its room's log up to the
// last seq the server reports after the last ack, then stops everything and
// returns this worker's result.
func (w *worker) drain(ctx context.Context) (result, error) {
	finals := make([]int64, len(w.roomIDs))
	// A few requests for one room, thousands for the team scenario's DMs.
	fctx, cancel := context.WithTimeout(ctx, 4*w.cfg.DrainTimeout)
	err := w.finals(fctx, finals)
	cancel()
	if err != nil {
		w.countErr("last_seq")
	}
	deadline := time.Now().Add(w.cfg.DrainTimeout)
	for err == nil && time.Now().Before(deadline) && ctx.Err() == nil {
		all := true
		for _, c := range w.clients {
			if !c.complete(finals) {
				all = false
				break
			}
		}
		if all {
			break
		}
		sleepCtx(ctx, 20*time.Millisecond)
	}
	w.stop()
	r := w.result()
	for _, f := range finals {
		r.FinalSeq = max(r.FinalSeq, f)
	}
	if err == nil {
		for _, c := range w.clients {
			for k := range c.rooms {
				fl := &c.rooms[k] // ix only: the reader writes the other fields
				gaps, tail := c.lost(k, finals[fl.ix])
				r.Lost += gaps
				r.Undelivered += tail
				if t := r.Team; t != nil {
					cl := &t.Class[w.team.class(fl.ix)]
					cl.Lost += gaps
					cl.Undelivered += tail
					t.RoomLost[fl.ix] += gaps + tail
				}
			}
		}
	}
	return r, ctx.Err()
}

// finals reads the last seq of every room this worker's connections
// follow, as the server sees it now, into finals (by room index).
func (w *worker) finals(ctx context.Context, finals []int64) error {
	if w.team != nil {
		return w.teamFinals(ctx, finals)
	}
	asked := make([]bool, len(w.roomIDs))
	for _, c := range w.clients {
		ix := c.rooms[0].ix
		if asked[ix] || c.token == "" {
			continue
		}
		asked[ix] = true
		var err error
		if finals[ix], err = w.api.lastSeq(ctx, c.token, c.room); err != nil {
			return err
		}
	}
	return nil
}

// stop ends every connection and waits for their goroutines, then stops
// the raw reader's loops; it may be called more than once.
func (w *worker) stop() {
	if w.cancel != nil {
		w.cancel()
		for _, c := range w.clients {
			if conn := c.conn.Load(); conn != nil {
				conn.closeNow()
			}
		}
		w.wg.Wait()
	}
	stopReactors(w.reactors)
	w.reactors = nil
}

// snapshot sums the counters of every connection.
func (w *worker) snapshot() progress {
	w.mu.Lock()
	clients := w.clients
	w.mu.Unlock()
	p := progress{Conns: len(clients), Errors: w.errors()}
	for _, c := range clients {
		if c.conn.Load() != nil {
			p.Open++
		}
		p.Sent += c.sent.Load()
		p.WarmSent += c.warmSent.Load()
		p.Acked += c.acked.Load()
		p.WarmAcked += c.warmAcked.Load()
		p.Refused += c.refused.Load()
		p.Deliveries += c.deliveries.Load()
		p.WarmDeliveries += c.warmDeliveries.Load()
		p.Dup += c.dup.Load()
		p.ReplayDup += c.replayDup.Load()
		p.TypingRecv += c.typingRecv.Load()
		p.PresenceRecv += c.presenceRecv.Load()
		p.OtherRecv += c.otherRecv.Load()
		p.Connects += c.connects.Load()
		p.SkippedRanges += c.skippedRanges.Load()
		p.SkippedSeqs += c.skippedSeqs.Load()
		p.PreWelcome += c.preWelcome.Load()
		p.DeadDrops += c.deadDrops.Load()
		p.LastDeliveryNS = max(p.LastDeliveryNS, c.lastDeliveryNS.Load())
	}
	p.TypingSent = w.typingSent.Load()
	p.Churned = w.churned.Load()
	for i := range w.hists {
		p.Hist.Merge(w.hists[i].Snapshot())
	}
	return p
}

func (w *worker) result() result {
	r := result{progress: w.snapshot()}
	r.Connected = w.connected()
	r.AckedByRoom = make([]int64, len(w.roomIDs))
	r.ConnectedByRoom = make([]int, len(w.roomIDs))
	if w.team != nil {
		r.Team = newTeamResult(len(w.roomIDs))
		for k := range w.classHists {
			r.Team.Class[k].Hist = w.classHists[k].Snapshot()
		}
	}
	for _, c := range w.clients {
		synced := false
		select {
		case <-c.synced:
			synced = true
		default:
		}
		c.mu.Lock()
		for _, fl := range c.rooms {
			if w.team != nil {
				// Every socket of a room counts (its acks and deliveries
				// are counted per room).
				r.AckedByRoom[fl.ix] += fl.acked
				if synced {
					r.ConnectedByRoom[fl.ix]++
				}
				cl := &r.Team.Class[w.team.class(fl.ix)]
				cl.Deliveries += fl.deliveries
				cl.Dup += fl.dup
				r.Team.RoomDup[fl.ix] += fl.dup
				continue
			}
			r.AckedByRoom[fl.ix] += c.acked.Load()
			if synced {
				r.ConnectedByRoom[fl.ix]++
			}
		}
		c.mu.Unlock()
	}
	r.ConnectMS = float64(w.connectTook.Microseconds()) / 1000
	r.MeasureFromNS = w.measureFrom.Load()
	r.MeasureToNS = w.measureTo.Load()
	if at := w.stormAtNS.Load(); at != 0 {
		r.StormAtNS = at
		for _, c := range w.clients {
			if ns := c.resyncedNS.Load(); ns > at {
				r.StormResynced++
				r.StormResyncedNS = max(r.StormResyncedNS, ns)
			}
		}
	}
	return r
}
