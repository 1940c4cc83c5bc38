package chat

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"strings"
	"time"

	"minichat/server/protocol"
	"minichat/server/store"
)

// Registration modes: who may create an account over HTTP. Whatever the
// mode, the first account of an empty instance can always be created (it
// becomes the admin).
const (
	// RegistrationOpen: anyone who reaches the server.
	RegistrationOpen = "open"
	// RegistrationInvite: those who bring the instance's invitation code.
	RegistrationInvite = "invite"
	// RegistrationClosed: nobody; accounts come from `minichat user add`.
	RegistrationClosed = "closed"
)

// inviteKey is the setting that holds the invitation code.
const inviteKey = "invite_code"

// newInviteCode returns a fresh code: 120 random bits, 24 lowercase base32
// characters, safe in a URL path.
func newInviteCode() (string, error) {
	b := make([]byte, 15)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return strings.ToLower(base32.StdEncoding.EncodeToString(b)), nil
}

// SignUp creates an account from the sign-up form under the instance's
// registration mode (mayRegister): the one an administrator set
// (SetSettings), or defMode (--registration) until then; open, invite
// (code must be the instance's invitation code) or closed. The first
// account of an empty instance is always allowed and becomes the admin.
func (s *Service) SignUp(ctx context.Context, defMode, name, password, code string) (protocol.User, error) {
	return s.createAccount(ctx, name, password, false, func(tx store.Tx, first bool) error {
		if first {
			return nil
		}
		mode, err := setting(tx, registrationKey, defMode)
		if err != nil {
			return err
		}
		want := ""
		if mode == RegistrationInvite && code != "" {
			v, err := tx.Setting(inviteKey)
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
			want = v
		}
		return mayRegister(mode, code, want)
	})
}

// InviteCode returns the instance's invitation code, making one on first
// use; reset replaces it, and the old one is refused from then on. Admins
// only (forbidden otherwise).
func (s *Service) InviteCode(ctx context.Context, user protocol.User, reset bool) (string, error) {
	fresh, err := newInviteCode()
	if err != nil {
		return "", err
	}
	var code string
	err = s.write(ctx, "invitation", nil, func(tx store.Tx) ([]store.Event, error) {
		a, err := account(tx, user.ID)
		if err != nil {
			return nil, err
		}
		if err := mayShareSignUp(a.User); err != nil {
			return nil, err
		}
		code, err = tx.Setting(inviteKey)
		if err == nil && !reset {
			return nil, nil
		}
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
		code = fresh
		return nil, tx.SetSetting(inviteKey, code)
	})
	return code, err
}

// Sessions lists the user's sessions, the most recently used first.
func (s *Service) Sessions(ctx context.Context, user protocol.User) ([]store.Session, error) {
	ss, err := s.Store.Sessions(ctx, user.ID)
	return ss, codeErr(err, "sessions")
}

// EndSessionOf ends one of the user's own sessions; another user's session
// is not found, exactly like an unknown id.
func (s *Service) EndSessionOf(ctx context.Context, user protocol.User, sessionID string) error {
	if !protocol.ValidID(sessionID) {
		return errSessionNotFound()
	}
	return s.write(ctx, "session", nil, func(tx store.Tx) ([]store.Event, error) {
		sess, err := tx.Session(sessionID)
		if errors.Is(err, store.ErrNotFound) {
			return nil, errSessionNotFound()
		}
		if err != nil {
			return nil, err
		}
		if err := mayEndSession(sess, user); err != nil {
			return nil, err
		}
		return nil, tx.DeleteSession(sessionID)
	})
}

// EndSessions ends every session of the user but except ("" for all) and
// returns the ids ended.
func (s *Service) EndSessions(ctx context.Context, user protocol.User, except string) ([]string, error) {
	var ids []string
	err := s.write(ctx, "session", nil, func(tx store.Tx) ([]store.Event, error) {
		var err error
		ids, err = tx.DeleteSessions(user.ID, except)
		return nil, err
	})
	return ids, err
}

