// Package protocol holds the wire types of minichat: the HTTP objects (User,
// Room, Message, Attachment), every WebSocket frame in both directions — one
// Go type per frame, and DecodeClient to turn a client message into its
// validated frame — the error codes and close codes, and the validation
// rules for names and text.
//
// It is the single source of truth for the contract described in
// docs/protocol.md; the TypeScript types of the web client are generated from
// it (see tsgen) and a test fails when the two drift apart. The package has no
// state and is safe for concurrent use.
package protocol

import (
	"time"
)

// Version is the protocol version spoken by this server.
const Version = 1

// Roles of a user.
const (
	RoleMember = "member"
	RoleAdmin  = "admin"
)

// Kinds of room.
const (
	RoomPublic  = "public"
	RoomPrivate = "private"
	RoomDM      = "dm"
)

// Notification levels of a room (Room.Notify): which of its messages are
// pushed to a member's devices.
const (
	NotifyAll      = "all"
	NotifyMentions = "mentions"
	NotifyNone     = "none"
)

// Kinds of message.
const (
	KindChat   = "chat"
	KindSystem = "system"
	// KindMe is an action ("/me waves"), shown as "* alice waves"; it is a
	// chat message in every other way (edited, searched, reacted to). An
	// addition to the contract.
	KindMe = "me"
)

// Presence statuses.
const (
	StatusOnline  = "online"
	StatusAway    = "away"
	StatusOffline = "offline"
)

// Events of a room frame.
const (
	RoomCreated = "created"
	RoomJoined  = "joined"
	RoomLeft    = "left"
	RoomUpdated = "updated"
)

// DefaultRoom is the public room that exists from the first start and that
// every new user joins.
const DefaultRoom = "general"

// User is an account as others see it.
type User struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Role string `json:"role" tstype:"Role"`
	// DisplayName is the name the user chose to be shown by, in any
	// script (1–MaxDisplayName characters, see NormalizeDisplayName);
	// absent: show Name. An addition to the contract.
	DisplayName string `json:"display_name,omitempty"`
	// Avatar is the path of the user's picture, under /api/avatars/: a
	// square PNG of 256 pixels, or of 64 with ?size=64. The path changes
	// whenever the picture does, so it may be cached for good; absent: no
	// picture (show initials). An addition to the contract.
	Avatar string `json:"avatar,omitempty"`
	// StatusText is the user's short status line (at most
	// MaxProfileStatus characters); absent: none. An addition to the
	// contract. Message senders do not carry it.
	StatusText string `json:"status_text,omitempty"`
	// Bot marks a bot account (made by an admin, driven by API tokens and
	// its webhook); clients show a "BOT" badge by its name. An addition to
	// the contract; absent means a person.
	Bot bool `json:"bot,omitempty"`
}

// Users is a page of the people search (GET /api/users); Next is the
// cursor of the following page, null after the last one. An addition to
// the contract.
type Users struct {
	Users []User  `json:"users"`
	Next  *string `json:"next"`
}

// Room is a room as one user sees it: Unread is that user's count and, for a
// direct-message room, Name is the other user's name.
type Room struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	Kind    string `json:"kind" tstype:"RoomKind"`
	LastSeq int64  `json:"last_seq"`
	Members int    `json:"members"`
	Unread  int64  `json:"unread"`
	// Member reports whether the viewer belongs to the room (public rooms are
	// listed to everyone). An addition to the contract.
	Member bool `json:"member"`
	// ReadSeq is the viewer's read marker. An addition to the contract.
	ReadSeq int64 `json:"read_seq,omitempty"`
	// Mentions counts the unread messages (as Unread counts them) that
	// mention the viewer by @name, up to the same cap. An addition to the
	// contract; absent means none.
	Mentions int64 `json:"mentions,omitempty"`
	// Topic is the room's topic (at most MaxTopicChars code points), set by
	// any member; absent when there is none. An addition to the contract.
	Topic string `json:"topic,omitempty"`
	// Archived marks a read-only room: it refuses posts (code archived)
	// and is left out of the directory. An addition to the contract.
	Archived bool `json:"archived,omitempty"`
	// CreatedBy is the id of the user who created the room (absent for
	// direct-message rooms and rooms older than the field). An addition to
	// the contract.
	CreatedBy string `json:"created_by,omitempty"`
	// Notify is the viewer's notification level in the room ("all",
	// "mentions" or "none"), absent when the viewer keeps the default
	// ("all" for a direct-message room, "mentions" for others). An
	// addition to the contract.
	Notify string `json:"notify,omitempty" tstype:"NotifyLevel"`
}

// Members is a page of a room's members (GET /api/rooms/{id}/members),
// ordered by name without regard to case; Next is the cursor of the
// following page, null after the last one. Presence is not in it: the
// viewer shares the room with every member, so welcome and presence frames
// already tell it. An addition to the contract.
type Members struct {
	Members []User  `json:"members"`
	Next    *string `json:"next"`
}

// Reaction is one emoji on a message and the names of the users who chose it.
type Reaction struct {
	Emoji string   `json:"emoji"`
	Users []string `json:"users"`
}

// Attachment is an uploaded file referenced by a message.
type Attachment struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Size int64  `json:"size"`
	Type string `json:"type"`
	URL  string `json:"url"`
}

