package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"minichat/server/protocol"
	"minichat/server/store"
)

// CreateUser creates an account and joins it to the general room.
func (s *Store) CreateUser(ctx context.Context, nu store.NewUser) (protocol.User, error) {
	var u protocol.User
	var rooms []string
	if s.general != "" {
		rooms = []string{s.general}
	}
	err := s.write(ctx, rooms, func(ctx context.Context, tx pgx.Tx) ([]store.Event, error) {
		now := s.opts.Now()
		var taken, any bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM users WHERE lower(name) = lower($1)),
			EXISTS (SELECT 1 FROM users)`, nu.Name).Scan(&taken, &any); err != nil {
			return nil, err
		}
		if taken {
			return nil, fmt.Errorf("user name %q: %w", nu.Name, store.ErrConflict)
		}
		u = protocol.User{ID: store.NewID("u_"), Name: nu.Name, Role: protocol.RoleMember}
		// The first user ever is the admin: nobody else could make one.
		if nu.Admin || !any {
			u.Role = protocol.RoleAdmin
		}
		if _, err := tx.Exec(ctx, `INSERT INTO users (id, name, role, password_hash, created_at) VALUES ($1, $2, $3, $4, $5)`,
			u.ID, u.Name, u.Role, nu.PasswordHash, now.UnixMilli()); err != nil {
			return nil, err
		}
		var general string
		err := tx.QueryRow(ctx, `SELECT id FROM rooms WHERE lower(name) = lower($1) AND kind = 'public'`, defaultRoom).Scan(&general)
		if isNoRows(err) {
			// general was renamed or removed by hand; the account still works.
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		return joinEvents(ctx, tx, general, u, now, false)
	})
	if err != nil {
		return protocol.User{}, fmt.Errorf("create user: %w", err)
	}
	return u, nil
}

// joinEvents adds u to a room and returns its events: EventMember, then the
// system message "NAME joined" (or "NAME created the room").
func joinEvents(ctx context.Context, tx pgx.Tx, roomID string, u protocol.User, now time.Time, created bool) ([]store.Event, error) {
	if err := addMember(ctx, tx, roomID, u.ID, now); err != nil {
		return nil, err
	}
	ev, err := memberEvent(ctx, tx, roomID, u.ID, true, created)
	if err != nil {
		return nil, err
	}
	text := u.Name + " joined"
	if created {
		text = u.Name + " created the room"
	}
	msg, err := appendSystem(ctx, tx, roomID, text, now)
	if err != nil {
		return nil, err
	}
	return []store.Event{ev, {Kind: store.EventMessage, RoomID: roomID, Seq: msg.Seq, Message: msg}}, nil
}

// UserByName finds a user case-insensitively, with the password hash.
func (s *Store) UserByName(ctx context.Context, name string) (protocol.User, string, error) {
	var (
		u    protocol.User
		hash string
	)
	q, err := s.reads()
	if err != nil {
		return u, "", fmt.Errorf("user by name: %w", err)
	}
	err = q.QueryRow(ctx, `SELECT id, name, role, password_hash FROM users WHERE lower(name) = lower($1)`, name).
		Scan(&u.ID, &u.Name, &u.Role, &hash)
	if isNoRows(err) {
		return u, "", fmt.Errorf("user %q: %w", name, store.ErrNotFound)
	}
	if err != nil {
		return u, "", fmt.Errorf("user by name: %w", err)
	}
	return u, hash, nil
}

// UserByID returns a user or ErrNotFound.
func (s *Store) UserByID(ctx context.Context, id string) (protocol.User, error) {
	q, err := s.reads()
	if err != nil {
		return protocol.User{}, fmt.Errorf("user by id: %w", err)
	}
	return userByID(ctx, q, id)
}

// Users lists every user ordered by name, case-insensitively (byte order of
// the lowered names, whatever the database's collation).
func (s *Store) Users(ctx context.Context) ([]protocol.User, error) {
	q, err := s.reads()
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	rows, err := q.Query(ctx, `SELECT id, name, role FROM users ORDER BY lower(name) COLLATE "C", id COLLATE "C"`)
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	defer rows.Close()
	var out []protocol.User
	for rows.Next() {
		var u protocol.User
		if err := rows.Scan(&u.ID, &u.Name, &u.Role); err != nil {
			return nil, fmt.Errorf("list users: %w", err)
		}
		out = append(out, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	return out, nil
}

// SetPassword replaces a user's password hash (ErrNotFound for an unknown
// user).
func (s *Store) SetPassword(ctx context.Context, userID, hash string) error {
	err := s.write(ctx, nil, func(ctx context.Context, tx pgx.Tx) ([]store.Event, error) {
		tag, err := tx.Exec(ctx, `UPDATE users SET password_hash = $1 WHERE id = $2`, hash, userID)
		if err != nil {
			return nil, err
		}
		if tag.RowsAffected() == 0 {
			return nil, fmt.Errorf("user %s: %w", userID, store.ErrNotFound)
		}
		return nil, nil
	})
	if err != nil {
		return fmt.Errorf("set password: %w", err)
	}
	return nil
}

// CreateSession stores a session for a token hash (ErrNotFound for an
// unknown user).
func (s *Store) CreateSession(ctx context.Context, userID string, tokenHash []byte) (store.Session, error) {
	var sess store.Session
	err := s.write(ctx, nil, func(ctx context.Context, tx pgx.Tx) ([]store.Event, error) {
		u, err := userByID(ctx, tx, userID)
		if err != nil {
			return nil, err
		}
		var disabled bool
		if err := tx.QueryRow(ctx, `SELECT disabled FROM users WHERE id = $1`, userID).Scan(&disabled); err != nil {
			return nil, err
		}
		if disabled {
			return nil, fmt.Errorf("user %s is disabled: %w", userID, store.ErrForbidden)
		}
		now := s.opts.Now()
		sess = store.Session{ID: store.NewID("s_"), User: u, CreatedAt: time.UnixMilli(now.UnixMilli())}
		_, err = tx.Exec(ctx, `INSERT INTO sessions (id, user_id, token_hash, created_at) VALUES ($1, $2, $3, $4)`,
			sess.ID, userID, tokenHash, now.UnixMilli())
		return nil, err
	})
	if err != nil {
		return store.Session{}, fmt.Errorf("create session: %w", err)
	}
	return sess, nil
}

// SessionByToken finds the session of a token hash, or ErrNotFound.
func (s *Store) SessionByToken(ctx context.Context, tokenHash []byte) (store.Session, error) {
	var (
		sess store.Session
		ms   int64
	)
	q, err := s.reads()
	if err != nil {
		return sess, fmt.Errorf("session by token: %w", err)
	}
	err = q.QueryRow(ctx, `SELECT s.id, s.created_at, u.id, u.name, u.role
		FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = $1`, tokenHash).
		Scan(&sess.ID, &ms, &sess.User.ID, &sess.User.Name, &sess.User.Role)
	if isNoRows(err) {
		return sess, fmt.Errorf("session: %w", store.ErrNotFound)
	}
	if err != nil {
		return sess, fmt.Errorf("session by token: %w", err)
	}
	sess.CreatedAt = time.UnixMilli(ms)
	return sess, nil
}

// DeleteSession revokes one session (ErrNotFound if unknown).
func (s *Store) DeleteSession(ctx context.Context, sessionID string) error {
	err := s.write(ctx, nil, func(ctx context.Context, tx pgx.Tx) ([]store.Event, error) {
		tag, err := tx.Exec(ctx, `DELETE FROM sessions WHERE id = $1`, sessionID)
		if err != nil {
			return nil, err
		}
		if tag.RowsAffected() == 0 {
			return nil, fmt.Errorf("session %s: %w", sessionID, store.ErrNotFound)
		}
		return nil, nil
	})
	if err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	return nil
}

// DeleteUserSessions revokes every session of a user and returns their ids.
func (s *Store) DeleteUserSessions(ctx context.Context, userID string) ([]string, error) {
	var ids []string
	err := s.write(ctx, nil, func(ctx context.Context, tx pgx.Tx) ([]store.Event, error) {
		rows, err := tx.Query(ctx, `DELETE FROM sessions WHERE user_id = $1 RETURNING id`, userID)
		if err != nil {
			return nil, err
		}
		ids, err = collect[string](rows)
		return nil, err
	})
	if err != nil {
		return nil, fmt.Errorf("delete user sessions: %w", err)
	}
	return ids, nil
}

// SetUserDisabled disables or re-enables an account; disabling deletes its
// sessions in the same transaction, so no session of a disabled account
// exists at any commit.
func (s *Store) SetUserDisabled(ctx context.Context, userID string, disabled bool) ([]string, error) {
	var ids []string
	err := s.write(ctx, nil, func(ctx context.Context, tx pgx.Tx) ([]store.Event, error) {
		ids = nil
		tag, err := tx.Exec(ctx, `UPDATE users SET disabled = $1 WHERE id = $2`, disabled, userID)
		if err != nil {
			return nil, err
		}
		if tag.RowsAffected() == 0 {
			return nil, fmt.Errorf("user %s: %w", userID, store.ErrNotFound)
		}
		if !disabled {
			return nil, nil
		}
		rows, err := tx.Query(ctx, `DELETE FROM sessions WHERE user_id = $1 RETURNING id`, userID)
		if err != nil {
			return nil, err
		}
		ids, err = collect[string](rows)
		return nil, err
	})
	if err != nil {
		return nil, fmt.Errorf("set user disabled: %w", err)
	}
	return ids, nil
}

// LiveSessionIDs returns those of ids that name a session; see store.Store.
func (s *Store) LiveSessionIDs(ctx context.Context, ids []string) ([]string, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	return s.readStrings(ctx, "live sessions", `SELECT id FROM sessions WHERE id = ANY($1)`, ids)
}

// DisabledUserIDs lists the ids of disabled accounts.
func (s *Store) DisabledUserIDs(ctx context.Context) ([]string, error) {
	return s.readStrings(ctx, "disabled users", `SELECT id FROM users WHERE disabled`)
}
