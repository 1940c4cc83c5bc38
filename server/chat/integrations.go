package chat

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"minichat/server/auth"
	"minichat/server/protocol"
	"minichat/server/store"
)

// The integrations: personal API tokens, bot accounts and the deliveries of
// bots' webhooks. Every rule about them is here.

// Defaults of the integration limits (Service fields).
const (
	// DefaultMaxTokens is how many API tokens one account may hold.
	DefaultMaxTokens = 20
	// DefaultMaxBots is how many bots one admin may own.
	DefaultMaxBots = 20
	// DefaultKeepDeliveries is how many deliveries are kept per bot.
	DefaultKeepDeliveries = 50
	// MaxTokenName bounds a token's name, in characters.
	MaxTokenName = 64
	// MaxDisplayName bounds a bot's display name, in characters.
	MaxDisplayName = 64
	// MaxWebhookURL bounds a bot's webhook URL, in bytes.
	MaxWebhookURL = 2048
)

func limitOr(n, def int) int {
	if n == 0 {
		return def
	}
	return n
}

// CheckScope is the rule of API token scopes: a read token may read and
// nothing else (write is whether the request changes anything); a signed-in
// session (scope "") and a write token may do both.
func CheckScope(scope string, write bool) error {
	if write && scope == protocol.ScopeRead {
		return protocol.Errorf(protocol.CodeForbidden, "this API token may only read (scope read)")
	}
	return nil
}

// CheckSignedIn refuses API tokens the management of credentials (tokens,
// bots and their secrets): a leaked token cannot mint others.
func CheckSignedIn(scope string) error {
	if scope != "" {
		return protocol.Errorf(protocol.CodeForbidden, "sign in to manage tokens and bots; an API token cannot")
	}
	return nil
}

// TokenExpired reports whether an API token no longer works at now.
func TokenExpired(t store.APIToken, now time.Time) bool {
	return !t.Expires.IsZero() && !now.Before(t.Expires)
}

// mayManageBot: a bot is managed by its owner and by the other admins.
func mayManageBot(b store.Bot, user protocol.User) error {
	if user.ID != b.OwnerID && user.Role != protocol.RoleAdmin {
		return protocol.Errorf(protocol.CodeNotFound, "bot not found")
	}
	return nil
}

// mayActFor: user may hold tokens for account forID when it is user's own
// account, or a bot user manages. It returns that account's user.
func mayActFor(tx store.Tx, user protocol.User, forID string) (protocol.User, error) {
	if forID == "" || forID == user.ID {
		return user, nil
	}
	b, err := managedBot(user)(tx.Bot(forID))
	return b.User, err
}

// managedBot answers a read of a bot for user: the bot, if user may manage
// it (mayManageBot); not_found when there is none. It takes the read's
// results as they come: managedBot(user)(tx.Bot(id)).
func managedBot(user protocol.User) func(store.Bot, error) (store.Bot, error) {
	return func(b store.Bot, err error) (store.Bot, error) {
		if errors.Is(err, store.ErrNotFound) {
			return store.Bot{}, protocol.Errorf(protocol.CodeNotFound, "bot not found")
		}
		if err != nil {
			return store.Bot{}, err
		}
		if err := mayManageBot(b, user); err != nil {
			return store.Bot{}, err
		}
		return b, nil
	}
}

// TokenRequest asks for a new API token.
type TokenRequest struct {
	// For is the account the token acts as: "" (the caller) or a bot the
	// caller manages.
	For   string
	Name  string
	Scope string
	// Expires is when the token stops working; zero: never.
	Expires time.Time
}

