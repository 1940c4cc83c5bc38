// Package migrate copies a single-node installation's SQLite database into
// an empty PostgreSQL database, for moving to several nodes on Postgres.
//
// Everything is copied with its ids, so sessions (tokens), links and seqs
// stay valid: users with their password hashes, disabled flags and profiles
// (the avatars' files stay in the data dir, as uploads do), sessions,
// rooms with their last seqs, memberships with read markers, messages with
// their seqs, edits, tombstones, reply_to and attachments, the log's update
// entries, reactions in their order, and file records with their links to
// messages. The uploaded files' content stays in the data dir (it is named by
// SHA256 and is not in the database).
//
// The source is read in one read transaction, so it is a consistent
// snapshot even if a server still runs on it (stop the server first anyway:
// what it writes after the snapshot is not copied). The target is written in
// one transaction, in batches through COPY: a failed migration leaves the
// target as it found it. Before committing, the row count of every table is
// compared with the source's, and every room's last seq with its log.
package migrate

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net/url"
	"time"

	"github.com/jackc/pgx/v5"

	"minichat/server/store"
	"minichat/server/store/sqlstore"
)

// BatchRows is how many rows go to Postgres in one COPY.
const BatchRows = 5000

// table is one table to copy: the same columns on both sides, read from
// SQLite in a fixed order. bools names the columns SQLite stores as 0/1.
type table struct {
	name  string
	cols  []string
	order string
	bools map[string]bool
}

// tables in an order that satisfies the foreign keys.
var tables = []table{
	{name: "users", cols: []string{"id", "name", "role", "password_hash", "created_at", "disabled", "bot",
		"display_name", "display_key", "status_text", "avatar", "notify_paused_until"}, order: "created_at, id",
		bools: map[string]bool{"disabled": true, "bot": true}},
	{name: "sessions", cols: []string{"id", "user_id", "token_hash", "created_at", "last_seen", "user_agent"}, order: "created_at, id"},
	{name: "settings", cols: []string{"key", "value"}, order: "key"},
	{name: "rooms", cols: []string{"id", "name", "kind", "last_seq", "dm_key", "created_at", "topic", "archived", "created_by", "member_count"}, order: "created_at, id",
		bools: map[string]bool{"archived": true}},
	{name: "members", cols: []string{"room_id", "user_id", "read_seq", "joined_at", "notify"}, order: "room_id, user_id"},
	// Push devices move; the outbox of pushes not yet sent does not.
	{name: "push_subscriptions", cols: []string{"id", "user_id", "endpoint", "p256dh", "auth", "label", "created_at", "last_success_at"}, order: "created_at, id"},
	{name: "messages", cols: []string{"room_id", "seq", "id", "kind", "sender_id", "text", "ts", "client_id",
		"edited_at", "deleted", "reply_to", "attachments", "reactions", "style", "via", "preview"}, order: "room_id, seq",
		bools: map[string]bool{"deleted": true}},
	{name: "updates", cols: []string{"room_id", "seq", "message_id"}, order: "room_id, seq"},
	// rowid order is the reactions' order; Postgres numbers them anew in
	// the order they arrive.
	{name: "reactions", cols: []string{"message_id", "emoji", "user_id"}, order: "rowid"},
	{name: "files", cols: []string{"id", "name", "size", "type", "sha256", "uploader_id", "created_at", "released"}, order: "created_at, id",
		bools: map[string]bool{"released": true}},
	{name: "message_files", cols: []string{"message_id", "file_id", "room_id"}, order: "message_id, file_id"},
	{name: "api_tokens", cols: []string{"id", "user_id", "name", "scope", "token_hash", "created_at", "last_used", "expires_at"}, order: "created_at, id"},
	{name: "bots", cols: []string{"user_id", "owner_id", "display_name", "avatar", "webhook_url", "secret", "created_at"}, order: "created_at, user_id"},
	{name: "bot_deliveries", cols: []string{"id", "bot_id", "message_id", "room_id", "at", "ok", "status", "error", "attempts"}, order: "at, id",
		bools: map[string]bool{"ok": true}},
	// Step 13: incoming webhooks and the link-preview cache.
	{name: "hooks", cols: []string{"id", "room_id", "creator_id", "name", "secret_hash", "created_at"}, order: "created_at, id"},
	{name: "link_previews", cols: []string{"url", "ok", "title", "description", "image", "fetched_at"}, order: "url",
		bools: map[string]bool{"ok": true}},
}

