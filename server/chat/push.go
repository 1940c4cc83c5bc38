package chat

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"minichat/server/netguard"
	"minichat/server/protocol"
	"minichat/server/store"
)

// Web Push rules: which devices may be subscribed, and which new messages
// are pushed to whom. Package push sends; it asks pushRule about each
// member.

// DefaultMaxPushSubscriptions is Service.MaxPushSubscriptions's default:
// more devices than a person has.
const DefaultMaxPushSubscriptions = 20

// Bounds of what a subscription may carry.
const (
	maxEndpoint  = 2048
	maxPushLabel = 64
)

// Urgencies of a push (RFC 8030 section 5.3).
const (
	UrgencyHigh   = "high"
	UrgencyNormal = "normal"
)

// NotifyLevel is a member's level in a room of kind roomKind, with the
// default for level "": every message of a direct-message room, mentions
// elsewhere.
func NotifyLevel(roomKind, level string) string {
	if level != "" {
		return level
	}
	if roomKind == protocol.RoomDM {
		return protocol.NotifyAll
	}
	return protocol.NotifyMentions
}

// PushRule decides whether a new chat message of a room of kind roomKind
// is pushed to a member whose level there is level (as stored, "" the
// default), and how urgently. Never to a member connected anywhere (they
// see it on their open socket), nor while their pause runs, nor in a room
// set to "none"; in a room set to "mentions", only a message that mentions
// them. A direct message or a mention is urgent ("high"), the rest
// "normal".
func PushRule(roomKind, level string, mentioned, connected bool, pausedUntil, now time.Time) (urgency string, ok bool) {
	if connected || now.Before(pausedUntil) {
		return "", false
	}
	switch NotifyLevel(roomKind, level) {
	case protocol.NotifyNone:
		return "", false
	case protocol.NotifyMentions:
		if !mentioned {
			return "", false
		}
	}
	if mentioned || roomKind == protocol.RoomDM {
		return UrgencyHigh, true
	}
	return UrgencyNormal, true
}

func (s *Service) pushStore() (store.Push, error) {
	p, ok := s.Store.(store.Push)
	if !ok {
		return nil, protocol.Errorf(protocol.CodeNotFound, "push notifications are not available on this server")
	}
	return p, nil
}

// mayPushTo: an endpoint must be an https URL of a public host (http, and
// private addresses, too when insecure: tests and private push services).
func mayPushTo(endpoint string, insecure bool) error {
	if endpoint == "" || len(endpoint) > maxEndpoint {
		return protocol.Errorf(protocol.CodeBadRequest, "endpoint must be a URL of at most %d bytes", maxEndpoint)
	}
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" || u.User != nil || (u.Scheme != "https" && !(insecure && u.Scheme == "http")) {
		return protocol.Errorf(protocol.CodeBadRequest, "endpoint must be an https URL of a push service")
	}
	// A private address is refused now; a name is checked when dialled.
	if err := netguard.CheckURLAllowing(u.Scheme, u.Hostname(), insecure); err != nil {
		return protocol.Errorf(protocol.CodeBadRequest, "endpoint: %v", err)
	}
	return nil
}

// AddPushSubscription subscribes one of user's devices (see
// store.Push.AddPushSubscription): created is false when the endpoint was
// already the user's. Keys must be a P-256 public key and an auth secret
// (checked by check, package push's), and an account has at most
// MaxPushSubscriptions.
func (s *Service) AddPushSubscription(ctx context.Context, user protocol.User, sub store.PushSubscription, check func(p256dh, auth string) error) (store.PushSubscription, bool, error) {
	ps, err := s.pushStore()
	if err != nil {
		return store.PushSubscription{}, false, err
	}
	if err := mayPushTo(sub.Endpoint, s.PushInsecure); err != nil {
		return store.PushSubscription{}, false, err
	}
	if err := check(sub.P256DH, sub.Auth); err != nil {
		return store.PushSubscription{}, false, protocol.Errorf(protocol.CodeBadRequest, "keys: %v", err)
	}
	sub.Label = strings.TrimSpace(sub.Label)
	if utf8.RuneCountInString(sub.Label) > maxPushLabel || !utf8.ValidString(sub.Label) {
		return store.PushSubscription{}, false, protocol.Errorf(protocol.CodeBadRequest, "label must be at most %d characters", maxPushLabel)
	}
	sub.UserID = user.ID
	max := s.MaxPushSubscriptions
	if max == 0 {
		max = DefaultMaxPushSubscriptions
	}
	ctx, cancel := s.bounded(ctx)
	defer cancel()
	out, created, err := ps.AddPushSubscription(ctx, sub, func(n int) error {
		if max > 0 && n >= max {
			return protocol.Errorf(protocol.CodeRateLimited, "at most %d devices may receive notifications; remove one first", max)
		}
		return nil
	})
	return out, created, codeErr(err, "push subscription")
}

