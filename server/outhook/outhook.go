// Package outhook delivers messages to bots' outgoing webhooks: when a
// chat message mentions a bot (@name) in a room the bot belongs to, or is
// written in a direct-message room with a bot, the message is POSTed to
// the bot's webhook URL, signed with the bot's secret, and a text answer
// is posted back as the bot's reply.
//
// A Dispatcher is fed committed events (Committed, from the store's commit
// hook, on the node that committed them: in a cluster each message is
// delivered once, by the node whose store wrote it). Committed never
// blocks: it filters the events cheaply and queues the candidates on a
// bounded queue, dropping (and logging) what does not fit. A fixed pool
// of workers does the rest off the request path: it finds the bots a
// message is for, posts it through the netguard client it was given,
// retries with backoff, records each delivery, and posts the reply.
//
// All methods are safe for concurrent use; Close stops the workers and
// waits for them.
package outhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"minichat/server/chat"
	"minichat/server/protocol"
	"minichat/server/store"
)

// SignatureHeader carries a delivery's signature:
// "t=<unix seconds>,v1=<hex HMAC-SHA256(secret, t + "." + body)>".
const SignatureHeader = "X-Minichat-Signature"

// Defaults of Options.
const (
	DefaultWorkers  = 4
	DefaultQueue    = 1024
	DefaultTimeout  = 5 * time.Second
	DefaultMaxReply = 64 << 10
	// botsTTL is how long the list of bots with a webhook is trusted
	// before it is read again (changes on this node invalidate it at
	// once; those of other nodes are seen within it).
	botsTTL = 10 * time.Second
)

// DefaultBackoff is the wait before each retry: 3 attempts in all.
var DefaultBackoff = []time.Duration{1 * time.Second, 4 * time.Second}

// Options configure a Dispatcher.
type Options struct {
	Store store.Store
	Chat  *chat.Service
	// Client posts to the webhooks: a netguard client, which refuses
	// private addresses unless allowed, with the delivery timeout
	// (DefaultTimeout) and a cap on the answer's size.
	Client *http.Client
	// Workers is the number of deliveries made at once; default
	// DefaultWorkers.
	Workers int
	// Queue bounds the messages and deliveries waiting; default
	// DefaultQueue. What does not fit is dropped and logged.
	Queue int
	// Backoff is the wait before each retry (len+1 attempts); default
	// DefaultBackoff.
	Backoff []time.Duration
	// Now returns the current time; default time.Now.
	Now func() time.Time
	Log zerolog.Logger
}

// job is a message to look at (bot nil) or a delivery of it to one bot.
type job struct {
	msg protocol.Message
	bot *store.Bot
}

// botList is a snapshot of the bots with a webhook.
type botList struct {
	bots []store.Bot
	at   time.Time
}

// Dispatcher delivers messages to bots' webhooks.
type Dispatcher struct {
	o     Options
	queue chan job
	stop  chan struct{}
	wg    sync.WaitGroup
	once  sync.Once

	// bots is the cached list; nil or stale (older than botsTTL) is read
	// again by the next worker that needs it. any is true when the last
	// read found at least one bot with a webhook: Committed skips every
	// event while it is false.
	bots    atomic.Pointer[botList]
	any     atomic.Bool
	dropped atomic.Int64
	lastLog atomic.Int64
}

