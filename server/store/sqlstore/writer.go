package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"minichat/server/store"
	"minichat/server/store/writeq"
)

// op is one write waiting for the writer: a Write (fn) or a send (send).
type op struct {
	// fn runs inside the batch transaction, under a savepoint; it returns
	// the events it produced, published only if the batch commits.
	fn func(store.Tx) ([]store.Event, error)
	// rooms lists the rooms whose log fn may append to (a send's is its
	// request's); the batch locks them (on Postgres) in id order before
	// running any op.
	rooms []string
	// send, for a chat message, lets the writer run it with the sends next
	// to it in the batch (runSends).
	send *sendWork
	writeq.Ticket
}

// batchTimeout bounds one batch transaction, from begin to commit: a
// database that stops answering fails the batch's writes instead of holding
// them (and Close) forever.
const batchTimeout = 30 * time.Second

// opAttempts bounds how often one op is run again after losing a race (a
// deadlock, a unique key) to another node.
const opAttempts = 4

// The savepoint of one op, in SQL both databases read.
const (
	savepointSQL  = "SAVEPOINT op"
	rollbackToSQL = "ROLLBACK TO SAVEPOINT op"
	releaseSQL    = "RELEASE SAVEPOINT op"
)

// Write runs fn in the write transaction; see store.Store.
func (s *Store) Write(ctx context.Context, rooms []string, fn func(store.Tx) ([]store.Event, error)) error {
	return s.q.Submit(ctx, &op{fn: fn, rooms: rooms})
}

// writer is the only goroutine that writes to the database. It returns after
// Close, once every op queued before Close has been answered.
func (s *Store) writer() {
	defer close(s.done)
	s.q.Run(s.d.maxBatch(), s.runBatch)
}

// clientKey is a send's sender and client_id ("" when it has none).
func clientKey(req *store.SendRequest) [2]string { return [2]string{req.SenderID, req.ClientID} }

// runBatch runs ops in one transaction, each Write under its own savepoint
// and consecutive sends together (runSends), commits, publishes the events,
// then answers every op.
func (s *Store) runBatch(batch []*op) {
	// A batch must finish even if its callers have gone, but not hang on a
	// database server that stopped answering: past batchTimeout it fails
	// whole. (SQLite's writer runs its statements to the end: stmtCache.)
	ctx, cancel := context.WithTimeout(context.Background(), batchTimeout)
	defer cancel()
	var rooms []string
	taken := 0
	for _, o := range batch {
		if o.Take() {
			taken++
			if o.send != nil {
				rooms = append(rooms, o.send.req.RoomID)
			} else {
				rooms = append(rooms, o.rooms...)
			}
		}
	}
	if taken == 0 {
		return
	}
	slices.Sort(rooms)
	rooms = slices.Compact(rooms)

	start := time.Now()
	errs := make([]error, len(batch))
	if s.pipelined(ctx, batch, errs, taken, start) {
		return
	}
	tx, err := s.d.begin(ctx, rooms)
	if err != nil {
		writeq.Answer(batch, errs, s.batchFailed("begin write batch", err, taken))
		return
	}
	w := &wtx{s: s, ctx: ctx, db: tx}
	var events []store.Event
	for i := 0; i < len(batch); {
		o := batch[i]
		switch {
		case !o.Taken():
			i++
		case o.send == nil:
			evs, err := s.runOp(w, o)
			errs[i] = err
			events = append(events, evs...)
			i++
		default:
			row, at, next := s.rowOfSends(batch, i)
			s.runSends(w, row)
			for r, idx := range at {
				sw := row[r].send
				errs[idx] = sw.err
				if sw.err == nil && !sw.dup {
					events = append(events, store.Event{Kind: store.EventMessage, RoomID: sw.msg.Room, Seq: sw.msg.Seq, Message: sw.msg})
				}
			}
			i = next
		}
	}
	if err := s.d.beforeCommit(ctx, w); err != nil {
		tx.rollback(ctx)
		writeq.Answer(batch, errs, s.batchFailed("write batch", err, taken))
		return
	}
	if err := tx.commit(ctx); err != nil {
		// Nothing of this batch was committed; the transaction is rolled
		// back so the next batch starts clean.
		tx.rollback(ctx)
		writeq.Answer(batch, errs, s.batchFailed("commit write batch", err, taken))
		return
	}
	s.h.ok()
	s.opts.Committed(taken, time.Since(start), events)
	writeq.Answer(batch, errs, nil)
}

// sendPipeliner is a dialect that stores a batch made only of sends in two
// round trips, the room locks taken in the second: see pgDB.pipelineSends.
type sendPipeliner interface {
	// pipelineSends stores ws (decided, answered or stored) and reports
	// done; done with an error: the batch failed whole; not done: nothing
	// was stored and the batch runs on the locked path.
	pipelineSends(ctx context.Context, s *Store, ws []*sendWork) (done bool, err error)
}

