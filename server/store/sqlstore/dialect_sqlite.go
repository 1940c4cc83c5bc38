package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"

	"modernc.org/sqlite" // registers the "sqlite" driver
	sqlite3 "modernc.org/sqlite/lib"

	"minichat/server/store"
)

// sqliteDB is the SQLite dialect: one file, one write connection owned by
// the writer, a pool of read-only connections beside it (WAL lets them
// run while the writer writes).
type sqliteDB struct {
	wdb    *sql.DB // holds exactly one connection: wconn
	wconn  *sql.Conn
	writes *stmtCache // on wconn: the writer's, and only its
	rdb    *sql.DB
	reads  *stmtCache // on rdb
}

// sqliteMarks render the statements' markers for SQLite.
var sqliteMarks = marks{
	// Names are NOCASE columns: a plain comparison folds case and uses the
	// unique index.
	// NOCASE already orders lowered names by their bytes.
	"bytes": "",
	"lower": "",
	// Lists travel as one JSON array.
	"in":   "IN (SELECT value FROM json_each(%s))",
	"each": "json_each(%s)",
	// Taking a room's next seq: the insert reads last_seq + 1, and the
	// table's trigger (schemaV1) stores it back, inside the one statement.
	"seq_with": "",
	"seq":      "last_seq + 1",
	"seq_from": " FROM rooms WHERE id = $1",
	// The rowid orders reactions.
	"reaction_order": "r.rowid",
	// One send at a time.
	"send_rows": "(SELECT $1 AS room_id, $2 AS sender_id, $3 AS client_id, $4 AS reply_to, 1 AS ord) t",
	// The schema.
	"int":           "INTEGER",
	"bool":          "INTEGER",
	"false":         "0",
	"blob":          "BLOB",
	"name_key":      "name",
	"without_rowid": " WITHOUT ROWID",
	"sqlite":        "%s",
	"postgres":      "",
	"search_schema": sqliteSearchSchema,
	// Indexing at commit (indexNew) instead of in the INSERT's trigger:
	// FTS5 writes its pending index data at every savepoint, and inside a
	// transaction a statement with a trigger is one, so each message wrote
	// a segment of its own and merged it — most of the time of a send.
	// Edits and deletes keep their trigger.
	"schema_5": "DROP TRIGGER messages_search_insert",
	// The other members of a direct-message room as viewer $1 sees them
	// (roomCols), by name (NOCASE): group_concat keeps the order of the
	// subquery it reads.
	"dm_names": `(SELECT group_concat(n, ', ') FROM (SELECT u.name AS n FROM members o JOIN users u ON u.id = o.user_id
		WHERE o.room_id = r.id AND o.user_id <> $1 ORDER BY u.name))`,
}

