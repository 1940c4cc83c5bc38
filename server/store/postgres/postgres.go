// Package postgres is the Store for running several minichat nodes on one
// PostgreSQL database (github.com/jackc/pgx/v5, pool from pgxpool).
//
// Concurrency: as in the SQLite store, one writer goroutine per Store runs
// every write, on a connection of its own. It takes all writes queued at that
// moment and runs them in one transaction (each under its own SAVEPOINT, so a
// failing write does not spoil the others; consecutive sends together, with
// one statement that checks them all and one that stores them all), commits
// once, then calls Options.OnCommit with the events of that commit in order,
// and only then answers each writer. Reads use the rest of the pool.
//
// Several Stores (nodes) may write to the same database at once. A room's
// next seq is taken with UPDATE rooms SET last_seq = last_seq + n inside the
// transaction that stores the messages, so the room's row lock serialises the
// writers of one room across nodes, and seqs have no gap and no duplicate;
// different rooms are written in parallel. Each batch locks the rows of the
// rooms it will write in id order before running its writes, so two nodes'
// batches never wait on each other's rooms in a cycle. A write that still
// loses a deadlock or a unique-key race to another node is rolled back to its
// savepoint and run again, and then sees what the other node committed.
//
// OnCommit reports the commits of this Store only: other nodes' writes reach
// this node's hub through the broker.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"minichat/server/store"
	"minichat/server/store/writeq"
)

// ErrClosed is returned by every call made after Close.
var ErrClosed = errors.New("postgres store: closed")

// maxBatch bounds the number of writes in one transaction, so that one
// commit's latency (and the time it holds room locks) stays bounded.
const maxBatch = 512

// minConns is the smallest pool_max_conns that works: one connection for
// the writer, at least one for reads.
const minConns = 2

// Store is a store.Store backed by a PostgreSQL database.
type Store struct {
	opts    store.Options
	pool    *pgxpool.Pool // reads
	wpool   *pgxpool.Pool // the writer's one connection
	general string        // id of the general room, looked up at Open

	q         *writeq.Queue[*op]
	done      chan struct{} // closed when the writer goroutine has returned
	closeOnce sync.Once
}

var _ store.Store = (*Store)(nil)

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

// Open connects to the database at url, applies pending schema migrations
// (under an advisory lock, so that several nodes starting at once apply
// each step once), makes sure the "general" room exists and starts the
// writer. The caller must Close the Store.
func Open(ctx context.Context, url string, opts store.Options) (*Store, error) {
	cfg, err := ParseConfig(url)
	if err != nil {
		return nil, err
	}
	return OpenConfig(ctx, cfg, opts)
}

// OpenConfig is Open with a parsed pool configuration.
func OpenConfig(ctx context.Context, cfg *pgxpool.Config, opts store.Options) (*Store, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if cfg.MaxConns < minConns {
		return nil, fmt.Errorf("open postgres: pool_max_conns %d is too small: the store needs at least %d", cfg.MaxConns, minConns)
	}
	// The writer has a connection of its own, so that a crowd of readers
	// (a reconnect storm's room lists and replays) never delays commits;
	// the readers share the rest of pool_max_conns.
	wcfg := cfg.Copy()
	wcfg.MaxConns, wcfg.MinConns = 1, 0
	rcfg := cfg.Copy()
	rcfg.MaxConns = cfg.MaxConns - 1
	rcfg.MinConns = min(cfg.MinConns, rcfg.MaxConns)
	pool, err := pgxpool.NewWithConfig(ctx, rcfg)
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	wpool, err := pgxpool.NewWithConfig(ctx, wcfg)
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	fail := func(err error) (*Store, error) {
		wpool.Close()
		pool.Close()
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	if err := Migrate(ctx, wpool, opts.Now()); err != nil {
		return fail(err)
	}
	s := &Store{
		opts:  opts,
		pool:  pool,
		wpool: wpool,
		q:     writeq.New[*op](ErrClosed),
		done:  make(chan struct{}),
	}
	if err := pool.QueryRow(ctx, `SELECT id FROM rooms WHERE lower(name) = lower($1) AND kind = 'public'`,
		defaultRoom).Scan(&s.general); err != nil && !isNoRows(err) {
		return fail(fmt.Errorf("find the general room: %w", err))
	}
	go s.writer()
	return s, nil
}

// Pool is the store's pool of read connections (for tools and tests).
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// Close stops accepting writes, lets the writer finish every write already
// taken, stops the writer goroutine and closes the pool. Writes submitted
// after Close return ErrClosed; a second Close returns ErrClosed too.
func (s *Store) Close() error {
	err := ErrClosed
	s.closeOnce.Do(func() {
		s.q.Close()
		<-s.done
		s.wpool.Close()
		s.pool.Close()
		err = nil
	})
	return err
}

// Ping reports whether the database answers a query.
func (s *Store) Ping(ctx context.Context) error {
	if s.closed() {
		return ErrClosed
	}
	var one int
	if err := s.pool.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil {
		return fmt.Errorf("ping postgres: %w", err)
	}
	return nil
}

func (s *Store) closed() bool { return s.q.Closed() }

// reads is the querier of read-only calls; after Close it fails at once.
func (s *Store) reads() (querier, error) {
	if s.closed() {
		return nil, ErrClosed
	}
	return s.pool, nil
}
