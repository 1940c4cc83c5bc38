// Package store defines the Store: the durable home of users, sessions,
// rooms, memberships, read markers, files and every room's log of messages.
//
// A Store holds and fetches data; it decides nothing about who may do what.
// Package chat makes every such decision, and changes the data through
// Write: its function reads the facts it needs through a Tx, decides, and
// makes its changes through the same Tx, inside the store's write
// transaction, so that a check and the write it allows are one atomic step.
// Chat messages take a faster path of their own, SendAsync, with the same
// guarantee: the store gathers the facts of a send, chat's SendRule decides,
// and the store stores what the rule let through, in one transaction.
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
// The implementation is package sqlstore: one SQL store on SQLite (the
// default, one file in the data dir) or Postgres (several nodes). Both pass
// the conformance suite in storetest.
package store

import (
	"context"
	"errors"
	"time"

	"github.com/rs/zerolog"

	"minichat/server/protocol"
)

// Errors returned by the Store and by Tx methods (possibly wrapped). They
// report facts (no such row, a unique key taken, a malformed request), never
// a permission: those are chat's.
var (
	ErrNotFound = errors.New("not found")
	ErrConflict = errors.New("already exists")
	ErrInvalid  = errors.New("invalid")
	// ErrUnavailable: the database cannot be reached (refused, reset,
	// shutting down). Nothing of the write was stored; the same write may
	// succeed later. Errors that wrap it are *UnavailableError values.
	ErrUnavailable = errors.New("database unavailable")
)

// UnavailableError is a write or read refused because the database cannot
// be reached. It wraps ErrUnavailable and the driver's error.
type UnavailableError struct {
	// RetryAfter is how long the caller should wait before trying again:
	// about 1 s when the database has just gone away, growing to about 5 s
	// while it stays away.
	RetryAfter time.Duration
	Err        error
}

func (e *UnavailableError) Error() string {
	return "database unavailable: " + e.Err.Error()
}

func (e *UnavailableError) Unwrap() []error { return []error{ErrUnavailable, e.Err} }

// As makes an UnavailableError read as its answer on the wire wherever an
// error is rendered (errors.As into a *protocol.CodeError): code
// unavailable with its retry hint, in place of internal.
func (e *UnavailableError) As(target any) bool {
	ce, ok := target.(**protocol.CodeError)
	if ok {
		*ce = &protocol.CodeError{Code: protocol.CodeUnavailable, RetryAfter: e.RetryAfter,
			Msg: "the server cannot reach its database right now; nothing was stored: retry after retry_after_ms (a send with the same client_id is never stored twice)"}
	}
	return ok
}

// Availability is what a store knows of its database's reachability.
type Availability struct {
	// Up is false from a write or read that found the database
	// unreachable until the next one that reached it.
	Up bool
	// Since is when Up last changed (the store's start at first).
	Since time.Time
	// Refused counts the writes refused as unavailable since the start.
	Refused uint64
}

// MaxUnread caps Room.Unread: a reader that far behind sees "1000+".
const MaxUnread = 1000

// MentionWindow is how many of a room's newest log entries Room.Mentions
// looks through (the messages after the read marker among them).
const MentionWindow = 5000

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
	// EventUser is a change of a user's profile: User is the user as it is
	// now, Rooms the rooms the user belongs to (whose members are told);
	// RoomID is empty.
	EventUser
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
	User    protocol.User // EventUser
	Rooms   []string      // EventUser
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
	ObserveCommit func(writes int, took time.Duration)
	// Log, if set, receives the store's own lines about its database: one
	// when it goes away, one when it is back, and while it stays away at
	// most one summary a minute. Per-write failures are never logged here:
	// callers get them as errors.
	Log *zerolog.Logger
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
	CreatedAt time.Time // sign-in, millisecond precision
	// LastSeen is when the session was last used (Tx.TouchSession).
	LastSeen time.Time
	// UserAgent is the User-Agent of the sign-in, cut to MaxUserAgent.
	UserAgent string
	// Scope is "" for a signed-in session; for an API token (ID "t_…") its
	// scope, protocol.ScopeRead or ScopeWrite.
	Scope string
}

// MaxUserAgent bounds the User-Agent a session keeps, in bytes.
const MaxUserAgent = 256

// Account is a user with what only account handling reads.
type Account struct {
	protocol.User
	PasswordHash string
	Disabled     bool
}

