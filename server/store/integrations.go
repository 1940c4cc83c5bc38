package store

import (
	"context"
	"time"

	"minichat/server/protocol"
)

// APIToken is the record of a personal API token: only its hash is kept.
type APIToken struct {
	ID        string // "t_…"
	UserID    string
	Name      string
	Scope     string // protocol.ScopeRead or ScopeWrite
	CreatedAt time.Time
	LastUsed  time.Time // zero when never used
	Expires   time.Time // zero when it never expires
}

// NewAPIToken is a token to record; the caller has checked every field.
type NewAPIToken struct {
	UserID    string
	Name      string
	Scope     string
	TokenHash []byte
	Expires   time.Time // zero: never
}

// Bot is the record of a bot account beside its user row.
type Bot struct {
	User        protocol.User
	OwnerID     string
	DisplayName string
	Avatar      string
	WebhookURL  string
	// Secret signs the webhook's requests (HMAC-SHA256): it is kept as it
	// is, since signing needs it.
	Secret    string
	CreatedAt time.Time
}

// Delivery is one message handed to a bot's webhook, with its outcome.
type Delivery struct {
	ID        string
	BotID     string
	MessageID string
	RoomID    string
	At        time.Time
	OK        bool
	Status    int
	Error     string
	Attempts  int
}

// Integrations are the Store's reads of tokens, bots and deliveries.
type Integrations interface {
	// APITokenByHash finds the token of a hash with its user, as a Session
	// whose ID is the token's and whose Scope is the token's scope.
	// ErrNotFound when there is none, or its account is disabled. The
	// caller checks Expires.
	APITokenByHash(ctx context.Context, tokenHash []byte) (Session, APIToken, error)
	// APITokens lists the tokens of a user, the newest first.
	APITokens(ctx context.Context, userID string) ([]APIToken, error)
	// Bots lists the bot accounts by name (without regard to case).
	Bots(ctx context.Context) ([]Bot, error)
	// Bot returns a bot; ErrNotFound when userID is no bot (or a deleted one).
	Bot(ctx context.Context, userID string) (Bot, error)
	// Deliveries lists a bot's recent deliveries, the newest first.
	Deliveries(ctx context.Context, botID string) ([]Delivery, error)
}

// IntegrationsTx are the Tx primitives of tokens, bots and deliveries.
type IntegrationsTx interface {
	// CreateAPIToken records a token with a new id (ErrConflict when the
	// hash is taken).
	CreateAPIToken(t NewAPIToken) (APIToken, error)
	// APIToken returns a token; ErrNotFound.
	APIToken(id string) (APIToken, error)
	// CountAPITokens counts a user's tokens.
	CountAPITokens(userID string) (int, error)
	// DeleteAPIToken deletes a token (ErrNotFound).
	DeleteAPIToken(id string) error
	// DeleteAPITokens deletes every token of a user and returns their ids.
	DeleteAPITokens(userID string) ([]string, error)
	// CountBots counts the bots an admin owns.
	CountBots(ownerID string) (int, error)
	// CreateBot records the bot of a user made with NewUser.Bot.
	CreateBot(b Bot) error
	// Bot returns a bot inside the transaction; ErrNotFound.
	Bot(userID string) (Bot, error)
	// UpdateBot stores a bot's DisplayName, Avatar, WebhookURL and Secret.
	UpdateBot(b Bot) error
	// DeleteBot forgets a bot's record (its user stays, for its messages).
	DeleteBot(userID string) error
	// RecordDelivery stores a delivery with a new id and keeps only the
	// newest keep of its bot.
	RecordDelivery(d Delivery, keep int) (Delivery, error)
}
