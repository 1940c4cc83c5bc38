// Package chat is the one place where the rules of rooms and messages live,
// shared by the HTTP API and the WebSocket endpoint so that a REST send and
// a socket send take exactly the same path. It checks input, maps store
// errors to protocol error codes, and leaves fan-out to the store's commit
// hook. A Service holds no state of its own and is safe for concurrent use.
package chat

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"time"

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

// writeErr turns a write's deadline into errTimeout when the caller's own
// context is still live (the caller gave up otherwise: pass that on).
func writeErr(parent context.Context, err error) error {
	if errors.Is(err, context.DeadlineExceeded) && parent.Err() == nil {
		return errTimeout()
	}
	return err
}

// codeErr maps a store error to a protocol error; what names the object
// for not-found messages.
func codeErr(err error, what string) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, store.ErrNotFound):
		return protocol.Errorf(protocol.CodeNotFound, "%s not found", what)
	case errors.Is(err, store.ErrConflict):
		return protocol.Errorf(protocol.CodeConflict, "%s already exists", what)
	case errors.Is(err, store.ErrForbidden):
		return protocol.Errorf(protocol.CodeForbidden, "not allowed")
	case errors.Is(err, store.ErrInvalid):
		return protocol.Errorf(protocol.CodeBadRequest, "invalid %s", what)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	}
	var ce *protocol.CodeError
	if errors.As(err, &ce) {
		return err
	}
	return fmt.Errorf("%s: %w", what, err)
}

