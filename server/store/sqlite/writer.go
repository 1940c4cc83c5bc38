package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"minichat/server/protocol"
	"minichat/server/store"
	"minichat/server/store/writeq"
)

// op is one write waiting for the writer.
type op struct {
	// fn runs inside the batch transaction on the writer's connection. It
	// returns the events it produced, which are published only if the batch
	// commits. Results for the caller are captured by the closure; the send
	// on done (or the call of then) makes them visible to the caller.
	fn func(w *stmtCache) ([]store.Event, error)
	// atomic ops change the database with at most one statement, which
	// SQLite applies whole or not at all, so they run without a savepoint.
	atomic bool
	writeq.Ticket
}

// write runs fn on the writer and waits for the commit. A caller whose ctx
// ends before the writer takes the op gets ctx.Err() and the op never runs;
// once taken, the op completes and its result is returned whatever ctx does.
func (s *Store) write(ctx context.Context, fn func(w *stmtCache) ([]store.Event, error)) error {
	return s.q.Submit(ctx, &op{fn: fn})
}

// writeAtomic is write for an fn that changes the database with at most one
// statement (and only as its last step): it runs without a savepoint, since
// a failing statement leaves nothing behind.
func (s *Store) writeAtomic(ctx context.Context, fn func(w *stmtCache) ([]store.Event, error)) error {
	return s.q.Submit(ctx, &op{fn: fn, atomic: true})
}

// writer is the only goroutine that writes to the database. It returns after
// Close, once every op queued before Close has been answered.
func (s *Store) writer(w *stmtCache) {
	defer close(s.done)
	defer w.close()
	s.q.Run(maxBatch, func(batch []*op) { s.runBatch(w, batch) })
}

// runBatch runs ops in one transaction, each under its own savepoint,
// commits, publishes the events, then answers every op.
func (s *Store) runBatch(w *stmtCache, batch []*op) {
	ctx := context.Background()
	errs := make([]error, len(batch))
	var events []store.Event
	taken := 0
	for _, o := range batch {
		if o.Take() {
			taken++
		}
	}
	if taken == 0 {
		return
	}
	start := time.Now()
	if _, err := w.exec(ctx, "BEGIN IMMEDIATE"); err != nil {
		writeq.Answer(batch, errs, fmt.Errorf("begin write batch: %w", err))
		return
	}
	for i, o := range batch {
		if !o.Taken() {
			continue
		}
		evs, err := runOp(ctx, w, o)
		if err != nil {
			errs[i] = err
			continue
		}
		events = append(events, evs...)
	}
	if err := indexNew(ctx, w, events); err != nil {
		_, _ = w.exec(ctx, "ROLLBACK")
		writeq.Answer(batch, errs, fmt.Errorf("index write batch: %w", err))
		return
	}
	if _, err := w.exec(ctx, "COMMIT"); err != nil {
		// The transaction may still be open; roll it back so the next batch
		// starts clean. Nothing of this batch was committed.
		_, _ = w.exec(ctx, "ROLLBACK")
		writeq.Answer(batch, errs, fmt.Errorf("commit write batch: %w", err))
		return
	}
	s.opts.Committed(taken, time.Since(start), events)
	writeq.Answer(batch, errs, nil)
}

// indexNew adds the chat messages of a batch's events to the search index,
// in the batch's transaction: two statements for the whole batch, so FTS5
// flushes its index once per commit rather than once per message. (No
// message can be edited or deleted in the batch that stores it: its id is
// known only once the batch has committed.)
func indexNew(ctx context.Context, w *stmtCache, events []store.Event) error {
	ids := make([]string, 0, len(events))
	for _, ev := range events {
		if ev.Kind == store.EventMessage && ev.Message.Kind == protocol.KindChat {
			ids = append(ids, ev.Message.ID)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	list, err := json.Marshal(ids)
	if err != nil {
		return err
	}
	if _, err := w.exec(ctx, `INSERT INTO search_docs (message_id, room_id)
		SELECT m.id, m.room_id FROM json_each(?) j JOIN messages m ON m.id = j.value
		WHERE m.deleted = 0 ORDER BY j.key`, string(list)); err != nil {
		return err
	}
	_, err = w.exec(ctx, `INSERT INTO search_text (rowid, text, room)
		SELECT d.doc, m.text, m.room_id FROM json_each(?) j
		JOIN search_docs d ON d.message_id = j.value JOIN messages m ON m.id = j.value
		WHERE m.text <> ''`, string(list))
	return err
}

// runOp runs one op under a savepoint, rolling back to it on error so the
// op leaves no trace in the batch.
func runOp(ctx context.Context, w *stmtCache, o *op) ([]store.Event, error) {
	if o.atomic {
		return o.fn(w)
	}
	if _, err := w.exec(ctx, "SAVEPOINT op"); err != nil {
		return nil, fmt.Errorf("savepoint: %w", err)
	}
	evs, err := o.fn(w)
	if err != nil {
		if _, rerr := w.exec(ctx, "ROLLBACK TO op"); rerr != nil {
			return nil, fmt.Errorf("%w (and rollback to savepoint: %v)", err, rerr)
		}
	}
	if _, rerr := w.exec(ctx, "RELEASE op"); rerr != nil && err == nil {
		return nil, fmt.Errorf("release savepoint: %w", rerr)
	}
	return evs, err
}

// conn is what both *sql.DB and *sql.Conn offer.
type conn interface {
	PrepareContext(ctx context.Context, query string) (*sql.Stmt, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// stmtCache runs queries through prepared statements kept for the life of
// the connection (or pool), keyed by their text.
type stmtCache struct {
	c conn
	// fixed, when set, replaces the ctx of every call. The writer's cache
	// sets it to context.Background(): an op runs with its caller's ctx in
	// scope, but once the writer has taken it the op must complete, so a
	// cancelled caller must not interrupt its statements.
	fixed context.Context
	mu    sync.Mutex // guards m
	m     map[string]*sql.Stmt
}

func newStmtCache(c conn) *stmtCache {
	return &stmtCache{c: c, m: make(map[string]*sql.Stmt)}
}

// newWriterCache is the writer's cache; see stmtCache.fixed.
func newWriterCache(c conn) *stmtCache {
	return &stmtCache{c: c, fixed: context.Background(), m: make(map[string]*sql.Stmt)}
}

func (c *stmtCache) stmt(ctx context.Context, q string) (*sql.Stmt, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if st, ok := c.m[q]; ok {
		return st, nil
	}
	st, err := c.c.PrepareContext(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("prepare %q: %w", q, err)
	}
	c.m[q] = st
	return st, nil
}

func (c *stmtCache) exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	if c.fixed != nil {
		ctx = c.fixed
	}
	st, err := c.stmt(ctx, q)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(ctx, args...)
}

func (c *stmtCache) query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	if c.fixed != nil {
		ctx = c.fixed
	}
	st, err := c.stmt(ctx, q)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, args...)
}

// queryStrings runs q and returns its single text column, every row.
func (c *stmtCache) queryStrings(ctx context.Context, q string, args ...any) ([]string, error) {
	rows, err := c.query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

func (c *stmtCache) queryRow(ctx context.Context, q string, args ...any) *sql.Row {
	if c.fixed != nil {
		ctx = c.fixed
	}
	st, err := c.stmt(ctx, q)
	if err != nil {
		// An unpreparable query fails the same way unprepared; the Row
		// carries the error to Scan.
		return c.c.QueryRowContext(ctx, q, args...)
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