// sqliteSearchSchema is the search half of step 3: the full-text index of
// chat messages, and the indexing of the existing messages.
//
// search_docs gives every chat message a doc number in the order messages
// were posted, and search_text (FTS5, contentless: it keeps the index, not
// a copy of the text) maps words to doc numbers; its room column indexes
// the room id too, so a search in one room intersects two lists of the
// index instead of checking every match's room. A search walks the matches
// from the highest doc down, so the newest come first. Triggers keep both
// up to date inside the statements that edit and delete messages, so the
// index changes in the same transaction as the messages: an edit is found
// by its new text only, a deleted message not at all.
const sqliteSearchSchema = `
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

// readConns is the size of the read connection pool.
const readConns = 8

// sqliteDSN builds the connection string of path. synchronous=FULL makes
// SQLite fsync the WAL at every commit, so an acknowledged write survives a
// crash of the process and a power loss; with group commit the fsync is
// shared by every write of a batch, so FULL costs little throughput.
func sqliteDSN(path string, readOnly bool) string {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "synchronous(FULL)")
	q.Add("_pragma", "foreign_keys(1)")
	if readOnly {
		q.Add("_pragma", "query_only(1)")
	} else {
		// The writer touches index pages all over the file; a 64 MiB page
		// cache (default 2 MiB) keeps them from being read back.
		q.Add("_pragma", "cache_size(-65536)")
		// A checkpoint copies the WAL's pages into the database file, on
		// the writer's commit path. Every batch rewrites the same pages
		// (the rooms' last_seq, the last leaf of each index); the default,
		// a checkpoint every 1,000 pages (4 MiB), copied them over and over
		// — 12 % of the writer's CPU. Every 16,000 pages (64 MiB) copies
		// each of them once per 16,000: 25-30 % more sends a second into
		// 100 rooms (BenchmarkSendGroupCommitRooms). The WAL file is cut
		// back to 64 MiB whenever it restarts.
		q.Add("_pragma", "wal_autocheckpoint(16000)")
		q.Add("_pragma", "journal_size_limit(67108864)")
	}
	return "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + q.Encode()
}

// OpenSQLite opens (creating if needed) the SQLite database at path,
// applies pending schema migrations in one transaction (the first creates
// the "general" room) and starts the writer. The caller must Close the
// Store.
func OpenSQLite(path string, opts store.Options) (*Store, error) {
	opts = defaults(opts)
	d := &sqliteDB{}
	if err := d.open(path, opts); err != nil {
		d.close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	return start(d, opts), nil
}

func (d *sqliteDB) open(path string, opts store.Options) error {
	var err error
	if d.wdb, err = sql.Open("sqlite", sqliteDSN(path, false)); err != nil {
		return err
	}
	// The writer owns the one and only write connection; nothing else may
	// take it from the pool.
	d.wdb.SetMaxOpenConns(1)
	d.wdb.SetConnMaxLifetime(0)
	d.wdb.SetConnMaxIdleTime(0)
	ctx := context.Background()
	if d.wconn, err = d.wdb.Conn(ctx); err != nil {
		return err
	}
	// WAL mode is a setting kept in the file, so the read connections find
	// it too.
	var mode string
	if err := d.wconn.QueryRowContext(ctx, "PRAGMA journal_mode = WAL").Scan(&mode); err != nil {
		return fmt.Errorf("set WAL mode: %w", err)
	}
	if mode != "wal" {
		return fmt.Errorf("set WAL mode: journal mode is %q", mode)
	}
	if err := d.migrate(ctx, opts); err != nil {
		return err
	}
	if d.rdb, err = sql.Open("sqlite", sqliteDSN(path, true)); err != nil {
		return err
	}
	d.rdb.SetMaxOpenConns(readConns)
	d.rdb.SetMaxIdleConns(readConns)
	d.rdb.SetConnMaxLifetime(0)
	d.rdb.SetConnMaxIdleTime(0)
	d.writes, d.reads = newStmtCache(d.wconn), newStmtCache(d.rdb)
	// The writer's statements run to the end whatever the batch's context
	// says: a write taken is completed. A context that cannot end also
	// spares each statement the driver's watch for an interrupt, a
	// goroutine per statement.
	d.writes.fixed = context.Background()
	return nil
}

// migrate applies the pending schema steps in one transaction.
func (d *sqliteDB) migrate(ctx context.Context, opts store.Options) (err error) {
	c := sqlConn{d.wconn}
	if _, err := c.exec(ctx, "BEGIN IMMEDIATE"); err != nil {
		return fmt.Errorf("migrate: begin: %w", err)
	}
	defer func() {
		if err != nil {
			_, _ = c.exec(ctx, "ROLLBACK")
		}
	}()
	if err := migrate(ctx, c, sqliteVersions{}, opts.Now()); err != nil {
		return err
	}
	if _, err := c.exec(ctx, "COMMIT"); err != nil {
		return fmt.Errorf("migrate: commit: %w", err)
	}
	return nil
}

// sqliteVersions keeps the number of applied steps in PRAGMA user_version,
// which changes with the transaction.
type sqliteVersions struct{}

func (sqliteVersions) version(ctx context.Context, q db) (int, error) {
	var v int
	err := q.queryRow(ctx, "PRAGMA user_version").Scan(&v)
	return v, err
}

func (sqliteVersions) record(ctx context.Context, q db, version int) error {
	// PRAGMA takes no bound parameters; the value is our own integer.
	_, err := q.exec(ctx, fmt.Sprintf("PRAGMA user_version = %d", version))
	return err
}

func (d *sqliteDB) reader() db    { return d.reads }
func (d *sqliteDB) maxBatch() int { return 1024 }

func (d *sqliteDB) list(ids []string) any {
	b, _ := json.Marshal(ids) // strings always marshal
	return string(b)
}

// begin starts a batch: the one writer needs no locks of rows.
func (d *sqliteDB) begin(ctx context.Context, _ []string) (batchTx, error) {
	if _, err := d.writes.exec(ctx, "BEGIN IMMEDIATE"); err != nil {
		return nil, err
	}
	return sqliteTx{d.writes}, nil
}

// sqliteTx is a batch transaction on the writer's connection.
type sqliteTx struct{ *stmtCache }

func (t sqliteTx) commit(ctx context.Context) error {
	_, err := t.exec(ctx, "COMMIT")
	return err
}

func (t sqliteTx) rollback(ctx context.Context) { _, _ = t.exec(ctx, "ROLLBACK") }

// retryable: one writer never races another.
func (d *sqliteDB) retryable(error) bool { return false }

func (d *sqliteDB) unique(err error) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && (se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || se.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY)
}

// sendFacts reads the facts of each send with one statement of its own:
// the connection is in-process, so a statement costs microseconds.
func (d *sqliteDB) sendFacts(w *wtx, ws []*sendWork) error {
	for i, sw := range ws {
		var files map[string]store.File
		if len(sw.req.Attachments) > 0 {
			var err error
			if files, err = filesByID(w.ctx, w.db, d.list(sw.req.Attachments)); err != nil {
				return err
			}
		}
		r := w.db.queryRow(w.ctx, sendFactsSQL, sw.req.RoomID, sw.req.SenderID, nullString(sw.req.ClientID), nullString(sw.req.ReplyTo))
		if _, err := scanSendFacts(w, r, ws[i:i+1]); err != nil {
			return err
		}
		w.decide(sw, files)
	}
	return nil
}

// insertSends stores each message with its own INSERT. One INSERT (the
// seq's trigger included) is atomic, so a send without attachments needs
// no savepoint: a failure leaves nothing behind, and the other sends go on.
// The links to attachments are more statements, which a savepoint keeps
// with their message.
func (d *sqliteDB) insertSends(w *wtx, ws []*sendWork) error {
	for _, sw := range ws {
		if len(sw.req.Attachments) == 0 {
			sw.err = w.insertMessage(sw)
		} else {
			sw.err = w.savepoint(func() error {
				if err := w.insertMessage(sw); err != nil {
					return err
				}
				return w.linkFiles(sw)
			})
		}
		if sw.err == nil {
			w.newChat = append(w.newChat, sw.msg.ID)
		}
	}
	return nil
}

// beforeCommit adds the chat messages of the batch to the search index, in
// the batch's transaction: two statements for the whole batch, so FTS5
// flushes its index once per commit rather than once per message. (No
// message can be edited or deleted in the batch that stores it: its id is
// known only once the batch has committed.)
func (d *sqliteDB) beforeCommit(ctx context.Context, w *wtx) error {
	if len(w.newChat) == 0 {
		return nil
	}
	list := d.list(w.newChat)
	if _, err := w.db.exec(ctx, `INSERT INTO search_docs (message_id, room_id)
		SELECT m.id, m.room_id FROM json_each($1) j JOIN messages m ON m.id = j.value
		WHERE m.deleted = 0 ORDER BY j.key`, list); err != nil {
		return fmt.Errorf("index messages: %w", err)
	}
	if _, err := w.db.exec(ctx, `INSERT INTO search_text (rowid, text, room)
		SELECT d.doc, m.text, m.room_id FROM json_each($1) j
		JOIN search_docs d ON d.message_id = j.value JOIN messages m ON m.id = j.value
		WHERE m.text <> ''`, list); err != nil {
		return fmt.Errorf("index messages: %w", err)
	}
	return nil
}

// maxRoomFilter is the most rooms a search names in its MATCH expression.
const maxRoomFilter = 32

// scopeRooms are the ids of the rooms of scope $1 (user), $2 (public).
const scopeRooms = `SELECT id FROM rooms WHERE $2 AND kind = 'public' UNION SELECT room_id FROM members WHERE user_id = $1`

// search walks the index's matches from the newest doc down, keeping those
// of the rooms searched, until it has limit. When those are few, the index
// itself is told which rooms, so matches elsewhere are skipped inside FTS5
// rather than looked up one by one; otherwise most matches are in them and
// the walk ends early anyway.
func (d *sqliteDB) search(ctx context.Context, q db, req store.SearchRequest, limit int) ([]scanned, error) {
	rooms := scopeRooms
	filter := []string{req.RoomID}
	if req.RoomID != "" {
		rooms = `SELECT $5`
	} else {
		ids, err := queryStrings(ctx, q, scopeRooms+` LIMIT $3`, req.Scope.UserID, req.Scope.Public, maxRoomFilter+1)
		if err != nil {
			return nil, err
		}
		if len(ids) == 0 {
			return nil, nil
		}
		var outside bool
		if err := q.queryRow(ctx, `SELECT EXISTS (SELECT 1 FROM rooms r WHERE NOT ($2 AND r.kind = 'public')
			AND NOT EXISTS (SELECT 1 FROM members m WHERE m.room_id = r.id AND m.user_id = $1))`,
			req.Scope.UserID, req.Scope.Public).Scan(&outside); err != nil {
			return nil, err
		}
		filter = nil
		if outside && len(ids) <= maxRoomFilter {
			filter = ids
		}
	}
	return queryMessages(ctx, q, `SELECT `+msgCols+` FROM (
			SELECT d.doc, d.message_id FROM search_text t JOIN search_docs d ON d.doc = t.rowid
			WHERE search_text MATCH $4 AND d.room_id IN (`+rooms+`)
			ORDER BY t.rowid DESC LIMIT $3) f
		JOIN messages m ON m.id = f.message_id LEFT JOIN users u ON u.id = m.sender_id
		ORDER BY f.doc DESC`,
		req.Scope.UserID, req.Scope.Public, limit, matchExpr(req.Terms, filter), req.RoomID)
}

// matchExpr renders search terms as an FTS5 MATCH expression on the text
// column: every term a quoted string (a phrase of its words, or one word),
// joined by spaces, which FTS5 reads as AND. Inside a string only '"' is
// special, and it is doubled, so no term can produce an FTS5 syntax error.
// With rooms the room column must hold one of them too.
func matchExpr(terms []string, rooms []string) string {
	var b strings.Builder
	if len(rooms) > 0 {
		b.WriteString("room : (")
		for i, r := range rooms {
			if i > 0 {
				b.WriteString(" OR ")
			}
			quote(&b, r)
		}
		b.WriteString(") AND ")
	}
	b.WriteString("text : (")
	for i, t := range terms {
		if i > 0 {
			b.WriteByte(' ')
		}
		quote(&b, t)
	}
	b.WriteByte(')')
	return b.String()
}

func quote(b *strings.Builder, s string) {
	b.WriteByte('"')
	b.WriteString(strings.ReplaceAll(s, `"`, `""`))
	b.WriteByte('"')
}

