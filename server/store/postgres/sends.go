package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"

	"minichat/server/store"
)

// runSends runs a row of consecutive sends of a batch with two round trips
// instead of four per send: the checks of all of them in one pipeline, then
// the inserts of all that passed in another, under one savepoint. Should an
// insert fail (another node stored the same client_id a moment ago, or a
// deadlock), the row is rolled back to that savepoint and run again one send
// at a time, each under its own savepoint, as any other write. The caller
// makes sure that no two sends of the row share a sender and client_id, so
// that no check depends on an earlier send of the row.
func (s *Store) runSends(ctx context.Context, tx pgx.Tx, ops []*op) ([][]store.Event, []error) {
	n := len(ops)
	evs := make([][]store.Event, n)
	errs := make([]error, n)
	oneByOne := func() ([][]store.Event, []error) {
		for i, o := range ops {
			evs[i], errs[i] = runOp(ctx, tx, o)
		}
		return evs, errs
	}

	// The checks, pipelined. They only read, so a failure here is the
	// connection's, and the fallback reports it.
	b := &pgx.Batch{}
	for _, o := range ops {
		b.Queue(sendCheckSQL, sendCheckArgs(o.send.req)...)
		if len(o.send.req.Attachments) > 0 {
			b.Queue(`SELECT `+fileCols+` FROM files f WHERE f.id = ANY($1)`, o.send.req.Attachments)
		}
	}
	checks := make([]sendCheck, n)
	files := make([]map[string]store.File, n)
	br := tx.SendBatch(ctx, b)
	var err error
	for i, o := range ops {
		if checks[i], err = scanSendCheck(br.QueryRow()); err != nil {
			break
		}
		if len(o.send.req.Attachments) > 0 {
			if files[i], err = scanFiles(br.Query()); err != nil {
				break
			}
		}
	}
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return oneByOne()
	}

	// What each send comes to: refused, a duplicate, or an insert.
	plans := make([]*plannedSend, n)
	inserts := 0
	for i, o := range ops {
		req, c := o.send.req, checks[i]
		switch {
		case !c.member:
			errs[i] = notMember(ctx, tx, req.RoomID, req.SenderID)
		case c.dupID != nil:
			o.send.msg, errs[i] = messageByID(ctx, tx, *c.dupID)
			o.send.dup = true
		default:
			p, err := s.planSend(req, c, files[i])
			if err != nil {
				errs[i] = err
				continue
			}
			plans[i] = &p
			inserts++
		}
	}
	if inserts == 0 {
		return evs, errs
	}

	// The inserts, pipelined, under one savepoint.
	b = &pgx.Batch{}
	b.Queue("SAVEPOINT sends")
	for i, p := range plans {
		if p == nil {
			continue
		}
		req := ops[i].send.req
		b.Queue(sendInsertSQL, sendInsertArgs(req, *p)...)
		if len(req.Attachments) > 0 {
			b.Queue(sendFilesSQL, p.msg.ID, req.RoomID, req.Attachments)
		}
	}
	b.Queue("RELEASE SAVEPOINT sends")
	br = tx.SendBatch(ctx, b)
	_, err = br.Exec()
	for i, p := range plans {
		if p == nil || err != nil {
			continue
		}
		if err = br.QueryRow().Scan(&p.msg.Seq); err == nil && len(ops[i].send.req.Attachments) > 0 {
			_, err = br.Exec()
		}
	}
	if err == nil {
		_, err = br.Exec()
	}
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		if _, rerr := tx.Exec(ctx, "ROLLBACK TO SAVEPOINT sends"); rerr != nil {
			for i := range errs {
				errs[i] = err
			}
			return evs, errs
		}
		if _, rerr := tx.Exec(ctx, "RELEASE SAVEPOINT sends"); rerr != nil {
			for i := range errs {
				errs[i] = rerr
			}
			return evs, errs
		}
		clear(errs)
		return oneByOne()
	}
	for i, p := range plans {
		if p == nil {
			continue
		}
		o := ops[i]
		o.send.msg, o.send.dup = p.msg, false
		evs[i] = []store.Event{{Kind: store.EventMessage, RoomID: p.msg.Room, Seq: p.msg.Seq, Message: p.msg}}
	}
	return evs, errs
}

// scanFiles reads file records into a map by id.
func scanFiles(rows pgx.Rows, err error) (map[string]store.File, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]store.File{}
	for rows.Next() {
		f, err := scanFile(rows)
		if err != nil {
			return nil, err
		}
		out[f.ID] = f
	}
	return out, rows.Err()
}
