package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"minichat/server/store"
)

// pgDB is the Postgres dialect: a pool of read connections, and one
// connection of the writer's own, so that a crowd of readers (a reconnect
// storm's room lists and replays) never delays commits.
type pgDB struct {
	pool, wpool *pgxpool.Pool
	r           *renderCache
	reads       *pgQ // on pool
}

// pgMarks render the statements' markers for Postgres.
var pgMarks = marks{
	// Names are unique through indexes on lower(name).
	// Byte order of lowered names, whatever the database's collation
	// (the people search pages by it).
	"bytes": ` COLLATE "C"`,
	"lower": "lower",
	// Lists travel as one text array.
	"in":   "= ANY(%s)",
	"each": "unnest(%s::text[]) AS f(value)",
	// Taking a room's next seq: the UPDATE locks the room's row until the
	// transaction ends, so concurrent writers of the room (on any node)
	// take seqs one after another, and a statement that fails leaves
	// last_seq as it was.
	"seq_with": "WITH next AS (UPDATE rooms SET last_seq = last_seq + 1 WHERE id = $1 RETURNING last_seq) ",
	"seq":      "last_seq",
	"seq_from": " FROM next",
	// The id column orders reactions.
	"reaction_order": "r.id",
	// A row of sends, as arrays.
	"send_rows": "unnest($1::text[], $2::text[], $3::text[], $4::text[]) WITH ORDINALITY AS t(room_id, sender_id, client_id, reply_to, ord)",
	// The schema.
	"int":           "BIGINT",
	"bool":          "BOOLEAN",
	"false":         "false",
	"blob":          "BYTEA",
	"name_key":      "lower(name)",
	"without_rowid": "",
	"sqlite":        "",
	"postgres":      "%s",
	"search_schema": pgSearchSchema,
	// Messages newest first across rooms, so that a search for a common
	// word walks back from the newest message and stops at the limit
	// instead of sorting every match.
	"schema_5": "CREATE INDEX messages_ts ON messages (ts, id)",
	// The other members of a direct-message room as viewer $1 sees them
	// (roomCols), by name.
	"dm_names": `(SELECT string_agg(u.name, ', ' ORDER BY lower(u.name)) FROM members o JOIN users u ON u.id = o.user_id
		WHERE o.room_id = r.id AND o.user_id <> $1)`,
}

// pgSearchSchema is the search half of step 3: a generated tsvector of every
// chat message that is not deleted ('simple' configuration: words
// lowercased, no stemming, no stop words), with a GIN index.
const pgSearchSchema = `
ALTER TABLE messages ADD COLUMN search tsvector GENERATED ALWAYS AS (
	CASE WHEN kind = 'chat' AND NOT deleted THEN to_tsvector('simple'::regconfig, text) END) STORED;
CREATE INDEX messages_search ON messages USING gin (search);
`

// idleInTransaction is the writer connection's default
// idle_in_transaction_session_timeout.
const idleInTransaction = "10s"

// minConns is the smallest pool_max_conns that works: one connection for
// the writer, at least one for reads.
const minConns = 2

// ParseConfig parses a postgres:// URL (or key=value DSN) into a pool
// configuration. Pool settings come from the URL's pool_* parameters
// (pool_max_conns, pool_min_conns, pool_max_conn_lifetime,
// pool_max_conn_idle_time, pool_health_check_period); without
// pool_max_conns the pool holds at most max(4, number of CPUs) connections.
// Other parameters are session settings (search_path, …); jit is off unless
// the URL sets it.
func ParseConfig(url string) (*pgxpool.Config, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// pgconn's parse errors quote the URL with the password redacted.
		return nil, fmt.Errorf("postgres url: %w", err)
	}
	// The store's queries are short; JIT compiling one (the room list's
	// estimated cost crosses jit_above_cost on a large log) takes hundreds
	// of milliseconds, far longer than running it. A jit setting in the URL
	// wins.
	if _, ok := cfg.ConnConfig.RuntimeParams["jit"]; !ok {
		cfg.ConnConfig.RuntimeParams["jit"] = "off"
	}
	if cfg.MaxConns < minConns {
		return nil, fmt.Errorf("postgres url: pool_max_conns %d is too small: the store needs at least %d", cfg.MaxConns, minConns)
	}
	return cfg, nil
}

