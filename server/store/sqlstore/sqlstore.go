// Package sqlstore is the Store of minichat, written once for two
// databases: SQLite (OpenSQLite: modernc.org/sqlite, pure Go, one file in
// WAL mode, the default) and PostgreSQL (OpenPostgres: pgx, for several
// nodes on one database). Queries are written once; a dialect renders the
// few places where the databases differ — placeholders need nothing ($N
// reads on both), but the case folding of names, lists as arguments, taking
// a room's next seq, schema types, full-text search, row locking and the
// batched fast path of sends do (dialect_sqlite.go, dialect_postgres.go).
// Both pass the conformance suite in storetest, and behave the same on
// every input.
//
// Concurrency: one writer goroutine per Store runs every write, on a
// connection of its own. It takes all writes queued at that moment (up to a
// bound) and runs them in one transaction — each Write under its own
// SAVEPOINT, so a failing write does not spoil the others; consecutive sends
// together — commits once, so that many concurrent writers share one commit
// (group commit), then calls Options.OnCommit with the events of that commit
// in order, and only then answers each writer. Reads use a separate pool of
// connections.
//
// On Postgres several Stores (nodes) may write to the same database at
// once. A room's next seq is taken by an UPDATE of its row inside the
// transaction that appends to its log, so the room's row lock serialises the
// writers of one room across nodes, and seqs have no gap and no duplicate;
// different rooms are written in parallel. Each batch locks the rows of the
// rooms it will write in id order before running its writes, so two nodes'
// batches never wait on each other's rooms in a cycle. A write that still
// loses a deadlock or a unique-key race to another node is rolled back to
// its savepoint and run again, and then sees what the other node committed.
// OnCommit reports the commits of this Store only: other nodes' writes reach
// this node's hub through the broker.
package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"minichat/server/store"
	"minichat/server/store/writeq"
)

// ErrClosed is returned by every call made after Close.
var ErrClosed = errors.New("store closed")

// Store is a store.Store on SQLite or Postgres. It is safe for concurrent
// use; see the package doc for how writes are serialised.
type Store struct {
	d    dialect
	opts store.Options

	// The write queue: submitting never waits for a commit in progress;
	// the writer takes the whole queue at once.
	q         *writeq.Queue[*op]
	done      chan struct{} // closed when the writer goroutine has returned
	closeOnce sync.Once
	closeErr  error

	// h tracks whether the database answers (health.go).
	h *health

	// row is the writer's, and only the writer's: room for the row of
	// sends it is running, reused from row to row (writer.go, sends.go).
	row rowSpace
}

// rowSpace is the writer's room for a row of sends.
type rowSpace struct {
	seen    map[[2]string]bool // client keys in the row
	ops     []*op
	at      []int // the ops' places in the batch
	work    []*sendWork
	pending []*sendWork // the sends to store
}

var _ store.Store = (*Store)(nil)

// dialect is what differs between the databases: their connections, their
// transactions and the few statements written for one of them.
type dialect interface {
	// list turns ids into the one argument that {{in $N}} and {{each $N}}
	// read.
	list(ids []string) any
	// reader is the pool of read-only connections.
	reader() db
	// maxBatch bounds the writes of one transaction, so that one commit's
	// latency (and, on Postgres, the time it holds room locks) stays
	// bounded under a flood of writers.
	maxBatch() int
	// begin starts a batch transaction, with the rows of rooms locked
	// where several writers may share the database.
	begin(ctx context.Context, rooms []string) (batchTx, error)
	// retryable reports an error that running the same write again may
	// avoid: another writer won a race and has since committed.
	retryable(err error) bool
	// unique reports a unique-key violation.
	unique(err error) bool
	// sendFacts reads the facts of a row of sends (scanSendFacts) and has
	// each send decided as it is read (wtx.decide).
	sendFacts(w *wtx, ws []*sendWork) error
	// insertSends stores the messages of sends that passed their rules and
	// sets their seqs; a send's own failure goes to its work. An error
	// means that nothing of the row was stored.
	insertSends(w *wtx, ws []*sendWork) error
	// beforeCommit finishes a batch inside its transaction.
	beforeCommit(ctx context.Context, w *wtx) error
	// search runs a full-text search; the terms are checked.
	search(ctx context.Context, q db, req store.SearchRequest, limit int) ([]scanned, error)
	close() error
}

// start makes a Store of an opened dialect and starts its writer.
func start(d dialect, opts store.Options) *Store {
	s := &Store{d: d, opts: opts, q: writeq.New[*op](ErrClosed), done: make(chan struct{}), h: newHealth(opts)}
	s.row.seen = map[[2]string]bool{}
	if w, ok := d.(interface{ watch(*health) }); ok {
		w.watch(s.h)
	}
	go s.writer()
	return s
}

func defaults(opts store.Options) store.Options {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return opts
}

// Close stops accepting writes, lets the writer finish every write already
// taken, stops the writer goroutine and closes the database. Writes submitted
// after Close return ErrClosed; a second Close returns ErrClosed too.
func (s *Store) Close() error {
	err := ErrClosed
	s.closeOnce.Do(func() {
		s.q.Close()
		<-s.done
		if s.closeErr = s.d.close(); s.closeErr != nil {
			s.closeErr = fmt.Errorf("close store: %w", s.closeErr)
		}
		err = s.closeErr
	})
	return err
}

// Ping reports whether the database answers a read.
func (s *Store) Ping(ctx context.Context) error {
	q, err := s.reads()
	if err != nil {
		return err
	}
	var one int
	if err := q.queryRow(ctx, "SELECT 1").Scan(&one); err != nil {
		if !errors.Is(err, store.ErrUnavailable) && unreachable(err) {
			err = s.h.failed(err, 0)
		}
		return fmt.Errorf("ping database: %w", err)
	}
	s.h.ok()
	return nil
}

// Availability reports whether the database answers; see store.Store.
func (s *Store) Availability() store.Availability { return s.h.availability() }

// reads is the querier of read-only calls; after Close it fails at once.
func (s *Store) reads() (db, error) {
	if s.q.Closed() {
		return nil, ErrClosed
	}
	return s.d.reader(), nil
}

// conflict turns a unique-key violation into store.ErrConflict.
func (s *Store) conflict(err error) error {
	if err != nil && s.d.unique(err) {
		return fmt.Errorf("%w: %w", store.ErrConflict, err)
	}
	return err
}