// SendParams is a new chat message from a client.
type SendParams struct {
	Room        string
	Text        string
	ClientID    string
	ReplyTo     string
	Attachments []string
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
// order. When the store has not answered within Timeout, done is called
// with an internal error from a timer instead, and the store's late answer
// is dropped.
func (s *Service) SendAsync(ctx context.Context, user protocol.User, p SendParams, done func(protocol.Message, error)) {
	req, err := s.sendRequest(user, p)
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
	s.Store.SendAsync(ctx, req, func(msg protocol.Message, _ bool, err error) {
		if timer != nil {
			timer.Stop()
		}
		if errors.Is(err, store.ErrForbidden) {
			// Rare: telling "hidden" from "join first" takes a read, which
			// must not run on the store's writer.
			go func() {
				rctx, cancel := s.bounded(context.WithoutCancel(ctx))
				defer cancel()
				finish(msg, s.sendErr(rctx, user, p.Room, err))
			}()
			return
		}
		finish(msg, s.sendErr(ctx, user, p.Room, err))
	})
}

// sendRequest checks a send's input.
func (s *Service) sendRequest(user protocol.User, p SendParams) (store.SendRequest, error) {
	text, err := protocol.NormalizeText(p.Text, len(p.Attachments) > 0)
	if err != nil {
		return store.SendRequest{}, err
	}
	if err := protocol.CheckClientID(p.ClientID); err != nil {
		return store.SendRequest{}, err
	}
	if p.Room == "" {
		return store.SendRequest{}, protocol.Errorf(protocol.CodeBadRequest, "room is required")
	}
	if len(p.Attachments) > protocol.MaxAttachments {
		return store.SendRequest{}, protocol.Errorf(protocol.CodeBadRequest, "at most %d attachments", protocol.MaxAttachments)
	}
	for i, id := range p.Attachments {
		if id == "" || len(id) > protocol.MaxClientIDLen {
			return store.SendRequest{}, protocol.Errorf(protocol.CodeBadRequest, "attachments must be file ids")
		}
		if slices.Contains(p.Attachments[:i], id) {
			return store.SendRequest{}, protocol.Errorf(protocol.CodeBadRequest, "attachment %s is listed twice", id)
		}
	}
	return store.SendRequest{
		RoomID: p.Room, SenderID: user.ID, Text: text, ClientID: p.ClientID,
		ReplyTo: p.ReplyTo, Attachments: p.Attachments,
	}, nil
}

// sendErr maps a send's store error. A room the sender may not even see
// (private or DM) is not_found, like its history; a public room they have
// not joined is forbidden.
func (s *Service) sendErr(ctx context.Context, user protocol.User, roomID string, err error) error {
	if errors.Is(err, store.ErrForbidden) {
		if _, rerr := s.Store.Room(ctx, roomID, user.ID); errors.Is(rerr, store.ErrNotFound) {
			return protocol.Errorf(protocol.CodeNotFound, "room not found")
		}
		return protocol.Errorf(protocol.CodeForbidden, "join the room to post in it")
	}
	return codeErr(err, "room, reply_to message or attachment")
}

// readable returns the room as user sees it, or not_found when the user may
// not read it (private and DM rooms are readable by members only).
func (s *Service) readable(ctx context.Context, user protocol.User, roomID string) (protocol.Room, error) {
	if roomID == "" {
		return protocol.Room{}, protocol.Errorf(protocol.CodeBadRequest, "room is required")
	}
	r, err := s.Store.Room(ctx, roomID, user.ID)
	return r, codeErr(err, "room")
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
	if _, err := s.readable(ctx, user, roomID); err != nil {
		return nil, false, err
	}
	msgs, more, err := s.Store.History(ctx, roomID, before, limit)
	if msgs == nil {
		msgs = []protocol.Message{}
	}
	return msgs, more, codeErr(err, "room")
}

// Replay returns up to limit log entries of a member room after since, and
// whether more follow.
func (s *Service) Replay(ctx context.Context, user protocol.User, roomID string, since int64, limit int) ([]store.Event, bool, error) {
	ok, err := s.Store.IsMember(ctx, roomID, user.ID)
	if err != nil {
		return nil, false, codeErr(err, "room")
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

// member returns nil when user belongs to the room. Changes to a room's
// messages are made by its members only — an admin too must be in the
// room — so otherwise it returns forbidden for a public room (join it
// first) and not_found for a room the user may not even see (private, DM).
func (s *Service) member(ctx context.Context, user protocol.User, roomID string) error {
	ok, err := s.Store.IsMember(ctx, roomID, user.ID)
	if err != nil {
		return codeErr(err, "room")
	}
	if ok {
		return nil
	}
	if _, err := s.Store.Room(ctx, roomID, user.ID); err != nil {
		return codeErr(err, "room")
	}
	return protocol.Errorf(protocol.CodeForbidden, "join the room to change its messages")
}

// Edit replaces a message's text (its sender or an admin, members of the
// room).
func (s *Service) Edit(ctx context.Context, user protocol.User, roomID, msgID, text string) (protocol.Message, error) {
	text, err := protocol.NormalizeText(text, false)
	if err != nil {
		return protocol.Message{}, err
	}
	if err := s.member(ctx, user, roomID); err != nil {
		return protocol.Message{}, err
	}
	wctx, cancel := s.bounded(ctx)
	defer cancel()
	m, err := s.Store.Edit(wctx, roomID, msgID, user.ID, user.Role == protocol.RoleAdmin, text)
	return m, codeErr(writeErr(ctx, err), "message")
}

// Delete turns a message into a tombstone (its sender or an admin, members
// of the room).
func (s *Service) Delete(ctx context.Context, user protocol.User, roomID, msgID string) (protocol.Message, error) {
	if err := s.member(ctx, user, roomID); err != nil {
		return protocol.Message{}, err
	}
	wctx, cancel := s.bounded(ctx)
	defer cancel()
	m, err := s.Store.Delete(wctx, roomID, msgID, user.ID, user.Role == protocol.RoleAdmin)
	return m, codeErr(writeErr(ctx, err), "message")
}

// React adds or removes the user's reaction (members of the room).
func (s *Service) React(ctx context.Context, user protocol.User, roomID, msgID, emoji string, on bool) (protocol.Message, error) {
	if err := s.member(ctx, user, roomID); err != nil {
		return protocol.Message{}, err
	}
	wctx, cancel := s.bounded(ctx)
	defer cancel()
	m, err := s.Store.React(wctx, roomID, msgID, user.ID, emoji, on)
	return m, codeErr(writeErr(ctx, err), "message")
}

// Read moves the user's read marker.
func (s *Service) Read(ctx context.Context, user protocol.User, roomID string, seq int64) error {
	wctx, cancel := s.bounded(ctx)
	defer cancel()
	return codeErr(writeErr(ctx, s.Store.SetRead(wctx, roomID, user.ID, seq)), "room")
}

// Rooms lists the user's rooms and every public room.
func (s *Service) Rooms(ctx context.Context, user protocol.User) ([]protocol.Room, error) {
	rooms, err := s.Store.Rooms(ctx, user.ID)
	if rooms == nil {
		rooms = []protocol.Room{}
	}
	return rooms, codeErr(err, "rooms")
}

// CreateRoom creates a public or private room with user as its member.
func (s *Service) CreateRoom(ctx context.Context, user protocol.User, name string, private bool) (protocol.Room, error) {
	if err := protocol.CheckName("room name", name); err != nil {
		return protocol.Room{}, err
	}
	kind := protocol.RoomPublic
	if private {
		kind = protocol.RoomPrivate
	}
	wctx, cancel := s.bounded(ctx)
	defer cancel()
	r, err := s.Store.CreateRoom(wctx, user.ID, name, kind)
	err = writeErr(ctx, err)
	if errors.Is(err, store.ErrConflict) {
		return r, protocol.Errorf(protocol.CodeConflict, "a room named %q already exists", name)
	}
	return r, codeErr(err, "room")
}

// Join makes the user a member of a public room.
func (s *Service) Join(ctx context.Context, user protocol.User, roomID string) (protocol.Room, error) {
	wctx, cancel := s.bounded(ctx)
	defer cancel()
	r, err := s.Store.Join(wctx, roomID, user.ID)
	err = writeErr(ctx, err)
	if errors.Is(err, store.ErrForbidden) {
		return r, protocol.Errorf(protocol.CodeForbidden, "private and direct-message rooms are joined by invitation only")
	}
	return r, codeErr(err, "room")
}

// Leave removes the user from a room.
func (s *Service) Leave(ctx context.Context, user protocol.User, roomID string) error {
	wctx, cancel := s.bounded(ctx)
	defer cancel()
	err := writeErr(ctx, s.Store.Leave(wctx, roomID, user.ID))
	if errors.Is(err, store.ErrForbidden) {
		return protocol.Errorf(protocol.CodeForbidden, "direct-message rooms cannot be left")
	}
	return codeErr(err, "room")
}

// Invite adds another user to a room the user belongs to.
func (s *Service) Invite(ctx context.Context, user protocol.User, roomID, username string) error {
	other, _, err := s.Store.UserByName(ctx, username)
	if err != nil {
		return codeErr(err, "user")
	}
	wctx, cancel := s.bounded(ctx)
	defer cancel()
	err = writeErr(ctx, s.Store.Invite(wctx, roomID, user.ID, other.ID))
	if errors.Is(err, store.ErrForbidden) {
		return protocol.Errorf(protocol.CodeForbidden, "nobody can be invited to a direct-message room")
	}
	return codeErr(err, "room")
}

// DM returns the direct-message room of the user and username.
func (s *Service) DM(ctx context.Context, user protocol.User, username string) (protocol.Room, error) {
	other, _, err := s.Store.UserByName(ctx, username)
	if err != nil {
		return protocol.Room{}, codeErr(err, "user")
	}
	if other.ID == user.ID {
		return protocol.Room{}, protocol.Errorf(protocol.CodeBadRequest, "a direct message needs another user")
	}
	wctx, cancel := s.bounded(ctx)
	defer cancel()
	r, err := s.Store.DM(wctx, user.ID, other.ID)
	return r, codeErr(writeErr(ctx, err), "room")
}

// Search finds the chat messages matching a query in the rooms the user may
// read (or in one of them), newest first, at most protocol.MaxSearch. The
// query is words and "quoted phrases" (see ParseQuery).
func (s *Service) Search(ctx context.Context, user protocol.User, query, roomID string) ([]protocol.Message, error) {
	terms, err := ParseQuery(query)
	if err != nil {
		return nil, err
	}
	if roomID != "" {
		if _, err := s.readable(ctx, user, roomID); err != nil {
			return nil, err
		}
	}
	msgs, err := s.Store.Search(ctx, store.SearchRequest{UserID: user.ID, RoomID: roomID, Terms: terms, Limit: protocol.MaxSearch})
	if msgs == nil {
		msgs = []protocol.Message{}
	}
	return msgs, codeErr(err, "search")
}