// Report counts the rows copied, per table, in copy order.
type Report struct {
	Tables []TableCount
	Took   time.Duration
}

// TableCount is the number of rows of one table.
type TableCount struct {
	Table string
	Rows  int64
}

// ErrNotEmpty is returned when the target already holds data.
var ErrNotEmpty = errors.New("the target database is not empty")

// SQLiteToPostgres copies the SQLite database at sqlitePath into the
// Postgres database at pgURL, which must be empty: no users, no messages and
// no rooms but the "general" room a fresh schema creates. Both schemas are
// first brought to this program's version. Progress lines go to progress.
func SQLiteToPostgres(ctx context.Context, sqlitePath, pgURL string, progress io.Writer) (Report, error) {
	start := time.Now()
	var rep Report
	// Opening the SQLite store migrates its schema to this version (as
	// serve would), so its tables have the columns copied below.
	src, err := sqlstore.OpenSQLite(sqlitePath, store.Options{})
	if err != nil {
		return rep, fmt.Errorf("source: %w", err)
	}
	if err := src.Close(); err != nil {
		return rep, fmt.Errorf("source: %w", err)
	}
	// Likewise the target gets this version's schema.
	dst, err := sqlstore.OpenPostgres(ctx, pgURL, store.Options{})
	if err != nil {
		return rep, fmt.Errorf("target: %w", err)
	}
	if err := dst.Close(); err != nil {
		return rep, fmt.Errorf("target: %w", err)
	}

	sdb, err := sql.Open("sqlite", "file:"+(&url.URL{Path: sqlitePath}).EscapedPath()+"?mode=ro&_pragma=busy_timeout(10000)")
	if err != nil {
		return rep, fmt.Errorf("source: %w", err)
	}
	defer sdb.Close()
	sconn, err := sdb.Conn(ctx)
	if err != nil {
		return rep, fmt.Errorf("source: %w", err)
	}
	defer sconn.Close()
	// One read transaction: every table from the same snapshot.
	stx, err := sconn.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return rep, fmt.Errorf("source: %w", err)
	}
	defer stx.Rollback()

	cfg, err := sqlstore.ParseConfig(pgURL)
	if err != nil {
		return rep, err
	}
	pc, err := pgx.ConnectConfig(ctx, cfg.ConnConfig)
	if err != nil {
		return rep, fmt.Errorf("target: %w", err)
	}
	defer pc.Close(context.WithoutCancel(ctx))
	ptx, err := pc.Begin(ctx)
	if err != nil {
		return rep, fmt.Errorf("target: %w", err)
	}
	defer ptx.Rollback(context.WithoutCancel(ctx))

	if err := checkEmpty(ctx, ptx); err != nil {
		return rep, err
	}
	// The fresh schema's own general room makes way for the source's.
	if _, err := ptx.Exec(ctx, `DELETE FROM rooms`); err != nil {
		return rep, fmt.Errorf("target: %w", err)
	}
	for _, t := range tables {
		n, err := copyTable(ctx, stx, ptx, t, progress)
		if err != nil {
			return rep, fmt.Errorf("copy %s: %w", t.name, err)
		}
		rep.Tables = append(rep.Tables, TableCount{Table: t.name, Rows: n})
	}
	if err := verify(ctx, stx, ptx, rep); err != nil {
		return rep, err
	}
	if err := ptx.Commit(ctx); err != nil {
		return rep, fmt.Errorf("target: commit: %w", err)
	}
	// Fresh planner statistics for the tables just filled, so the first
	// queries do not run on the estimates of empty tables.
	names := ""
	for i, t := range tables {
		if i > 0 {
			names += ", "
		}
		names += pgx.Identifier{t.name}.Sanitize()
	}
	if _, err := pc.Exec(ctx, "ANALYZE "+names); err != nil {
		return rep, fmt.Errorf("target: analyze: %w", err)
	}
	rep.Took = time.Since(start)
	return rep, nil
}

