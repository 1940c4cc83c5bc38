package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"minichat/server/store"
)

// schemaPush is step 11: Web Push.
//
// push_subscriptions: one row per device (a browser's PushSubscription),
// its endpoint unique across users. members.notify is a member's
// notification level in the room (” the default); users.notify_paused_until
// (Unix ms, 0 none) pauses a user's pushes. The VAPID key pair lives in
// settings ('push_vapid_key').
//
// push_outbox holds the pushes to send, keyed by (key, subscription_id): a
// key (a message id) is pushed to a subscription at most once, whichever
// node queues it. A node takes due jobs by setting owner and lease_until
// (Unix ms); a job whose owner died is due again once its lease is past.
// payload is the plaintext JSON, encrypted for the subscription when sent;
// queued_at (Unix ms) and ttl_seconds say when a push is too old to send.
const schemaPush = `
CREATE TABLE push_subscriptions (
	id              TEXT PRIMARY KEY,
	user_id         TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	endpoint        TEXT NOT NULL UNIQUE,
	p256dh          TEXT NOT NULL,
	auth            TEXT NOT NULL,
	label           TEXT NOT NULL DEFAULT '',
	created_at      {{int}} NOT NULL,
	last_success_at {{int}} NOT NULL DEFAULT 0
){{without_rowid}};
CREATE INDEX push_subscriptions_user ON push_subscriptions(user_id);

ALTER TABLE members ADD COLUMN notify TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN notify_paused_until {{int}} NOT NULL DEFAULT 0;

CREATE TABLE push_outbox (
	key             TEXT NOT NULL,
	subscription_id TEXT NOT NULL REFERENCES push_subscriptions(id) ON DELETE CASCADE,
	payload         {{blob}} NOT NULL,
	urgency         TEXT NOT NULL,
	topic           TEXT NOT NULL,
	ttl_seconds     {{int}} NOT NULL,
	queued_at       {{int}} NOT NULL,
	attempts        {{int}} NOT NULL DEFAULT 0,
	next_at         {{int}} NOT NULL,
	owner           TEXT NOT NULL DEFAULT '',
	lease_until     {{int}} NOT NULL DEFAULT 0,
	PRIMARY KEY (key, subscription_id)
){{without_rowid}};
CREATE INDEX push_outbox_due ON push_outbox(next_at);
CREATE INDEX push_outbox_subscription ON push_outbox(subscription_id);
`

const pushKeySetting = "push_vapid_key"

var _ store.Push = (*Store)(nil)

// pushWrite runs fn on the write transaction, as a write of no room.
func (s *Store) pushWrite(ctx context.Context, fn func(w *wtx) error) error {
	return s.Write(ctx, nil, func(tx store.Tx) ([]store.Event, error) {
		return nil, fn(tx.(*wtx))
	})
}

// PushKey returns the VAPID private key, made on first use; see store.Push.
func (s *Store) PushKey(ctx context.Context, gen func() (string, error)) (string, error) {
	q, err := s.reads()
	if err != nil {
		return "", err
	}
	var v string
	err = q.queryRow(ctx, `SELECT value FROM settings WHERE key = $1`, pushKeySetting).Scan(&v)
	if err == nil {
		return v, nil
	}
	if !noRows(err) {
		return "", fmt.Errorf("push key: %w", err)
	}
	made, err := gen()
	if err != nil {
		return "", err
	}
	// First writer wins: a node that lost the race reads the winner's.
	err = s.pushWrite(ctx, func(w *wtx) error {
		if _, err := w.exec(`INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING`, pushKeySetting, made); err != nil {
			return err
		}
		return w.scan(`SELECT value FROM settings WHERE key = $1`, []any{pushKeySetting}, &v)
	})
	if err != nil {
		return "", fmt.Errorf("push key: %w", err)
	}
	return v, nil
}

const subCols = `id, user_id, endpoint, p256dh, auth, label, created_at, last_success_at`

// scanSub reads subCols, after the extra columns before them.
func scanSub(r row, extra ...any) (p store.PushSubscription, err error) {
	var created, last int64
	if err := r.Scan(append(extra, &p.ID, &p.UserID, &p.Endpoint, &p.P256DH, &p.Auth, &p.Label, &created, &last)...); err != nil {
		return p, err
	}
	p.Created = time.UnixMilli(created)
	if last > 0 {
		p.LastSuccess = time.UnixMilli(last)
	}
	return p, nil
}

