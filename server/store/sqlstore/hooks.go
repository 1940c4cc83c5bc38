package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"minichat/server/protocol"
	"minichat/server/store"
)

// schemaHooks is step 13: incoming webhooks, the link-preview cache, and
// three columns of messages.
//
// hooks: one row per incoming webhook; secret_hash is SHA-256 of the
// secret in its URL (the secret itself is never stored). link_previews:
// what a fetch of a URL found, shared by every node; ok false caches a
// fetch that found nothing to show, so it is not retried before the TTL.
// messages.style is 'me' for an action (kind "me" on the wire; the kind
// column stays 'chat', so that actions are edited and searched as chat
// messages), NULL otherwise; via and preview hold the JSON of Message.Via
// and Message.Preview, NULL when absent.
const schemaHooks = `
CREATE TABLE hooks (
	id          TEXT PRIMARY KEY,
	room_id     TEXT NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
	creator_id  TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	name        TEXT NOT NULL,
	secret_hash {{blob}} NOT NULL UNIQUE,
	created_at  {{int}} NOT NULL
);
CREATE INDEX hooks_room ON hooks(room_id, created_at);
CREATE INDEX hooks_creator ON hooks(creator_id);

CREATE TABLE link_previews (
	url         TEXT PRIMARY KEY,
	ok          {{bool}} NOT NULL,
	title       TEXT NOT NULL DEFAULT '',
	description TEXT NOT NULL DEFAULT '',
	image       TEXT NOT NULL DEFAULT '',
	fetched_at  {{int}} NOT NULL
);

ALTER TABLE messages ADD COLUMN style TEXT;
ALTER TABLE messages ADD COLUMN via TEXT;
ALTER TABLE messages ADD COLUMN preview TEXT;
`

// extras reads the columns of step 13 into the message.
func (m *scanned) extras() error {
	if m.style == protocol.KindMe && m.Kind == protocol.KindChat {
		m.Kind = protocol.KindMe
	}
	if m.via != "" {
		m.Via = new(protocol.Via)
		if err := json.Unmarshal([]byte(m.via), m.Via); err != nil {
			return fmt.Errorf("message %s: via: %w", m.ID, err)
		}
	}
	if m.preview != "" {
		m.Preview = new(protocol.Preview)
		if err := json.Unmarshal([]byte(m.preview), m.Preview); err != nil {
			return fmt.Errorf("message %s: preview: %w", m.ID, err)
		}
	}
	return nil
}

// style is messages.style of a send: 'me' or NULL.
func (sw *sendWork) style() *string {
	if sw.req.Kind == protocol.KindMe {
		return nullString(protocol.KindMe)
	}
	return nil
}

// viaJSON is messages.via of a send: its JSON or NULL.
func (sw *sendWork) viaJSON() *string {
	return jsonOrNull(sw.req.Via)
}

func jsonOrNull[T any](v *T) *string {
	if v == nil {
		return nil
	}
	b, err := json.Marshal(v)
	if err != nil { // plain strings: cannot fail
		return nil
	}
	s := string(b)
	return &s
}

const hookCols = `h.id, h.room_id, h.name, h.secret_hash, h.created_at, u.id, u.name, u.role`
const hookFrom = `hooks h JOIN users u ON u.id = h.creator_id`

func scanHook(r row) (store.Hook, error) {
	var (
		h  store.Hook
		at int64
	)
	err := r.Scan(&h.ID, &h.RoomID, &h.Name, &h.SecretHash, &at, &h.Creator.ID, &h.Creator.Name, &h.Creator.Role)
	h.CreatedAt = time.UnixMilli(at).UTC()
	return h, err
}

// HookBySecret returns the hook of a secret's hash.
func (s *Store) HookBySecret(ctx context.Context, secretHash []byte) (store.Hook, error) {
	q, err := s.reads()
	if err != nil {
		return store.Hook{}, fmt.Errorf("hook: %w", err)
	}
	h, err := scanHook(q.queryRow(ctx, `SELECT `+hookCols+` FROM `+hookFrom+` WHERE h.secret_hash = $1`, secretHash))
	if err != nil {
		return store.Hook{}, fmt.Errorf("hook: %w", notFound(err, "hook"))
	}
	return h, nil
}

