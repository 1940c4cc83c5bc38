// Package push sends Web Push notifications (RFC 8030, with VAPID, RFC
// 8292, and aes128gcm payloads, RFC 8291) for new messages to the devices
// of members who are not connected.
//
// How a push travels: the store's commit hook hands every committed batch
// of events to Committed, which only queues it (it never blocks the
// store's writer; a full queue drops the batch with a warning). One
// planner goroutine takes each new chat message, reads the subscriptions
// of the room's members, asks chat.PushRule about each (level, mention,
// pause, connected anywhere in the cluster per the hub) and writes the
// pushes it allows to the outbox in the database (store.Push.QueuePush).
// Only the node that committed a message sees it in its commit hook, so
// each message is planned once in a cluster; the outbox's key (message id,
// subscription id) makes a second planning of the same message add
// nothing.
//
// Every node runs a pump that takes due jobs from the outbox with a lease
// (store.Push.ClaimPushJobs), so a job is held by one node at a time, and
// a few workers that encrypt and POST them. Accepted (2xx): the job goes;
// 404/410: the subscription goes; 429, 5xx or a network error: the job is
// due again after a backoff (Retry-After when the service gives one), at
// most MaxAttempts times; any other answer drops it. A node that dies
// holding jobs leaves them to the others once their lease ends (a push
// whose POST went out just before the death may then arrive twice; its
// Topic makes the push service and the browser keep one).
//
// A Pusher is safe for concurrent use; Close stops its goroutines.
package push

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/rs/zerolog"

	"minichat/server/chat"
	"minichat/server/protocol"
	"minichat/server/store"
)

// Defaults of Options.
const (
	DefaultTTL         = 24 * time.Hour
	DefaultMaxAttempts = 5
	DefaultPoll        = 2 * time.Second
	DefaultWorkers     = 4
	// MaxExcerpt is the most characters of a message's text a push
	// carries.
	MaxExcerpt = 100
)

// Store is what a Pusher needs of the store.
type Store interface {
	store.Push
	Room(ctx context.Context, roomID, viewerID string) (protocol.Room, error)
}

// Options configure a Pusher.
type Options struct {
	Store Store
	// Connected reports which users have a socket open anywhere in the
	// cluster (hub.Hub.Connected); they are not pushed to. Nil: nobody.
	Connected func(uids []string) map[string]bool
	// Client posts the pushes; default an http.Client with a 30 s timeout.
	// Push services are public HTTPS hosts and endpoints are chosen by
	// users: the server's client is server/netguard's, which refuses
	// private addresses.
	Client *http.Client
	// Content, when true, puts the sender and an excerpt of at most
	// MaxExcerpt characters in each push; when false a push says only "New
	// message" under Instance (it still names the room, for the click).
	Content bool
	// Instance is the title of content-less pushes; default "minichat".
	Instance string
	// Contact is the VAPID "sub" claim: a mailto: or https: URL where the
	// push services can reach the operator. Default "mailto:postmaster@localhost".
	Contact string
	// TTL is how long a push service keeps a push for a device that is
	// offline; default DefaultTTL.
	TTL time.Duration
	// MaxAttempts bounds the tries of one push (429, 5xx, network
	// errors); default DefaultMaxAttempts.
	MaxAttempts int
	// Backoff is the wait before the first retry without a Retry-After,
	// doubled for each further one up to 10 minutes; default 5 s.
	Backoff time.Duration
	// Poll is how often the pump looks for due jobs (retries, and the
	// jobs of other nodes that died); default DefaultPoll.
	Poll time.Duration
	// Workers is how many pushes are posted at once; default
	// DefaultWorkers.
	Workers int
	Now     func() time.Time
	Log     zerolog.Logger
}

// Pusher plans and sends Web Push notifications; see the package doc.
type Pusher struct {
	opts  Options
	keys  *Keys
	owner string // this node's name in the outbox's leases

	events chan []store.Event
	kick   chan struct{}
	jobs   chan store.PushJob
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	dropped   atomic.Uint64 // batches Committed could not queue
	sent      atomic.Uint64 // pushes accepted by a push service
	retried   atomic.Uint64 // pushes to try again
	failed    atomic.Uint64 // pushes dropped
	gone      atomic.Uint64 // subscriptions found gone
	lastDrop  atomic.Int64
	closeOnce sync.Once
}