// Message is one entry of a room's log in its current state.
type Message struct {
	ID          string       `json:"id"`
	Room        string       `json:"room"`
	Seq         int64        `json:"seq"`
	Kind        string       `json:"kind" tstype:"MessageKind"`
	Sender      *User        `json:"sender"`
	Text        string       `json:"text"`
	TS          string       `json:"ts"`
	ClientID    string       `json:"client_id,omitempty"`
	EditedAt    string       `json:"edited_at,omitempty"`
	Deleted     bool         `json:"deleted,omitempty"`
	Reactions   []Reaction   `json:"reactions,omitempty"`
	Attachments []Attachment `json:"attachments,omitempty"`
	ReplyTo     string       `json:"reply_to,omitempty"`
	// Via marks a message posted through an incoming webhook: the sender
	// is the hook's creator, and the client shows the hook (and the name
	// the payload asked for) instead. An addition to the contract.
	Via *Via `json:"via,omitempty"`
	// Preview is the link preview of the first http(s) link of the text,
	// added by the server after the message (as an update). An addition
	// to the contract.
	Preview *Preview `json:"preview,omitempty"`
}

// Via is the incoming webhook a message came through: Hook is the hook's
// name when the message was posted, Name and IconURL what the payload
// asked to be shown as (Slack's username and icon_url), if anything.
type Via struct {
	Hook    string `json:"hook"`
	Name    string `json:"name,omitempty"`
	IconURL string `json:"icon_url,omitempty"`
}

// Preview is what the server found at a link: the page's title,
// description and image URL (each possibly empty, not all).
type Preview struct {
	URL         string `json:"url"`
	Title       string `json:"title,omitempty"`
	Description string `json:"description,omitempty"`
	Image       string `json:"image,omitempty"`
}

// Hook is an incoming webhook of a room (GET /api/rooms/{id}/hooks). URL,
// the secret address to post to, is only ever shown in the answer that
// creates the hook or gives it a new secret: the server keeps a hash of it.
type Hook struct {
	ID        string `json:"id"`
	Room      string `json:"room"`
	Name      string `json:"name"`
	Creator   User   `json:"creator"`
	CreatedAt string `json:"created_at"`
	URL       string `json:"url,omitempty"`
}

// TimeFormat is the layout of every timestamp on the wire: RFC 3339 with
// milliseconds, always UTC.
const TimeFormat = "2006-01-02T15:04:05.000Z"

// FormatTime renders t in TimeFormat.
func FormatTime(t time.Time) string { return t.UTC().Format(TimeFormat) }

// Presence is one user's status as listed in welcome.
type Presence struct {
	User   User   `json:"user"`
	Status string `json:"status" tstype:"PresenceStatus"`
	Text   string `json:"text,omitempty"`
}

// Limits are the per-connection limits announced in welcome.
type Limits struct {
	MaxFrameBytes     int     `json:"max_frame_bytes"`
	MaxTextChars      int     `json:"max_text_chars"`
	MessagesPerSecond float64 `json:"messages_per_second"`
	Burst             int     `json:"burst"`
	// MaxUploadBytes is the largest file POST /api/uploads accepts. An
	// addition to the contract.
	MaxUploadBytes int64 `json:"max_upload_bytes,omitempty"`
	// ReplayMax is how many log entries a hello replays per room: when
	// more follow since, the newest ReplayMax are replayed and synced names
	// the range skipped. An addition to the contract (PROTOCOL.md §3).
	ReplayMax int `json:"replay_max,omitempty"`
}

// ServerInfo describes the server in welcome.
type ServerInfo struct {
	Version string `json:"version"`
}

// SessionInfo is one of the caller's sessions (GET /api/sessions).
type SessionInfo struct {
	ID        string `json:"id"`
	Created   string `json:"created"`   // RFC 3339 with milliseconds, UTC
	LastSeen  string `json:"last_seen"` // RFC 3339 with milliseconds, UTC
	UserAgent string `json:"user_agent"`
	// Current marks the session the request came with.
	Current bool `json:"current"`
}

// Invite is the instance's sign-up invitation (GET /api/invite): the code
// and the absolute link that opens sign-up with it.
type Invite struct {
	Code string `json:"code"`
	URL  string `json:"url"`
}

// Instance is what a client needs to know of the server before signing in
// (GET /api/instance): who may sign up (registration: "invite", "open" or
// "closed") and whether the server has no account yet (setup: the next
// sign-up, whatever the mode, creates the administrator). An addition to
// the contract. Name is the instance's name (an administrator's setting,
// Settings.Name), absent on servers that predate it.
type Instance struct {
	Registration string `json:"registration"`
	Setup        bool   `json:"setup"`
	Name         string `json:"name,omitempty"`
}

// Directory is a page of the public-room directory (GET
// /api/rooms/directory); Next is the cursor of the following page, null
// after the last one.
type Directory struct {
	Rooms []Room  `json:"rooms"`
	Next  *string `json:"next"`
}

// ErrorBody is the payload of every HTTP error: {"error":{"code","message"}}.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail is the code and human-readable message of an error.
type ErrorDetail struct {
	Code    string `json:"code" tstype:"ErrorCode"`
	Message string `json:"message"`
}