// OpenPostgres connects to the database at url, applies pending schema
// migrations (under an advisory lock, so that several nodes starting at once
// apply each step once; the first creates the "general" room) and starts
// the writer. The caller must Close the Store.
func OpenPostgres(ctx context.Context, url string, opts store.Options) (*Store, error) {
	cfg, err := ParseConfig(url)
	if err != nil {
		return nil, err
	}
	return OpenPostgresConfig(ctx, cfg, opts)
}

// OpenPostgresConfig is OpenPostgres with a parsed pool configuration.
func OpenPostgresConfig(ctx context.Context, cfg *pgxpool.Config, opts store.Options) (*Store, error) {
	opts = defaults(opts)
	if cfg.MaxConns < minConns {
		return nil, fmt.Errorf("open postgres: pool_max_conns %d is too small: the store needs at least %d", cfg.MaxConns, minConns)
	}
	wcfg := cfg.Copy()
	wcfg.MaxConns, wcfg.MinConns = 1, 0
	// A writer that stops between the statements of a batch (its node
	// frozen, its link gone quiet) holds the row locks of the batch's
	// rooms, and every other node's writes to those rooms wait on it: the
	// server ends such a transaction after this long. A healthy batch
	// waits on the network between statements, never for seconds. A
	// setting in the URL wins.
	if _, ok := wcfg.ConnConfig.RuntimeParams["idle_in_transaction_session_timeout"]; !ok {
		wcfg.ConnConfig.RuntimeParams["idle_in_transaction_session_timeout"] = idleInTransaction
	}
	rcfg := cfg.Copy()
	rcfg.MaxConns = cfg.MaxConns - 1
	rcfg.MinConns = min(cfg.MinConns, rcfg.MaxConns)
	d := &pgDB{r: &renderCache{m: pgMarks}}
	var err error
	if d.pool, err = pgxpool.NewWithConfig(ctx, rcfg); err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	d.reads = &pgQ{q: d.pool, r: d.r}
	if d.wpool, err = pgxpool.NewWithConfig(ctx, wcfg); err == nil {
		err = d.migrate(ctx, opts)
	}
	if err != nil {
		d.close()
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	return start(d, opts), nil
}

// migrateLockKey is the first half of the advisory lock key that guards
// migrations; the second half is a hash of the schema migrated, so that
// databases with several schemas migrate them independently.
const migrateLockKey = 0x6d63 // "mc"

// migrate applies the pending schema steps to the first schema of the
// search_path, in one transaction, holding a session advisory lock so that
// nodes starting at once wait for each other: the first applies the steps,
// the others then find nothing to do.
func (d *pgDB) migrate(ctx context.Context, opts store.Options) (err error) {
	c, err := d.wpool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer c.Release()
	var schema *string
	if err := c.QueryRow(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if schema == nil {
		return fmt.Errorf("migrate: no schema of the search_path exists")
	}
	if _, err := c.Exec(ctx, `SELECT pg_advisory_lock($1, hashtext($2))`, migrateLockKey, *schema); err != nil {
		return fmt.Errorf("migrate: take the migration lock: %w", err)
	}
	defer func() {
		// A failed unlock leaves the lock with the session; the connection
		// is then closed rather than returned with it.
		if _, uerr := c.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1, hashtext($2))`, migrateLockKey, *schema); uerr != nil {
			c.Conn().Close(context.WithoutCancel(ctx))
			if err == nil {
				err = fmt.Errorf("migrate: release the migration lock: %w", uerr)
			}
		}
	}()
	tx, err := c.Begin(ctx)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if err := migrate(ctx, &pgQ{q: tx, r: d.r}, pgVersions{}, opts.Now()); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("migrate: commit: %w", err)
	}
	return nil
}

// pgVersions records every applied step in schema_migrations.
type pgVersions struct{}

func (pgVersions) version(ctx context.Context, q db) (int, error) {
	if _, err := q.exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		applied_at TIMESTAMPTZ NOT NULL DEFAULT now())`); err != nil {
		return 0, err
	}
	var v int
	err := q.queryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&v)
	return v, err
}

func (pgVersions) record(ctx context.Context, q db, version int) error {
	_, err := q.exec(ctx, `INSERT INTO schema_migrations (version) VALUES ($1)`, version)
	return err
}

func (d *pgDB) reader() db            { return d.reads }
func (d *pgDB) watch(h *health)       { d.reads.h = h }
func (d *pgDB) maxBatch() int         { return 512 }
func (d *pgDB) list(ids []string) any { return ids }