// New starts a Dispatcher's workers.
func New(o Options) *Dispatcher {
	if o.Workers <= 0 {
		o.Workers = DefaultWorkers
	}
	if o.Queue <= 0 {
		o.Queue = DefaultQueue
	}
	if o.Backoff == nil {
		o.Backoff = DefaultBackoff
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	d := &Dispatcher{o: o, queue: make(chan job, o.Queue), stop: make(chan struct{})}
	d.any.Store(true) // until the first read says otherwise
	for range o.Workers {
		d.wg.Add(1)
		go d.work()
	}
	return d
}

// Close stops the workers, abandoning queued work, and waits for them
// (a delivery in flight is cancelled).
func (d *Dispatcher) Close() {
	d.once.Do(func() { close(d.stop) })
	d.wg.Wait()
}

// Invalidate makes the next message read the bots again: call it after a
// bot or its webhook changed.
func (d *Dispatcher) Invalidate() {
	d.bots.Store(nil)
	d.any.Store(true)
}

// Committed looks at committed events: new chat messages by people go on
// the queue when any bot has a webhook. It never blocks (the store's
// writer calls it).
func (d *Dispatcher) Committed(evs []store.Event) {
	if !d.any.Load() {
		if l := d.bots.Load(); l != nil && d.o.Now().Sub(l.at) < botsTTL {
			return
		}
	}
	for i := range evs {
		e := &evs[i]
		if e.Kind != store.EventMessage || e.Message.Kind != protocol.KindChat || e.Message.Sender == nil ||
			e.Message.Sender.Bot || e.Message.Deleted {
			continue
		}
		d.enqueue(job{msg: e.Message})
	}
}

func (d *Dispatcher) enqueue(j job) bool {
	select {
	case d.queue <- j:
		return true
	default:
	}
	n := d.dropped.Add(1)
	// At most one line a minute about a full queue.
	if now := d.o.Now().Unix(); now-d.lastLog.Load() >= 60 {
		d.lastLog.Store(now)
		d.o.Log.Warn().Int64("dropped", n).Msg("bot webhook queue full: messages dropped")
	}
	return false
}

func (d *Dispatcher) work() {
	defer d.wg.Done()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-d.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	for {
		select {
		case <-d.stop:
			return
		case j := <-d.queue:
			if j.bot == nil {
				d.route(ctx, j.msg)
			} else {
				d.deliver(ctx, j.msg, *j.bot)
			}
		}
	}
}

// botsWithHooks returns the bots that have a webhook, read again when stale.
func (d *Dispatcher) botsWithHooks(ctx context.Context) ([]store.Bot, error) {
	if l := d.bots.Load(); l != nil && d.o.Now().Sub(l.at) < botsTTL {
		return l.bots, nil
	}
	all, err := d.o.Store.Bots(ctx)
	if err != nil {
		return nil, err
	}
	var with []store.Bot
	for _, b := range all {
		if b.WebhookURL != "" {
			with = append(with, b)
		}
	}
	d.bots.Store(&botList{bots: with, at: d.o.Now()})
	d.any.Store(len(with) > 0)
	return with, nil
}

// route finds the bots a message is for — mentioned by name, or the other
// member of its direct-message room — that belong to its room, and queues
// a delivery to each.
func (d *Dispatcher) route(ctx context.Context, msg protocol.Message) {
	bots, err := d.botsWithHooks(ctx)
	if err != nil {
		d.o.Log.Warn().Err(err).Msg("bot webhooks: cannot read the bots")
		return
	}
	if len(bots) == 0 {
		return
	}
	// A direct message is for the bot it is written to: the room's name,
	// as the sender sees it, is the other member's.
	r, err := d.o.Store.Room(ctx, msg.Room, msg.Sender.ID)
	if err != nil {
		return
	}
	dmWith := ""
	if r.Kind == protocol.RoomDM {
		dmWith = r.Name
	}
	for i := range bots {
		b := bots[i]
		if !chat.Mentions(msg.Text, b.User.Name) && !strings.EqualFold(b.User.Name, dmWith) {
			continue
		}
		if ok, err := d.o.Store.IsMember(ctx, msg.Room, b.User.ID); err != nil || !ok {
			continue
		}
		if !d.enqueue(job{msg: msg, bot: &b}) {
			d.record(ctx, msg, b, store.Delivery{Error: "queue full: not delivered"})
		}
	}
}

// Sign returns the signature header's value of body at t: what a bot
// checks.
func Sign(secret string, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(ts))
	mac.Write([]byte("."))
	mac.Write(body)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac.Sum(nil))
}

// errPermanent marks an answer not worth retrying (a 4xx but 408 and 429).
var errPermanent = errors.New("refused")

