package sqlstore

import (
	"context"
	"fmt"
	"math"
	"slices"

	"minichat/server/protocol"
	"minichat/server/store"
)

// Page returns a page of a room's messages before, after or around a seq.
// Every read walks the (room_id, seq) primary key from the asked place, so
// a page costs the same anywhere in a long room; the flags are one-row
// probes of the same key.
func (s *Store) Page(ctx context.Context, req store.PageRequest) (store.Page, error) {
	q, err := s.reads()
	if err != nil {
		return store.Page{}, fmt.Errorf("page: %w", err)
	}
	limit := req.Limit
	if limit <= 0 {
		limit = protocol.DefaultHistory
	}
	around := req.Around
	if req.AroundID != "" {
		err := q.queryRow(ctx, `SELECT seq FROM messages WHERE id = $1 AND room_id = $2`, req.AroundID, req.RoomID).Scan(&around)
		if err != nil {
			return store.Page{}, fmt.Errorf("page: %w", notFound(err, "message %s", req.AroundID))
		}
	}
	var (
		p    store.Page
		msgs []scanned
	)
	switch {
	case around > 0:
		older, more, err := pageBefore(ctx, q, req.RoomID, around+1, (limit+1)/2)
		if err != nil {
			return store.Page{}, fmt.Errorf("page: %w", err)
		}
		newer, newerMore, err := pageAfter(ctx, q, req.RoomID, around, limit-len(older))
		if err != nil {
			return store.Page{}, fmt.Errorf("page: %w", err)
		}
		if short := limit - len(older) - len(newer); short > 0 && more && len(older) > 0 {
			// Near the end: the page is filled with older messages.
			var extra []scanned
			if extra, more, err = pageBefore(ctx, q, req.RoomID, older[0].Seq, short); err != nil {
				return store.Page{}, fmt.Errorf("page: %w", err)
			}
			older = append(extra, older...)
		}
		msgs, p.HasOlder, p.HasNewer = append(older, newer...), more, newerMore
	case req.After > 0:
		msgs, p.HasNewer, err = pageAfter(ctx, q, req.RoomID, req.After, limit)
		if err == nil {
			p.HasOlder, err = anyBetween(ctx, q, req.RoomID, 0, req.After+1)
		}
	default:
		before := req.Before
		if before <= 0 {
			before = math.MaxInt64
		}
		msgs, p.HasOlder, err = pageBefore(ctx, q, req.RoomID, before, limit)
		if err == nil && req.Before > 0 {
			p.HasNewer, err = anyBetween(ctx, q, req.RoomID, req.Before-1, math.MaxInt64)
		}
	}
	if err != nil {
		return store.Page{}, fmt.Errorf("page: %w", err)
	}
	if p.Messages, err = s.messages(ctx, q, msgs); err != nil {
		return store.Page{}, fmt.Errorf("page: %w", err)
	}
	return p, nil
}

// pageBefore reads the newest limit messages with seq < before, oldest
// first, and whether older ones exist.
func pageBefore(ctx context.Context, q db, roomID string, before int64, limit int) ([]scanned, bool, error) {
	if limit <= 0 {
		more, err := anyBetween(ctx, q, roomID, 0, before)
		return nil, more, err
	}
	msgs, more, err := pageOf(ctx, q, `SELECT `+msgCols+` FROM `+msgFrom+`
		WHERE m.room_id = $1 AND m.seq < $2 ORDER BY m.seq DESC LIMIT $3`, roomID, before, limit)
	slices.Reverse(msgs)
	return msgs, more, err
}

// pageAfter reads the oldest limit messages with seq > after, oldest
// first, and whether newer ones exist.
func pageAfter(ctx context.Context, q db, roomID string, after int64, limit int) ([]scanned, bool, error) {
	if limit <= 0 {
		more, err := anyBetween(ctx, q, roomID, after, math.MaxInt64)
		return nil, more, err
	}
	return pageOf(ctx, q, `SELECT `+msgCols+` FROM `+msgFrom+`
		WHERE m.room_id = $1 AND m.seq > $2 ORDER BY m.seq LIMIT $3`, roomID, after, limit)
}

// pageOf runs q on the room and seq given, with limit+1 as its LIMIT $3,
// and returns the first limit messages and whether there were more.
func pageOf(ctx context.Context, q db, sql, roomID string, seq int64, limit int) ([]scanned, bool, error) {
	msgs, err := queryMessages(ctx, q, sql, roomID, seq, limit+1)
	if err != nil {
		return nil, false, err
	}
	more := len(msgs) > limit
	if more {
		msgs = msgs[:limit]
	}
	return msgs, more, nil
}

// anyBetween reports whether the room holds a message with lo < seq < hi.
func anyBetween(ctx context.Context, q db, roomID string, lo, hi int64) (bool, error) {
	var n int
	err := q.queryRow(ctx, `SELECT COUNT(*) FROM (SELECT 1 FROM messages
		WHERE room_id = $1 AND seq > $2 AND seq < $3 LIMIT 1) x`, roomID, lo, hi).Scan(&n)
	return n > 0, err
}