// Hooks lists the hooks of a room, or of every room.
func (s *Store) Hooks(ctx context.Context, roomID string) ([]store.Hook, error) {
	q, err := s.reads()
	if err != nil {
		return nil, fmt.Errorf("hooks: %w", err)
	}
	out, err := queryRows(ctx, q, `SELECT `+hookCols+` FROM `+hookFrom+` WHERE $1 = '' OR h.room_id = $1 ORDER BY h.created_at, h.id`, scanHook, roomID)
	if err != nil {
		return nil, fmt.Errorf("hooks: %w", err)
	}
	return out, nil
}

// LinkPreview returns the cached fetch of a URL.
func (s *Store) LinkPreview(ctx context.Context, url string) (store.LinkPreview, error) {
	q, err := s.reads()
	if err != nil {
		return store.LinkPreview{}, fmt.Errorf("link preview: %w", err)
	}
	var (
		lp store.LinkPreview
		ok bool
		p  protocol.Preview
		at int64
	)
	err = q.queryRow(ctx, `SELECT url, ok, title, description, image, fetched_at FROM link_previews WHERE url = $1`, url).
		Scan(&lp.URL, &ok, &p.Title, &p.Description, &p.Image, &at)
	if err != nil {
		return store.LinkPreview{}, fmt.Errorf("link preview: %w", notFound(err, "link preview"))
	}
	lp.FetchedAt = time.UnixMilli(at).UTC()
	if ok {
		p.URL = lp.URL
		lp.Preview = &p
	}
	return lp, nil
}

// CreateHook stores a new hook.
func (w *wtx) CreateHook(nh store.NewHook) (store.Hook, error) {
	now := w.s.opts.Now().UnixMilli()
	id := store.NewID("h_")
	if err := w.execOne("create hook", `INSERT INTO hooks (id, room_id, creator_id, name, secret_hash, created_at)
		SELECT $1, $2, id, $3, $4, $5 FROM users WHERE id = $6`,
		id, nh.RoomID, nh.Name, nh.SecretHash, now, nh.CreatorID); err != nil {
		return store.Hook{}, w.s.conflict(err)
	}
	return w.Hook(id)
}

// Hook returns a hook.
func (w *wtx) Hook(id string) (store.Hook, error) {
	h, err := scanHook(w.db.queryRow(w.ctx, `SELECT `+hookCols+` FROM `+hookFrom+` WHERE h.id = $1`, id))
	if err != nil {
		return store.Hook{}, fmt.Errorf("hook: %w", notFound(w.saw(err), "hook %s", id))
	}
	return h, nil
}

// CountHooks counts a user's hooks.
func (w *wtx) CountHooks(creatorID string) (int, error) {
	var n int
	err := w.scan(`SELECT COUNT(*) FROM hooks WHERE creator_id = $1`, []any{creatorID}, &n)
	return n, err
}

// SetHookSecret replaces a hook's secret hash.
func (w *wtx) SetHookSecret(id string, secretHash []byte) error {
	return w.execOne("hook "+id, `UPDATE hooks SET secret_hash = $1 WHERE id = $2`, secretHash, id)
}

// DeleteHook deletes a hook.
func (w *wtx) DeleteHook(id string) error {
	return w.execOne("hook "+id, `DELETE FROM hooks WHERE id = $1`, id)
}

// DeleteHooksOf deletes the hooks a user made in a room.
func (w *wtx) DeleteHooksOf(roomID, userID string) error {
	_, err := w.exec(`DELETE FROM hooks WHERE room_id = $1 AND creator_id = $2`, roomID, userID)
	return err
}

// SetPreview sets or removes a message's link preview.
func (w *wtx) SetPreview(msgID string, p *protocol.Preview) error {
	return w.execOne("message "+msgID, `UPDATE messages SET preview = $1 WHERE id = $2`, jsonOrNull(p), msgID)
}

// PutLinkPreview caches the fetch of a URL.
func (w *wtx) PutLinkPreview(url string, p *protocol.Preview) error {
	var title, desc, image string
	if p != nil {
		title, desc, image = p.Title, p.Description, p.Image
	}
	_, err := w.exec(`INSERT INTO link_previews (url, ok, title, description, image, fetched_at) VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (url) DO UPDATE SET ok = excluded.ok, title = excluded.title, description = excluded.description,
		image = excluded.image, fetched_at = excluded.fetched_at`, url, p != nil, title, desc, image, w.s.opts.Now().UnixMilli())
	return err
}