// NewUser describes an account to create; the caller has checked every
// field and chosen the role.
type NewUser struct {
	Name         string
	Role         string
	PasswordHash string
	// Bot makes a bot account (PasswordHash ""; Tx.CreateBot follows).
	Bot bool
}

// NewRoom describes a room to create; the caller has checked every field.
type NewRoom struct {
	Name string // "" for a direct-message room
	Kind string // protocol.RoomPublic, RoomPrivate or RoomDM
	// DMKey names the two users of a direct-message room ("" otherwise):
	// the store keeps it unique, so that two users have one such room.
	DMKey string
	// CreatedBy is the id of the user who creates a public or private room
	// ("" for none: direct-message rooms).
	CreatedBy string
}

// SendRequest is a new chat message.
type SendRequest struct {
	RoomID   string
	SenderID string
	Text     string // already normalised by the caller
	ClientID string // optional; unique per sender
	ReplyTo  string // optional message id
	// Attachments are ids of uploaded files (Tx.CreateFile), in the order
	// the message shows them; may be empty. The caller has checked there
	// are at most protocol.MaxAttachments and no repeats.
	Attachments []string
	// Kind is protocol.KindChat ("" too) or protocol.KindMe.
	Kind string
	// Via, when set, is the incoming webhook the message came through.
	Via *protocol.Via
}

// SendFacts is what the store knows about a send at the moment it would
// store it, read inside the write transaction that stores it.
type SendFacts struct {
	// Room has the room's Kind ("" when there is no such room) and Member,
	// whether the sender belongs to it; nothing else.
	Room protocol.Room
	// Sender is the sender's user; ID "" when there is no such user.
	Sender protocol.User
	// Duplicate is set when the sender already stored a message with this
	// ClientID: a send the rule lets through is then answered with that
	// message, in its current state, and nothing is stored.
	Duplicate bool
	// ReplyRoom is the room of the message ReplyTo names; "" when ReplyTo
	// is empty or names no message.
	ReplyRoom string
	// Files are the records of Attachments, in their order; a File with ID
	// "" stands for an id that names no file.
	Files []File
}

// SendRule decides whether a send may be stored: nil stores it (or answers
// its duplicate), an error refuses it and is what the sender gets back.
// It runs on the store's writer, for every send, possibly more than once for
// one send (a Postgres batch that loses a race runs again), so it must be a
// pure function of its arguments: quick, without side effects, and never
// blocking. It must not keep or change req and f.
type SendRule func(req *SendRequest, f *SendFacts) error

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

// Scope selects rooms: those UserID belongs to and, when Public, every
// public room. The caller says which rooms a reader may see.
type Scope struct {
	UserID string
	Public bool
}

