package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"minichat/server/store"
	"minichat/server/store/writeq"
)

// querier is what both the pool and a transaction offer.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// op is one write waiting for the writer.
type op struct {
	// fn runs inside the batch transaction. It returns the events it
	// produced, published only if the batch commits. fn may run more than
	// once (after a deadlock or a lost unique-key race it is rolled back to
	// its savepoint and run again), so it must set its results afresh on
	// every run.
	fn func(ctx context.Context, tx pgx.Tx) ([]store.Event, error)
	// rooms lists the rooms whose log fn may append to; the batch locks
	// them in id order before running any op.
	rooms []string
	// send, for a chat message, lets the writer pipeline it with the sends
	// next to it in the batch (runSends); fn is then its one-at-a-time form.
	send *sendWork
	writeq.Ticket
}

// write runs fn on the writer and waits for the commit. A caller whose ctx
// ends before the writer takes the op gets ctx.Err() and the op never runs;
// once taken, the op completes and its result is returned whatever ctx does.
func (s *Store) write(ctx context.Context, rooms []string, fn func(ctx context.Context, tx pgx.Tx) ([]store.Event, error)) error {
	return s.q.Submit(ctx, &op{fn: fn, rooms: rooms})
}

// writer is the only goroutine that writes. It returns after Close, once
// every op queued before Close has been answered.
func (s *Store) writer() {
	defer close(s.done)
	s.q.Run(maxBatch, s.runBatch)
}

// clientKey is a send's sender and client_id ("" when it has none).
func clientKey(req store.SendRequest) [2]string { return [2]string{req.SenderID, req.ClientID} }

// batchTimeout bounds one batch transaction, from begin to commit: a
// database that stops answering fails the batch's writes instead of holding
// them (and Close) forever.
const batchTimeout = 30 * time.Second

// batchAttempts bounds how often a batch is begun again when locking its
// rooms loses a deadlock to another node.
const batchAttempts = 5

// runBatch runs ops in one transaction, each under its own savepoint,
// commits, publishes the events, then answers every op.
func (s *Store) runBatch(batch []*op) {
	// A batch must finish even if its callers have gone, but not hang on a
	// database that stopped answering: past batchTimeout it fails whole.
	ctx, cancel := context.WithTimeout(context.Background(), batchTimeout)
	defer cancel()
	var rooms []string
	taken := 0
	for _, o := range batch {
		if o.Take() {
			taken++
			rooms = append(rooms, o.rooms...)
		}
	}
	if taken == 0 {
		return
	}
	slices.Sort(rooms)
	rooms = slices.Compact(rooms)

	start := time.Now()
	var (
		tx  pgx.Tx
		err error
	)
	for attempt := 1; ; attempt++ {
		tx, err = s.begin(ctx, rooms)
		if err == nil || attempt == batchAttempts || !retryable(err) {
			break
		}
	}
	errs := make([]error, len(batch))
	if err != nil {
		writeq.Answer(batch, errs, fmt.Errorf("begin write batch: %w", err))
		return
	}
	var events []store.Event
	for i := 0; i < len(batch); {
		o := batch[i]
		if !o.Taken() {
			i++
			continue
		}
		if o.send == nil {
			evs, err := runOp(ctx, tx, o)
			errs[i] = err
			events = append(events, evs...)
			i++
			continue
		}
		// A row of sends: up to the next other write, or to a send that
		// repeats a sender's client_id within the row (its check must see
		// the first one stored).
		row, at := []*op{o}, []int{i}
		seen := map[[2]string]bool{}
		if k := clientKey(o.send.req); k[1] != "" {
			seen[k] = true
		}
		j := i + 1
		for ; j < len(batch); j++ {
			p := batch[j]
			if !p.Taken() {
				continue
			}
			if p.send == nil {
				break
			}
			k := clientKey(p.send.req)
			if k[1] != "" {
				if seen[k] {
					break
				}
				seen[k] = true
			}
			row, at = append(row, p), append(at, j)
		}
		rowEvs, rowErrs := s.runSends(ctx, tx, row)
		for r, idx := range at {
			errs[idx] = rowErrs[r]
			events = append(events, rowEvs[r]...)
		}
		i = j
	}
	if err := tx.Commit(ctx); err != nil {
		_ = tx.Rollback(ctx)
		writeq.Answer(batch, errs, fmt.Errorf("commit write batch: %w", err))
		return
	}
	s.opts.Committed(taken, time.Since(start), events)
	writeq.Answer(batch, errs, nil)
}

// begin starts a batch transaction and locks the rows of its rooms in id
// order. FOR NO KEY UPDATE is the lock the seq's UPDATE takes anyway; it
// leaves foreign-key checks (KEY SHARE) of other writers alone.
func (s *Store) begin(ctx context.Context, rooms []string) (pgx.Tx, error) {
	tx, err := s.wpool.Begin(ctx)
	if err != nil {
		return nil, err
	}
	if len(rooms) > 0 {
		if _, err := tx.Exec(ctx, `SELECT 1 FROM rooms WHERE id = ANY($1) ORDER BY id FOR NO KEY UPDATE`, rooms); err != nil {
			_ = tx.Rollback(ctx)
			return nil, err
		}
	}
	return tx, nil
}

// opAttempts bounds how often one op is run again after losing a deadlock
// or a unique-key race to another node.
const opAttempts = 4

// runOp runs one op under a savepoint, rolling back to it on error so the op
// leaves no trace in the batch. An op that lost a race to another node's
// commit runs again and then sees that commit.
func runOp(ctx context.Context, tx pgx.Tx, o *op) ([]store.Event, error) {
	for attempt := 1; ; attempt++ {
		sp, err := tx.Begin(ctx) // a savepoint
		if err != nil {
			return nil, fmt.Errorf("savepoint: %w", err)
		}
		evs, err := o.fn(ctx, sp)
		if err == nil {
			if err := sp.Commit(ctx); err != nil { // RELEASE SAVEPOINT
				return nil, fmt.Errorf("release savepoint: %w", err)
			}
			return evs, nil
		}
		if rerr := sp.Rollback(ctx); rerr != nil {
			return nil, fmt.Errorf("%w (and rollback to savepoint: %v)", err, rerr)
		}
		if attempt < opAttempts && retryable(err) {
			continue
		}
		if isUniqueViolation(err) {
			err = fmt.Errorf("%w: %w", store.ErrConflict, err)
		}
		return nil, err
	}
}

// retryable reports an error that running the same work again may avoid:
// a deadlock, a serialization failure, or a unique key taken by a
// concurrent transaction that has since committed.
func retryable(err error) bool {
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

func isUniqueViolation(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505"
}

func isNoRows(err error) bool { return errors.Is(err, pgx.ErrNoRows) }
