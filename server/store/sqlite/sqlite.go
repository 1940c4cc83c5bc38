// Package sqlite is the default Store: one SQLite file (modernc.org/sqlite,
// pure Go) in WAL mode.
//
// Concurrency: one writer goroutine owns the only write connection and runs
// every write. It takes all writes queued at that moment, runs them in one
// transaction (each under its own SAVEPOINT, so a failing write does not
// spoil the others), commits once — many concurrent senders share one fsync
// (group commit) — then calls Options.OnCommit with the events of that commit
// in order, and only then answers each writer. Reads use a separate pool of
// read-only connections, which WAL lets run beside the writer.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"sync"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"minichat/server/store"
	"minichat/server/store/writeq"
)

// ErrClosed is returned by every call made after Close.
var ErrClosed = errors.New("sqlite store: closed")

// maxBatch bounds the number of writes in one transaction, so that one
// commit's latency stays bounded under a flood of writers.
const maxBatch = 1024

// readConns is the size of the read connection pool.
const readConns = 8

// Store is a store.Store backed by one SQLite file. It is safe for
// concurrent use; see the package doc for how writes are serialised.
type Store struct {
	opts  store.Options
	wdb   *sql.DB // holds exactly one connection: wconn
	wconn *sql.Conn
	rdb   *sql.DB // read-only pool
	reads *stmtCache

	// The write queue: submitting never waits for a commit in progress;
	// the writer takes the whole queue at once.
	q         *writeq.Queue[*op]
	done      chan struct{} // closed when the writer goroutine has returned
	closeOnce sync.Once
	closeErr  error
}

var _ store.Store = (*Store)(nil)

// dsn builds the connection string of path. synchronous=FULL makes SQLite
// fsync the WAL at every commit, so an acknowledged write survives a crash of
// the process and a power loss; with group commit the fsync is shared by
// every write of a batch, so FULL costs little throughput.
func dsn(path string, readOnly bool) string {
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

// Open opens (creating if needed) the database at path, applies pending
// schema migrations in one transaction, makes sure the "general" room exists
// and starts the writer. The caller must Close the Store.
func Open(path string, opts store.Options) (*Store, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	wdb, err := sql.Open("sqlite", dsn(path, false))
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	// The writer owns the one and only write connection; nothing else may
	// take it from the pool.
	wdb.SetMaxOpenConns(1)
	wdb.SetConnMaxLifetime(0)
	wdb.SetConnMaxIdleTime(0)
	ctx := context.Background()
	wconn, err := wdb.Conn(ctx)
	if err != nil {
		wdb.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	if err := setup(ctx, wconn); err != nil {
		wconn.Close()
		wdb.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	if err := migrate(ctx, wconn, opts.Now()); err != nil {
		wconn.Close()
		wdb.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	rdb, err := sql.Open("sqlite", dsn(path, true))
	if err != nil {
		wconn.Close()
		wdb.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	rdb.SetMaxOpenConns(readConns)
	rdb.SetMaxIdleConns(readConns)
	rdb.SetConnMaxLifetime(0)
	rdb.SetConnMaxIdleTime(0)
	s := &Store{
		opts:  opts,
		wdb:   wdb,
		wconn: wconn,
		rdb:   rdb,
		reads: newStmtCache(rdb),
		q:     writeq.New[*op](ErrClosed),
		done:  make(chan struct{}),
	}
	go s.writer(newWriterCache(wconn))
	return s, nil
}

// setup turns the file to WAL mode (a setting kept in the file, so the
// read connections find it too) and checks that it took.
func setup(ctx context.Context, c *sql.Conn) error {
	var mode string
	if err := c.QueryRowContext(ctx, "PRAGMA journal_mode = WAL").Scan(&mode); err != nil {
		return fmt.Errorf("set WAL mode: %w", err)
	}
	if mode != "wal" {
		return fmt.Errorf("set WAL mode: journal mode is %q", mode)
	}
	return nil
}

// Close stops accepting writes, lets the writer finish every write already
// taken, stops the writer goroutine and closes the database. Writes submitted
// after Close return ErrClosed; a second Close returns ErrClosed too.
func (s *Store) Close() error {
	err := ErrClosed
	s.closeOnce.Do(func() {
		s.q.Close()
		<-s.done
		s.reads.close()
		errs := []error{s.wconn.Close(), s.wdb.Close(), s.rdb.Close()}
		s.closeErr = errors.Join(errs...)
		if s.closeErr != nil {
			s.closeErr = fmt.Errorf("close sqlite store: %w", s.closeErr)
		}
		err = s.closeErr
	})
	return err
}

// Ping reports whether the database answers a read.
func (s *Store) Ping(ctx context.Context) error {
	if s.closed() {
		return ErrClosed
	}
	var one int
	if err := s.rdb.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		return fmt.Errorf("ping sqlite: %w", err)
	}
	return nil
}

func (s *Store) closed() bool { return s.q.Closed() }