// lease is how long a node holds the jobs it claimed: longer than a POST
// may take (the client's timeout) with room to spare.
const lease = 2 * time.Minute

// New reads (or makes, on the first start of the instance) the VAPID key
// pair from the store and starts the planner, the pump and the workers.
func New(ctx context.Context, opts Options) (*Pusher, error) {
	if opts.Client == nil {
		opts.Client = &http.Client{Timeout: 30 * time.Second}
	}
	if opts.Instance == "" {
		opts.Instance = "minichat"
	}
	if opts.Contact == "" {
		opts.Contact = "mailto:postmaster@localhost"
	}
	if opts.TTL <= 0 {
		opts.TTL = DefaultTTL
	}
	if opts.MaxAttempts <= 0 {
		opts.MaxAttempts = DefaultMaxAttempts
	}
	if opts.Backoff <= 0 {
		opts.Backoff = 5 * time.Second
	}
	if opts.Poll <= 0 {
		opts.Poll = DefaultPoll
	}
	if opts.Workers <= 0 {
		opts.Workers = DefaultWorkers
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	priv, err := opts.Store.PushKey(ctx, NewPrivateKey)
	if err != nil {
		return nil, err
	}
	keys, err := ParseKeys(priv)
	if err != nil {
		return nil, err
	}
	p := &Pusher{
		opts:   opts,
		keys:   keys,
		owner:  store.NewID("n_"),
		events: make(chan []store.Event, 1024),
		kick:   make(chan struct{}, 1),
		jobs:   make(chan store.PushJob),
	}
	p.ctx, p.cancel = context.WithCancel(context.Background())
	p.wg.Add(2 + opts.Workers)
	go p.planner()
	go p.pump()
	for range opts.Workers {
		go p.worker()
	}
	return p, nil
}

// PublicKey is the VAPID public key, base64url of the uncompressed point.
func (p *Pusher) PublicKey() string { return p.keys.Public }

// Sent counts the pushes push services accepted from this node.
func (p *Pusher) Sent() uint64 { return p.sent.Load() }

// Close stops the Pusher's goroutines and waits for them; a POST in
// flight is cut off (its job is due again after its lease). Events queued
// and not yet planned are dropped. Idempotent.
func (p *Pusher) Close() {
	p.closeOnce.Do(func() {
		p.cancel()
		p.wg.Wait()
	})
}

// Committed queues a committed batch for planning. It never blocks (it is
// called from the store's writer): a full queue drops the batch.
func (p *Pusher) Committed(evs []store.Event) {
	for i := range evs {
		if evs[i].Kind == store.EventMessage && evs[i].Message.Kind == protocol.KindChat && evs[i].Message.Sender != nil {
			select {
			case p.events <- evs:
			default:
				p.dropped.Add(1)
				now := time.Now().Unix()
				if last := p.lastDrop.Load(); now-last >= 60 && p.lastDrop.CompareAndSwap(last, now) {
					p.opts.Log.Warn().Uint64("dropped_batches", p.dropped.Load()).Msg("push: planning queue full, pushes of some messages dropped")
				}
			}
			return
		}
	}
}

// Test queues a "Test notification" to each of user's subscriptions and
// returns how many.
func (p *Pusher) Test(ctx context.Context, user protocol.User) (int, error) {
	subs, err := p.opts.Store.PushSubscriptions(ctx, user.ID)
	if err != nil || len(subs) == 0 {
		return 0, err
	}
	key := store.NewID("t_")
	body, _ := json.Marshal(Payload{V: 1, Title: p.opts.Instance, Body: "Test notification", URL: "/", Tag: "test"})
	jobs := make([]store.PushJob, len(subs))
	for i, s := range subs {
		jobs[i] = store.PushJob{Key: key, SubscriptionID: s.ID, Payload: body, Urgency: chat.UrgencyHigh, Topic: "test", TTL: time.Minute}
	}
	if err := p.opts.Store.QueuePush(ctx, jobs); err != nil {
		return 0, err
	}
	p.wake()
	return len(jobs), nil
}

func (p *Pusher) wake() {
	select {
	case p.kick <- struct{}{}:
	default:
	}
}

// Payload is the JSON a push carries; see protocol.PushPayload.
type Payload = protocol.PushPayload

func (p *Pusher) title(roomKind, roomName, sender string) string {
	switch {
	case sender == "":
		return p.opts.Instance
	case roomKind == protocol.RoomDM:
		return sender
	default:
		return sender + " in #" + roomName
	}
}

// Excerpt is text cut to MaxExcerpt characters, on one line.
func Excerpt(text string) string {
	text = strings.Join(strings.Fields(text), " ")
	if utf8.RuneCountInString(text) <= MaxExcerpt {
		return text
	}
	r := []rune(text)
	return string(r[:MaxExcerpt-1]) + "…"
}

// planner plans the pushes of each queued batch, one at a time.
func (p *Pusher) planner() {
	defer p.wg.Done()
	for {
		select {
		case <-p.ctx.Done():
			return
		case evs := <-p.events:
			for i := range evs {
				ev := &evs[i]
				if ev.Kind != store.EventMessage || ev.Message.Kind != protocol.KindChat || ev.Message.Sender == nil {
					continue
				}
				if err := p.plan(ev.Message); err != nil && p.ctx.Err() == nil {
					p.opts.Log.Warn().Err(err).Str("message", ev.Message.ID).Msg("push: planning failed")
				}
			}
		}
	}
}

// plan queues the pushes of one new message.
func (p *Pusher) plan(m protocol.Message) error {
	ctx, cancel := context.WithTimeout(p.ctx, 30*time.Second)
	defer cancel()
	recips, err := p.opts.Store.PushRecipients(ctx, m.Room, m.Sender.ID)
	if err != nil || len(recips) == 0 {
		return err
	}
	room, err := p.opts.Store.Room(ctx, m.Room, "")
	if err != nil {
		return err
	}
	var connected map[string]bool
	if p.opts.Connected != nil {
		uids := make([]string, 0, len(recips))
		for _, r := range recips {
			uids = append(uids, r.Sub.UserID)
		}
		connected = p.opts.Connected(uids)
	}
	hash := room.Name
	if room.Kind == protocol.RoomDM {
		hash = room.ID
	}
	base := Payload{V: 1, RoomID: m.Room, Room: hash, Seq: m.Seq, MessageID: m.ID,
		URL: "/#/" + hash + "?m=" + m.ID, Tag: "room:" + m.Room}
	if p.opts.Content {
		base.Title = p.title(room.Kind, room.Name, m.Sender.Name)
		base.Body = Excerpt(m.Text)
		if base.Body == "" {
			base.Body = "Sent an attachment"
		}
	} else {
		base.Title, base.Body = p.opts.Instance, "New message"
	}
	body, err := json.Marshal(base)
	if err != nil {
		return err
	}
	now := p.opts.Now()
	var jobs []store.PushJob
	for _, r := range recips {
		urgency, ok := chat.PushRule(room.Kind, r.Level, chat.Mentions(m.Text, r.UserName), connected[r.Sub.UserID], r.PausedUntil, now)
		if !ok {
			continue
		}
		jobs = append(jobs, store.PushJob{Key: m.ID, SubscriptionID: r.Sub.ID, Payload: body,
			Urgency: urgency, Topic: topic(m.Room), TTL: p.opts.TTL})
	}
	if len(jobs) == 0 {
		return nil
	}
	if err := p.opts.Store.QueuePush(ctx, jobs); err != nil {
		return err
	}
	p.wake()
	return nil
}

// topic is the Topic header of a room's pushes (RFC 8030 section 5.4: at
// most 32 characters of the base64url alphabet): a push service keeps only
// the newest undelivered push of a topic, so a device that was offline
// gets one notification per room, not one per message.
func topic(roomID string) string {
	t := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			return r
		}
		return -1
	}, roomID)
	if len(t) > 32 {
		t = t[:32]
	}
	return t
}