// CreateToken checks and records a new API token; the token is returned
// this once and only its hash is kept. An account holds at most MaxTokens.
func (s *Service) CreateToken(ctx context.Context, user protocol.User, req TokenRequest) (string, store.APIToken, error) {
	req.Name = strings.TrimSpace(req.Name)
	if req.Name == "" || utf8.RuneCountInString(req.Name) > MaxTokenName || !utf8.ValidString(req.Name) {
		return "", store.APIToken{}, protocol.Errorf(protocol.CodeBadRequest, "a token's name must be 1-%d characters", MaxTokenName)
	}
	if req.Scope != protocol.ScopeRead && req.Scope != protocol.ScopeWrite {
		return "", store.APIToken{}, protocol.Errorf(protocol.CodeBadRequest, "scope must be %q or %q", protocol.ScopeRead, protocol.ScopeWrite)
	}
	if !req.Expires.IsZero() && !req.Expires.After(time.Now()) {
		return "", store.APIToken{}, protocol.Errorf(protocol.CodeBadRequest, "expires must be in the future")
	}
	token, hash, err := auth.NewAPIToken()
	if err != nil {
		return "", store.APIToken{}, err
	}
	limit := limitOr(s.MaxTokens, DefaultMaxTokens)
	var t store.APIToken
	err = s.write(ctx, "token", nil, func(tx store.Tx) ([]store.Event, error) {
		owner, err := mayActFor(tx, user, req.For)
		if err != nil {
			return nil, err
		}
		if limit > 0 {
			n, err := tx.CountAPITokens(owner.ID)
			if err != nil {
				return nil, err
			}
			if n >= limit {
				return nil, protocol.Errorf(protocol.CodeQuotaExceeded, "an account holds at most %d API tokens; revoke one first", limit)
			}
		}
		t, err = tx.CreateAPIToken(store.NewAPIToken{UserID: owner.ID, Name: req.Name, Scope: req.Scope, TokenHash: hash, Expires: req.Expires})
		return nil, err
	})
	if err != nil {
		return "", store.APIToken{}, err
	}
	return token, t, nil
}

// Tokens lists the API tokens of the caller, or of a bot the caller
// manages (forID).
func (s *Service) Tokens(ctx context.Context, user protocol.User, forID string) ([]store.APIToken, error) {
	if forID != "" && forID != user.ID {
		b, err := s.Bot(ctx, user, forID)
		if err != nil {
			return nil, err
		}
		return s.Store.APITokens(ctx, b.User.ID)
	}
	return s.Store.APITokens(ctx, user.ID)
}

// RevokeToken deletes an API token of the caller or of a bot the caller
// manages. The caller closes the token's sockets (its id is their session
// id); its next request is refused.
func (s *Service) RevokeToken(ctx context.Context, user protocol.User, tokenID string) error {
	return s.write(ctx, "token", nil, func(tx store.Tx) ([]store.Event, error) {
		t, err := tx.APIToken(tokenID)
		if errors.Is(err, store.ErrNotFound) {
			return nil, protocol.Errorf(protocol.CodeNotFound, "token not found")
		}
		if err != nil {
			return nil, err
		}
		if _, err := mayActFor(tx, user, t.UserID); err != nil {
			return nil, protocol.Errorf(protocol.CodeNotFound, "token not found")
		}
		return nil, tx.DeleteAPIToken(tokenID)
	})
}

// BotRequest creates or changes a bot; nil fields stay as they are.
type BotRequest struct {
	Name        string // creation only
	DisplayName *string
	Avatar      *string
	WebhookURL  *string
}

// checkWebhookURL: an absolute http(s) URL without credentials. Whether
// its host may be reached is the delivery's business (netguard), checked
// after DNS at each delivery.
func checkWebhookURL(raw string) error {
	if raw == "" {
		return nil
	}
	u, err := url.Parse(raw)
	if err != nil || len(raw) > MaxWebhookURL || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		return protocol.Errorf(protocol.CodeBadRequest, "webhook_url must be an http:// or https:// URL of at most %d bytes, without credentials", MaxWebhookURL)
	}
	return nil
}