// batchAttempts bounds how often a batch is begun again when locking its
// rooms loses a deadlock to another node.
const batchAttempts = 5

// begin starts a batch transaction and locks the rows of its rooms in id
// order. FOR NO KEY UPDATE is the lock the seq's UPDATE takes anyway; it
// leaves foreign-key checks (KEY SHARE) of other writers alone.
func (d *pgDB) begin(ctx context.Context, rooms []string) (batchTx, error) {
	for attempt := 1; ; attempt++ {
		tx, err := d.wpool.Begin(ctx)
		if err != nil {
			return nil, err
		}
		if len(rooms) == 0 {
			return newPgTx(tx, d.r), nil
		}
		_, err = tx.Exec(ctx, `SELECT 1 FROM rooms WHERE id = ANY($1) ORDER BY id FOR NO KEY UPDATE`, rooms)
		if err == nil {
			return newPgTx(tx, d.r), nil
		}
		_ = tx.Rollback(ctx)
		if attempt == batchAttempts || !d.retryable(err) {
			return nil, err
		}
	}
}

// retryable: a deadlock, a serialization failure, or a unique key taken by
// a concurrent transaction that has since committed.
func (d *pgDB) retryable(err error) bool {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return false
	}
	switch pe.Code {
	case "40P01", "40001", "23505":
		return true
	}
	return false
}

func (d *pgDB) unique(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505"
}

// sendFacts reads the records of all the attachments of a row of sends with
// one statement, and the facts of the whole row with one more.
func (d *pgDB) sendFacts(w *wtx, ws []*sendWork) error {
	n := len(ws)
	var (
		rooms, senders   = make([]string, n), make([]string, n)
		clients, replies = make([]*string, n), make([]*string, n)
		fileIDs          []string
		files            map[string]store.File
		err              error
	)
	for i, sw := range ws {
		rooms[i], senders[i] = sw.req.RoomID, sw.req.SenderID
		clients[i], replies[i] = nullString(sw.req.ClientID), nullString(sw.req.ReplyTo)
		fileIDs = append(fileIDs, sw.req.Attachments...)
	}
	if len(fileIDs) > 0 {
		if files, err = filesByID(w.ctx, w.db, fileIDs); err != nil {
			return err
		}
	}
	rs, err := w.db.query(w.ctx, sendFactsSQL, rooms, senders, clients, replies)
	if err != nil {
		return err
	}
	defer rs.Close()
	for rs.Next() {
		sw, err := scanSendFacts(w, rs, ws)
		if err != nil {
			return err
		}
		w.decide(sw, files)
	}
	return rs.Err()
}

// sendInsertsSQL stores a row of messages with one statement: each room's
// last_seq moves on by the number of its messages (the rooms' rows are
// locked by the batch), and its messages take the seqs in between, in the
// order given.
const sendInsertsSQL = `WITH input AS (
		SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[])
			WITH ORDINALITY AS t(room_id, id, sender_id, text, ts, client_id, reply_to, attachments, style, via, ord)),
	counts AS (SELECT room_id, COUNT(*) AS n FROM input GROUP BY room_id),
	bump AS (UPDATE rooms r SET last_seq = r.last_seq + c.n FROM counts c WHERE r.id = c.room_id
		RETURNING r.id, r.last_seq - c.n AS base)
	INSERT INTO messages (room_id, seq, id, kind, sender_id, text, ts, client_id, reply_to, attachments, style, via)
	SELECT i.room_id, b.base + row_number() OVER (PARTITION BY i.room_id ORDER BY i.ord),
		i.id, 'chat', i.sender_id, i.text, i.ts, i.client_id, i.reply_to, i.attachments, i.style, i.via
	FROM input i JOIN bump b ON b.id = i.room_id
	RETURNING id, seq`

// sendLinksSQL links a row of messages to their attachments.
const sendLinksSQL = `INSERT INTO message_files (message_id, file_id, room_id)
	SELECT * FROM unnest($1::text[], $2::text[], $3::text[]) ON CONFLICT DO NOTHING`