// deliver posts a message to one bot's webhook, with retries, records the
// outcome and posts the bot's answer.
func (d *Dispatcher) deliver(ctx context.Context, msg protocol.Message, b store.Bot) {
	room, err := d.o.Store.Room(ctx, msg.Room, b.User.ID)
	if err != nil {
		d.o.Log.Warn().Err(err).Str("bot", b.User.Name).Msg("bot webhook: cannot read the room")
		return
	}
	room.ReadSeq, room.Unread, room.Mentions = 0, 0, 0
	body, err := json.Marshal(protocol.WebhookPayload{Message: msg, Room: room, Sender: *msg.Sender, Bot: b.User})
	if err != nil {
		return
	}
	var (
		out   store.Delivery
		reply string
	)
	for attempt := 0; ; attempt++ {
		out.Attempts = attempt + 1
		out.Status, reply, err = d.post(ctx, b, body)
		if err == nil || errors.Is(err, errPermanent) || attempt >= len(d.o.Backoff) {
			break
		}
		select {
		case <-time.After(d.o.Backoff[attempt]):
		case <-ctx.Done():
			return // shutting down: nothing to record
		}
	}
	if err != nil {
		out.Error = err.Error()
	} else {
		out.OK = true
		if reply != "" {
			_, serr := d.o.Chat.Send(ctx, b.User, chat.SendParams{Room: msg.Room, Text: reply, ReplyTo: msg.ID, ClientID: "hook-" + msg.ID})
			if serr != nil {
				out.Error = "reply not posted: " + serr.Error()
			}
		}
	}
	d.record(ctx, msg, b, out)
}

// record stores a delivery's outcome.
func (d *Dispatcher) record(ctx context.Context, msg protocol.Message, b store.Bot, out store.Delivery) {
	out.BotID, out.MessageID, out.RoomID, out.At = b.User.ID, msg.ID, msg.Room, d.o.Now()
	if len(out.Error) > 500 {
		out.Error = out.Error[:500]
	}
	ev := d.o.Log.Debug()
	if !out.OK {
		ev = d.o.Log.Info()
	}
	ev.Str("bot", b.User.Name).Str("message_id", msg.ID).Bool("ok", out.OK).Int("status", out.Status).
		Int("attempts", out.Attempts).Str("error", out.Error).Msg("bot webhook delivery")
	if err := d.o.Chat.RecordDelivery(ctx, out); err != nil && ctx.Err() == nil {
		d.o.Log.Warn().Err(err).Msg("bot webhook: cannot record a delivery")
	}
}

// post makes one attempt: the status (0 without an answer), the reply text
// of a 2xx answer, and an error unless 2xx (wrapping errPermanent for a
// refusal not worth retrying).
func (d *Dispatcher) post(ctx context.Context, b store.Bot, body []byte) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, b.WebhookURL, bytes.NewReader(body))
	if err != nil {
		return 0, "", fmt.Errorf("%w: bad webhook URL: %v", errPermanent, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "minichat-webhook/1")
	req.Header.Set(SignatureHeader, Sign(b.Secret, d.o.Now(), body))
	resp, err := d.o.Client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	data, rerr := io.ReadAll(io.LimitReader(resp.Body, DefaultMaxReply+1))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		err := fmt.Errorf("answered %s", resp.Status)
		if resp.StatusCode >= 400 && resp.StatusCode < 500 && resp.StatusCode != 408 && resp.StatusCode != 429 {
			err = fmt.Errorf("%w: %w", errPermanent, err)
		}
		return resp.StatusCode, "", err
	}
	if rerr != nil {
		return resp.StatusCode, "", fmt.Errorf("read answer: %w", rerr)
	}
	if len(data) > DefaultMaxReply {
		return resp.StatusCode, "", fmt.Errorf("%w: answer larger than %d bytes", errPermanent, DefaultMaxReply)
	}
	return resp.StatusCode, replyText(resp.Header.Get("Content-Type"), data), nil
}

// replyText is the text of an answer: a text/plain body, or the "text" of
// a JSON object; "" for anything else.
func replyText(contentType string, data []byte) string {
	mt, _, _ := mime.ParseMediaType(contentType)
	switch mt {
	case "text/plain":
		return strings.TrimSpace(string(data))
	case "application/json":
		var v struct {
			Text string `json:"text"`
		}
		if json.Unmarshal(data, &v) == nil {
			return strings.TrimSpace(v.Text)
		}
	}
	return ""
}
