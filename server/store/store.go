// Package store defines the Store: the durable home of users, sessions,
// rooms, memberships, read markers and every room's log of messages.
//
// A Store is safe for concurrent use. Every write that changes a room's log
// (a new message, a system message, an edit, a delete, a reaction) takes the
// next seq of that room inside the same transaction, so seqs start at 1 and
// have no gaps, and survive a crash and restart. A write returns only after
// its transaction is durably committed; implementations batch concurrent
// writers into one commit (group commit).
//
// After each commit the Store calls Options.OnCommit with the Events that
// commit produced, in commit order (so, per room, in seq order) and before
// the writers of that commit return. This is how committed changes reach the
// hub (through the broker) without a gap or a reordering.
//
// Implementations: sqlite (the default, one file in the data dir) and, later,
// postgres. Both must pass the conformance suite in storetest.
package store

import (
	"context"
	"errors"
	"time"

	"minichat/server/protocol"
)

// Errors returned by every implementation (possibly wrapped).
var (
	ErrNotFound  = errors.New("not found")
	ErrConflict  = errors.New("already exists")
	ErrForbidden = errors.New("forbidden")
	ErrInvalid   = errors.New("invalid")
)

// MaxUnread caps Room.Unread: a reader that far behind sees "1000+".
const MaxUnread = 1000

// EventKind says what an Event carries.
type EventKind int

const (
	// EventMessage is a new message in a room's log; Seq == Message.Seq.
	EventMessage EventKind = iota + 1
	// EventUpdate is a change (edit, delete, reaction) of an earlier message;
	// Seq is the change's own place in the log and Message its whole current
	// state.
	EventUpdate
	// EventMember is a membership change: UserID joined (Joined) or left the
	// room; Room is the room as that user sees it after the change.
	EventMember
)

// Event is one committed change, handed to Options.OnCommit.
type Event struct {
	Kind    EventKind
	RoomID  string
	Seq     int64            // EventMessage, EventUpdate
	Message protocol.Message // EventMessage, EventUpdate
	UserID  string           // EventMember
	Joined  bool             // EventMember: true joined, false left
	Room    protocol.Room    // EventMember
	// Created is set on the EventMember of a room's creator when the room
	// was just created.
	Created bool
}

// Options configure a Store.
type Options struct {
	// OnCommit, if set, is called after every commit that produced events,
	// with those events in commit order. It is called from the store's
	// writer and must not block for long nor call back into the Store.
	OnCommit func([]Event)
	// Now returns the current time; default time.Now.
	Now func() time.Time
	// ObserveCommit, if set, is called after every successful commit of a
	// write transaction with the number of writes it carried (the group
	// commit's batch size) and how long the transaction took, from its
	// start to the end of the commit. It feeds the metrics; it is called
	// from the store's writer and must be cheap and must not block.
	// Implementations that do not batch report batches of one.
	ObserveCommit func(writes int, took time.Duration)
}

// Committed tells ObserveCommit and OnCommit (those set) about a batch of
// writes that has just committed: how many, how long it took, and the events
// it produced. A store's writer calls it after every commit.
func (o Options) Committed(writes int, took time.Duration, events []Event) {
	if o.ObserveCommit != nil {
		o.ObserveCommit(writes, took)
	}
	if len(events) > 0 && o.OnCommit != nil {
		o.OnCommit(events)
	}
}

// Session is an authenticated session.
type Session struct {
	ID        string
	User      protocol.User
	CreatedAt time.Time
}

// NewUser describes an account to create.
type NewUser struct {
	Name         string // validated by the caller
	PasswordHash string
	// Admin forces the admin role; the first user ever is admin regardless.
	Admin bool
}

// SendRequest is a new chat message.
type SendRequest struct {
	RoomID   string
	SenderID string
	Text     string // already normalised by the caller
	ClientID string // optional; unique per sender
	ReplyTo  string // optional message id in the same room
	// Attachments are ids of files the sender uploaded (CreateFile), in the
	// order the message shows them; may be empty. The caller has checked
	// there are at most protocol.MaxAttachments and no repeats.
	Attachments []string
}

// NewFile is an uploaded file to record. The caller has already stored its
// content, named by SHA256, and checked every field.
type NewFile struct {
	Name       string // the original file name, as shown and downloaded
	Size       int64  // bytes
	Type       string // content type, e.g. "image/png"
	SHA256     string // lower-case hex digest of the content
	UploaderID string
}

// File is the record of an uploaded file.
type File struct {
	ID         string // "f_" followed by 20 lowercase base32 characters
	Name       string
	Size       int64
	Type       string
	SHA256     string
	UploaderID string
	CreatedAt  time.Time // millisecond precision
}

