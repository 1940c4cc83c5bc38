package chat

import (
	"context"
	"errors"
	"strings"
	"unicode"
	"unicode/utf8"

	"minichat/server/protocol"
	"minichat/server/store"
)

// Administration: what an administrator may do to accounts and to the
// instance's runtime settings (the /api/admin endpoints). Every call
// re-reads the acting account inside its write, so a demoted or disabled
// administrator is refused at once, whatever their session says.

// The settings keys of the runtime settings.
const (
	registrationKey = "registration"
	nameKey         = "instance_name"
)

// People page sizes (AdminUsers).
const (
	DefaultPeople = 50
	MaxPeople     = 100
)

// mayAdminister: the administration endpoints are an enabled
// administrator's.
func mayAdminister(a store.Account) error {
	if a.Role != protocol.RoleAdmin || a.Disabled {
		return protocol.Errorf(protocol.CodeForbidden, "only an administrator may do this")
	}
	return nil
}

// mayDropAdmin: a change that takes an enabled administrator's rights away
// (demoting or disabling them) must leave another enabled administrator,
// so that someone can still administer the instance from the browser.
// active counts the enabled administrators before the change.
func mayDropAdmin(target store.Account, active int) error {
	if target.Role == protocol.RoleAdmin && !target.Disabled && active <= 1 {
		return protocol.Errorf(protocol.CodeConflict, "%s is the last administrator; make someone else an administrator first", target.Name)
	}
	return nil
}

// checkRegistration refuses a registration mode the server does not know.
func checkRegistration(mode string) error {
	switch mode {
	case RegistrationOpen, RegistrationInvite, RegistrationClosed:
		return nil
	}
	return protocol.Errorf(protocol.CodeBadRequest, "registration must be open, invite or closed, not %q", mode)
}

// checkInstanceName: 1–MaxInstanceName code points after trimming, valid
// UTF-8, no control or invisible format characters. It returns the
// trimmed name.
func checkInstanceName(name string) (string, error) {
	name = strings.TrimSpace(name)
	if !utf8.ValidString(name) || name == "" || utf8.RuneCountInString(name) > protocol.MaxInstanceName {
		return "", protocol.Errorf(protocol.CodeBadRequest, "the instance name must be 1-%d characters", protocol.MaxInstanceName)
	}
	for _, r := range name {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			return "", protocol.Errorf(protocol.CodeBadRequest, "the instance name may not contain control or invisible characters")
		}
	}
	return name, nil
}

// setting reads a setting inside a write; def when it was never set.
func setting(tx store.Tx, key, def string) (string, error) {
	v, err := tx.Setting(key)
	if errors.Is(err, store.ErrNotFound) {
		return def, nil
	}
	return v, err
}

// Settings returns the instance's runtime settings; defMode is the
// registration mode until an administrator sets one (--registration).
// Anyone may read them: GET /api/instance shows them before sign-in.
func (s *Service) Settings(ctx context.Context, defMode string) (protocol.Settings, error) {
	out := protocol.Settings{Registration: defMode, Name: protocol.DefaultInstanceName}
	for key, dst := range map[string]*string{registrationKey: &out.Registration, nameKey: &out.Name} {
		v, err := s.Store.Setting(ctx, key)
		switch {
		case err == nil:
			*dst = v
		case !errors.Is(err, store.ErrNotFound):
			return protocol.Settings{}, codeErr(err, "settings")
		}
	}
	return out, nil
}

// SetSettings changes the runtime settings (administrators only) and
// returns them all; they are stored, so they outlive a restart and hold on
// every node sharing the database.
func (s *Service) SetSettings(ctx context.Context, actor protocol.User, defMode string, p protocol.SettingsPatch) (protocol.Settings, error) {
	if p.Registration != nil {
		if err := checkRegistration(*p.Registration); err != nil {
			return protocol.Settings{}, err
		}
	}
	if p.Name != nil {
		name, err := checkInstanceName(*p.Name)
		if err != nil {
			return protocol.Settings{}, err
		}
		p.Name = &name
	}
	var out protocol.Settings
	err := s.write(ctx, "settings", nil, func(tx store.Tx) ([]store.Event, error) {
		a, err := account(tx, actor.ID)
		if err != nil {
			return nil, err
		}
		if err := mayAdminister(a); err != nil {
			return nil, err
		}
		if p.Registration != nil {
			if err := tx.SetSetting(registrationKey, *p.Registration); err != nil {
				return nil, err
			}
		}
		if p.Name != nil {
			if err := tx.SetSetting(nameKey, *p.Name); err != nil {
				return nil, err
			}
		}
		if out.Registration, err = setting(tx, registrationKey, defMode); err != nil {
			return nil, err
		}
		out.Name, err = setting(tx, nameKey, protocol.DefaultInstanceName)
		return nil, err
	})
	return out, err
}

// AdminUsers pages through the accounts by name (administrators only): at
// most limit (1..MaxPeople) whose name contains q (without regard to
// case), after cursor (a lowered name; "" from the first). next is the
// cursor of the following page, "" after the last.
func (s *Service) AdminUsers(ctx context.Context, actor protocol.User, q, cursor string, limit int) (users []protocol.AdminUser, next string, err error) {
	if limit < 1 || limit > MaxPeople {
		return nil, "", protocol.Errorf(protocol.CodeBadRequest, "limit must be 1-%d", MaxPeople)
	}
	if err := s.mayAdministerNow(ctx, actor); err != nil {
		return nil, "", err
	}
	// Every account, filtered here: an instance has people by the
	// hundred, not the million, and the list is an administrator's.
	all, err := s.Store.Users(ctx)
	if err != nil {
		return nil, "", codeErr(err, "users")
	}
	q, cursor = strings.ToLower(q), strings.ToLower(cursor)
	users = []protocol.AdminUser{}
	for _, u := range all {
		name := strings.ToLower(u.Name)
		if (cursor != "" && name <= cursor) || !strings.Contains(name, q) {
			continue
		}
		if len(users) == limit {
			next = strings.ToLower(users[limit-1].User.Name)
			break
		}
		users = append(users, protocol.AdminUser{User: u.User, Disabled: u.Disabled})
	}
	return users, next, nil
}

