package sqlstore

import (
	"context"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"minichat/server/protocol"
	"minichat/server/store"
	"minichat/server/store/pgtest"
)

var errNotMember = errors.New("not a member")

func memberOnly(_ *store.SendRequest, f *store.SendFacts) error {
	if !f.Room.Member {
		return errNotMember
	}
	return nil
}

// TestLockedLastChecksTheFactsUnderTheLock reads the facts of sends the
// way pipelineSends does, outside any lock, then changes them before the
// second round trip: the pipeline stores nothing and hands the batch to
// the locked path, where the rule sees the change. Unchanged facts are
// stored at the room's next seq.
func TestLockedLastChecksTheFactsUnderTheLock(t *testing.T) {
	ctx := context.Background()
	dbURL, _ := pgtest.Schema(t)
	s, err := OpenPostgres(ctx, dbURL, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var u protocol.User
	var general string
	if err := s.Write(ctx, nil, func(tx store.Tx) (_ []store.Event, err error) {
		if u, err = tx.CreateUser(store.NewUser{Name: "ann", Role: protocol.RoleMember, PasswordHash: "h"}); err != nil {
			return nil, err
		}
		g, err := tx.RoomByName(protocol.DefaultRoom)
		if err != nil {
			return nil, err
		}
		general = g.ID
		return nil, tx.AddMember(general, u.ID)
	}); err != nil {
		t.Fatal(err)
	}
	d := s.d.(*pgDB)
	// decided reads the facts of a send and has it decided, on the
	// writer's connection c, which the caller releases before any write
	// of the store's own (they need it back).
	acquire := func() *pgxpool.Conn {
		t.Helper()
		c, err := d.wpool.Acquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	decided := func(c *pgxpool.Conn, clientID string) *sendWork {
		t.Helper()
		sw := &sendWork{req: store.SendRequest{RoomID: general, SenderID: u.ID, Text: "hello", ClientID: clientID}, rule: memberOnly}
		w := &wtx{s: s, ctx: ctx, db: &pgConnQ{pgQ{q: c, r: d.r}}}
		resetSends([]*sendWork{sw})
		if err := d.sendFacts(w, []*sendWork{sw}); err != nil || !sw.decided || sw.err != nil {
			t.Fatalf("facts of a member's send: %v, decided %v, refused %v", err, sw.decided, sw.err)
		}
		return sw
	}
	lastSeq := func() int64 {
		t.Helper()
		r, err := s.Room(ctx, general, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		return r.LastSeq
	}

	// Unchanged: stored, at the next seq.
	before := lastSeq()
	c := acquire()
	sw := decided(c, "k1")
	done, err := d.storeLockedLast(ctx, c, []*sendWork{sw})
	c.Release()
	if !done || err != nil || sw.msg.Seq != before+1 {
		t.Fatalf("unchanged facts: done %v, %v, seq %d; want stored at %d", done, err, sw.msg.Seq, before+1)
	}

	// The sender leaves between the facts and the lock.
	c = acquire()
	sw = decided(c, "k2")
	c.Release()
	if err := s.Write(ctx, []string{general}, func(tx store.Tx) ([]store.Event, error) {
		return nil, tx.RemoveMember(general, u.ID)
	}); err != nil {
		t.Fatal(err)
	}
	before = lastSeq()
	c = acquire()
	done, err = d.storeLockedLast(ctx, c, []*sendWork{sw})
	c.Release()
	if done || err != nil {
		t.Fatalf("stale facts: done %v, %v; want the locked path (not done)", done, err)
	}
	if got := lastSeq(); got != before {
		t.Fatalf("stale facts stored something: last seq %d, was %d", got, before)
	}
	// The whole path: refused by the rule, on the facts as they are now.
	res := make(chan error, 1)
	s.SendAsync(ctx, sw.req, memberOnly, func(_ protocol.Message, _ bool, err error) { res <- err })
	if err := <-res; !errors.Is(err, errNotMember) {
		t.Fatalf("send after leaving: %v, want the rule's refusal", err)
	}
}
