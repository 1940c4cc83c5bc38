package sqlstore

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"minichat/server/store"
)

// schemaIntegrations is step 12: bot accounts (users.bot, and bots beside
// them), personal API tokens and the recent deliveries of bots' webhooks.
//
// api_tokens keeps the SHA-256 of each token, as sessions do; last_used and
// expires_at are Unix milliseconds, NULL for never. bots.secret signs the
// webhook's requests and so is kept as it is. A deleted bot loses its row in
// bots (its user row stays, disabled, for its messages).
const schemaIntegrations = `
ALTER TABLE users ADD COLUMN bot {{bool}} NOT NULL DEFAULT {{false}};

CREATE TABLE api_tokens (
	id         TEXT PRIMARY KEY,
	user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	name       TEXT NOT NULL,
	scope      TEXT NOT NULL CHECK (scope IN ('read', 'write')),
	token_hash {{blob}} NOT NULL UNIQUE,
	created_at {{int}} NOT NULL,
	last_used  {{int}},
	expires_at {{int}}
);
CREATE INDEX api_tokens_user ON api_tokens(user_id);

CREATE TABLE bots (
	user_id      TEXT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
	owner_id     TEXT NOT NULL REFERENCES users(id),
	display_name TEXT NOT NULL DEFAULT '',
	avatar       TEXT NOT NULL DEFAULT '',
	webhook_url  TEXT NOT NULL DEFAULT '',
	secret       TEXT NOT NULL,
	created_at   {{int}} NOT NULL
);

CREATE TABLE bot_deliveries (
	id         TEXT PRIMARY KEY,
	bot_id     TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	message_id TEXT NOT NULL,
	room_id    TEXT NOT NULL,
	at         {{int}} NOT NULL,
	ok         {{bool}} NOT NULL,
	status     INTEGER NOT NULL,
	error      TEXT NOT NULL DEFAULT '',
	attempts   INTEGER NOT NULL
);
CREATE INDEX bot_deliveries_bot ON bot_deliveries(bot_id, at);
`

const tokenCols = `t.id, t.user_id, t.name, t.scope, t.created_at, COALESCE(t.last_used, 0) AS last_used, COALESCE(t.expires_at, 0) AS expires_at`

func scanToken(r row, extra ...any) (store.APIToken, error) {
	var (
		t                      store.APIToken
		created, used, expires int64
	)
	if err := r.Scan(append([]any{&t.ID, &t.UserID, &t.Name, &t.Scope, &created, &used, &expires}, extra...)...); err != nil {
		return t, err
	}
	t.CreatedAt = time.UnixMilli(created)
	if used != 0 {
		t.LastUsed = time.UnixMilli(used)
	}
	if expires != 0 {
		t.Expires = time.UnixMilli(expires)
	}
	return t, nil
}

// APITokenByHash finds a token of an enabled account, as a session.
func (s *Store) APITokenByHash(ctx context.Context, tokenHash []byte) (store.Session, store.APIToken, error) {
	q, err := s.reads()
	if err != nil {
		return store.Session{}, store.APIToken{}, fmt.Errorf("token by hash: %w", err)
	}
	var sess store.Session
	t, err := scanToken(q.queryRow(ctx, `SELECT `+tokenCols+`, u.name, u.role, u.bot
		FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = $1 AND NOT u.disabled`, tokenHash),
		&sess.User.Name, &sess.User.Role, &sess.User.Bot)
	if err != nil {
		return store.Session{}, store.APIToken{}, fmt.Errorf("token by hash: %w", notFound(err, "token"))
	}
	sess.ID, sess.User.ID, sess.Scope, sess.CreatedAt = t.ID, t.UserID, t.Scope, t.CreatedAt
	sess.LastSeen = t.LastUsed // zero when never used: the first request records its use
	return sess, t, nil
}

// APITokens lists a user's tokens, the newest first.
func (s *Store) APITokens(ctx context.Context, userID string) ([]store.APIToken, error) {
	q, err := s.reads()
	if err != nil {
		return nil, fmt.Errorf("tokens: %w", err)
	}
	out, err := queryRows(ctx, q, `SELECT `+tokenCols+` FROM api_tokens t WHERE t.user_id = $1 ORDER BY t.created_at DESC, t.id`, noExtra(scanToken), userID)
	if err != nil {
		return nil, fmt.Errorf("tokens: %w", err)
	}
	return out, nil
}

