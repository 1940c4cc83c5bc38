package chat

import (
	"context"
	"errors"
	"sync"

	"minichat/server/auth"
	"minichat/server/protocol"
	"minichat/server/store"
)

// The accounts: every way an account is made, signs in and changes, for the
// HTTP API and the command line alike.

// defaultPasswords serves a Service without Passwords.
var defaultPasswords = sync.OnceValue(func() *auth.Passwords { return auth.NewPasswords(auth.DefaultParams, 0) })

func (s *Service) passwords() *auth.Passwords {
	if s.Passwords != nil {
		return s.Passwords
	}
	return defaultPasswords()
}

// hashPassword checks a new password (protocol.CheckPassword) and hashes
// it: every path that sets a password comes here.
func (s *Service) hashPassword(ctx context.Context, password string) (string, error) {
	if err := protocol.CheckPassword(password); err != nil {
		return "", err
	}
	return s.passwords().Hash(ctx, password)
}

// CreateAccount checks a new account's name and password and creates it: the
// first account ever is the admin, admin makes one more (role). The account
// joins the general room (as join: its membership event and "NAME joined").
// A name taken (without regard to case) is a conflict.
func (s *Service) CreateAccount(ctx context.Context, name, password string, admin bool) (protocol.User, error) {
	return s.createAccount(ctx, name, password, admin, nil)
}

// createAccount is CreateAccount with a check that runs inside the write,
// told whether this is the first account; its error refuses the account.
func (s *Service) createAccount(ctx context.Context, name, password string, admin bool, check func(tx store.Tx, first bool) error) (protocol.User, error) {
	if err := protocol.CheckName("username", name); err != nil {
		return protocol.User{}, err
	}
	hash, err := s.hashPassword(ctx, password)
	if err != nil {
		return protocol.User{}, err
	}
	// The general room's log is written too: name it, so that a store
	// shared by nodes locks it with the batch's other rooms.
	var rooms []string
	if g, err := s.Store.RoomByName(ctx, protocol.DefaultRoom); err == nil {
		rooms = []string{g.ID}
	}
	taken := func() error { return protocol.Errorf(protocol.CodeConflict, "the name %q is taken", name) }
	var u protocol.User
	err = s.write(ctx, "user", rooms, func(tx store.Tx) ([]store.Event, error) {
		switch _, err := tx.UserByName(name); {
		case err == nil:
			return nil, taken()
		case !errors.Is(err, store.ErrNotFound):
			return nil, err
		}
		some, err := tx.HasUsers()
		if err != nil {
			return nil, err
		}
		if check != nil {
			if err := check(tx, !some); err != nil {
				return nil, err
			}
		}
		u, err = tx.CreateUser(store.NewUser{Name: name, Role: role(!some, admin), PasswordHash: hash})
		if errors.Is(err, store.ErrConflict) {
			return nil, taken()
		}
		if err != nil {
			return nil, err
		}
		g, err := tx.RoomByName(protocol.DefaultRoom)
		if errors.Is(err, store.ErrNotFound) || (err == nil && g.Kind != protocol.RoomPublic) {
			return nil, nil // general was renamed or removed by hand; the account still works
		}
		if err != nil {
			return nil, err
		}
		return join(tx, g.ID, u, false)
	})
	return u, err
}

// SignIn checks a name and password and returns the account's user; ok is
// false when they do not match. For any name an account may have, the
// answer is the same, and costs the same, whether or not the account exists.
func (s *Service) SignIn(ctx context.Context, name, password string) (u protocol.User, ok bool, err error) {
	if !protocol.ValidName(name) || len(password) > protocol.MaxPasswordLen {
		return protocol.User{}, false, nil
	}
	a, err := s.Store.UserByName(ctx, name)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return protocol.User{}, false, codeErr(err, "user")
	}
	// a.PasswordHash is "" for no account: Verify then does the same work.
	ok, err = s.passwords().Verify(ctx, a.PasswordHash, password)
	if err != nil || !ok {
		return protocol.User{}, false, err
	}
	return a.User, true, nil
}

// StartSession stores a new session of a user for a token's hash
// (maySignIn); userAgent names the client, for the user's list of sessions.
func (s *Service) StartSession(ctx context.Context, user protocol.User, tokenHash []byte, userAgent string) (store.Session, error) {
	var sess store.Session
	err := s.write(ctx, "user", nil, func(tx store.Tx) ([]store.Event, error) {
		a, err := account(tx, user.ID)
		if err != nil {
			return nil, err
		}
		if err := maySignIn(a); err != nil {
			return nil, err
		}
		sess, err = tx.CreateSession(a.ID, tokenHash, userAgent)
		return nil, err
	})
	return sess, err
}

// EndSession ends a session; ending one that has ended already is not an
// error.
func (s *Service) EndSession(ctx context.Context, sessionID string) error {
	return s.write(ctx, "session", nil, func(tx store.Tx) ([]store.Event, error) {
		if err := tx.DeleteSession(sessionID); err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
		return nil, nil
	})
}

// SetPassword checks and sets the password of the account named name, and
// ends every session of it, in one step; it returns the account's user and
// the ids of the sessions ended, so that a running server can close their
// sockets.
func (s *Service) SetPassword(ctx context.Context, name, password string) (protocol.User, []string, error) {
	hash, err := s.hashPassword(ctx, password)
	if err != nil {
		return protocol.User{}, nil, err
	}
	var (
		u   protocol.User
		ids []string
	)
	err = s.write(ctx, "user", nil, func(tx store.Tx) ([]store.Event, error) {
		a, err := accountNamed(tx, name)
		if err != nil {
			return nil, err
		}
		if err := tx.SetPassword(a.ID, hash); err != nil {
			return nil, err
		}
		u = a.User
		ids, err = tx.DeleteSessions(a.ID, "")
		return nil, err
	})
	return u, ids, err
}

// SetDisabled disables (true) or enables again the account named name.
// Disabling ends every session of it in the same step and returns their
// ids, so that a running server can close their sockets; while disabled
// the account cannot sign in (maySignIn). The account, its memberships and
// its messages are kept either way.
func (s *Service) SetDisabled(ctx context.Context, name string, disabled bool) (protocol.User, []string, error) {
	var (
		u   protocol.User
		ids []string
	)
	err := s.write(ctx, "user", nil, func(tx store.Tx) ([]store.Event, error) {
		ids = nil
		a, err := accountNamed(tx, name)
		if err != nil {
			return nil, err
		}
		if err := tx.SetDisabled(a.ID, disabled); err != nil {
			return nil, err
		}
		u = a.User
		if disabled {
			ids, err = tx.DeleteSessions(a.ID, "")
		}
		return nil, err
	})
	return u, ids, err
}

// accountNamed reads an account by name inside a write; not_found when
// there is none.
func accountNamed(tx store.Tx, name string) (store.Account, error) {
	a, err := tx.UserByName(name)
	if errors.Is(err, store.ErrNotFound) {
		return a, protocol.Errorf(protocol.CodeNotFound, "no user %q", name)
	}
	return a, err
}