// insertSends stores a row of messages with one statement and their links
// with one more, pipelined in one round trip under a savepoint of their
// own. On failure the row is rolled back to that savepoint: a client_id
// stored by another node a moment ago, or a deadlock, then sends the row
// back to be run one send at a time, each of which sees the other node's
// commit.
func (d *pgDB) insertSends(w *wtx, ws []*sendWork) error {
	var (
		in                       [10][]any
		linkMsg, linkFile, linkR []string
	)
	for _, sw := range ws {
		m := &sw.msg
		for k, v := range []any{m.Room, m.ID, sw.req.SenderID, m.Text, sw.ts, nullString(m.ClientID), nullString(m.ReplyTo), sw.attachmentList(), sw.style(), sw.viaJSON()} {
			in[k] = append(in[k], v)
		}
		for _, f := range sw.req.Attachments {
			linkMsg, linkFile, linkR = append(linkMsg, m.ID), append(linkFile, f), append(linkR, m.Room)
		}
	}
	tx := w.db.(*pgTx).tx
	b := &pgx.Batch{}
	b.Queue("SAVEPOINT sends")
	b.Queue(sendInsertsSQL, in[0], in[1], in[2], in[3], in[4], in[5], in[6], in[7], in[8], in[9])
	if len(linkMsg) > 0 {
		b.Queue(sendLinksSQL, linkMsg, linkFile, linkR)
	}
	b.Queue("RELEASE SAVEPOINT sends")
	br := tx.SendBatch(w.ctx, b)
	seqs := make(map[string]int64, len(ws))
	_, err := br.Exec()
	if err == nil {
		var rs pgx.Rows
		if rs, err = br.Query(); err == nil {
			for rs.Next() {
				var (
					id  string
					seq int64
				)
				if err = rs.Scan(&id, &seq); err != nil {
					break
				}
				seqs[id] = seq
			}
			rs.Close()
			if err == nil {
				err = rs.Err()
			}
		}
	}
	if err == nil && len(linkMsg) > 0 {
		_, err = br.Exec()
	}
	if err == nil {
		_, err = br.Exec()
	}
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		if _, rerr := tx.Exec(w.ctx, "ROLLBACK TO SAVEPOINT sends"); rerr != nil {
			return fmt.Errorf("%w (and rollback to savepoint: %v)", err, rerr)
		}
		if _, rerr := tx.Exec(w.ctx, "RELEASE SAVEPOINT sends"); rerr != nil {
			return fmt.Errorf("%w (and release savepoint: %v)", err, rerr)
		}
		return w.saw(err)
	}
	for _, sw := range ws {
		sw.msg.Seq = seqs[sw.msg.ID]
	}
	return nil
}

// beforeCommit: the search column is generated with the row, so nothing is
// left to do at the end of a batch.
func (d *pgDB) beforeCommit(context.Context, *wtx) error { return nil }

// search finds chat messages through the GIN index of messages.search and
// keeps those of the rooms searched, newest first by ts. The rooms come
// first, as a list: given as an array, the planner can weigh the rooms'
// share of the log (a user who may read one small room) against the
// words' (a common word).
func (d *pgDB) search(ctx context.Context, q db, req store.SearchRequest, limit int) ([]scanned, error) {
	rooms := []string{req.RoomID}
	if req.RoomID == "" {
		if err := q.queryRow(ctx, `SELECT COALESCE(array_agg(id), '{}') FROM (SELECT id FROM rooms WHERE $2 AND kind = 'public'
			UNION SELECT room_id FROM members WHERE user_id = $1) r`, req.Scope.UserID, req.Scope.Public).Scan(&rooms); err != nil {
			return nil, err
		}
		if len(rooms) == 0 {
			return nil, nil
		}
	}
	// Each term goes through phraseto_tsquery with the 'simple'
	// configuration (one word, or its words in a row), and the terms are
	// joined with && (all must match). Terms are passed as parameters,
	// never spliced into the SQL.
	args := []any{rooms, limit}
	var tsq strings.Builder
	for i, t := range req.Terms {
		if i > 0 {
			tsq.WriteString(" && ")
		}
		fmt.Fprintf(&tsq, "phraseto_tsquery('simple', $%d)", len(args)+1)
		args = append(args, t)
	}
	return queryMessages(ctx, q, `SELECT `+msgCols+` FROM `+msgFrom+`
		WHERE m.search @@ (`+tsq.String()+`) AND m.kind = 'chat' AND NOT m.deleted AND m.room_id = ANY($1)
		ORDER BY m.ts DESC, m.id DESC LIMIT $2`, args...)
}

func (d *pgDB) close() error {
	if d.wpool != nil {
		d.wpool.Close()
	}
	if d.pool != nil {
		d.pool.Close()
	}
	return nil
}