const botCols = `u.id, u.name, u.role, u.bot, b.owner_id, b.display_name, b.avatar, b.webhook_url, b.secret, b.created_at`

const botFrom = `bots b JOIN users u ON u.id = b.user_id`

func scanBot(r row) (store.Bot, error) {
	var (
		b       store.Bot
		created int64
	)
	if err := r.Scan(&b.User.ID, &b.User.Name, &b.User.Role, &b.User.Bot, &b.OwnerID, &b.DisplayName, &b.Avatar,
		&b.WebhookURL, &b.Secret, &created); err != nil {
		return b, err
	}
	b.CreatedAt = time.UnixMilli(created)
	return b, nil
}

// Bots lists the bots by name.
func (s *Store) Bots(ctx context.Context) ([]store.Bot, error) {
	q, err := s.reads()
	if err != nil {
		return nil, fmt.Errorf("bots: %w", err)
	}
	out, err := queryRows(ctx, q, `SELECT `+botCols+` FROM `+botFrom, scanBot)
	if err != nil {
		return nil, fmt.Errorf("bots: %w", err)
	}
	slices.SortFunc(out, func(a, b store.Bot) int {
		return cmp.Or(cmp.Compare(strings.ToLower(a.User.Name), strings.ToLower(b.User.Name)), cmp.Compare(a.User.ID, b.User.ID))
	})
	return out, nil
}

// Bot returns a bot.
func (s *Store) Bot(ctx context.Context, userID string) (store.Bot, error) {
	q, err := s.reads()
	if err != nil {
		return store.Bot{}, fmt.Errorf("bot: %w", err)
	}
	b, err := scanBot(q.queryRow(ctx, `SELECT `+botCols+` FROM `+botFrom+` WHERE b.user_id = $1`, userID))
	if err != nil {
		return store.Bot{}, fmt.Errorf("bot: %w", notFound(err, "bot %s", userID))
	}
	return b, nil
}

// Deliveries lists a bot's recent deliveries, the newest first.
func (s *Store) Deliveries(ctx context.Context, botID string) ([]store.Delivery, error) {
	q, err := s.reads()
	if err != nil {
		return nil, fmt.Errorf("deliveries: %w", err)
	}
	out, err := queryRows(ctx, q, `SELECT id, bot_id, message_id, room_id, at, ok, status, error, attempts
		FROM bot_deliveries WHERE bot_id = $1 ORDER BY at DESC, id`, scanDelivery, botID)
	if err != nil {
		return nil, fmt.Errorf("deliveries: %w", err)
	}
	return out, nil
}

func scanDelivery(r row) (d store.Delivery, err error) {
	var at int64
	err = r.Scan(&d.ID, &d.BotID, &d.MessageID, &d.RoomID, &at, &d.OK, &d.Status, &d.Error, &d.Attempts)
	d.At = time.UnixMilli(at)
	return d, err
}

// nullMilli is t in Unix milliseconds, or NULL for the zero time.
func nullMilli(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixMilli()
}