// ChangePassword sets the user's own password once current is checked
// (the caller checked it with SignIn), ending every other session of the
// user in the same step; keep is the calling session, which stays. It
// returns the ids of the sessions ended.
func (s *Service) ChangePassword(ctx context.Context, user protocol.User, keep, password string) ([]string, error) {
	hash, err := s.hashPassword(ctx, password)
	if err != nil {
		return nil, err
	}
	var ids []string
	err = s.write(ctx, "user", nil, func(tx store.Tx) ([]store.Event, error) {
		if _, err := account(tx, user.ID); err != nil {
			return nil, err
		}
		if err := tx.SetPassword(user.ID, hash); err != nil {
			return nil, err
		}
		var err error
		ids, err = tx.DeleteSessions(user.ID, keep)
		return nil, err
	})
	return ids, err
}

// TouchSessions records that sessions are in use now (an HTTP request, an
// open socket), for idle expiry.
func (s *Service) TouchSessions(ctx context.Context, ids []string, now time.Time) error {
	return s.write(ctx, "session", nil, func(tx store.Tx) ([]store.Event, error) {
		return nil, tx.TouchSessions(ids, now)
	})
}

// ExpireSessions ends the sessions unused for idle or older than max (a
// zero or negative duration: no such bound) and returns their ids.
func (s *Service) ExpireSessions(ctx context.Context, now time.Time, idle, max time.Duration) ([]string, error) {
	idleBefore, createdBefore := time.UnixMilli(0), time.UnixMilli(0)
	if idle > 0 {
		idleBefore = now.Add(-idle)
	}
	if max > 0 {
		createdBefore = now.Add(-max)
	}
	var ids []string
	err := s.write(ctx, "session", nil, func(tx store.Tx) ([]store.Event, error) {
		var err error
		ids, err = tx.ExpireSessions(idleBefore, createdBefore)
		return nil, err
	})
	return ids, err
}

// Directory pages through the public rooms by name: at most limit
// (1..protocol.MaxDirectory) whose name starts with prefix, after the
// cursor (a name; "" from the first). next is the cursor of the next page,
// "" after the last.
func (s *Service) Directory(ctx context.Context, user protocol.User, prefix, cursor string, limit int) (rooms []protocol.Room, next string, err error) {
	if limit < 1 || limit > MaxDirectory {
		return nil, "", protocol.Errorf(protocol.CodeBadRequest, "limit must be 1-%d", MaxDirectory)
	}
	if len(prefix) > protocol.MaxNameLen || len(cursor) > protocol.MaxNameLen {
		return []protocol.Room{}, "", nil // no name is that long
	}
	rooms, err = s.Store.Directory(ctx, user.ID, prefix, cursor, limit+1)
	if err != nil {
		return nil, "", codeErr(err, "rooms")
	}
	if len(rooms) > limit {
		rooms = rooms[:limit]
		next = strings.ToLower(rooms[limit-1].Name)
	}
	return rooms, next, nil
}

// Directory page sizes.
const (
	DefaultDirectory = 50
	MaxDirectory     = 100
)

// CheckQuota answers quota_exceeded when adding size bytes would take the
// user past quota (<= 0: no quota); uploads since since that no message
// carries count too.
func (s *Service) CheckQuota(ctx context.Context, user protocol.User, size, quota int64, since time.Time) error {
	if quota <= 0 {
		return nil
	}
	used, err := s.Store.UploadedBytes(ctx, user.ID, since)
	if err != nil {
		return codeErr(err, "uploads")
	}
	return mayUpload(used, size, quota)
}

// CleanUploads deletes the records of files no message carries, uploaded
// before before, and returns the contents (SHA256) no record names any
// more, for the caller to remove from disk.
func (s *Service) CleanUploads(ctx context.Context, before time.Time) ([]string, error) {
	var shas []string
	err := s.write(ctx, "uploads", nil, func(tx store.Tx) ([]store.Event, error) {
		var err error
		shas, err = tx.DeleteUnattachedFiles(before)
		return nil, err
	})
	return shas, err
}