// Attachment is the file as messages carry it.
func (f File) Attachment() protocol.Attachment {
	return protocol.Attachment{ID: f.ID, Name: f.Name, Size: f.Size, Type: f.Type, URL: "/files/" + f.ID}
}

// SearchRequest is a full-text search of chat messages.
type SearchRequest struct {
	// UserID is the searcher: only messages of rooms they may read (public
	// rooms, and private and DM rooms they are a member of) are found.
	UserID string
	// RoomID, when set, limits the search to that room.
	RoomID string
	// Terms are what a message must all contain. Each term is one word or a
	// phrase of words separated by single spaces; a word is a run of letters
	// and digits (the caller has split the user's query this way, so a term
	// holds no punctuation or quotes). A word matches a whole word of the
	// text regardless of case; a phrase matches its words consecutive in the
	// text. At least one term.
	Terms []string
	// Limit is the most messages returned; <= 0 means protocol.MaxSearch.
	Limit int
}

// Store is the durable state of minichat. All methods are safe for
// concurrent use; errors wrap the Err* values above where they apply.
type Store interface {
	// Ping reports whether the store answers (for /readyz).
	Ping(ctx context.Context) error
	// Close stops the writer after draining what was submitted and closes
	// the database. Calls after Close fail.
	Close() error

	// CreateUser creates an account (ErrConflict when the name is taken,
	// case-insensitively). The first user ever becomes admin. The user joins
	// the "general" room (EventMember and a system message "NAME joined").
	CreateUser(ctx context.Context, u NewUser) (protocol.User, error)
	// UserByName finds a user case-insensitively and returns the password
	// hash too. ErrNotFound when there is none.
	UserByName(ctx context.Context, name string) (protocol.User, string, error)
	// UserByID returns a user or ErrNotFound.
	UserByID(ctx context.Context, id string) (protocol.User, error)
	// Users lists every user by name.
	Users(ctx context.Context) ([]protocol.User, error)
	// SetPassword replaces a user's password hash.
	SetPassword(ctx context.Context, userID, hash string) error
	// SetUserDisabled disables (true) or re-enables (false) an account
	// (ErrNotFound for an unknown user). Disabling revokes every session of
	// the user in the same transaction and returns their ids, so that a
	// running server can close the user's sockets; while an account is
	// disabled, CreateSession for it fails with ErrForbidden, so it cannot
	// sign in. Re-enabling revokes nothing and returns no ids; setting the
	// state the account already has is not an error. The account, its
	// memberships and its messages are kept either way.
	SetUserDisabled(ctx context.Context, userID string, disabled bool) (revoked []string, err error)
	// DisabledUserIDs lists the ids of the disabled accounts, in no
	// particular order.
	DisabledUserIDs(ctx context.Context) ([]string, error)
	// LiveSessionIDs returns those of ids that still name a session (not
	// signed out, revoked by a password change or a disable), in no
	// particular order. A running server asks it about the sessions of its
	// open sockets, to close those whose session ended in another process.
	LiveSessionIDs(ctx context.Context, ids []string) ([]string, error)

	// CreateSession stores a new session for a token hash and returns its id
	// (ErrNotFound for an unknown user, ErrForbidden for a disabled one).
	CreateSession(ctx context.Context, userID string, tokenHash []byte) (Session, error)
	// SessionByToken finds the session of a token hash, or ErrNotFound.
	SessionByToken(ctx context.Context, tokenHash []byte) (Session, error)
	// DeleteSession revokes one session (ErrNotFound if unknown).
	DeleteSession(ctx context.Context, sessionID string) error
	// DeleteUserSessions revokes every session of a user and returns their ids.
	DeleteUserSessions(ctx context.Context, userID string) ([]string, error)

	// CreateRoom creates a public or private room with the creator as its
	// only member (ErrConflict on a taken name, case-insensitively). Events:
	// EventMember (Created) for the creator, then a system message
	// "NAME created the room".
	CreateRoom(ctx context.Context, creatorID, name, kind string) (protocol.Room, error)
	// Room returns a room as viewer sees it. ErrNotFound when it does not
	// exist or the viewer may not see it (a private or DM room the viewer is
	// not a member of).
	Room(ctx context.Context, roomID, viewerID string) (protocol.Room, error)
	// Rooms lists the rooms the user belongs to plus every public room,
	// ordered by kind (public, private, dm) then name.
	Rooms(ctx context.Context, userID string) ([]protocol.Room, error)
	// MemberRoomIDs lists the ids of the rooms the user belongs to.
	MemberRoomIDs(ctx context.Context, userID string) ([]string, error)
	// IsMember reports whether the user belongs to the room.
	IsMember(ctx context.Context, roomID, userID string) (bool, error)
	// Join makes the user a member of a public room (ErrForbidden for a
	// private or DM room the user is not in; ErrNotFound for an unknown or
	// invisible room). Joining a room twice is not an error and changes
	// nothing. Events: EventMember, then system message "NAME joined".
	Join(ctx context.Context, roomID, userID string) (protocol.Room, error)
	// Leave removes the user from a room (ErrNotFound when not a member;
	// ErrForbidden for DM rooms). Events: system message "NAME left", then
	// EventMember (Joined false).
	Leave(ctx context.Context, roomID, userID string) error
	// Invite makes invitee a member of a room that inviter belongs to
	// (ErrNotFound when the inviter is not a member; ErrForbidden for DMs).
	// Inviting a member again changes nothing. Events: EventMember for the
	// invitee, then system message "INVITEE joined".
	Invite(ctx context.Context, roomID, inviterID, inviteeID string) error
	// DM returns the one direct-message room of two distinct users, creating
	// it (with both as members, EventMember for each, no system message) on
	// the first call from either side. The returned Room is as userID sees it.
	DM(ctx context.Context, userID, otherID string) (protocol.Room, error)

	// Send appends a chat message to a room's log. ErrForbidden when the
	// sender is not a member; ErrNotFound for an unknown room, a reply_to
	// that is not a message of that room, or an attachment id that is not a
	// file uploaded by the sender (nothing is stored then). The message and
	// its links to its attachments are stored in one transaction; the
	// message carries each as a full protocol.Attachment (File.Attachment),
	// here and in every later read (History, Since, Search, events).
	// A repeated ClientID from the same sender returns the original message
	// with dup true and stores nothing.
	Send(ctx context.Context, req SendRequest) (msg protocol.Message, dup bool, err error)
	// SendAsync is Send without waiting, so one connection can have many
	// sends in flight and each commit carries more of them: done is called
	// exactly once with Send's results — from the store's writer after the
	// commit, or at once when the send cannot be queued — and must not
	// block. Sends are committed in the order they are submitted.
	SendAsync(ctx context.Context, req SendRequest, done func(msg protocol.Message, dup bool, err error))
	// Edit replaces the text of a chat message (by its sender, or any user
	// when admin). ErrForbidden otherwise; ErrNotFound for an unknown or
	// deleted message. Event: EventUpdate.
	Edit(ctx context.Context, roomID, msgID, userID string, admin bool, text string) (protocol.Message, error)
	// Delete turns a message into a tombstone (deleted, text empty, no
	// reactions, no attachments: its files are no longer readable through
	// it). Same rules as Edit. Deleting twice is not an error and
	// changes nothing. Event: EventUpdate.
	Delete(ctx context.Context, roomID, msgID, userID string, admin bool) (protocol.Message, error)
	// React adds (on) or removes the user's reaction; the user must be a
	// member. A change that changes nothing produces no event.
	// Event: EventUpdate.
	React(ctx context.Context, roomID, msgID, userID, emoji string, on bool) (protocol.Message, error)

	// History returns up to limit messages with seq < before (before <= 0:
	// the newest), oldest first, in their current state, and whether older
	// ones exist.
	History(ctx context.Context, roomID string, before int64, limit int) ([]protocol.Message, bool, error)
	// Since returns the log entries of a room with seq > after, oldest first,
	// at most limit: EventMessage and EventUpdate events with messages in
	// their current state.
	Since(ctx context.Context, roomID string, after int64, limit int) ([]Event, error)
	// Search returns the chat messages matching req (see SearchRequest),
	// newest first by ts, at most req.Limit, each in its current state: an
	// edit is found by its new text and no longer by its old one, deleted
	// and system messages are never found. Messages of rooms the searcher
	// may not read are never returned.
	// ErrInvalid when Terms is empty or a term is empty.
	Search(ctx context.Context, req SearchRequest) ([]protocol.Message, error)

	// CreateFile records an uploaded file with a new id (ErrNotFound for
	// an unknown uploader). Several records may share one SHA256. No event.
	CreateFile(ctx context.Context, f NewFile) (File, error)
	// File returns the record of a file for viewerID: its uploader, and
	// every member of a room with a message that carries it (not deleted),
	// may read it. ErrNotFound when the file does not exist or the viewer
	// may not read it — the two are not told apart.
	File(ctx context.Context, fileID, viewerID string) (File, error)

	// SetRead moves the user's read marker in a room forward to seq (never
	// backwards, never past the room's last seq). ErrNotFound when the user
	// is not a member. A member's marker starts at the room's last seq of the
	// moment they joined; Room.Unread counts the chat messages after it that
	// are not deleted and not the viewer's own.
	SetRead(ctx context.Context, roomID, userID string, seq int64) error
}
