// Package chat is the one place where the rules of minichat live: who may
// read, write, join, leave, invite, edit, delete and react, what makes an
// account and a session, the texts of system messages and which events
// follow a change. The HTTP API, the WebSocket endpoint and the command line
// all go through it, so a REST send and a socket send take exactly the same
// path.
//
// A rule is a pure function (rules.go) of facts that a Service reads inside
// the store's write transaction, through store.Tx, right before the write it
// allows: the check and the write are one atomic step, with no race between
// them. Errors are protocol.CodeError values, ready for the wire. Fan-out is
// left to the store's commit hook. A Service holds no state of its own and
// is safe for concurrent use.
package chat

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	"minichat/server/auth"
	"minichat/server/protocol"
	"minichat/server/store"
)

// Service applies the chat rules on top of a Store.
type Service struct {
	Store store.Store
	// Timeout bounds how long a write (a send, an edit, a room change...)
	// waits for the store; past it the caller gets an internal error instead
	// of hanging, whatever the store does. A send that timed out may still
	// be stored later: the client retries with the same client_id, which
	// returns the message if it was. Default 10 s; negative: no bound.
	Timeout time.Duration
	// Passwords hashes and verifies passwords; default auth.DefaultParams
	// with as many hashes at once as there are CPUs.
	Passwords *auth.Passwords
	// MaxPushSubscriptions bounds the Web Push devices of one account
	// (default DefaultMaxPushSubscriptions; negative: no bound), and
	// PushInsecure lets them name http:// endpoints (tests, private push
	// services; default false: https only).
	MaxPushSubscriptions int
	PushInsecure         bool
	// MaxTokens is how many API tokens one account may hold, MaxBots how
	// many bots one admin may own, KeepDeliveries how many webhook
	// deliveries are kept per bot; 0: the Default*, negative: no limit.
	MaxTokens, MaxBots, KeepDeliveries int
	// BotsChanged, if set, is called after a bot was created, changed or
	// deleted (the webhook dispatcher reads the bots again).
	BotsChanged func()
	// MaxHooks bounds the incoming webhooks one account may have; default
	// DefaultMaxHooks, negative: no bound.
	MaxHooks int
}

// DefaultTimeout is Service.Timeout's default.
const DefaultTimeout = 10 * time.Second

func (s *Service) timeout() time.Duration {
	if s.Timeout == 0 {
		return DefaultTimeout
	}
	return s.Timeout
}

// bounded returns ctx bounded by the write timeout.
func (s *Service) bounded(ctx context.Context) (context.Context, context.CancelFunc) {
	if d := s.timeout(); d > 0 {
		return context.WithTimeout(ctx, d)
	}
	return ctx, func() {}
}

// errTimeout is the answer to a write the store did not finish in time.
func errTimeout() error {
	return protocol.Errorf(protocol.CodeInternal, "the server could not store this in time; retry (a send with the same client_id is never stored twice)")
}

// write runs fn in the store's write transaction, bounded by Timeout, and
// maps what comes back (see codeErr); what names the object of the write
// for the store's not-found and conflict errors that no rule caught.
func (s *Service) write(ctx context.Context, what string, rooms []string, fn func(store.Tx) ([]store.Event, error)) error {
	wctx, cancel := s.bounded(ctx)
	defer cancel()
	err := s.Store.Write(wctx, rooms, fn)
	if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
		// The write's deadline, not the caller's: the caller is still
		// waiting for an answer.
		return errTimeout()
	}
	return codeErr(err, what)
}

// codeErr maps an error to a protocol error: a CodeError (a rule's answer)
// as it is, a store fact by its code; what names the object for not-found
// and conflict messages. The caller's own cancellation passes through.
func codeErr(err error, what string) error {
	var ce *protocol.CodeError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ce): // a store.UnavailableError reads as one too
		return ce
	case errors.Is(err, store.ErrNotFound):
		return protocol.Errorf(protocol.CodeNotFound, "%s not found", what)
	case errors.Is(err, store.ErrConflict):
		return protocol.Errorf(protocol.CodeConflict, "%s already exists", what)
	case errors.Is(err, store.ErrInvalid):
		return protocol.Errorf(protocol.CodeBadRequest, "invalid %s", what)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	}
	return fmt.Errorf("%s: %w", what, err)
}

// checkRoomID answers a room id a client sent that cannot be the server's
// as an unknown room, before anything asks the store about it (a store
// shared by nodes locks the rooms a write names, and must not be handed
// bytes it cannot read).
func checkRoomID(id string) error {
	if !protocol.ValidID(id) {
		return errRoomNotFound()
	}
	return nil
}

// roomOf reads the facts of a room for a user inside a write: Kind "" when
// there is no such room, so that the rules decide what that means.
func roomOf(tx store.Tx, roomID, userID string) (protocol.Room, error) {
	r, err := tx.Room(roomID, userID)
	if errors.Is(err, store.ErrNotFound) {
		return protocol.Room{}, nil
	}
	return r, err
}