// administer runs change on the account userID inside a write, once the
// actor is found to be an enabled administrator; it returns the account
// as it is afterwards.
func (s *Service) administer(ctx context.Context, actor protocol.User, userID string, change func(tx store.Tx, target store.Account) error) (protocol.AdminUser, error) {
	if !protocol.ValidID(userID) {
		return protocol.AdminUser{}, protocol.Errorf(protocol.CodeNotFound, "user not found")
	}
	var out protocol.AdminUser
	err := s.write(ctx, "user", nil, func(tx store.Tx) ([]store.Event, error) {
		a, err := account(tx, actor.ID)
		if err != nil {
			return nil, err
		}
		if err := mayAdminister(a); err != nil {
			return nil, err
		}
		target, err := account(tx, userID)
		if err != nil {
			return nil, err
		}
		if err := change(tx, target); err != nil {
			return nil, err
		}
		after, err := account(tx, userID)
		out = protocol.AdminUser{User: after.User, Disabled: after.Disabled}
		return nil, err
	})
	return out, err
}

// DisableUser disables (or enables again) an account (administrators
// only), ending every session of it in the same step when disabling; it
// returns the account and the ids of the sessions ended, whose sockets the
// caller closes. The last enabled administrator cannot be disabled.
func (s *Service) DisableUser(ctx context.Context, actor protocol.User, userID string, disabled bool) (protocol.AdminUser, []string, error) {
	var ids []string
	u, err := s.administer(ctx, actor, userID, func(tx store.Tx, target store.Account) error {
		ids = nil
		if disabled {
			n, err := tx.ActiveAdmins()
			if err != nil {
				return err
			}
			if err := mayDropAdmin(target, n); err != nil {
				return err
			}
		}
		if err := tx.SetDisabled(target.ID, disabled); err != nil {
			return err
		}
		if disabled {
			var err error
			ids, err = tx.DeleteSessions(target.ID, "")
			return err
		}
		return nil
	})
	return u, ids, err
}

// SetRole makes an account an administrator or a member (administrators
// only); the last enabled administrator cannot be made a member.
func (s *Service) SetRole(ctx context.Context, actor protocol.User, userID, role string) (protocol.AdminUser, error) {
	if role != protocol.RoleAdmin && role != protocol.RoleMember {
		return protocol.AdminUser{}, protocol.Errorf(protocol.CodeBadRequest, "role must be admin or member, not %q", role)
	}
	return s.administer(ctx, actor, userID, func(tx store.Tx, target store.Account) error {
		if target.Role == role {
			return nil
		}
		if role == protocol.RoleMember {
			n, err := tx.ActiveAdmins()
			if err != nil {
				return err
			}
			if err := mayDropAdmin(target, n); err != nil {
				return err
			}
		}
		return tx.SetRole(target.ID, role)
	})
}

// SignOutUser ends every session of an account (administrators only) and
// returns their ids, whose sockets the caller closes.
func (s *Service) SignOutUser(ctx context.Context, actor protocol.User, userID string) ([]string, error) {
	var ids []string
	_, err := s.administer(ctx, actor, userID, func(tx store.Tx, target store.Account) error {
		var err error
		ids, err = tx.DeleteSessions(target.ID, "")
		return err
	})
	return ids, err
}

// mayAdministerNow reads the actor's account and checks mayAdminister, for
// the calls that do not write.
func (s *Service) mayAdministerNow(ctx context.Context, actor protocol.User) error {
	a, err := s.Store.UserByName(ctx, actor.Name)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return codeErr(err, "user")
	}
	if err != nil || a.ID != actor.ID {
		return protocol.Errorf(protocol.CodeForbidden, "only an administrator may do this")
	}
	return mayAdminister(a)
}

// AdminSettings is Settings for an administrator's settings screen.
func (s *Service) AdminSettings(ctx context.Context, actor protocol.User, defMode string) (protocol.Settings, error) {
	if err := s.mayAdministerNow(ctx, actor); err != nil {
		return protocol.Settings{}, err
	}
	return s.Settings(ctx, defMode)
}

// AddUser creates an account for someone (administrators only), as
// `minichat user add` does: admin makes it an administrator.
func (s *Service) AddUser(ctx context.Context, actor protocol.User, name, password string, admin bool) (protocol.User, error) {
	if err := s.mayAdministerNow(ctx, actor); err != nil {
		return protocol.User{}, err
	}
	return s.createAccount(ctx, name, password, admin, func(tx store.Tx, _ bool) error {
		a, err := account(tx, actor.ID)
		if err != nil {
			return err
		}
		return mayAdminister(a)
	})
}

// ResetPassword sets another account's password (administrators only), as
// `minichat user passwd` does, ending every session of it; it returns the
// ids of the sessions ended, whose sockets the caller closes.
func (s *Service) ResetPassword(ctx context.Context, actor protocol.User, userID, password string) ([]string, error) {
	hash, err := s.hashPassword(ctx, password)
	if err != nil {
		return nil, err
	}
	var ids []string
	_, err = s.administer(ctx, actor, userID, func(tx store.Tx, target store.Account) error {
		if err := tx.SetPassword(target.ID, hash); err != nil {
			return err
		}
		var err error
		ids, err = tx.DeleteSessions(target.ID, "")
		return err
	})
	return ids, err
}