func (r *BotRequest) check() error {
	if r.DisplayName != nil {
		*r.DisplayName = strings.TrimSpace(*r.DisplayName)
		if utf8.RuneCountInString(*r.DisplayName) > MaxDisplayName || !utf8.ValidString(*r.DisplayName) {
			return protocol.Errorf(protocol.CodeBadRequest, "display_name must be at most %d characters", MaxDisplayName)
		}
	}
	if r.Avatar != nil && (len(*r.Avatar) > MaxWebhookURL || (*r.Avatar != "" && !strings.HasPrefix(*r.Avatar, "/"))) {
		return protocol.Errorf(protocol.CodeBadRequest, "avatar must be a path on this server")
	}
	if r.WebhookURL != nil {
		*r.WebhookURL = strings.TrimSpace(*r.WebhookURL)
		return checkWebhookURL(*r.WebhookURL)
	}
	return nil
}

func (r *BotRequest) apply(b *store.Bot) {
	if r.DisplayName != nil {
		b.DisplayName = *r.DisplayName
	}
	if r.Avatar != nil {
		b.Avatar = *r.Avatar
	}
	if r.WebhookURL != nil {
		b.WebhookURL = *r.WebhookURL
	}
}

// newBotSecret is a webhook signing secret: 256 random bits in hex.
func newBotSecret() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

// mayCreateBot: only admins make bots.
func mayCreateBot(user protocol.User) error {
	if user.Role != protocol.RoleAdmin {
		return protocol.Errorf(protocol.CodeForbidden, "only admins may create bots")
	}
	return nil
}

// CreateBot makes a bot account owned by the caller (an admin): a user with
// Bot set and no password, so it cannot sign in; it joins no room until
// invited. The returned record carries its webhook secret, this once.
func (s *Service) CreateBot(ctx context.Context, user protocol.User, req BotRequest) (store.Bot, error) {
	if err := mayCreateBot(user); err != nil {
		return store.Bot{}, err
	}
	if err := protocol.CheckName("bot name", req.Name); err != nil {
		return store.Bot{}, err
	}
	if err := req.check(); err != nil {
		return store.Bot{}, err
	}
	secret, err := newBotSecret()
	if err != nil {
		return store.Bot{}, err
	}
	limit := limitOr(s.MaxBots, DefaultMaxBots)
	var b store.Bot
	err = s.write(ctx, "bot", nil, func(tx store.Tx) ([]store.Event, error) {
		if limit > 0 {
			all, err := tx.CountBots(user.ID)
			if err != nil {
				return nil, err
			}
			if all >= limit {
				return nil, protocol.Errorf(protocol.CodeQuotaExceeded, "an admin owns at most %d bots", limit)
			}
		}
		if _, err := tx.UserByName(req.Name); err == nil {
			return nil, protocol.Errorf(protocol.CodeConflict, "the name %q is taken", req.Name)
		} else if !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
		u, err := tx.CreateUser(store.NewUser{Name: req.Name, Role: protocol.RoleMember, Bot: true})
		if errors.Is(err, store.ErrConflict) {
			return nil, protocol.Errorf(protocol.CodeConflict, "the name %q is taken", req.Name)
		}
		if err != nil {
			return nil, err
		}
		b = store.Bot{User: u, OwnerID: user.ID, Secret: secret, CreatedAt: time.Now()}
		req.apply(&b)
		return nil, tx.CreateBot(b)
	})
	s.botsChanged(err)
	return b, err
}

// Bots lists the bots (admins only), without their secrets.
func (s *Service) Bots(ctx context.Context, user protocol.User) ([]store.Bot, error) {
	if err := mayCreateBot(user); err != nil {
		return nil, err
	}
	bs, err := s.Store.Bots(ctx)
	for i := range bs {
		bs[i].Secret = ""
	}
	return bs, codeErr(err, "bots")
}

