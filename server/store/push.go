package store

import (
	"context"
	"time"
)

// Web Push data (package push sends, package chat decides). A Store that
// keeps it implements Push as well; sqlstore does.

// PushSubscription is one device's Web Push subscription (a browser's
// PushSubscription): where to POST, and the keys that encrypt what is
// posted for it.
type PushSubscription struct {
	ID       string // "ps_" and 20 base32 characters
	UserID   string
	Endpoint string // the push service's https URL for this device
	P256DH   string // the device's public key, base64url, uncompressed P-256
	Auth     string // the device's 16-byte auth secret, base64url
	Label    string // what the user called the device; may be ""
	Created  time.Time
	// LastSuccess is when a push to it was last accepted; zero: never.
	LastSuccess time.Time
}

// PushRecipient is a subscription of a member of a room, with what decides
// whether a message of that room is pushed to it.
type PushRecipient struct {
	Sub         PushSubscription
	UserName    string
	Level       string    // the member's protocol.Notify* level in the room; "" the default
	PausedUntil time.Time // zero: not paused
}

// PushJob is one push waiting in the outbox: a payload for a subscription.
// Jobs are keyed by (Key, SubscriptionID): a key (a message id, or a test
// push's own id) is pushed to a subscription at most once.
type PushJob struct {
	Key            string
	SubscriptionID string
	Payload        []byte // the JSON, encrypted for the subscription when sent
	Urgency        string // "high" or "normal"
	Topic          string
	TTL            time.Duration
	Attempts       int
	// Queued is when the job was queued (set by QueuePush): past Queued +
	// TTL it is not worth sending.
	Queued time.Time
	// Sub is the subscription (filled by ClaimPushJobs).
	Sub PushSubscription
}

// PushOutcome is what became of a claimed job.
type PushOutcome int

const (
	// PushDelivered: the push service accepted it; the job goes.
	PushDelivered PushOutcome = iota + 1
	// PushGone: the subscription no longer exists (404/410); the
	// subscription and its jobs go.
	PushGone
	// PushRetry: try again at the given time.
	PushRetry
	// PushDropped: refused for good or out of attempts; the job goes.
	PushDropped
)

// Push is the storage of Web Push. Every method is safe for concurrent use
// and, on a database that several nodes share, across nodes.
type Push interface {
	// PushKey returns the instance's VAPID private key (the P-256 scalar,
	// as made by gen), making and storing it on first use. When several
	// nodes race, the first stored wins and everyone returns it.
	PushKey(ctx context.Context, gen func() (string, error)) (string, error)
	// AddPushSubscription stores sub for sub.UserID (ID and Created are
	// set here) and returns it, with created false when the user already
	// had that endpoint (its keys are refreshed, and its label when
	// sub has one; its id is kept).
	// An endpoint of another user moves to this one. allow runs inside the
	// write with the number of subscriptions the user has; an error from
	// it stores nothing and is returned as it is.
	AddPushSubscription(ctx context.Context, sub PushSubscription, allow func(count int) error) (PushSubscription, bool, error)
	// PushSubscriptions lists a user's subscriptions, oldest first.
	PushSubscriptions(ctx context.Context, userID string) ([]PushSubscription, error)
	// DeletePushSubscription deletes one of a user's subscriptions
	// (ErrNotFound when the user has none with that id).
	DeletePushSubscription(ctx context.Context, userID, id string) error
	// PushRecipients lists the subscriptions of the room's members but
	// except (the sender), whose accounts are not disabled.
	PushRecipients(ctx context.Context, roomID, except string) ([]PushRecipient, error)
	// SetNotify sets a member's level in a room ("" the default);
	// ErrNotFound when the user is not a member.
	SetNotify(ctx context.Context, roomID, userID, level string) error
	// SetNotifyPaused pauses a user's pushes until until (zero: not
	// paused); PausedUntil reads it.
	SetNotifyPaused(ctx context.Context, userID string, until time.Time) error
	NotifyPausedUntil(ctx context.Context, userID string) (time.Time, error)
	// QueuePush adds jobs to the outbox, due now; a job whose key and
	// subscription are there already is skipped.
	QueuePush(ctx context.Context, jobs []PushJob) error
	// ClaimPushJobs takes up to limit due jobs that no node holds, for
	// owner, until lease from now, and returns them with their
	// subscriptions. A job is held by one owner at a time; a job whose
	// owner did not finish it within the lease is due again.
	ClaimPushJobs(ctx context.Context, owner string, lease time.Duration, limit int) ([]PushJob, error)
	// PushDue reports whether any job is due and unheld (a cheap read).
	PushDue(ctx context.Context) (bool, error)
	// FinishPush records the outcome of a job owner claimed; retryAt is
	// read for PushRetry only.
	FinishPush(ctx context.Context, owner string, job PushJob, out PushOutcome, retryAt time.Time) error
}