// pgxQuerier is what a pool, a connection and a transaction of pgx offer.
type pgxQuerier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// pgQ runs statements on pgx, which prepares and caches each statement on
// its connection by itself.
type pgQ struct {
	q pgxQuerier
	r *renderCache
	// h, on the read pool, turns errors that say the database cannot be
	// reached into *store.UnavailableError (and tells the tracker); nil in
	// a batch transaction, whose failure the writer reports whole.
	h *health
}

func (p *pgQ) exec(ctx context.Context, q string, args ...any) (int64, error) {
	tag, err := p.q.Exec(ctx, p.r.render(q), args...)
	return tag.RowsAffected(), p.unreachable(err)
}

func (p *pgQ) query(ctx context.Context, q string, args ...any) (rows, error) {
	rs, err := p.q.Query(ctx, p.r.render(q), args...)
	if err != nil {
		return nil, p.unreachable(err)
	}
	if p.h != nil {
		return pgRows{rs, p.h}, nil
	}
	return rs, nil
}

func (p *pgQ) queryRow(ctx context.Context, q string, args ...any) row {
	r := p.q.QueryRow(ctx, p.r.render(q), args...)
	if p.h != nil {
		return pgRow{r, p.h}
	}
	return r
}

// unreachable is err, as a *store.UnavailableError when it says that the
// database cannot be reached and p reads for the store.
func (p *pgQ) unreachable(err error) error {
	if err != nil && p.h != nil && unreachable(err) {
		return p.h.failed(err, 0)
	}
	return err
}

// pgRow and pgRows are a read's result, whose errors say when the database
// went away under it.
type pgRow struct {
	pgx.Row
	h *health
}

func (r pgRow) Scan(dest ...any) error {
	err := r.Row.Scan(dest...)
	if err != nil && unreachable(err) {
		return r.h.failed(err, 0)
	}
	return err
}

type pgRows struct {
	pgx.Rows
	h *health
}

func (r pgRows) Err() error {
	err := r.Rows.Err()
	if err != nil && unreachable(err) {
		return r.h.failed(err, 0)
	}
	return err
}

// pgTx is a batch transaction.
type pgTx struct {
	pgQ
	tx pgx.Tx
}

func newPgTx(tx pgx.Tx, r *renderCache) *pgTx { return &pgTx{pgQ{q: tx, r: r}, tx} }

func (t *pgTx) commit(ctx context.Context) error { return t.tx.Commit(ctx) }
func (t *pgTx) rollback(ctx context.Context)     { _ = t.tx.Rollback(ctx) }

// sendGuardSQL checks, under the room locks, that the facts of a row of
// sends are still those their rules decided on ($5…$11, one entry per
// send, in the columns of sendFactsSQL): it answers 0, or fails (and with
// it the transaction it runs in) when any changed. The failure is a cast
// of text to int: plain SQL has no RAISE, and the text built from count(*)
// is not a constant the planner could fold into an error of its own.
const sendGuardSQL = `SELECT CASE WHEN bool_and(f.kind = e.kind AND f.id = e.uid AND f.name = e.name AND f.role = e.role
		AND f.member = e.member AND f.dup = e.dup AND f.reply_room = e.reply_room AND f.archived = e.archived)
	THEN 0 ELSE CAST('the facts of a send changed before its room was locked, of ' || count(*) AS int) END
	FROM (` + sendFactsSQL + `) f
	JOIN unnest($5::text[], $6::text[], $7::text[], $8::text[], $9::bool[], $10::text[], $11::text[], $12::bool[])
		WITH ORDINALITY AS e(kind, uid, name, role, member, dup, reply_room, archived, ord) ON e.ord = f.ord`

// lockRoomsSQL locks the rows of rooms $1 in id order, as begin does.
const lockRoomsSQL = `SELECT 1 FROM rooms WHERE id = ANY($1) ORDER BY id FOR NO KEY UPDATE`

// pgConnQ is the writer's connection outside a transaction, for the reads
// of pipelineSends.
type pgConnQ struct{ pgQ }

func (*pgConnQ) commit(context.Context) error { return nil }
func (*pgConnQ) rollback(context.Context)     {}