// pump claims due jobs and hands them to the workers: when woken by a
// new job of this node, and every Poll for retries and other nodes'
// orphans.
func (p *Pusher) pump() {
	defer p.wg.Done()
	defer close(p.jobs) // the pump is the only sender on jobs
	t := time.NewTicker(p.opts.Poll)
	defer t.Stop()
	for {
		select {
		case <-p.ctx.Done():
			return
		case <-p.kick:
		case <-t.C:
			if due, err := p.opts.Store.PushDue(p.ctx); err != nil || !due {
				continue
			}
		}
		for p.ctx.Err() == nil {
			jobs, err := p.opts.Store.ClaimPushJobs(p.ctx, p.owner, lease, 64)
			if err != nil {
				if p.ctx.Err() == nil {
					p.opts.Log.Warn().Err(err).Msg("push: taking due pushes failed")
				}
				break
			}
			for _, j := range jobs {
				select {
				case p.jobs <- j:
				case <-p.ctx.Done():
					return
				}
			}
			if len(jobs) < 64 {
				break
			}
		}
	}
}

func (p *Pusher) worker() {
	defer p.wg.Done()
	for j := range p.jobs {
		out, retryAt := p.send(j)
		switch out {
		case store.PushRetry:
			p.retried.Add(1)
		case store.PushDropped:
			p.failed.Add(1)
		case store.PushGone:
			p.gone.Add(1)
		}
		// The outcome is recorded even while closing, so that a delivered
		// push is not sent again by the next owner.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := p.opts.Store.FinishPush(ctx, p.owner, j, out, retryAt); err != nil {
			p.opts.Log.Warn().Err(err).Msg("push: recording a push's outcome failed")
		}
		cancel()
	}
}

