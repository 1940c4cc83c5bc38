package sqlstore

import (
	"context"
	"fmt"
	"time"

	"minichat/server/protocol"
	"minichat/server/store"
)

// step is one step of the schema. Steps are applied in order, each at most
// once, and the database records how many it has applied (SQLite: PRAGMA
// user_version; Postgres: the schema_migrations table, version i+1 for
// steps[i]). A step is never changed in meaning once released — databases
// have applied it — so changes are new steps appended at the end. Each step
// is written once for both databases; its {{markers}} render the types and
// features where they differ (see the dialects' marks).
type step func(ctx context.Context, q db, now time.Time) error

var steps = []step{
	ddl(schemaV1),
	createGeneral,
	ddl(schemaFiles + "{{search_schema}}"),
	ddl(`ALTER TABLE users ADD COLUMN disabled {{bool}} NOT NULL DEFAULT {{false}}`),
	// Step 5 tuned search on each database: SQLite moved the indexing of
	// new messages from a trigger to the end of the write batch, Postgres
	// got an index of messages by time (see the dialects).
	ddl("{{schema_5}}"),
	accessStep,
	// Step 7 keeps the TLS certificates of --tls-domain, and the locks that
	// let one node of a cluster order them (certs.go).
	ddl(schemaCerts),
	// Step 8 gives users a profile: display name, status text, avatar
	// (profiles.go).
	ddl(schemaProfiles),
	// Step 9: room topics, archiving and creators (schema_rooms.go).
	ddl(schemaRooms),
	// Step 10: Web Push subscriptions, outbox, notification levels (push.go).
	ddl(schemaPush),
	// Step 11: bot accounts, API tokens, webhook deliveries (integrations.go).
	ddl(schemaIntegrations),
	// Step 12: incoming webhooks, link previews, /me (hooks.go).
	ddl(schemaHooks),
	// Step 13: each room's member count, kept with its memberships
	// (schema_rooms.go).
	ddl(schemaMemberCount),
}

// SchemaVersion is the number of schema steps this program knows.
func SchemaVersion() int { return len(steps) }

// schemaV1 is the first schema.
//
// Times are Unix milliseconds. Names are unique without regard to case
// (SQLite: NOCASE columns; Postgres: unique indexes on lower(name)). The room
// log is split in two tables that share one seq space per room: messages (a
// new message takes the room's next seq) and updates (an edit, delete or
// reaction takes the next seq and points at the message it changed).
// rooms.last_seq is the last seq taken, bumped by the statement that inserts
// into the log itself (SQLite: the triggers below; Postgres: an UPDATE in the
// same statement), so seqs have no gaps. Both tables are keyed by (room_id,
// seq), so History and Since are index range scans.
//
// rooms.name is empty for DM rooms (their name is the other member's, per
// viewer); dm_key is "lowID|highID" of the two users of a DM room, NULL
// otherwise. messages.client_id is NULL when the sender gave none;
// attachments is a space-separated list of file ids; reactions counts the
// rows in reactions, so that pages without any skip that table. The rowid
// (SQLite) or id (Postgres) orders reactions: emojis in first-reaction
// order, users in the order they reacted.
const schemaV1 = `
CREATE TABLE users (
	id            TEXT PRIMARY KEY,
	name          TEXT NOT NULL{{sqlite  COLLATE NOCASE UNIQUE}},
	role          TEXT NOT NULL,
	password_hash TEXT NOT NULL,
	created_at    {{int}} NOT NULL
);
{{postgres CREATE UNIQUE INDEX users_name ON users (lower(name));}}

CREATE TABLE sessions (
	id         TEXT PRIMARY KEY,
	user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	token_hash {{blob}} NOT NULL UNIQUE,
	created_at {{int}} NOT NULL
);
CREATE INDEX sessions_user ON sessions(user_id);

CREATE TABLE rooms (
	id         TEXT PRIMARY KEY,
	name       TEXT NOT NULL{{sqlite  COLLATE NOCASE}},
	kind       TEXT NOT NULL CHECK (kind IN ('public', 'private', 'dm')),
	last_seq   {{int}} NOT NULL DEFAULT 0,
	dm_key     TEXT UNIQUE,
	created_at {{int}} NOT NULL
);
CREATE UNIQUE INDEX rooms_name ON rooms({{name_key}}) WHERE kind <> 'dm';

CREATE TABLE members (
	room_id   TEXT NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
	user_id   TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	read_seq  {{int}} NOT NULL DEFAULT 0,
	joined_at {{int}} NOT NULL,
	PRIMARY KEY (room_id, user_id)
){{without_rowid}};
CREATE INDEX members_user ON members(user_id, room_id);

CREATE TABLE messages (
	room_id     TEXT NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
	seq         {{int}} NOT NULL,
	id          TEXT NOT NULL UNIQUE,
	kind        TEXT NOT NULL CHECK (kind IN ('chat', 'system')),
	sender_id   TEXT REFERENCES users(id),
	text        TEXT NOT NULL,
	ts          {{int}} NOT NULL,
	client_id   TEXT,
	edited_at   {{int}},
	deleted     {{bool}} NOT NULL DEFAULT {{false}},
	reply_to    TEXT,
	attachments TEXT NOT NULL DEFAULT '',
	reactions   INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (room_id, seq)
){{without_rowid}};
CREATE UNIQUE INDEX messages_client ON messages(sender_id, client_id) WHERE client_id IS NOT NULL;

CREATE TABLE updates (
	room_id    TEXT NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
	seq        {{int}} NOT NULL,
	message_id TEXT NOT NULL,
	PRIMARY KEY (room_id, seq)
){{without_rowid}};
{{sqlite
CREATE TRIGGER messages_seq AFTER INSERT ON messages BEGIN
	UPDATE rooms SET last_seq = NEW.seq WHERE id = NEW.room_id;
END;
CREATE TRIGGER updates_seq AFTER INSERT ON updates BEGIN
	UPDATE rooms SET last_seq = NEW.seq WHERE id = NEW.room_id;
END;}}

CREATE TABLE reactions ({{postgres
	id         BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,}}
	message_id TEXT NOT NULL,
	emoji      TEXT NOT NULL,
	user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	UNIQUE (message_id, emoji, user_id)
);
`

