package sqlstore

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"minichat/server/protocol"
	"minichat/server/store"
)

const accountCols = `id, name, role, password_hash, disabled, display_name, status_text, avatar, bot`

func scanAccount(r row) (store.Account, error) {
	var a store.Account
	err := r.Scan(&a.ID, &a.Name, &a.Role, &a.PasswordHash, &a.Disabled, &a.DisplayName, &a.StatusText, &a.Avatar, &a.Bot)
	return a, err
}

func account(ctx context.Context, q db, id string) (store.Account, error) {
	a, err := scanAccount(q.queryRow(ctx, `SELECT `+accountCols+` FROM users WHERE id = $1`, id))
	if err != nil {
		return a, fmt.Errorf("load user: %w", notFound(err, "user %s", id))
	}
	return a, nil
}

// accountByName finds an account case-insensitively (through the unique
// index of names).
func accountByName(ctx context.Context, q db, name string) (store.Account, error) {
	a, err := scanAccount(q.queryRow(ctx, `SELECT `+accountCols+` FROM users WHERE {{lower}}(name) = {{lower}}($1)`, name))
	if err != nil {
		return a, fmt.Errorf("user by name: %w", notFound(err, "user %q", name))
	}
	return a, nil
}

// UserByName finds an account case-insensitively.
func (s *Store) UserByName(ctx context.Context, name string) (store.Account, error) {
	q, err := s.reads()
	if err != nil {
		return store.Account{}, fmt.Errorf("user by name: %w", err)
	}
	return accountByName(ctx, q, name)
}

// UserByID returns a user.
func (s *Store) UserByID(ctx context.Context, id string) (protocol.User, error) {
	q, err := s.reads()
	if err != nil {
		return protocol.User{}, fmt.Errorf("user by id: %w", err)
	}
	a, err := account(ctx, q, id)
	return a.User, err
}

// Users lists every account by name, case-insensitively (byte order of the
// lowered names, whatever the database's collation), without hashes.
func (s *Store) Users(ctx context.Context) ([]store.Account, error) {
	q, err := s.reads()
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	out, err := queryRows(ctx, q, `SELECT id, name, role, '', disabled, display_name, status_text, avatar, bot FROM users`, scanAccount)
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	slices.SortFunc(out, func(a, b store.Account) int {
		return cmp.Or(cmp.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name)), cmp.Compare(a.ID, b.ID))
	})
	return out, nil
}

// DisabledUserIDs lists the ids of disabled accounts.
func (s *Store) DisabledUserIDs(ctx context.Context) ([]string, error) {
	q, err := s.reads()
	if err != nil {
		return nil, fmt.Errorf("disabled users: %w", err)
	}
	ids, err := queryStrings(ctx, q, `SELECT id FROM users WHERE disabled`)
	if err != nil {
		return nil, fmt.Errorf("disabled users: %w", err)
	}
	return ids, nil
}

// sessionCols and sessionFrom read a session with its user (scanSession).
const sessionCols = `s.id, s.created_at, s.last_seen, s.user_agent, u.id, u.name, u.role, u.display_name, u.status_text, u.avatar, u.bot`

const sessionFrom = `sessions s JOIN users u ON u.id = s.user_id`

func scanSession(r row) (store.Session, error) {
	var (
		sess          store.Session
		created, seen int64
	)
	if err := r.Scan(&sess.ID, &created, &seen, &sess.UserAgent, &sess.User.ID, &sess.User.Name, &sess.User.Role,
		&sess.User.DisplayName, &sess.User.StatusText, &sess.User.Avatar, &sess.User.Bot); err != nil {
		return store.Session{}, err
	}
	sess.CreatedAt, sess.LastSeen = time.UnixMilli(created), time.UnixMilli(seen)
	return sess, nil
}

// SessionByToken finds the session of a token hash.
func (s *Store) SessionByToken(ctx context.Context, tokenHash []byte) (store.Session, error) {
	q, err := s.reads()
	if err != nil {
		return store.Session{}, fmt.Errorf("session by token: %w", err)
	}
	sess, err := scanSession(q.queryRow(ctx, `SELECT `+sessionCols+` FROM `+sessionFrom+` WHERE s.token_hash = $1`, tokenHash))
	if err != nil {
		return store.Session{}, fmt.Errorf("session by token: %w", notFound(err, "session"))
	}
	return sess, nil
}

// Sessions lists a user's sessions, the most recently used first.
func (s *Store) Sessions(ctx context.Context, userID string) ([]store.Session, error) {
	q, err := s.reads()
	if err != nil {
		return nil, fmt.Errorf("sessions: %w", err)
	}
	out, err := queryRows(ctx, q, `SELECT `+sessionCols+` FROM `+sessionFrom+` WHERE s.user_id = $1
		ORDER BY s.last_seen DESC, s.created_at DESC, s.id`, scanSession, userID)
	if err != nil {
		return nil, fmt.Errorf("sessions: %w", err)
	}
	return out, nil
}

// LiveSessionIDs returns those of ids that name a session.
func (s *Store) LiveSessionIDs(ctx context.Context, ids []string) ([]string, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	q, err := s.reads()
	if err != nil {
		return nil, fmt.Errorf("live sessions: %w", err)
	}
	// An API token's sockets carry its id as their session's: a token
	// lives until revoked or expired.
	live, err := queryStrings(ctx, q, `SELECT id FROM sessions WHERE id {{in $1}}
		UNION ALL SELECT id FROM api_tokens WHERE id {{in $1}} AND (expires_at IS NULL OR expires_at > $2)`,
		s.d.list(ids), s.opts.Now().UnixMilli())
	if err != nil {
		return nil, fmt.Errorf("live sessions: %w", err)
	}
	return live, nil
}