// Bot returns a bot the caller manages, without its secret.
func (s *Service) Bot(ctx context.Context, user protocol.User, botID string) (store.Bot, error) {
	b, err := managedBot(user)(s.Store.Bot(ctx, botID))
	if err != nil {
		return store.Bot{}, codeErr(err, "bot")
	}
	b.Secret = ""
	return b, nil
}

// UpdateBot changes a bot's display name, avatar or webhook URL; with
// rotate, it gets a new secret (returned this once).
func (s *Service) UpdateBot(ctx context.Context, user protocol.User, botID string, req BotRequest, rotate bool) (store.Bot, error) {
	if err := req.check(); err != nil {
		return store.Bot{}, err
	}
	secret := ""
	if rotate {
		var err error
		if secret, err = newBotSecret(); err != nil {
			return store.Bot{}, err
		}
	}
	var b store.Bot
	err := s.write(ctx, "bot", nil, func(tx store.Tx) ([]store.Event, error) {
		var err error
		if b, err = managedBot(user)(tx.Bot(botID)); err != nil {
			return nil, err
		}
		req.apply(&b)
		if rotate {
			b.Secret = secret
		}
		return nil, tx.UpdateBot(b)
	})
	if !rotate {
		b.Secret = ""
	}
	s.botsChanged(err)
	return b, err
}

// DeleteBot ends a bot: its record, tokens and deliveries go, its account
// is disabled (its user stays, for the messages it wrote, and its name
// stays taken). It returns the ids of the tokens revoked, whose sockets the
// caller closes.
func (s *Service) DeleteBot(ctx context.Context, user protocol.User, botID string) ([]string, error) {
	var ids []string
	err := s.write(ctx, "bot", nil, func(tx store.Tx) ([]store.Event, error) {
		b, err := managedBot(user)(tx.Bot(botID))
		if err != nil {
			return nil, err
		}
		if ids, err = tx.DeleteAPITokens(b.User.ID); err != nil {
			return nil, err
		}
		if err := tx.SetDisabled(b.User.ID, true); err != nil {
			return nil, err
		}
		return nil, tx.DeleteBot(b.User.ID)
	})
	s.botsChanged(err)
	return ids, err
}

func (s *Service) botsChanged(err error) {
	if err == nil && s.BotsChanged != nil {
		s.BotsChanged()
	}
}

// Deliveries lists the recent deliveries of a bot the caller manages.
func (s *Service) Deliveries(ctx context.Context, user protocol.User, botID string) ([]store.Delivery, error) {
	if _, err := s.Bot(ctx, user, botID); err != nil {
		return nil, err
	}
	ds, err := s.Store.Deliveries(ctx, botID)
	return ds, codeErr(err, "deliveries")
}

// RecordDelivery keeps the outcome of a webhook delivery, and only the
// newest KeepDeliveries of its bot.
func (s *Service) RecordDelivery(ctx context.Context, d store.Delivery) error {
	keep := limitOr(s.KeepDeliveries, DefaultKeepDeliveries)
	if keep < 0 {
		keep = 1 << 30 // no limit
	}
	return s.write(ctx, "delivery", nil, func(tx store.Tx) ([]store.Event, error) {
		_, err := tx.RecordDelivery(d, keep)
		return nil, err
	})
}

// Mentions reports whether text mentions name as "@name" (a whole name,
// without regard to case).
func Mentions(text, name string) bool {
	lower, at := strings.ToLower(text), "@"+strings.ToLower(name)
	for i := 0; ; {
		j := strings.Index(lower[i:], at)
		if j < 0 {
			return false
		}
		end := i + j + len(at)
		// A name may hold '.' and '-', but one that ends a sentence
		// ("thanks @echo.") is punctuation.
		next := end
		if next < len(lower) && (lower[next] == '.' || lower[next] == '-') {
			next++
		}
		if next == len(lower) || !nameByte(lower[next]) {
			if i+j == 0 || !nameByte(lower[i+j-1]) {
				return true
			}
		}
		i = end
	}
}

func nameByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-' || c >= 0x80
}