// AddPushSubscription stores a subscription; see store.Push.
func (s *Store) AddPushSubscription(ctx context.Context, sub store.PushSubscription, allow func(int) error) (store.PushSubscription, bool, error) {
	var out store.PushSubscription
	var created bool
	now := s.opts.Now()
	err := s.pushWrite(ctx, func(w *wtx) error {
		created = false
		cur, err := scanSub(w.db.queryRow(w.ctx, `SELECT `+subCols+` FROM push_subscriptions WHERE endpoint = $1`, sub.Endpoint))
		switch {
		case err == nil && cur.UserID == sub.UserID:
			if sub.Label == "" {
				sub.Label = cur.Label // a label is kept until another is given
			}
			if _, err := w.exec(`UPDATE push_subscriptions SET p256dh = $2, auth = $3, label = $4 WHERE id = $1`,
				cur.ID, sub.P256DH, sub.Auth, sub.Label); err != nil {
				return err
			}
			cur.P256DH, cur.Auth, cur.Label = sub.P256DH, sub.Auth, sub.Label
			out = cur
			return nil
		case err == nil:
			// The browser now belongs to another account: the old
			// owner's subscription goes.
			if _, err := w.exec(`DELETE FROM push_subscriptions WHERE id = $1`, cur.ID); err != nil {
				return err
			}
		case !noRows(err):
			return w.saw(err)
		}
		var n int
		if err := w.scan(`SELECT COUNT(*) FROM push_subscriptions WHERE user_id = $1`, []any{sub.UserID}, &n); err != nil {
			return err
		}
		if err := allow(n); err != nil {
			return err
		}
		sub.ID = store.NewID("ps_")
		sub.Created = now.Truncate(time.Millisecond)
		sub.LastSuccess = time.Time{}
		if _, err := w.exec(`INSERT INTO push_subscriptions (id, user_id, endpoint, p256dh, auth, label, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7)`, sub.ID, sub.UserID, sub.Endpoint, sub.P256DH, sub.Auth, sub.Label, sub.Created.UnixMilli()); err != nil {
			return s.conflict(err)
		}
		out, created = sub, true
		return nil
	})
	if err != nil {
		return store.PushSubscription{}, false, err
	}
	return out, created, nil
}

// PushSubscriptions lists a user's subscriptions; see store.Push.
func (s *Store) PushSubscriptions(ctx context.Context, userID string) ([]store.PushSubscription, error) {
	q, err := s.reads()
	if err != nil {
		return nil, err
	}
	out, err := queryRows(ctx, q, `SELECT `+subCols+` FROM push_subscriptions WHERE user_id = $1 ORDER BY created_at, id`, noExtra(scanSub), userID)
	if err != nil {
		return nil, fmt.Errorf("push subscriptions: %w", err)
	}
	return orEmpty(out), nil
}

// DeletePushSubscription deletes a user's subscription; see store.Push.
func (s *Store) DeletePushSubscription(ctx context.Context, userID, id string) error {
	return s.pushWrite(ctx, func(w *wtx) error {
		return w.execOne("delete push subscription", `DELETE FROM push_subscriptions WHERE id = $1 AND user_id = $2`, id, userID)
	})
}

// PushRecipients lists the subscriptions of a room's members; see
// store.Push.
func (s *Store) PushRecipients(ctx context.Context, roomID, except string) ([]store.PushRecipient, error) {
	q, err := s.reads()
	if err != nil {
		return nil, err
	}
	out, err := queryRows(ctx, q, `SELECT u.name, m.notify, u.notify_paused_until,
			p.id, p.user_id, p.endpoint, p.p256dh, p.auth, p.label, p.created_at, p.last_success_at
		FROM push_subscriptions p
		JOIN members m ON m.room_id = $1 AND m.user_id = p.user_id
		JOIN users u ON u.id = p.user_id
		WHERE p.user_id <> $2 AND NOT u.disabled`, func(r row) (pr store.PushRecipient, err error) {
		var paused int64
		pr.Sub, err = scanSub(r, &pr.UserName, &pr.Level, &paused)
		if paused > 0 {
			pr.PausedUntil = time.UnixMilli(paused)
		}
		return pr, err
	}, roomID, except)
	if err != nil {
		return nil, fmt.Errorf("push recipients: %w", err)
	}
	return out, nil
}

// SetNotify sets a member's level; see store.Push.
func (s *Store) SetNotify(ctx context.Context, roomID, userID, level string) error {
	return s.pushWrite(ctx, func(w *wtx) error {
		return w.execOne("set notification level", `UPDATE members SET notify = $3 WHERE room_id = $1 AND user_id = $2`, roomID, userID, level)
	})
}

// SetNotifyPaused pauses a user's pushes; see store.Push.
func (s *Store) SetNotifyPaused(ctx context.Context, userID string, until time.Time) error {
	var ms int64
	if !until.IsZero() {
		ms = until.UnixMilli()
	}
	return s.pushWrite(ctx, func(w *wtx) error {
		return w.execOne("pause notifications", `UPDATE users SET notify_paused_until = $2 WHERE id = $1`, userID, ms)
	})
}

// NotifyPausedUntil reads a user's pause; see store.Push.
func (s *Store) NotifyPausedUntil(ctx context.Context, userID string) (time.Time, error) {
	q, err := s.reads()
	if err != nil {
		return time.Time{}, err
	}
	var ms int64
	if err := q.queryRow(ctx, `SELECT notify_paused_until FROM users WHERE id = $1`, userID).Scan(&ms); err != nil {
		return time.Time{}, fmt.Errorf("notifications paused: %w", notFound(err, "user %s", userID))
	}
	if ms == 0 {
		return time.Time{}, nil
	}
	return time.UnixMilli(ms), nil
}

