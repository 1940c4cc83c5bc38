package sqlstore

import (
	"context"
	"fmt"

	"minichat/server/store"
)

// wtx is a batch's write transaction: the store.Tx of every op it runs.
type wtx struct {
	s   *Store
	ctx context.Context // the batch's, not any caller's: a taken op completes
	db  batchTx
	// raced is set when a statement of the op running lost a race to
	// another node (a deadlock, a unique key it committed first), so that
	// the op runs again even if its fn turned the error into another.
	raced bool
	// newChat lists the chat messages stored by the batch so far, for a
	// dialect that indexes them for search at the end (beforeCommit).
	newChat []string
	// scratch is where scanSendFacts reads a row.
	scratch struct {
		ord   int64
		facts store.SendFacts
		dup   string
	}
}

var _ store.Tx = (*wtx)(nil)

// batchTx is a batch's transaction.
type batchTx interface {
	db
	commit(ctx context.Context) error
	rollback(ctx context.Context)
}

// saw notes err's race, if it is one, and returns it. Every statement of a
// Tx method passes its error through it.
func (w *wtx) saw(err error) error {
	if err != nil && w.s.d.retryable(err) {
		w.raced = true
	}
	return err
}

func (w *wtx) exec(q string, args ...any) (int64, error) {
	n, err := w.db.exec(w.ctx, q, args...)
	return n, w.saw(err)
}

// scan runs a query of one row into dest.
func (w *wtx) scan(q string, args []any, dest ...any) error {
	return w.saw(w.db.queryRow(w.ctx, q, args...).Scan(dest...))
}

// execOne runs a statement that must change one row: ErrNotFound, naming
// what, when it changed none.
func (w *wtx) execOne(what string, q string, args ...any) error {
	n, err := w.exec(q, args...)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if n == 0 {
		return fmt.Errorf("%s: %w", what, store.ErrNotFound)
	}
	return nil
}

// savepoint runs fn under a savepoint of its own, rolled back when fn
// fails, so that fn changes all or nothing.
func (w *wtx) savepoint(fn func() error) error {
	if _, err := w.exec("SAVEPOINT part"); err != nil {
		return err
	}
	if err := fn(); err != nil {
		if _, rerr := w.exec("ROLLBACK TO SAVEPOINT part"); rerr != nil {
			return fmt.Errorf("%w (and rollback to savepoint: %v)", err, rerr)
		}
		_, _ = w.exec("RELEASE SAVEPOINT part")
		return err
	}
	_, err := w.exec("RELEASE SAVEPOINT part")
	return err
}