// User returns an account.
func (w *wtx) User(id string) (store.Account, error) {
	a, err := account(w.ctx, w.db, id)
	return a, w.saw(err)
}

// UserByName finds an account case-insensitively.
func (w *wtx) UserByName(name string) (store.Account, error) {
	a, err := accountByName(w.ctx, w.db, name)
	return a, w.saw(err)
}

// HasUsers reports whether any account exists.
func (w *wtx) HasUsers() (bool, error) {
	var some bool
	if err := w.scan(`SELECT EXISTS (SELECT 1 FROM users) AS found`, nil, &some); err != nil {
		return false, fmt.Errorf("count users: %w", err)
	}
	return some, nil
}

// CreateUser stores a new account.
func (w *wtx) CreateUser(nu store.NewUser) (protocol.User, error) {
	u := protocol.User{ID: store.NewID("u_"), Name: nu.Name, Role: nu.Role, Bot: nu.Bot}
	if _, err := w.exec(`INSERT INTO users (id, name, role, password_hash, created_at, bot) VALUES ($1, $2, $3, $4, $5, $6)`,
		u.ID, u.Name, u.Role, nu.PasswordHash, w.s.opts.Now().UnixMilli(), nu.Bot); err != nil {
		return protocol.User{}, fmt.Errorf("create user: %w", w.s.conflict(err))
	}
	return u, nil
}

// SetPassword replaces a user's password hash.
func (w *wtx) SetPassword(userID, hash string) error {
	return w.execOne("set password of user "+userID, `UPDATE users SET password_hash = $1 WHERE id = $2`, hash, userID)
}

// SetDisabled sets a user's disabled flag.
func (w *wtx) SetDisabled(userID string, disabled bool) error {
	return w.execOne("disable user "+userID, `UPDATE users SET disabled = $1 WHERE id = $2`, disabled, userID)
}

// CreateSession stores a new session of a user.
func (w *wtx) CreateSession(userID string, tokenHash []byte, userAgent string) (store.Session, error) {
	a, err := w.User(userID)
	if err != nil {
		return store.Session{}, err
	}
	userAgent = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, strings.ToValidUTF8(userAgent, ""))
	for len(userAgent) > store.MaxUserAgent {
		_, size := utf8.DecodeLastRuneInString(userAgent)
		userAgent = userAgent[:len(userAgent)-size]
	}
	now := w.s.opts.Now().UnixMilli()
	sess := store.Session{ID: store.NewID("s_"), User: a.User, CreatedAt: time.UnixMilli(now), LastSeen: time.UnixMilli(now), UserAgent: userAgent}
	if _, err := w.exec(`INSERT INTO sessions (id, user_id, token_hash, created_at, last_seen, user_agent) VALUES ($1, $2, $3, $4, $4, $5)`,
		sess.ID, userID, tokenHash, now, userAgent); err != nil {
		return store.Session{}, fmt.Errorf("create session: %w", w.s.conflict(err))
	}
	return sess, nil
}

// Session returns a session.
func (w *wtx) Session(id string) (store.Session, error) {
	sess, err := scanSession(w.db.queryRow(w.ctx, `SELECT `+sessionCols+` FROM `+sessionFrom+` WHERE s.id = $1`, id))
	if err != nil {
		return store.Session{}, fmt.Errorf("session: %w", w.saw(notFound(err, "session %s", id)))
	}
	return sess, nil
}

// DeleteSession deletes a session.
func (w *wtx) DeleteSession(id string) error {
	return w.execOne("delete session "+id, `DELETE FROM sessions WHERE id = $1`, id)
}

// DeleteSessions deletes every session of a user but except and returns
// their ids.
func (w *wtx) DeleteSessions(userID, except string) ([]string, error) {
	ids, err := queryStrings(w.ctx, w.db, `DELETE FROM sessions WHERE user_id = $1 AND id <> $2 RETURNING id`, userID, except)
	if err != nil {
		return nil, fmt.Errorf("delete sessions: %w", w.saw(err))
	}
	return ids, nil
}

// TouchSessions records that the sessions were used at at.
func (w *wtx) TouchSessions(ids []string, at time.Time) error {
	if len(ids) == 0 {
		return nil
	}
	if _, err := w.exec(`UPDATE sessions SET last_seen = $1 WHERE id {{in $2}} AND last_seen < $1`, at.UnixMilli(), w.s.d.list(ids)); err != nil {
		return fmt.Errorf("touch sessions: %w", err)
	}
	// API tokens are sessions too (their ids start "t_").
	if _, err := w.exec(`UPDATE api_tokens SET last_used = $1 WHERE id {{in $2}} AND (last_used IS NULL OR last_used < $1)`, at.UnixMilli(), w.s.d.list(ids)); err != nil {
		return fmt.Errorf("touch tokens: %w", err)
	}
	return nil
}

// ExpireSessions deletes the sessions idle since idleBefore or created
// before createdBefore.
func (w *wtx) ExpireSessions(idleBefore, createdBefore time.Time) ([]string, error) {
	ids, err := queryStrings(w.ctx, w.db, `DELETE FROM sessions WHERE last_seen < $1 OR created_at < $2 RETURNING id`,
		idleBefore.UnixMilli(), createdBefore.UnixMilli())
	if err != nil {
		return nil, fmt.Errorf("expire sessions: %w", w.saw(err))
	}
	return ids, nil
}