func (d *sqliteDB) close() error {
	if d.reads != nil {
		d.reads.close()
	}
	if d.writes != nil {
		d.writes.close()
	}
	var errs []error
	if d.wconn != nil {
		errs = append(errs, d.wconn.Close())
	}
	if d.wdb != nil {
		errs = append(errs, d.wdb.Close())
	}
	if d.rdb != nil {
		errs = append(errs, d.rdb.Close())
	}
	return errors.Join(errs...)
}

// sqlConn runs statements on a database/sql connection as they are, for
// the schema's steps (several statements in one).
type sqlConn struct{ c *sql.Conn }

func (c sqlConn) exec(ctx context.Context, q string, args ...any) (int64, error) {
	return affected(c.c.ExecContext(ctx, sqliteMarks.render(q), args...))
}

func (c sqlConn) query(ctx context.Context, q string, args ...any) (rows, error) {
	return sqlRows(c.c.QueryContext(ctx, sqliteMarks.render(q), args...))
}

func (c sqlConn) queryRow(ctx context.Context, q string, args ...any) row {
	return c.c.QueryRowContext(ctx, sqliteMarks.render(q), args...)
}

func affected(res sql.Result, err error) (int64, error) {
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// sqlRows turns a database/sql result set into rows.
func sqlRows(rs *sql.Rows, err error) (rows, error) {
	if err != nil {
		return nil, err
	}
	return closer{rs}, nil
}

// closer is a database/sql result set whose Close returns nothing, as rows
// have it.
type closer struct{ *sql.Rows }

func (r closer) Close() { _ = r.Rows.Close() }

// preparer is what both *sql.DB and *sql.Conn offer.
type preparer interface {
	PrepareContext(ctx context.Context, query string) (*sql.Stmt, error)
}

// stmtCache runs statements through prepared statements kept for the life
// of the connection (or pool), keyed by their text: SQLite spends much of a
// small statement's time preparing it.
type stmtCache struct {
	c preparer
	// fixed, when set, replaces the context of every call (the writer's).
	fixed context.Context
	mu    sync.Mutex // guards m
	m     map[string]*sql.Stmt
}

func newStmtCache(c preparer) *stmtCache {
	return &stmtCache{c: c, m: make(map[string]*sql.Stmt)}
}

// stmt returns the prepared statement of q and the context to run it in.
func (c *stmtCache) stmt(ctx context.Context, q string) (context.Context, *sql.Stmt, error) {
	if c.fixed != nil {
		ctx = c.fixed
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if st, ok := c.m[q]; ok {
		return ctx, st, nil
	}
	st, err := c.c.PrepareContext(ctx, sqliteMarks.render(q))
	if err != nil {
		return ctx, nil, fmt.Errorf("prepare %q: %w", q, err)
	}
	c.m[q] = st
	return ctx, st, nil
}

func (c *stmtCache) exec(ctx context.Context, q string, args ...any) (int64, error) {
	ctx, st, err := c.stmt(ctx, q)
	if err != nil {
		return 0, err
	}
	return affected(st.ExecContext(ctx, args...))
}

func (c *stmtCache) query(ctx context.Context, q string, args ...any) (rows, error) {
	ctx, st, err := c.stmt(ctx, q)
	if err != nil {
		return nil, err
	}
	return sqlRows(st.QueryContext(ctx, args...))
}

func (c *stmtCache) queryRow(ctx context.Context, q string, args ...any) row {
	ctx, st, err := c.stmt(ctx, q)
	if err != nil {
		return errRow{err}
	}
	return st.QueryRowContext(ctx, args...)
}

func (c *stmtCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for q, st := range c.m {
		st.Close()
		delete(c.m, q)
	}
}

// errRow is a row that failed before it ran.
type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }
