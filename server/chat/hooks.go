package chat

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"errors"
	"net/url"
	"strings"
	"unicode/utf8"

	"minichat/server/protocol"
	"minichat/server/store"
)

// Incoming webhooks. A hook belongs to a room and posts as its creator:
// its messages are the creator's chat messages with Via set, so every rule
// of a send applies to them (the creator must be a member of the room),
// and the client shows the hook's name instead of the creator's. A hook
// stops working when it is deleted, when its creator leaves the room (Leave
// deletes the creator's hooks there) and while its creator is disabled.

// DefaultMaxHooks is Service.MaxHooks's default.
const DefaultMaxHooks = 25

// MaxHookName bounds a hook's name, in characters.
const MaxHookName = 64

// maxHookUsername bounds the name a payload asks to be shown as.
const maxHookUsername = 80

// secretBytes is the size of a hook's secret: 256 random bits.
const secretBytes = 32

func errHookNotFound() error {
	return protocol.Errorf(protocol.CodeNotFound, "no such webhook (deleted, its secret regenerated, or its creator no longer able to post)")
}

// mayListHooks: the members of a room see its hooks; an admin sees every
// room's.
func mayListHooks(r protocol.Room, user protocol.User) error {
	if user.Role == protocol.RoleAdmin && r.Kind != "" {
		return nil
	}
	return mayWrite(r, "see its webhooks")
}

// mayChangeHook: a hook is changed (deleted, given a new secret) by its
// creator or an admin; others who may see it are refused, the rest do not
// find it.
func mayChangeHook(h store.Hook, r protocol.Room, user protocol.User) error {
	if user.Role == protocol.RoleAdmin || h.Creator.ID == user.ID {
		return nil
	}
	if mayListHooks(r, user) != nil {
		return protocol.Errorf(protocol.CodeNotFound, "webhook not found")
	}
	return protocol.Errorf(protocol.CodeForbidden, "only its creator or an admin may change a webhook")
}

// mayAddHook: a member may add hooks to a room, up to max of their own.
func mayAddHook(r protocol.Room, have, max int) error {
	if err := mayWrite(r, "add webhooks"); err != nil {
		return err
	}
	if max >= 0 && have >= max {
		return protocol.Errorf(protocol.CodeForbidden, "you already have %d webhooks, the most allowed; delete one first", max)
	}
	return nil
}

// checkHookName checks a hook's name: 1-MaxHookName characters of text.
func checkHookName(name string) (string, error) {
	name = strings.TrimSpace(name)
	if name == "" || utf8.RuneCountInString(name) > MaxHookName {
		return "", protocol.Errorf(protocol.CodeBadRequest, "name must be 1-%d characters", MaxHookName)
	}
	if err := protocol.CheckText("name", name); err != nil {
		return "", err
	}
	return name, nil
}

// HookView is a hook as the API shows it.
func HookView(h store.Hook) protocol.Hook {
	return protocol.Hook{ID: h.ID, Room: h.RoomID, Name: h.Name, Creator: h.Creator, CreatedAt: protocol.FormatTime(h.CreatedAt)}
}

// newSecret returns a new hook secret and its hash.
func newSecret() (string, []byte) {
	b := make([]byte, secretBytes)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	secret := base64.RawURLEncoding.EncodeToString(b)
	return secret, hashSecret(secret)
}

