package store

import (
	"context"
	"time"

	"minichat/server/protocol"
)

// Hook is an incoming webhook: a secret address that posts to RoomID as
// CreatorID. The store keeps only SecretHash (SHA-256 of the secret).
type Hook struct {
	ID         string
	RoomID     string
	Name       string
	Creator    protocol.User
	CreatedAt  time.Time // millisecond precision
	SecretHash []byte
}

// NewHook describes a hook to create; the caller has checked every field.
type NewHook struct {
	RoomID     string
	CreatorID  string
	Name       string
	SecretHash []byte
}

// LinkPreview is a cached fetch of a link: Preview is nil when the page
// offered nothing to show (or could not be fetched), which is cached too.
type LinkPreview struct {
	URL       string
	Preview   *protocol.Preview
	FetchedAt time.Time // millisecond precision
}

// HookReads are the Store's reads of incoming webhooks and link previews.
type HookReads interface {
	// HookBySecret returns the hook whose secret hashes to secretHash;
	// ErrNotFound.
	HookBySecret(ctx context.Context, secretHash []byte) (Hook, error)
	// Hooks lists the hooks of a room ("" for every room), oldest first.
	Hooks(ctx context.Context, roomID string) ([]Hook, error)
	// LinkPreview returns the cached preview of a URL; ErrNotFound.
	LinkPreview(ctx context.Context, url string) (LinkPreview, error)
}

// HookTx are the writes (and the reads they need) of incoming webhooks and
// link previews, inside a write transaction.
type HookTx interface {
	// CreateHook stores a new hook with a new id, created now.
	CreateHook(h NewHook) (Hook, error)
	// Hook returns a hook; ErrNotFound.
	Hook(id string) (Hook, error)
	// CountHooks counts the hooks a user created.
	CountHooks(creatorID string) (int, error)
	// SetHookSecret replaces a hook's secret hash (ErrNotFound).
	SetHookSecret(id string, secretHash []byte) error
	// DeleteHook deletes a hook (ErrNotFound).
	DeleteHook(id string) error
	// DeleteHooksOf deletes the hooks userID created in roomID.
	DeleteHooksOf(roomID, userID string) error
	// SetPreview sets (nil: removes) a message's link preview.
	SetPreview(msgID string, p *protocol.Preview) error
	// PutLinkPreview stores the fetch of a URL in the cache, fetched now,
	// replacing an older one.
	PutLinkPreview(url string, p *protocol.Preview) error
}