// viewOf is roomOf outside a write: the room as the user sees it.
func (s *Service) viewOf(ctx context.Context, user protocol.User, roomID string) (protocol.Room, error) {
	if roomID == "" {
		return protocol.Room{}, protocol.Errorf(protocol.CodeBadRequest, "room is required")
	}
	if !protocol.ValidID(roomID) {
		return protocol.Room{}, nil
	}
	r, err := s.Store.Room(ctx, roomID, user.ID)
	if errors.Is(err, store.ErrNotFound) {
		return protocol.Room{}, nil
	}
	return r, codeErr(err, "room")
}

// SendParams is a new chat message from a client.
type SendParams struct {
	Room        string
	Text        string
	ClientID    string
	ReplyTo     string
	Attachments []string
	// Kind is protocol.KindChat ("" too) or protocol.KindMe (an action).
	Kind string
	// Via is set by PostViaHook: the hook the message came through.
	Via *protocol.Via
}

// Send stores a message and returns it once it is durably committed; the
// store's commit hook fans it out. A repeated client_id returns the
// original. It returns within Timeout (an internal error then) or when ctx
// ends, whatever the store does.
func (s *Service) Send(ctx context.Context, user protocol.User, p SendParams) (protocol.Message, error) {
	type result struct {
		msg protocol.Message
		err error
	}
	res := make(chan result, 1) // done never blocks
	s.SendAsync(ctx, user, p, func(msg protocol.Message, err error) { res <- result{msg, err} })
	select {
	case r := <-res:
		return r.msg, r.err
	case <-ctx.Done():
		return protocol.Message{}, ctx.Err()
	}
}

// SendAsync is Send without waiting: done is called exactly once with the
// stored message or the error — from the store's writer after the commit,
// so it must not block — and sends of one caller are stored in submission
// order. The store asks checkSend about the send inside the transaction that
// stores it. When the store has not answered within Timeout, done is called
// with an internal error from a timer instead, and the store's late answer
// is dropped.
func (s *Service) SendAsync(ctx context.Context, user protocol.User, p SendParams, done func(protocol.Message, error)) {
	req, err := sendRequest(user, p)
	if err != nil {
		done(protocol.Message{}, err)
		return
	}
	// One timer per send, not a context: a context per send allocates
	// more, and the store takes a send it has queued to the end anyway.
	var answered atomic.Bool
	finish := func(msg protocol.Message, err error) {
		if answered.CompareAndSwap(false, true) {
			done(msg, err)
		}
	}
	var timer *time.Timer
	if d := s.timeout(); d > 0 {
		timer = time.AfterFunc(d, func() { finish(protocol.Message{}, errTimeout()) })
	}
	s.Store.SendAsync(ctx, req, checkSend, func(msg protocol.Message, _ bool, err error) {
		if timer != nil {
			timer.Stop()
		}
		finish(msg, codeErr(err, "room, reply_to message or attachment"))
	})
}

// sendRequest checks a send's input.
func sendRequest(user protocol.User, p SendParams) (store.SendRequest, error) {
	text, err := protocol.NormalizeText(p.Text, len(p.Attachments) > 0)
	if err != nil {
		return store.SendRequest{}, err
	}
	if err := protocol.CheckClientID(p.ClientID); err != nil {
		return store.SendRequest{}, err
	}
	if err := protocol.CheckSendKind(p.Kind); err != nil {
		return store.SendRequest{}, err
	}
	if p.Room == "" {
		return store.SendRequest{}, protocol.Errorf(protocol.CodeBadRequest, "room is required")
	}
	// Ids that cannot be the server's name nothing: answered as unknown
	// ones, without asking the store.
	if err := checkRoomID(p.Room); err != nil {
		return store.SendRequest{}, err
	}
	if p.ReplyTo != "" && !protocol.ValidID(p.ReplyTo) {
		return store.SendRequest{}, errMessageNotFound()
	}
	if len(p.Attachments) > protocol.MaxAttachments {
		return store.SendRequest{}, protocol.Errorf(protocol.CodeBadRequest, "at most %d attachments", protocol.MaxAttachments)
	}
	for i, id := range p.Attachments {
		if !protocol.ValidID(id) {
			return store.SendRequest{}, protocol.Errorf(protocol.CodeBadRequest, "attachments must be file ids")
		}
		if slices.Contains(p.Attachments[:i], id) {
			return store.SendRequest{}, protocol.Errorf(protocol.CodeBadRequest, "attachment %s is listed twice", id)
		}
	}
	return store.SendRequest{
		RoomID: p.Room, SenderID: user.ID, Text: text, ClientID: p.ClientID,
		ReplyTo: p.ReplyTo, Attachments: p.Attachments, Kind: p.Kind, Via: p.Via,
	}, nil
}