// PushSubscriptions lists user's devices.
func (s *Service) PushSubscriptions(ctx context.Context, user protocol.User) ([]store.PushSubscription, error) {
	ps, err := s.pushStore()
	if err != nil {
		return nil, err
	}
	subs, err := ps.PushSubscriptions(ctx, user.ID)
	return subs, codeErr(err, "push subscriptions")
}

// DeletePushSubscription unsubscribes one of user's devices; another
// user's is not found.
func (s *Service) DeletePushSubscription(ctx context.Context, user protocol.User, id string) error {
	ps, err := s.pushStore()
	if err != nil {
		return err
	}
	if !protocol.ValidID(id) {
		return protocol.Errorf(protocol.CodeNotFound, "push subscription not found")
	}
	return codeErr(ps.DeletePushSubscription(ctx, user.ID, id), "push subscription")
}

// SetNotify sets user's notification level in a room they belong to:
// protocol.NotifyAll, NotifyMentions or NotifyNone. It returns the room as
// the user now sees it.
func (s *Service) SetNotify(ctx context.Context, user protocol.User, roomID, level string) (protocol.Room, error) {
	ps, err := s.pushStore()
	if err != nil {
		return protocol.Room{}, err
	}
	switch level {
	case protocol.NotifyAll, protocol.NotifyMentions, protocol.NotifyNone:
	default:
		return protocol.Room{}, protocol.Errorf(protocol.CodeBadRequest, `level must be "all", "mentions" or "none"`)
	}
	r, err := s.viewOf(ctx, user, roomID)
	if err != nil {
		return protocol.Room{}, err
	}
	if r.Kind == "" || !r.Member {
		return protocol.Room{}, errRoomNotFound()
	}
	wctx, cancel := s.bounded(ctx)
	defer cancel()
	if err := ps.SetNotify(wctx, roomID, user.ID, level); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return protocol.Room{}, errRoomNotFound() // left meanwhile
		}
		return protocol.Room{}, codeErr(err, "room")
	}
	r.Notify = level
	return r, nil
}

// maxPause bounds a pause of notifications.
const maxPause = 366 * 24 * time.Hour

// PauseNotifications pauses user's pushes until until (zero: resume). A
// time in the past resumes too; one more than a year ahead is refused.
func (s *Service) PauseNotifications(ctx context.Context, user protocol.User, until time.Time, now time.Time) (time.Time, error) {
	ps, err := s.pushStore()
	if err != nil {
		return time.Time{}, err
	}
	if !until.IsZero() && until.After(now.Add(maxPause)) {
		return time.Time{}, protocol.Errorf(protocol.CodeBadRequest, "notifications may be paused for a year at most")
	}
	if !until.IsZero() && !until.After(now) {
		until = time.Time{}
	}
	wctx, cancel := s.bounded(ctx)
	defer cancel()
	return until, codeErr(ps.SetNotifyPaused(wctx, user.ID, until), "user")
}

// NotificationsPausedUntil is when user's pause ends; zero when there is
// none (or it has ended by now).
func (s *Service) NotificationsPausedUntil(ctx context.Context, user protocol.User, now time.Time) (time.Time, error) {
	ps, err := s.pushStore()
	if err != nil {
		return time.Time{}, err
	}
	t, err := ps.NotifyPausedUntil(ctx, user.ID)
	if err != nil {
		return time.Time{}, codeErr(err, "user")
	}
	if !t.After(now) {
		return time.Time{}, nil
	}
	return t, nil
}