// pipelineSends stores a batch of sends in two round trips, whatever the
// latency to the database, and holds the rooms' row locks for no round
// trip at all:
//
//  1. the facts of every send are read, outside any transaction, and each
//     send is decided (answered at once when refused or a retry);
//  2. one pipeline — lock the rooms in id order, check that the facts of
//     the sends to store still hold (sendGuardSQL), store them — runs as
//     one implicit transaction that the server commits at its end.
//
// The locked path (begin, then facts, then stores, then commit) holds the
// locks across three round trips, during which every other node's batch of
// those rooms waits: at 200 ms to the database, three nodes writing one
// room waited seconds for their acks. Should the pipeline fail — the facts
// changed, another node stored the same client_id, a deadlock — nothing of
// it was stored and the batch runs on the locked path (not done).
func (d *pgDB) pipelineSends(ctx context.Context, s *Store, ws []*sendWork) (done bool, err error) {
	c, err := d.wpool.Acquire(ctx)
	if err != nil {
		return true, err
	}
	defer c.Release()
	w := &wtx{s: s, ctx: ctx, db: &pgConnQ{pgQ{q: c, r: d.r}}}
	resetSends(ws)
	if err := d.sendFacts(w, ws); err != nil {
		return unreachable(err), err
	}
	var pending []*sendWork
	for _, sw := range ws {
		switch {
		case !sw.decided:
			return false, nil
		case sw.err != nil:
		case sw.dupID != "":
			if sw.msg, sw.err = s.message(ctx, w.db, sw.dupID); sw.err != nil && unreachable(sw.err) {
				return true, sw.err
			}
			sw.dup = sw.err == nil
		default:
			pending = append(pending, sw)
		}
	}
	if len(pending) == 0 {
		return true, nil
	}
	return d.storeLockedLast(ctx, c, pending)
}

// storeLockedLast is pipelineSends's second round trip: it stores pending,
// sends whose rules let them through on the facts in their seen, if those
// facts still hold once their rooms are locked.
func (d *pgDB) storeLockedLast(ctx context.Context, c *pgxpool.Conn, pending []*sendWork) (done bool, err error) {
	n := len(pending)
	var (
		rooms                     []string
		rs, senders               = make([]string, n), make([]string, n)
		clients, replies          = make([]*string, n), make([]*string, n)
		kinds, uids, names, roles = make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		members, archived         = make([]bool, n), make([]bool, n)
		dups, replyRooms          = make([]string, n), make([]string, n)
		in                        [10][]any
	)
	for i, sw := range pending {
		rs[i], senders[i] = sw.req.RoomID, sw.req.SenderID
		clients[i], replies[i] = nullString(sw.req.ClientID), nullString(sw.req.ReplyTo)
		f := &sw.seen
		kinds[i], uids[i], names[i], roles[i], members[i], dups[i], replyRooms[i] = f.kind, f.uid, f.name, f.role, f.member, f.dup, f.replyRoom
		archived[i] = f.archived
		m := &sw.msg
		for k, v := range []any{m.Room, m.ID, sw.req.SenderID, m.Text, sw.ts, nullString(m.ClientID), nullString(m.ReplyTo), sw.attachmentList(), sw.style(), sw.viaJSON()} {
			in[k] = append(in[k], v)
		}
		rooms = append(rooms, sw.req.RoomID)
	}
	slices.Sort(rooms)
	rooms = slices.Compact(rooms)

	b := &pgx.Batch{}
	b.Queue(lockRoomsSQL, rooms)
	b.Queue(d.r.render(sendGuardSQL), rs, senders, clients, replies, kinds, uids, names, roles, members, dups, replyRooms, archived)
	b.Queue(sendInsertsSQL, in[0], in[1], in[2], in[3], in[4], in[5], in[6], in[7], in[8], in[9])
	br := c.SendBatch(ctx, b)
	seqs := make(map[string]int64, n)
	if _, err = br.Exec(); err == nil {
		if _, err = br.Exec(); err == nil {
			var rows pgx.Rows
			if rows, err = br.Query(); err == nil {
				for rows.Next() {
					var (
						id  string
						seq int64
					)
					if err = rows.Scan(&id, &seq); err != nil {
						break
					}
					seqs[id] = seq
				}
				rows.Close()
				if err == nil {
					err = rows.Err()
				}
			}
		}
	}
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		if unreachable(err) {
			// Whether the server committed before the connection went is
			// unknown: the senders retry with their client_ids.
			return true, err
		}
		return false, nil
	}
	for _, sw := range pending {
		sw.msg.Seq = seqs[sw.msg.ID]
	}
	return true, nil
}