// History returns a page of a room's messages, oldest first.
func (s *Service) History(ctx context.Context, user protocol.User, roomID string, before int64, limit int) ([]protocol.Message, bool, error) {
	if limit == 0 {
		limit = protocol.DefaultHistory
	}
	if limit < 1 || limit > protocol.MaxHistory {
		return nil, false, protocol.Errorf(protocol.CodeBadRequest, "limit must be 1-%d", protocol.MaxHistory)
	}
	if before < 0 {
		return nil, false, protocol.Errorf(protocol.CodeBadRequest, "before must be a seq >= 1")
	}
	r, err := s.viewOf(ctx, user, roomID)
	if err == nil {
		err = mayView(r)
	}
	if err != nil {
		return nil, false, err
	}
	msgs, more, err := s.Store.History(ctx, roomID, before, limit)
	if msgs == nil {
		msgs = []protocol.Message{}
	}
	return msgs, more, codeErr(err, "room")
}

// HistoryQuery is where a page of history is asked for: at most one of
// Before, After, Around and AroundID (none: the newest page), and its size
// (0: protocol.DefaultHistory).
type HistoryQuery struct {
	Before, After, Around int64
	AroundID              string
	Limit                 int
}

// Page returns a page of a room's messages, oldest first, before, after or
// around a place in its log, and whether messages exist on either side.
// An AroundID that names no message of the room is not_found.
func (s *Service) Page(ctx context.Context, user protocol.User, roomID string, hq HistoryQuery) (store.Page, error) {
	if hq.Limit == 0 {
		hq.Limit = protocol.DefaultHistory
	}
	if hq.Limit < 1 || hq.Limit > protocol.MaxHistory {
		return store.Page{}, protocol.Errorf(protocol.CodeBadRequest, "limit must be 1-%d", protocol.MaxHistory)
	}
	if err := protocol.CheckHistoryPlace(hq.Before, hq.After, hq.Around, hq.AroundID); err != nil {
		return store.Page{}, err
	}
	r, err := s.viewOf(ctx, user, roomID)
	if err == nil {
		err = mayView(r)
	}
	if err != nil {
		return store.Page{}, err
	}
	p, err := s.Store.Page(ctx, store.PageRequest{
		RoomID: roomID, Before: hq.Before, After: hq.After, Around: hq.Around, AroundID: hq.AroundID, Limit: hq.Limit,
	})
	if p.Messages == nil {
		p.Messages = []protocol.Message{}
	}
	return p, codeErr(err, "message")
}

// Replay returns up to limit log entries of a member room after since, and
// whether more follow.
func (s *Service) Replay(ctx context.Context, user protocol.User, roomID string, since int64, limit int) ([]store.Event, bool, error) {
	ok := false
	if protocol.ValidID(roomID) {
		var err error
		if ok, err = s.Store.IsMember(ctx, roomID, user.ID); err != nil {
			return nil, false, codeErr(err, "room")
		}
	}
	if !ok {
		return nil, false, protocol.Errorf(protocol.CodeNotFound, "room %s not found among your rooms", roomID)
	}
	evs, err := s.Store.Since(ctx, roomID, since, limit+1)
	if err != nil {
		return nil, false, codeErr(err, "room")
	}
	if len(evs) > limit {
		return evs[:limit], true, nil
	}
	return evs, false, nil
}

// Read moves the user's read marker; there is one in the rooms the user
// belongs to only.
func (s *Service) Read(ctx context.Context, user protocol.User, roomID string, seq int64) error {
	if err := checkRoomID(roomID); err != nil {
		return err
	}
	return s.write(ctx, "room", nil, func(tx store.Tx) ([]store.Event, error) {
		return nil, tx.SetRead(roomID, user.ID, seq)
	})
}

// Rooms lists the rooms the user belongs to; public rooms the user has not
// joined are found in the directory (Directory).
func (s *Service) Rooms(ctx context.Context, user protocol.User) ([]protocol.Room, error) {
	rooms, err := s.Store.Rooms(ctx, store.Scope{UserID: user.ID})
	if rooms == nil {
		rooms = []protocol.Room{}
	}
	return rooms, codeErr(err, "rooms")
}

// LastSeqs maps each room the user belongs to to its last seq (a hello's
// replay asks it of the store once for the rooms the hub's recent frames
// do not cover).
func (s *Service) LastSeqs(ctx context.Context, user protocol.User) (map[string]int64, error) {
	lasts, err := s.Store.LastSeqs(ctx, user.ID)
	return lasts, codeErr(err, "rooms")
}

// Search finds the chat messages matching a query in the rooms the user may
// see (or in one of them), newest first, at most protocol.MaxSearch. The
// query is words and "quoted phrases" (see ParseQuery).
func (s *Service) Search(ctx context.Context, user protocol.User, query, roomID string) ([]protocol.Message, error) {
	terms, err := ParseQuery(query)
	if err != nil {
		return nil, err
	}
	if roomID != "" {
		r, err := s.viewOf(ctx, user, roomID)
		if err == nil {
			err = mayView(r)
		}
		if err != nil {
			return nil, err
		}
	}
	msgs, err := s.Store.Search(ctx, store.SearchRequest{Scope: scope(user), RoomID: roomID, Terms: terms, Limit: protocol.MaxSearch})
	if msgs == nil {
		msgs = []protocol.Message{}
	}
	return msgs, codeErr(err, "search")
}