// checkEmpty refuses a target with any account, message or room other than
// an unused general room.
func checkEmpty(ctx context.Context, tx pgx.Tx) error {
	var users, messages, rooms, members, files int64
	err := tx.QueryRow(ctx, `SELECT (SELECT COUNT(*) FROM users), (SELECT COUNT(*) FROM messages),
		(SELECT COUNT(*) FROM rooms), (SELECT COUNT(*) FROM members), (SELECT COUNT(*) FROM files)`).
		Scan(&users, &messages, &rooms, &members, &files)
	if err != nil {
		return fmt.Errorf("target: %w", err)
	}
	if users > 0 || messages > 0 || rooms > 1 || members > 0 || files > 0 {
		return fmt.Errorf("%w (%d users, %d rooms, %d messages): migrate copies into an empty database only",
			ErrNotEmpty, users, rooms, messages)
	}
	return nil
}

// copyTable streams a table out of SQLite and into Postgres with COPY, in
// batches of BatchRows, and returns the number of rows copied.
func copyTable(ctx context.Context, src *sql.Tx, dst pgx.Tx, t table, progress io.Writer) (int64, error) {
	cols := ""
	for i, c := range t.cols {
		if i > 0 {
			cols += ", "
		}
		cols += c
	}
	rows, err := src.QueryContext(ctx, "SELECT "+cols+" FROM "+t.name+" ORDER BY "+t.order)
	if err != nil {
		return 0, fmt.Errorf("read: %w", err)
	}
	defer rows.Close()
	var (
		total int64
		batch [][]any
	)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		n, err := dst.CopyFrom(ctx, pgx.Identifier{t.name}, t.cols, pgx.CopyFromRows(batch))
		if err != nil {
			return fmt.Errorf("write: %w", err)
		}
		total += n
		batch = batch[:0]
		if progress != nil {
			fmt.Fprintf(progress, "%s: %d rows\n", t.name, total)
		}
		return nil
	}
	for rows.Next() {
		vals := make([]any, len(t.cols))
		ptrs := make([]any, len(t.cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return total, fmt.Errorf("read: %w", err)
		}
		for i, c := range t.cols {
			if t.bools[c] {
				vals[i] = truthy(vals[i])
			}
		}
		batch = append(batch, vals)
		if len(batch) == BatchRows {
			if err := flush(); err != nil {
				return total, err
			}
		}
	}
	if err := rows.Err(); err != nil {
		return total, fmt.Errorf("read: %w", err)
	}
	if err := flush(); err != nil {
		return total, err
	}
	if total == 0 && progress != nil {
		fmt.Fprintf(progress, "%s: 0 rows\n", t.name)
	}
	return total, nil
}

// truthy turns SQLite's 0/1 into a bool.
func truthy(v any) bool {
	switch v := v.(type) {
	case int64:
		return v != 0
	case bool:
		return v
	default:
		return false
	}
}

// verify compares every table's row count in the target with the source's
// and checks that every room's last seq is the end of its log.
func verify(ctx context.Context, src *sql.Tx, dst pgx.Tx, rep Report) error {
	for _, tc := range rep.Tables {
		var want, got int64
		if err := src.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+tc.Table).Scan(&want); err != nil {
			return fmt.Errorf("verify %s: %w", tc.Table, err)
		}
		if err := dst.QueryRow(ctx, "SELECT COUNT(*) FROM "+pgx.Identifier{tc.Table}.Sanitize()).Scan(&got); err != nil {
			return fmt.Errorf("verify %s: %w", tc.Table, err)
		}
		if got != want || tc.Rows != want {
			return fmt.Errorf("verify %s: the source has %d rows, %d were copied, the target has %d", tc.Table, want, tc.Rows, got)
		}
	}
	var bad int64
	if err := dst.QueryRow(ctx, `SELECT COUNT(*) FROM rooms r WHERE r.last_seq <> GREATEST(
		(SELECT COALESCE(MAX(seq), 0) FROM messages m WHERE m.room_id = r.id),
		(SELECT COALESCE(MAX(seq), 0) FROM updates l WHERE l.room_id = r.id))`).Scan(&bad); err != nil {
		return fmt.Errorf("verify seqs: %w", err)
	}
	if bad > 0 {
		return fmt.Errorf("verify seqs: %d rooms have a last seq that is not the end of their log", bad)
	}
	return nil
}