// SearchRequest is a full-text search of chat messages.
type SearchRequest struct {
	// Scope is the rooms searched, unless RoomID is set.
	Scope Scope
	// RoomID, when set, is the only room searched (the caller has checked
	// the searcher may read it).
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

// PageRequest asks for a page of a room's messages. At most one of Before,
// After, Around and AroundID is set; none asks for the newest page.
type PageRequest struct {
	RoomID string
	// Before > 0: the newest Limit messages with seq < Before.
	Before int64
	// After > 0: the oldest Limit messages with seq > After.
	After int64
	// Around > 0: the page around that seq: the newest (Limit+1)/2
	// messages with seq <= Around, then the oldest of the rest after it.
	Around int64
	// AroundID: as Around, at the seq of that message of the room
	// (ErrNotFound when the room has no such message).
	AroundID string
	// Limit is the page size; <= 0 means protocol.DefaultHistory.
	Limit int
}

// Page is a page of a room's messages, oldest first, in their current
// state, and whether the room holds messages on either side of it.
type Page struct {
	Messages []protocol.Message
	// HasOlder: a message with a lower seq than the page's exists (for an
	// empty page: lower than where it was asked for).
	HasOlder bool
	// HasNewer: a message with a higher seq than the page's exists.
	HasNewer bool
}

// Store is the durable state of minichat. All methods are safe for
// concurrent use; errors wrap the Err* values above where they apply.
type Store interface {
	// Ping reports whether the store answers (for /readyz).
	Ping(ctx context.Context) error
	// Availability reports whether the database was reachable by the last
	// write or read that tried it (Ping included).
	Availability() Availability
	// Close stops the writer after draining what was submitted and closes
	// the database. Calls after Close fail.
	Close() error

	// Write runs fn inside the store's write transaction, under a savepoint
	// of its own: fn reads and changes data through tx, and returns the
	// events its changes produced. When fn returns an error, every change
	// it made is undone and Write returns that error as it is (so a
	// caller's own error values come back to it); otherwise Write returns
	// nil once the transaction has committed durably and OnCommit has seen
	// the events.
	//
	// rooms lists the rooms whose log fn may append to (a message or an
	// update); a store that several nodes share locks them, in a fixed
	// order, before running the batch, so that concurrent batches never
	// wait on each other in a cycle. fn may append to other rooms too (a
	// room it creates, say); that is correct, only less tidy under
	// contention.
	//
	// fn runs on the store's writer: it must not block on anything but tx,
	// and must not call the Store. It may run more than once (after losing
	// a race to another node, its changes are undone and it runs again and
	// then sees what the other node committed), so it must set its
	// results afresh on every run. tx is valid only during the call.
	//
	// A caller whose ctx ends before the writer takes the write gets
	// ctx.Err() and fn never runs; once taken, fn runs to the end and the
	// transaction commits whatever ctx does.
	Write(ctx context.Context, rooms []string, fn func(tx Tx) ([]Event, error)) error
	// SendAsync appends a chat message to a room's log, without waiting,
	// so that one connection can have many sends in flight and each commit
	// carries more of them. Inside the write transaction the store reads
	// the send's SendFacts and asks rule; a send the rule refuses stores
	// nothing and done gets the rule's error. A send with a duplicate
	// ClientID is answered with the original message and dup true. A new
	// message takes the room's next seq; it and its links to its
	// attachments are stored together; it carries each attachment as a
	// full protocol.Attachment (File.Attachment), here and in every later
	// read. Its event is an EventMessage.
	//
	// done is called exactly once — from the store's writer after the
	// commit, or at once when the send cannot be queued — and must not
	// block. Sends are committed in the order they are submitted.
	SendAsync(ctx context.Context, req SendRequest, rule SendRule, done func(msg protocol.Message, dup bool, err error))

	// UserByName finds a user case-insensitively. ErrNotFound when there
	// is none.
	UserByName(ctx context.Context, name string) (Account, error)
	// UserByID returns a user or ErrNotFound.
	UserByID(ctx context.Context, id string) (protocol.User, error)
	// Users lists every account (without password hashes) by name,
	// case-insensitively.
	Users(ctx context.Context) ([]Account, error)
	// DisabledUserIDs lists the ids of the disabled accounts, in no
	// particular order.
	DisabledUserIDs(ctx context.Context) ([]string, error)
	// SessionByToken finds the session of a token hash, or ErrNotFound.
	SessionByToken(ctx context.Context, tokenHash []byte) (Session, error)
	// LiveSessionIDs returns those of ids that still name a session, in no
	// particular order. A running server asks it about the sessions of its
	// open sockets, to close those whose session ended in another process.
	LiveSessionIDs(ctx context.Context, ids []string) ([]string, error)

	// HasUsers reports whether any account exists.
	HasUsers(ctx context.Context) (bool, error)
	// Setting returns a value of the instance's settings; ErrNotFound.
	Setting(ctx context.Context, key string) (string, error)
	// Sessions lists a user's sessions, the most recently used first.
	Sessions(ctx context.Context, userID string) ([]Session, error)
	// Directory lists public rooms as viewerID sees them, ordered by name
	// without regard to case: at most limit, those whose lowered name
	// starts with prefix (lowered; "" for all) and sorts after after
	// (lowered; "" from the first).
	Directory(ctx context.Context, viewerID, prefix, after string, limit int) ([]protocol.Room, error)
	// UploadedBytes is the size of the files a user uploaded that count
	// against their quota: those a message carries, and those uploaded
	// since since that are not released (not yet attached, not yet
	// cleaned up).
	UploadedBytes(ctx context.Context, userID string, since time.Time) (int64, error)
	// ContentUsed reports whether any file record names that content.
	ContentUsed(ctx context.Context, sha256 string) (bool, error)
	// SearchUsers lists the accounts that are not disabled, ordered by
	// lowered name: at most limit, those whose lowered name, lowered
	// display name or a word of it starts with prefix (lowered; "" for
	// all), and whose lowered name sorts after after ("" from the first).
	SearchUsers(ctx context.Context, prefix, after string, limit int) ([]protocol.User, error)

	// Room returns a room as viewer sees it (Member, ReadSeq and Unread are
	// the viewer's, a DM's Name is the other member's), whoever the viewer
	// is. ErrNotFound only when there is no such room.
	Room(ctx context.Context, roomID, viewerID string) (protocol.Room, error)
	// RoomByName returns the row of the public or private room with that
	// name (case-insensitively): ID, Name, Kind, LastSeq. ErrNotFound when
	// there is none.
	RoomByName(ctx context.Context, name string) (protocol.Room, error)
	// Rooms lists the rooms of a scope as its user sees them, ordered by
	// kind (public, private, dm) then name without regard to case, then id.
	Rooms(ctx context.Context, s Scope) ([]protocol.Room, error)
	// MemberRoomIDs lists the ids of the rooms the user belongs to, in byte
	// order.
	MemberRoomIDs(ctx context.Context, userID string) ([]string, error)
	// LastSeqs maps the id of each room the user belongs to to its last
	// seq: what a hello's replay needs of the rooms, without the counts
	// a room listing computes.
	LastSeqs(ctx context.Context, userID string) (map[string]int64, error)
	// IsMember reports whether the user belongs to the room.
	IsMember(ctx context.Context, roomID, userID string) (bool, error)
	// Members lists the members of a room ordered by name without regard
	// to case: at most limit, those whose lowered name sorts after after
	// (lowered; "" from the first).
	Members(ctx context.Context, roomID, after string, limit int) ([]protocol.User, error)

	// History returns up to limit messages with seq < before (before <= 0:
	// the newest), oldest first, in their current state, and whether older
	// ones exist.
	History(ctx context.Context, roomID string, before int64, limit int) ([]protocol.Message, bool, error)
	// Page returns a page of a room's messages before, after or around a
	// place in its log (see PageRequest). Its reads are not one snapshot:
	// a message committed meanwhile may or may not be counted in HasNewer.
	Page(ctx context.Context, req PageRequest) (Page, error)
	// Since returns the log entries of a room with seq > after, oldest first,
	// at most limit: EventMessage and EventUpdate events with messages in
	// their current state. One read: the entries come from one snapshot,
	// so they have no gap.
	Since(ctx context.Context, roomID string, after int64, limit int) ([]Event, error)
	// Search returns the chat messages matching req (see SearchRequest),
	// newest first, at most req.Limit, each in its current state: an edit
	// is found by its new text and no longer by its old one, deleted and
	// system messages are never found. ErrInvalid when Terms is empty or a
	// term is empty.
	Search(ctx context.Context, req SearchRequest) ([]protocol.Message, error)

	// File returns the record of a file, and whether it is posted where
	// viewerID can see it: carried by a message (not deleted) of a room
	// viewerID belongs to. ErrNotFound when there is no such file.
	File(ctx context.Context, fileID, viewerID string) (f File, posted bool, err error)

	Integrations // tokens, bots, deliveries (integrations.go)
	// HookReads are the reads of incoming webhooks and link previews.
	HookReads
}

// Tx is the data inside a write transaction (Store.Write): facts to read
// and primitives that change them. Each method is one step of the
// transaction; nothing is visible to others before the commit. Errors wrap
// ErrNotFound (no such row), ErrConflict (a unique key taken) or the
// database's own. A Tx is used by one goroutine, during the call of fn only.
type Tx interface {
	// User returns an account; ErrNotFound when there is none.
	User(id string) (Account, error)
	// UserByName finds an account case-insensitively; ErrNotFound.
	UserByName(name string) (Account, error)
	// HasUsers reports whether any account exists.
	HasUsers() (bool, error)
	// CreateUser stores a new account with a new id (ErrConflict when the
	// name is taken, case-insensitively).
	CreateUser(u NewUser) (protocol.User, error)
	// SetPassword replaces a user's password hash (ErrNotFound).
	SetPassword(userID, hash string) error
	// SetDisabled sets a user's disabled flag (ErrNotFound).
	SetDisabled(userID string, disabled bool) error
	// SetProfile replaces a user's display name and status text, both
	// already normalised (ErrNotFound).
	SetProfile(userID, displayName, statusText string) error
	// SetAvatar replaces a user's avatar path ("" for none) and returns the
	// one it replaced (ErrNotFound).
	SetAvatar(userID, avatar string) (old string, err error)
	// MemberRoomIDs lists the ids of the rooms a user belongs to, in byte
	// order.
	MemberRoomIDs(userID string) ([]string, error)
	// SetRole sets a user's role (ErrNotFound).
	SetRole(userID, role string) error
	// ActiveAdmins counts the administrators whose account is not
	// disabled.
	ActiveAdmins() (int, error)
	// CreateSession stores a new session of a user for a token hash
	// (ErrNotFound for an unknown user), used now.
	CreateSession(userID string, tokenHash []byte, userAgent string) (Session, error)
	// Session returns a session; ErrNotFound.
	Session(id string) (Session, error)
	// DeleteSession deletes a session (ErrNotFound if unknown).
	DeleteSession(id string) error
	// DeleteSessions deletes every session of a user but except ("" for
	// none) and returns their ids.
	DeleteSessions(userID, except string) ([]string, error)
	// TouchSessions records that the sessions were used at at; unknown ids
	// are skipped.
	TouchSessions(ids []string, at time.Time) error
	// ExpireSessions deletes the sessions last used before idleBefore or
	// created before createdBefore, and returns their ids.
	ExpireSessions(idleBefore, createdBefore time.Time) ([]string, error)
	// Setting returns a value of the instance's settings; ErrNotFound.
	Setting(key string) (string, error)
	// SetSetting stores a value of the instance's settings.
	SetSetting(key, value string) error
	// UploadedBytes is Store.UploadedBytes inside the transaction.
	UploadedBytes(userID string, since time.Time) (int64, error)
	// DeleteUnattachedFiles deletes the file records created before before,
	// or released, that no message carries, and returns the contents (SHA256) no record
	// names any more, for the caller to remove.
	DeleteUnattachedFiles(before time.Time) ([]string, error)

	// Room returns a room's own row — ID, Kind, Name ("" for a
	// direct-message room), LastSeq, Archived, CreatedBy — and Member,
	// whether userID belongs to it; nothing else is set. ErrNotFound when
	// there is no such room.
	Room(roomID, userID string) (protocol.Room, error)
	// View returns a room as viewerID sees it, as Store.Room does.
	View(roomID, viewerID string) (protocol.Room, error)
	// RoomByName is Store.RoomByName inside the transaction.
	RoomByName(name string) (protocol.Room, error)
	// DMRoom returns the id of the room with that DM key; ErrNotFound.
	DMRoom(key string) (string, error)
	// CreateRoom stores a new room with a new id and no members
	// (ErrConflict when the name of a public or private room is taken
	// case-insensitively, or the DM key is).
	CreateRoom(r NewRoom) (string, error)
	// AddMember makes a user a member with the read marker at the room's
	// current last seq, so that their unread count starts with what
	// follows. ErrConflict when already a member.
	AddMember(roomID, userID string) error
	// RemoveMember ends a membership (ErrNotFound when there is none).
	RemoveMember(roomID, userID string) error
	// SetTopic replaces a room's topic ("" for none); ErrNotFound.
	SetTopic(roomID, topic string) error
	// SetRoomName renames a public or private room (ErrNotFound; ErrConflict
	// when another room has the name, case-insensitively).
	SetRoomName(roomID, name string) error
	// SetArchived sets a room's archived flag (ErrNotFound).
	SetArchived(roomID string, archived bool) error
	// MemberIDs lists the ids of a room's members, in byte order.
	MemberIDs(roomID string) ([]string, error)
	// SetRead moves a member's read marker forward to seq, never backwards
	// and never past the room's last seq (ErrNotFound when userID is not a
	// member).
	SetRead(roomID, userID string, seq int64) error

	// Message returns a message in its current state; ErrNotFound.
	Message(id string) (protocol.Message, error)
	// AppendSystem appends a system message (sender null) to a room's log,
	// at its next seq, and returns it.
	AppendSystem(roomID, text string) (protocol.Message, error)
	// AppendUpdate appends to a room's log, at its next seq, the entry that
	// says message msgID changed, and returns that seq.
	AppendUpdate(roomID, msgID string) (int64, error)
	// SetText replaces a message's text and stamps it edited now.
	SetText(msgID, text string) error
	// Tombstone turns a message into a tombstone: deleted, text empty, its
	// reactions and its links to its attachments gone; files no other
	// message carries are released (UploadedBytes, DeleteUnattachedFiles).
	Tombstone(msgID string) error
	// React adds (on) or removes a user's reaction to a message and reports
	// whether that changed anything.
	React(msgID, userID, emoji string, on bool) (bool, error)
	// CreateFile records an uploaded file with a new id (ErrNotFound for an
	// unknown uploader). Several records may share one SHA256.
	CreateFile(f NewFile) (File, error)

	IntegrationsTx // tokens, bots, deliveries (integrations.go)
	// HookTx are the writes of incoming webhooks and link previews.
	HookTx
}