// CreateAPIToken records a token.
func (w *wtx) CreateAPIToken(nt store.NewAPIToken) (store.APIToken, error) {
	now := w.s.opts.Now().UnixMilli()
	t := store.APIToken{ID: store.NewID("t_"), UserID: nt.UserID, Name: nt.Name, Scope: nt.Scope, CreatedAt: time.UnixMilli(now)}
	if !nt.Expires.IsZero() {
		t.Expires = time.UnixMilli(nt.Expires.UnixMilli())
	}
	if _, err := w.exec(`INSERT INTO api_tokens (id, user_id, name, scope, token_hash, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		t.ID, t.UserID, t.Name, t.Scope, nt.TokenHash, now, nullMilli(nt.Expires)); err != nil {
		return store.APIToken{}, fmt.Errorf("create token: %w", w.s.conflict(err))
	}
	return t, nil
}

// APIToken returns a token.
func (w *wtx) APIToken(id string) (store.APIToken, error) {
	t, err := scanToken(w.db.queryRow(w.ctx, `SELECT `+tokenCols+` FROM api_tokens t WHERE t.id = $1`, id))
	if err != nil {
		return t, fmt.Errorf("token: %w", w.saw(notFound(err, "token %s", id)))
	}
	return t, nil
}

// CountAPITokens counts a user's tokens.
func (w *wtx) CountAPITokens(userID string) (int, error) {
	var n int
	if err := w.scan(`SELECT COUNT(*) AS n FROM api_tokens WHERE user_id = $1`, []any{userID}, &n); err != nil {
		return 0, fmt.Errorf("count tokens: %w", err)
	}
	return n, nil
}

// DeleteAPIToken deletes a token.
func (w *wtx) DeleteAPIToken(id string) error {
	return w.execOne("delete token "+id, `DELETE FROM api_tokens WHERE id = $1`, id)
}

// DeleteAPITokens deletes a user's tokens and returns their ids.
func (w *wtx) DeleteAPITokens(userID string) ([]string, error) {
	ids, err := queryStrings(w.ctx, w.db, `DELETE FROM api_tokens WHERE user_id = $1 RETURNING id`, userID)
	if err != nil {
		return nil, fmt.Errorf("delete tokens: %w", w.saw(err))
	}
	return ids, nil
}

// CountBots counts the bots an admin owns.
func (w *wtx) CountBots(ownerID string) (int, error) {
	var n int
	if err := w.scan(`SELECT COUNT(*) AS n FROM bots WHERE owner_id = $1`, []any{ownerID}, &n); err != nil {
		return 0, fmt.Errorf("count bots: %w", err)
	}
	return n, nil
}

// CreateBot records a bot.
func (w *wtx) CreateBot(b store.Bot) error {
	if _, err := w.exec(`INSERT INTO bots (user_id, owner_id, display_name, avatar, webhook_url, secret, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		b.User.ID, b.OwnerID, b.DisplayName, b.Avatar, b.WebhookURL, b.Secret, w.s.opts.Now().UnixMilli()); err != nil {
		return fmt.Errorf("create bot: %w", w.s.conflict(err))
	}
	return nil
}

// Bot returns a bot.
func (w *wtx) Bot(userID string) (store.Bot, error) {
	b, err := scanBot(w.db.queryRow(w.ctx, `SELECT `+botCols+` FROM `+botFrom+` WHERE b.user_id = $1`, userID))
	if err != nil {
		return b, fmt.Errorf("bot: %w", w.saw(notFound(err, "bot %s", userID)))
	}
	return b, nil
}

// UpdateBot stores a bot's changeable fields.
func (w *wtx) UpdateBot(b store.Bot) error {
	return w.execOne("update bot "+b.User.ID, `UPDATE bots SET display_name = $1, avatar = $2, webhook_url = $3, secret = $4 WHERE user_id = $5`,
		b.DisplayName, b.Avatar, b.WebhookURL, b.Secret, b.User.ID)
}

// DeleteBot forgets a bot's record.
func (w *wtx) DeleteBot(userID string) error {
	if _, err := w.exec(`DELETE FROM bot_deliveries WHERE bot_id = $1`, userID); err != nil {
		return fmt.Errorf("delete bot: %w", err)
	}
	return w.execOne("delete bot "+userID, `DELETE FROM bots WHERE user_id = $1`, userID)
}

// RecordDelivery stores a delivery and prunes its bot's older ones.
func (w *wtx) RecordDelivery(d store.Delivery, keep int) (store.Delivery, error) {
	d.ID = store.NewID("d_")
	if _, err := w.exec(`INSERT INTO bot_deliveries (id, bot_id, message_id, room_id, at, ok, status, error, attempts) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		d.ID, d.BotID, d.MessageID, d.RoomID, d.At.UnixMilli(), d.OK, d.Status, d.Error, d.Attempts); err != nil {
		return store.Delivery{}, fmt.Errorf("record delivery: %w", err)
	}
	if _, err := w.exec(`DELETE FROM bot_deliveries WHERE bot_id = $1 AND id NOT IN
		(SELECT id FROM bot_deliveries WHERE bot_id = $1 ORDER BY at DESC, id LIMIT $2)`, d.BotID, max(keep, 1)); err != nil {
		return store.Delivery{}, fmt.Errorf("prune deliveries: %w", err)
	}
	return d, nil
}
