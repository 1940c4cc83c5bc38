package protocol

// The integrations: personal API tokens, bot accounts and the deliveries
// of their outgoing webhooks (docs/protocol.md, "Integrations"). All of it
// is an addition to the contract.

// Scopes of an API token: read allows what reads (GET requests; on /ws
// everything but send, edit, delete and react), write allows everything a
// session allows.
const (
	ScopeRead  = "read"
	ScopeWrite = "write"
)

// TokenPrefix starts every API token, so that a token is told from a
// session token at a glance (and by secret scanners).
const TokenPrefix = "mct_"

// APIToken is an API token as its owner sees it (GET /api/tokens); the
// token itself is shown once, in NewAPIToken.
type APIToken struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	Scope   string `json:"scope"`
	Created string `json:"created"` // RFC 3339 with milliseconds, UTC
	// LastUsed is when a request last came with the token (to within a
	// minute); absent when never.
	LastUsed string `json:"last_used,omitempty"`
	// Expires is when the token stops working; absent when never.
	Expires string `json:"expires,omitempty"`
	// UserID is the account the token acts as (the caller, or one of the
	// caller's bots).
	UserID string `json:"user_id"`
}

// NewAPIToken answers the creation of a token: the token, shown this once,
// and its record.
type NewAPIToken struct {
	Token  string   `json:"token"`
	Record APIToken `json:"record"`
}

// Bot is a bot account as its owner and the admins see it (GET /api/bots).
type Bot struct {
	User        User   `json:"user"`
	DisplayName string `json:"display_name,omitempty"`
	Avatar      string `json:"avatar,omitempty"`
	// WebhookURL is where the bot's mentions and direct messages are
	// POSTed; "" for none.
	WebhookURL string `json:"webhook_url"`
	// OwnerID is the admin who made the bot and manages its tokens.
	OwnerID string `json:"owner_id"`
	Created string `json:"created"`
	// Secret signs the webhook's requests; present only in the answer that
	// created it (POST /api/bots, POST /api/bots/{id}/secret).
	Secret string `json:"secret,omitempty"`
}

// Delivery is one message handed (or not) to a bot's webhook.
type Delivery struct {
	ID        string `json:"id"`
	At        string `json:"at"` // when the last attempt ended
	MessageID string `json:"message_id"`
	RoomID    string `json:"room_id"`
	// OK: the webhook answered 2xx.
	OK bool `json:"ok"`
	// Status is the HTTP status of the last attempt; 0 when there was no
	// answer (refused, timed out).
	Status   int    `json:"status"`
	Error    string `json:"error,omitempty"`
	Attempts int    `json:"attempts"`
}

// WebhookPayload is the JSON body POSTed to a bot's webhook.
type WebhookPayload struct {
	Message Message `json:"message"`
	Room    Room    `json:"room"`
	Sender  User    `json:"sender"`
	Bot     User    `json:"bot"`
}
