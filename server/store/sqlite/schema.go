package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"minichat/server/protocol"
	"minichat/server/store"
)

// migration is one step of the schema. Steps are applied in order, each at
// most once; PRAGMA user_version records how many have been applied. A step
// is never edited once released: changes are new steps appended at the end.
type migration func(ctx context.Context, c *sql.Conn, now time.Time) error

// migrations is the ordered list of schema steps; user_version == len of the
// applied prefix.
var migrations = []migration{
	execStep(schemaV1),
	createGeneral,
	execStep(schemaFilesSearch),
	execStep(disabledUsers),
	execStep(searchAtCommit),
}

// searchAtCommit moves the indexing of new messages out of their INSERT
// (a trigger) to the end of the write batch (indexNew): FTS5 writes its
// pending index data to disk at every savepoint, and inside a transaction a
// statement with a trigger is one, so each message wrote a segment of its
// own and merged it — most of the time of a send. Edits and deletes keep
// their trigger.
const searchAtCommit = `DROP TRIGGER messages_search_insert`

// disabledUsers adds the disabled flag of accounts (SetUserDisabled).
const disabledUsers = `ALTER TABLE users ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0`

// schemaV1 is the first schema.
//
// The room log is split in two tables that share one seq space per room:
// messages (a new message takes the room's next seq) and updates (an edit,
// delete or reaction takes the next seq and points at the message it
// changed). rooms.last_seq is the last seq taken; it is bumped by the insert
// statement itself (triggers below), so seqs have no gaps. Both tables are keyed by
// (room_id, seq), so History and Since are index range scans.
const schemaV1 = `
CREATE TABLE users (
	id            TEXT PRIMARY KEY,
	name          TEXT NOT NULL COLLATE NOCASE UNIQUE,
	role          TEXT NOT NULL,
	password_hash TEXT NOT NULL,
	created_at    INTEGER NOT NULL
);

CREATE TABLE sessions (
	id         TEXT PRIMARY KEY,
	user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	token_hash BLOB NOT NULL UNIQUE,
	created_at INTEGER NOT NULL
);
CREATE INDEX sessions_user ON sessions(user_id);

-- name is empty for DM rooms (their name is the other member's, per viewer);
-- dm_key is "lowID|highID" of the two users of a DM room, NULL otherwise.
CREATE TABLE rooms (
	id         TEXT PRIMARY KEY,
	name       TEXT NOT NULL COLLATE NOCASE,
	kind       TEXT NOT NULL CHECK (kind IN ('public', 'private', 'dm')),
	last_seq   INTEGER NOT NULL DEFAULT 0,
	dm_key     TEXT UNIQUE,
	created_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX rooms_name ON rooms(name) WHERE kind <> 'dm';

CREATE TABLE members (
	room_id   TEXT NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
	user_id   TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	read_seq  INTEGER NOT NULL DEFAULT 0,
	joined_at INTEGER NOT NULL,
	PRIMARY KEY (room_id, user_id)
) WITHOUT ROWID;
CREATE INDEX members_user ON members(user_id, room_id);

-- client_id is NULL when the sender gave none; attachments is a
-- space-separated list of file ids; reactions counts the rows in reactions
-- so that pages without any skip that table.
CREATE TABLE messages (
	room_id     TEXT NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
	seq         INTEGER NOT NULL,
	id          TEXT NOT NULL UNIQUE,
	kind        TEXT NOT NULL CHECK (kind IN ('chat', 'system')),
	sender_id   TEXT REFERENCES users(id),
	text        TEXT NOT NULL,
	ts          INTEGER NOT NULL,
	client_id   TEXT,
	edited_at   INTEGER,
	deleted     INTEGER NOT NULL DEFAULT 0,
	reply_to    TEXT,
	attachments TEXT NOT NULL DEFAULT '',
	reactions   INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (room_id, seq)
) WITHOUT ROWID;
CREATE UNIQUE INDEX messages_client ON messages(sender_id, client_id) WHERE client_id IS NOT NULL;

CREATE TABLE updates (
	room_id    TEXT NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
	seq        INTEGER NOT NULL,
	message_id TEXT NOT NULL,
	PRIMARY KEY (room_id, seq)
) WITHOUT ROWID;

-- Taking a seq: an insert into messages or updates reads its seq as
-- rooms.last_seq + 1, and these triggers store it back, inside the insert
-- statement itself. One statement is atomic, so a failed insert leaves
-- last_seq alone and seqs keep having no gaps.
CREATE TRIGGER messages_seq AFTER INSERT ON messages BEGIN
	UPDATE rooms SET last_seq = NEW.seq WHERE id = NEW.room_id;
END;
CREATE TRIGGER updates_seq AFTER INSERT ON updates BEGIN
	UPDATE rooms SET last_seq = NEW.seq WHERE id = NEW.room_id;
END;

-- The rowid orders reactions: emojis in first-reaction order, users in the
-- order they reacted.
CREATE TABLE reactions (
	message_id TEXT NOT NULL,
	emoji      TEXT NOT NULL,
	user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	UNIQUE (message_id, emoji, user_id)
);
`