// pipelined runs batch through the dialect's sendPipeliner when it has one
// and every write of the batch is a send without attachments, no two with
// the same client key, and answers it; it reports whether it did.
func (s *Store) pipelined(ctx context.Context, batch []*op, errs []error, taken int, start time.Time) bool {
	p, ok := s.d.(sendPipeliner)
	if !ok {
		return false
	}
	seen := s.row.seen
	clear(seen)
	ws := s.row.work[:0]
	defer func() { s.row.work = ws }()
	for _, o := range batch {
		if !o.Taken() {
			continue
		}
		if o.send == nil || len(o.send.req.Attachments) > 0 {
			return false
		}
		if k := clientKey(&o.send.req); k[1] != "" {
			if seen[k] {
				return false
			}
			seen[k] = true
		}
		ws = append(ws, o.send)
	}
	done, err := p.pipelineSends(ctx, s, ws)
	if !done {
		return false
	}
	if err != nil {
		writeq.Answer(batch, errs, s.batchFailed("write batch", err, taken))
		return true
	}
	var events []store.Event
	for i, o := range batch {
		if !o.Taken() {
			continue
		}
		sw := o.send
		errs[i] = sw.err
		if sw.err == nil && !sw.dup {
			events = append(events, store.Event{Kind: store.EventMessage, RoomID: sw.msg.Room, Seq: sw.msg.Seq, Message: sw.msg})
		}
	}
	s.h.ok()
	s.opts.Committed(taken, time.Since(start), events)
	writeq.Answer(batch, errs, nil)
	return true
}

// batchFailed is the error of every write of a batch that failed whole:
// when the database could not be reached or did not answer in time, a *store.UnavailableError (the
// health tracker logs the outage, not each write); else err with what.
func (s *Store) batchFailed(what string, err error, writes int) error {
	// The batch's context is its own (batchTimeout): its deadline means
	// the database stopped answering.
	if unreachable(err) || errors.Is(err, context.DeadlineExceeded) {
		return s.h.failed(fmt.Errorf("%s: %w", what, err), writes)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// rowOfSends returns the row of sends of batch that starts at i, their places
// in batch and the place after the row: the sends up to the next other
// write, or up to a send that repeats a sender's client_id within the row
// (its facts must see the first one stored).
func (s *Store) rowOfSends(batch []*op, i int) (row []*op, at []int, next int) {
	seen := s.row.seen
	clear(seen)
	row, at = s.row.ops[:0], s.row.at[:0]
	defer func() { s.row.ops, s.row.at = row, at }()
	for next = i; next < len(batch); next++ {
		o := batch[next]
		if !o.Taken() {
			continue
		}
		if o.send == nil {
			break
		}
		if k := clientKey(&o.send.req); k[1] != "" {
			if seen[k] {
				break
			}
			seen[k] = true
		}
		row, at = append(row, o), append(at, next)
	}
	return row, at, next
}

// runOp runs one op under a savepoint, rolling back to it on error so the
// op leaves no trace in the batch. An op that lost a race to another node's
// commit runs again, and then sees that commit.
func (s *Store) runOp(w *wtx, o *op) ([]store.Event, error) {
	for attempt := 1; ; attempt++ {
		if _, err := w.db.exec(w.ctx, savepointSQL); err != nil {
			return nil, fmt.Errorf("savepoint: %w", err)
		}
		w.raced = false
		indexed := len(w.newChat)
		evs, err := s.runFn(w, o)
		if err == nil {
			if _, err := w.db.exec(w.ctx, releaseSQL); err != nil {
				return nil, fmt.Errorf("release savepoint: %w", err)
			}
			return evs, nil
		}
		w.newChat = w.newChat[:indexed]
		if _, rerr := w.db.exec(w.ctx, rollbackToSQL); rerr != nil {
			return nil, fmt.Errorf("%w (and rollback to savepoint: %v)", err, rerr)
		}
		if _, rerr := w.db.exec(w.ctx, releaseSQL); rerr != nil {
			return nil, fmt.Errorf("%w (and release savepoint: %v)", err, rerr)
		}
		if attempt < opAttempts && (w.raced || s.d.retryable(err)) {
			continue
		}
		return nil, err
	}
}

// runFn runs an op once: a Write's fn, or a send on its own.
func (s *Store) runFn(w *wtx, o *op) ([]store.Event, error) {
	if o.send == nil {
		return o.fn(w)
	}
	sw := o.send
	if err := s.sendRow(w, []*sendWork{sw}); err != nil {
		return nil, err
	}
	if sw.err != nil || sw.dup {
		return nil, sw.err
	}
	return []store.Event{{Kind: store.EventMessage, RoomID: sw.msg.Room, Seq: sw.msg.Seq, Message: sw.msg}}, nil
}