// QueuePush adds jobs to the outbox; see store.Push.
func (s *Store) QueuePush(ctx context.Context, jobs []store.PushJob) error {
	if len(jobs) == 0 {
		return nil
	}
	now := s.opts.Now().UnixMilli()
	return s.pushWrite(ctx, func(w *wtx) error {
		for _, j := range jobs {
			// A subscription deleted meanwhile fails its foreign key:
			// insert only those that still exist.
			if _, err := w.exec(`INSERT INTO push_outbox (key, subscription_id, payload, urgency, topic, ttl_seconds, queued_at, next_at)
				SELECT $1, id, $3, $4, $5, $6, $7, $7 FROM push_subscriptions WHERE id = $2
				ON CONFLICT (key, subscription_id) DO NOTHING`,
				j.Key, j.SubscriptionID, j.Payload, j.Urgency, j.Topic, int64(j.TTL/time.Second), now); err != nil {
				return fmt.Errorf("queue push: %w", err)
			}
		}
		return nil
	})
}

// PushDue reports whether a job is due; see store.Push.
func (s *Store) PushDue(ctx context.Context) (bool, error) {
	q, err := s.reads()
	if err != nil {
		return false, err
	}
	now := s.opts.Now().UnixMilli()
	var one int
	err = q.queryRow(ctx, `SELECT 1 FROM push_outbox WHERE next_at <= $1 AND lease_until < $1 LIMIT 1`, now).Scan(&one)
	if noRows(err) {
		return false, nil
	}
	return err == nil, err
}

// ClaimPushJobs takes due jobs for owner; see store.Push.
//
// Each job is taken by an UPDATE that repeats the condition "due and
// unheld": when two nodes pick the same row, Postgres makes the second
// UPDATE wait for the first's commit and then re-check the condition on the
// row as committed, so it changes nothing and that node skips the job.
func (s *Store) ClaimPushJobs(ctx context.Context, owner string, lease time.Duration, limit int) ([]store.PushJob, error) {
	now := s.opts.Now().UnixMilli()
	until := now + lease.Milliseconds()
	var out []store.PushJob
	err := s.pushWrite(ctx, func(w *wtx) error {
		out = out[:0]
		found, err := queryRows(w.ctx, w.db, `SELECT o.key, o.subscription_id, o.payload, o.urgency, o.topic, o.ttl_seconds, o.queued_at, o.attempts,
				p.id, p.user_id, p.endpoint, p.p256dh, p.auth, p.label, p.created_at, p.last_success_at
			FROM push_outbox o JOIN push_subscriptions p ON p.id = o.subscription_id
			WHERE o.next_at <= $1 AND o.lease_until < $1 ORDER BY o.next_at LIMIT $2`, func(r row) (j store.PushJob, err error) {
			var ttl, queued int64
			j.Sub, err = scanSub(r, &j.Key, &j.SubscriptionID, &j.Payload, &j.Urgency, &j.Topic, &ttl, &queued, &j.Attempts)
			j.TTL = time.Duration(ttl) * time.Second
			j.Queued = time.UnixMilli(queued)
			return j, err
		}, now, limit)
		if err != nil {
			return w.saw(err)
		}
		for _, j := range found {
			n, err := w.exec(`UPDATE push_outbox SET owner = $3, lease_until = $4
				WHERE key = $1 AND subscription_id = $2 AND next_at <= $5 AND lease_until < $5`,
				j.Key, j.SubscriptionID, owner, until, now)
			if err != nil {
				return err
			}
			if n == 1 {
				out = append(out, j)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("claim push jobs: %w", err)
	}
	return out, nil
}

// FinishPush records a job's outcome; see store.Push. A job owner no
// longer holds (its lease ran out and another node took it) is left to
// that node.
func (s *Store) FinishPush(ctx context.Context, owner string, j store.PushJob, out store.PushOutcome, retryAt time.Time) error {
	now := s.opts.Now().UnixMilli()
	err := s.pushWrite(ctx, func(w *wtx) error {
		var err error
		switch out {
		case store.PushDelivered:
			_, err = w.exec(`DELETE FROM push_outbox WHERE key = $1 AND subscription_id = $2 AND owner = $3`, j.Key, j.SubscriptionID, owner)
			if err == nil {
				_, err = w.exec(`UPDATE push_subscriptions SET last_success_at = $2 WHERE id = $1`, j.SubscriptionID, now)
			}
		case store.PushGone:
			_, err = w.exec(`DELETE FROM push_subscriptions WHERE id = $1`, j.SubscriptionID)
		case store.PushRetry:
			_, err = w.exec(`UPDATE push_outbox SET attempts = attempts + 1, next_at = $4, owner = '', lease_until = 0
				WHERE key = $1 AND subscription_id = $2 AND owner = $3`, j.Key, j.SubscriptionID, owner, retryAt.UnixMilli())
		case store.PushDropped:
			_, err = w.exec(`DELETE FROM push_outbox WHERE key = $1 AND subscription_id = $2 AND owner = $3`, j.Key, j.SubscriptionID, owner)
		default:
			err = errors.New("unknown outcome")
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("finish push: %w", err)
	}
	return nil
}