// schemaFiles adds uploaded files and the links of messages to them, the
// first half of step 3 (the dialects' search_schema is the other).
//
// files: one row per upload; several rows may name the same content
// (sha256), which the file store keeps once. message_files: which message,
// in which room, carries which file — the readers of a file are its
// uploader and the members of those rooms. A deleted message drops its
// rows.
const schemaFiles = `
CREATE TABLE files (
	id          TEXT PRIMARY KEY,
	name        TEXT NOT NULL,
	size        {{int}} NOT NULL,
	type        TEXT NOT NULL,
	sha256      TEXT NOT NULL,
	uploader_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	created_at  {{int}} NOT NULL
){{without_rowid}};
CREATE INDEX files_sha256 ON files(sha256);

CREATE TABLE message_files (
	message_id TEXT NOT NULL,
	file_id    TEXT NOT NULL REFERENCES files(id) ON DELETE CASCADE,
	room_id    TEXT NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
	PRIMARY KEY (message_id, file_id)
){{without_rowid}};
CREATE INDEX message_files_file ON message_files(file_id, room_id);
`

// schemaAccess is step 6: what opening an instance to the internet needs.
// sessions learn when they were last used and by what client (the user's
// list of sessions, idle expiry); settings holds the instance's own values
// (the sign-up invitation code); files are found by uploader (the upload
// quota) and by age (deleting uploads never attached), and released marks
// the files of deleted messages, which no longer count against the quota
// and are deleted with the unattached ones.
const schemaAccess = `
ALTER TABLE sessions ADD COLUMN last_seen {{int}} NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN user_agent TEXT NOT NULL DEFAULT '';
CREATE INDEX sessions_last_seen ON sessions(last_seen);
CREATE INDEX sessions_created ON sessions(created_at);

CREATE TABLE settings (
	key   TEXT PRIMARY KEY,
	value TEXT NOT NULL
);

ALTER TABLE files ADD COLUMN released {{bool}} NOT NULL DEFAULT {{false}};
CREATE INDEX files_uploader ON files(uploader_id, created_at);
CREATE INDEX files_created ON files(created_at);
`

// accessStep applies schemaAccess. Sessions made before it count as used at
// the upgrade: their real last use is unknown, and the idle expiry should
// not sign everyone out at the first start.
func accessStep(ctx context.Context, q db, now time.Time) error {
	if _, err := q.exec(ctx, schemaAccess); err != nil {
		return err
	}
	_, err := q.exec(ctx, `UPDATE sessions SET last_seen = $1`, now.UnixMilli())
	return err
}

func ddl(sqlText string) step {
	return func(ctx context.Context, q db, _ time.Time) error {
		_, err := q.exec(ctx, sqlText)
		return err
	}
}

// createGeneral creates the public room every new user joins.
func createGeneral(ctx context.Context, q db, now time.Time) error {
	_, err := q.exec(ctx, `INSERT INTO rooms (id, name, kind, created_at) VALUES ($1, $2, 'public', $3)`,
		store.NewID("r_"), protocol.DefaultRoom, now.UnixMilli())
	return err
}

// versions reads and records how many steps a database has applied.
type versions interface {
	version(ctx context.Context, q db) (int, error)
	record(ctx context.Context, q db, version int) error
}

// migrate applies the pending steps inside the transaction q, which the
// dialect has begun (and made exclusive to one migrator). Running it on an
// up-to-date database changes nothing; a database written by a newer
// program is refused.
func migrate(ctx context.Context, q db, v versions, now time.Time) error {
	version, err := v.version(ctx, q)
	if err != nil {
		return fmt.Errorf("migrate: read version: %w", err)
	}
	if version > len(steps) {
		return fmt.Errorf("migrate: database schema version %d is newer than this program's %d", version, len(steps))
	}
	for i := version; i < len(steps); i++ {
		if err := steps[i](ctx, q, now); err != nil {
			return fmt.Errorf("migrate: step %d: %w", i+1, err)
		}
		if err := v.record(ctx, q, i+1); err != nil {
			return fmt.Errorf("migrate: record step %d: %w", i+1, err)
		}
	}
	return nil
}
