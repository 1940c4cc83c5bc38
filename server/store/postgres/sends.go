package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"

	"minichat/server/store"
)

// sendChecksSQL is sendCheckSQL for a whole row of sends at once, given as
// arrays (room, sender, client_id, reply_to); ord numbers them from 1, and a
// send whose sender is not a member of its room has no row.
const sendChecksSQL = `SELECT t.ord, u.id, u.name, u.role,
		(SELECT x.id FROM messages x WHERE x.sender_id = t.sender_id AND x.client_id = t.client_id),
		(SELECT y.room_id FROM messages y WHERE y.id = t.reply_to)
	FROM unnest($1::text[], $2::text[], $3::text[], $4::text[])
		WITH ORDINALITY AS t(room_id, sender_id, client_id, reply_to, ord)
	JOIN members m ON m.room_id = t.room_id AND m.user_id = t.sender_id
	JOIN users u ON u.id = m.user_id`

// sendInsertsSQL stores a row of messages with one statement: each room's
// last_seq moves on by the number of its messages (the rooms' rows are
// locked by the batch), and its messages take the seqs in between, in the
// order given.
const sendInsertsSQL = `WITH input AS (
		SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::text[], $7::text[], $8::text[])
			WITH ORDINALITY AS t(room_id, id, sender_id, text, ts, client_id, reply_to, attachments, ord)),
	counts AS (SELECT room_id, COUNT(*) AS n FROM input GROUP BY room_id),
	bump AS (UPDATE rooms r SET last_seq = r.last_seq + c.n FROM counts c WHERE r.id = c.room_id
		RETURNING r.id, r.last_seq - c.n AS base)
	INSERT INTO messages (room_id, seq, id, kind, sender_id, text, ts, client_id, reply_to, attachments)
	SELECT i.room_id, b.base + row_number() OVER (PARTITION BY i.room_id ORDER BY i.ord),
		i.id, 'chat', i.sender_id, i.text, i.ts, i.client_id, i.reply_to, i.attachments
	FROM input i JOIN bump b ON b.id = i.room_id
	RETURNING id, seq`

// sendFilesRowSQL links a row of messages to their attachments.
const sendFilesRowSQL = `INSERT INTO message_files (message_id, file_id, room_id)
	SELECT * FROM unnest($1::text[], $2::text[], $3::text[]) ON CONFLICT DO NOTHING`

// runSends runs a row of consecutive sends of a batch with a few statements
// for the whole row rather than several per send: one reads the checks of
// all of them, one stores every message that passed (one more links
// attachments), under one savepoint. Should the store fail (another node
// stored the same client_id a moment ago, or a deadlock), the row is rolled
// back to that savepoint and run again one send at a time, each under its
// own savepoint, as any other write. The caller makes sure that no two sends
// of the row share a sender and client_id, so that no check depends on an
// earlier send of the row.
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

	// The checks. They only read, so a failure here is the connection's,
	// and the fallback reports it.
	var (
		rooms, senders   = make([]string, n), make([]string, n)
		clients, replies = make([]*string, n), make([]*string, n)
		fileIDs          []string
	)
	for i, o := range ops {
		req := o.send.req
		rooms[i], senders[i], clients[i], replies[i] = req.RoomID, req.SenderID, nullString(req.ClientID), nullString(req.ReplyTo)
		fileIDs = append(fileIDs, req.Attachments...)
	}
	checks := make([]sendCheck, n)
	rows, err := tx.Query(ctx, sendChecksSQL, rooms, senders, clients, replies)
	if err != nil {
		return oneByOne()
	}
	for rows.Next() {
		var (
			ord int64
			c   sendCheck
		)
		if err = rows.Scan(&ord, &c.sender.ID, &c.sender.Name, &c.sender.Role, &c.dupID, &c.replyRoom); err != nil {
			break
		}
		c.member = true
		checks[ord-1] = c
	}
	rows.Close()
	if err == nil {
		err = rows.Err()
	}
	if err != nil {
		return oneByOne()
	}
	var files map[string]store.File
	if len(fileIDs) > 0 {
		if files, err = filesByID(ctx, tx, fileIDs); err != nil {
			return oneByOne()
		}
	}

	// What each send comes to: refused, a duplicate, or an insert.
	plans := make([]*plannedSend, n)
	var (
		in                       [8][]any
		linkMsg, linkFile, linkR []string
	)
	for i, o := range ops {
		req, c := o.send.req, checks[i]
		switch {
		case !c.member:
			errs[i] = notMember(ctx, tx, req.RoomID, req.SenderID)
		case c.dupID != nil:
			o.send.msg, errs[i] = messageByID(ctx, tx, *c.dupID)
			o.send.dup = true
		default:
			p, err := s.planSend(req, c, files)
			if err != nil {
				errs[i] = err
				continue
			}
			plans[i] = &p
			for k, v := range sendInsertArgs(req, p) {
				in[k] = append(in[k], v)
			}
			for _, f := range req.Attachments {
				linkMsg, linkFile, linkR = append(linkMsg, p.msg.ID), append(linkFile, f), append(linkR, req.RoomID)
			}
		}
	}
	if len(in[0]) == 0 {
		return evs, errs
	}

	// The store, pipelined, under one savepoint.
	b := &pgx.Batch{}
	b.Queue("SAVEPOINT sends")
	b.Queue(sendInsertsSQL, in[0], in[1], in[2], in[3], in[4], in[5], in[6], in[7])
	if len(linkMsg) > 0 {
		b.Queue(sendFilesRowSQL, linkMsg, linkFile, linkR)
	}
	b.Queue("RELEASE SAVEPOINT sends")
	br := tx.SendBatch(ctx, b)
	seqs := map[string]int64{}
	_, err = br.Exec()
	if err == nil {
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
		p.msg.Seq = seqs[p.msg.ID]
		o := ops[i]
		o.send.msg, o.send.dup = p.msg, false
		evs[i] = []store.Event{{Kind: store.EventMessage, RoomID: p.msg.Room, Seq: p.msg.Seq, Message: p.msg}}
	}
	return evs, errs
}