func hashSecret(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

func (s *Service) maxHooks() int {
	if s.MaxHooks == 0 {
		return DefaultMaxHooks
	}
	return s.MaxHooks
}

// CreateHook adds an incoming webhook to a room (mayAddHook) and returns it
// with its secret, which is never shown again.
func (s *Service) CreateHook(ctx context.Context, user protocol.User, roomID, name string) (protocol.Hook, string, error) {
	name, err := checkHookName(name)
	if err != nil {
		return protocol.Hook{}, "", err
	}
	if err := checkRoomID(roomID); err != nil {
		return protocol.Hook{}, "", err
	}
	secret, hash := newSecret()
	var h store.Hook
	err = s.write(ctx, "webhook", nil, func(tx store.Tx) ([]store.Event, error) {
		r, err := roomOf(tx, roomID, user.ID)
		if err != nil {
			return nil, err
		}
		n, err := tx.CountHooks(user.ID)
		if err != nil {
			return nil, err
		}
		if err := mayAddHook(r, n, s.maxHooks()); err != nil {
			return nil, err
		}
		h, err = tx.CreateHook(store.NewHook{RoomID: roomID, CreatorID: user.ID, Name: name, SecretHash: hash})
		return nil, err
	})
	if err != nil {
		return protocol.Hook{}, "", err
	}
	return HookView(h), secret, nil
}

// Hooks lists the hooks of a room (mayListHooks).
func (s *Service) Hooks(ctx context.Context, user protocol.User, roomID string) ([]protocol.Hook, error) {
	r, err := s.viewOf(ctx, user, roomID)
	if err == nil {
		err = mayListHooks(r, user)
	}
	if err != nil {
		return nil, err
	}
	return hookViews(s.Store.Hooks(ctx, roomID))
}

// AllHooks lists every hook of the instance, for an admin.
func (s *Service) AllHooks(ctx context.Context, user protocol.User) ([]protocol.Hook, error) {
	if user.Role != protocol.RoleAdmin {
		return nil, protocol.Errorf(protocol.CodeForbidden, "only an admin may list every webhook")
	}
	return hookViews(s.Store.Hooks(ctx, ""))
}

// hookViews answers a read of hooks as the wire shows them.
func hookViews(hs []store.Hook, err error) ([]protocol.Hook, error) {
	if err != nil {
		return nil, codeErr(err, "webhooks")
	}
	out := make([]protocol.Hook, 0, len(hs))
	for _, h := range hs {
		out = append(out, HookView(h))
	}
	return out, nil
}

// changeHook runs change on a hook the user may change (mayChangeHook).
func (s *Service) changeHook(ctx context.Context, user protocol.User, hookID string, change func(tx store.Tx, h store.Hook) error) (store.Hook, error) {
	if !protocol.ValidID(hookID) {
		return store.Hook{}, protocol.Errorf(protocol.CodeNotFound, "webhook not found")
	}
	var h store.Hook
	err := s.write(ctx, "webhook", nil, func(tx store.Tx) ([]store.Event, error) {
		var err error
		h, err = tx.Hook(hookID)
		if errors.Is(err, store.ErrNotFound) {
			return nil, protocol.Errorf(protocol.CodeNotFound, "webhook not found")
		}
		if err != nil {
			return nil, err
		}
		r, err := roomOf(tx, h.RoomID, user.ID)
		if err != nil {
			return nil, err
		}
		if err := mayChangeHook(h, r, user); err != nil {
			return nil, err
		}
		return nil, change(tx, h)
	})
	return h, err
}

// DeleteHook deletes a hook (mayChangeHook); its address stops working at
// once.
func (s *Service) DeleteHook(ctx context.Context, user protocol.User, hookID string) error {
	_, err := s.changeHook(ctx, user, hookID, func(tx store.Tx, h store.Hook) error { return tx.DeleteHook(h.ID) })
	return err
}

// RegenerateHook gives a hook a new secret (mayChangeHook): the old address
// stops working, the new one is returned once.
func (s *Service) RegenerateHook(ctx context.Context, user protocol.User, hookID string) (protocol.Hook, string, error) {
	secret, hash := newSecret()
	h, err := s.changeHook(ctx, user, hookID, func(tx store.Tx, h store.Hook) error { return tx.SetHookSecret(h.ID, hash) })
	if err != nil {
		return protocol.Hook{}, "", err
	}
	return HookView(h), secret, nil
}

// HookPost is a message posted to a hook's address, already reduced to
// text (see package slack for the payloads it accepts).
type HookPost struct {
	Text string
	// Username and IconURL are what the payload asks the message to be
	// shown as; optional.
	Username, IconURL string
	// IdempotencyKey, when set, makes a repeat of the post return the
	// message the first one stored, and store nothing.
	IdempotencyKey string
}

// HookOf returns the hook of a secret; not_found when there is none.
func (s *Service) HookOf(ctx context.Context, secret string) (store.Hook, error) {
	if len(secret) < 16 || len(secret) > 128 {
		return store.Hook{}, errHookNotFound()
	}
	h, err := s.Store.HookBySecret(ctx, hashSecret(secret))
	if errors.Is(err, store.ErrNotFound) {
		return h, errHookNotFound()
	}
	return h, codeErr(err, "webhook")
}

// PostViaHook posts a message to the hook's room as its creator, with Via
// naming the hook. A disabled creator's hooks answer not_found; a creator
// no longer in the room is refused as any send would be.
func (s *Service) PostViaHook(ctx context.Context, h store.Hook, p HookPost) (protocol.Message, error) {
	a, err := s.Store.UserByName(ctx, h.Creator.Name)
	if errors.Is(err, store.ErrNotFound) || (err == nil && (a.Disabled || a.ID != h.Creator.ID)) {
		return protocol.Message{}, errHookNotFound()
	}
	if err != nil {
		return protocol.Message{}, codeErr(err, "webhook")
	}
	via := &protocol.Via{Hook: h.Name, Name: hookUsername(p.Username), IconURL: hookIcon(p.IconURL)}
	clientID := ""
	if p.IdempotencyKey != "" {
		// Client ids are unique per sender, and the creator is the
		// sender of every hook of theirs and of their own messages: the
		// hook's id keeps the keys of each apart.
		sum := sha256.Sum256([]byte(h.ID + "\x00" + p.IdempotencyKey))
		clientID = "hook-" + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(sum[:20]))
	}
	return s.Send(ctx, a.User, SendParams{Room: h.RoomID, Text: p.Text, ClientID: clientID, Via: via})
}

// hookUsername is the name a payload asked for, cleaned: control
// characters dropped, at most maxHookUsername characters; "" for none.
func hookUsername(name string) string {
	name = strings.TrimSpace(strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, strings.ToValidUTF8(name, "")))
	if utf8.RuneCountInString(name) > maxHookUsername {
		name = string([]rune(name)[:maxHookUsername])
	}
	return name
}

// hookIcon is the icon URL a payload asked for when it is an absolute
// https URL of reasonable length; "" otherwise (a client loads it, so
// nothing but https).
func hookIcon(raw string) string {
	if raw == "" || len(raw) > 2048 {
		return ""
	}
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil {
		return ""
	}
	return u.String()
}