// schemaFilesSearch adds uploaded files, the links of messages to them, and
// the full-text index of chat messages, and indexes the existing messages.
//
// files: one row per upload; several rows may name the same content
// (sha256), which the file store keeps once. message_files: which message,
// in which room, carries which file — the readers of a file are its
// uploader and the members of those rooms. A deleted message drops its
// rows.
//
// The search index: search_docs gives every chat message a doc number in
// the order messages were posted, and search_text (FTS5, contentless: it
// keeps the index, not a copy of the text) maps words to doc numbers; its
// room column indexes the room id too, so a search in one room intersects
// two lists of the index instead of checking every match's room. A
// search walks the matches from the highest doc down, so the newest come
// first. Triggers keep both up to date inside the statements that insert,
// edit and delete messages, so the index changes in the same transaction as
// the messages: an edit is found by its new text only, a deleted message
// not at all.
const schemaFilesSearch = `
CREATE TABLE files (
	id          TEXT PRIMARY KEY,
	name        TEXT NOT NULL,
	size        INTEGER NOT NULL,
	type        TEXT NOT NULL,
	sha256      TEXT NOT NULL,
	uploader_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	created_at  INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX files_sha256 ON files(sha256);

CREATE TABLE message_files (
	message_id TEXT NOT NULL,
	file_id    TEXT NOT NULL REFERENCES files(id) ON DELETE CASCADE,
	room_id    TEXT NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
	PRIMARY KEY (message_id, file_id)
) WITHOUT ROWID;
CREATE INDEX message_files_file ON message_files(file_id, room_id);

CREATE TABLE search_docs (
	doc        INTEGER PRIMARY KEY,
	message_id TEXT NOT NULL UNIQUE,
	room_id    TEXT NOT NULL
);
CREATE VIRTUAL TABLE search_text USING fts5(text, room, content = '', contentless_delete = 1,
	tokenize = 'unicode61 remove_diacritics 2');

INSERT INTO search_docs (message_id, room_id)
	SELECT id, room_id FROM messages WHERE kind = 'chat' AND deleted = 0 ORDER BY ts, room_id, seq;
INSERT INTO search_text (rowid, text, room)
	SELECT d.doc, m.text, m.room_id FROM search_docs d JOIN messages m ON m.id = d.message_id WHERE m.text <> '';

CREATE TRIGGER messages_search_insert AFTER INSERT ON messages WHEN NEW.kind = 'chat' AND NEW.deleted = 0 BEGIN
	INSERT INTO search_docs (message_id, room_id) VALUES (NEW.id, NEW.room_id);
	INSERT INTO search_text (rowid, text, room)
		SELECT doc, NEW.text, NEW.room_id FROM search_docs WHERE message_id = NEW.id AND NEW.text <> '';
END;
CREATE TRIGGER messages_search_update AFTER UPDATE OF text, deleted ON messages WHEN NEW.kind = 'chat' BEGIN
	DELETE FROM search_text WHERE rowid = (SELECT doc FROM search_docs WHERE message_id = OLD.id);
	DELETE FROM search_docs WHERE message_id = OLD.id AND NEW.deleted <> 0;
	INSERT INTO search_text (rowid, text, room)
		SELECT doc, NEW.text, NEW.room_id FROM search_docs WHERE message_id = NEW.id AND NEW.text <> '';
END;
`

func execStep(sqlText string) migration {
	return func(ctx context.Context, c *sql.Conn, _ time.Time) error {
		_, err := c.ExecContext(ctx, sqlText)
		return err
	}
}

// createGeneral creates the public room every new user joins.
func createGeneral(ctx context.Context, c *sql.Conn, now time.Time) error {
	_, err := c.ExecContext(ctx,
		`INSERT INTO rooms (id, name, kind, created_at) VALUES (?, ?, 'public', ?)`,
		store.NewID("r_"), protocol.DefaultRoom, now.UnixMilli())
	return err
}

// migrate applies the pending migrations in one transaction. Running it on
// an up-to-date database changes nothing.
func migrate(ctx context.Context, c *sql.Conn, now time.Time) (err error) {
	if _, err := c.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		return fmt.Errorf("migrate: begin: %w", err)
	}
	defer func() {
		if err != nil {
			_, _ = c.ExecContext(ctx, "ROLLBACK")
		}
	}()
	var version int
	if err := c.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		return fmt.Errorf("migrate: read version: %w", err)
	}
	if version > len(migrations) {
		return fmt.Errorf("migrate: database schema version %d is newer than this program's %d", version, len(migrations))
	}
	for i := version; i < len(migrations); i++ {
		if err := migrations[i](ctx, c, now); err != nil {
			return fmt.Errorf("migrate: step %d: %w", i+1, err)
		}
	}
	if version < len(migrations) {
		// PRAGMA takes no bound parameters; the value is our own integer.
		if _, err := c.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", len(migrations))); err != nil {
			return fmt.Errorf("migrate: set version: %w", err)
		}
	}
	if _, err := c.ExecContext(ctx, "COMMIT"); err != nil {
		return fmt.Errorf("migrate: commit: %w", err)
	}
	return nil
}