// send posts one job and says what became of it.
func (p *Pusher) send(j store.PushJob) (store.PushOutcome, time.Time) {
	log := p.opts.Log.With().Str("subscription", j.SubscriptionID).Str("key", j.Key).Logger()
	retry := func(after time.Duration, why string) (store.PushOutcome, time.Time) {
		if j.Attempts+1 >= p.opts.MaxAttempts {
			log.Warn().Int("attempts", j.Attempts+1).Str("reason", why).Msg("push: giving up")
			return store.PushDropped, time.Time{}
		}
		if after <= 0 {
			after = p.opts.Backoff << min(j.Attempts, 10)
			after = min(after, 10*time.Minute)
		}
		log.Debug().Dur("after", after).Str("reason", why).Msg("push: will retry")
		return store.PushRetry, p.opts.Now().Add(after)
	}
	// A push waiting longer than its TTL (retries, every node down) is
	// stale; one still in time is kept by the push service for the rest.
	ttl := j.TTL
	if !j.Queued.IsZero() {
		ttl -= p.opts.Now().Sub(j.Queued)
	}
	if ttl <= 0 {
		log.Debug().Msg("push: expired before it could be sent")
		return store.PushDropped, time.Time{}
	}
	body, err := Encrypt(j.Payload, j.Sub.P256DH, j.Sub.Auth)
	if err != nil {
		log.Warn().Err(err).Msg("push: cannot encrypt for this subscription; dropping it")
		return store.PushGone, time.Time{}
	}
	auth, err := p.keys.Authorization(j.Sub.Endpoint, p.opts.Contact, p.opts.Now().Add(12*time.Hour))
	if err != nil {
		log.Warn().Err(err).Msg("push: bad endpoint; dropping the subscription")
		return store.PushGone, time.Time{}
	}
	req, err := http.NewRequestWithContext(p.ctx, http.MethodPost, j.Sub.Endpoint, strings.NewReader(string(body)))
	if err != nil {
		return store.PushGone, time.Time{}
	}
	req.Header.Set("Authorization", auth)
	req.Header.Set("Content-Encoding", "aes128gcm")
	req.Header.Set("Content-Type", "application/octet-stream")
	req.Header.Set("TTL", strconv.FormatInt(int64((ttl+time.Second-1)/time.Second), 10))
	req.Header.Set("Urgency", j.Urgency)
	if j.Topic != "" {
		req.Header.Set("Topic", j.Topic)
	}
	resp, err := p.opts.Client.Do(req)
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return store.PushRetry, p.opts.Now()
		}
		return retry(0, err.Error())
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	switch code := resp.StatusCode; {
	case code >= 200 && code < 300:
		p.sent.Add(1)
		return store.PushDelivered, time.Time{}
	case code == http.StatusNotFound || code == http.StatusGone:
		log.Info().Int("status", code).Msg("push: subscription expired; removing it")
		return store.PushGone, time.Time{}
	case code == http.StatusTooManyRequests || code >= 500:
		return retry(retryAfter(resp.Header.Get("Retry-After"), p.opts.Now()), fmt.Sprintf("status %d", code))
	default:
		log.Warn().Int("status", code).Msg("push: refused by the push service; dropping this push")
		return store.PushDropped, time.Time{}
	}
}

// retryAfter reads a Retry-After header (seconds or an HTTP date), capped
// at an hour; 0 when absent or unreadable.
func retryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	var d time.Duration
	if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil {
		d = time.Duration(n) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	}
	return min(max(d, 0), time.Hour)
}
