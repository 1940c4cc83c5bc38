package sqlstore_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"

	"minichat/server/chat"
	"minichat/server/protocol"
	"minichat/server/store"
	"minichat/server/store/pgtest"
	"minichat/server/store/sqlstore"
)

// TestMigrationsConcurrentStart starts several stores on one empty schema
// at once, as nodes of a cluster do: the advisory lock lets one apply the
// schema and the others find it done, so every open succeeds, each step is
// recorded once and there is one general room.
func TestMigrationsConcurrentStart(t *testing.T) {
	dbURL, _ := pgtest.Schema(t)
	const nodes = 4
	stores := make([]*sqlstore.Store, nodes)
	errs := make([]error, nodes)
	var wg sync.WaitGroup
	for i := range nodes {
		wg.Go(func() {
			stores[i], errs[i] = sqlstore.OpenPostgres(context.Background(), pgtest.WithParams(t, dbURL, "pool_max_conns", "2"), store.Options{})
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("node %d: %v", i, err)
		}
		defer stores[i].Close()
	}
	rooms, err := stores[0].Rooms(t.Context(), store.Scope{Public: true})
	if err != nil || len(rooms) != 1 || rooms[0].Name != protocol.DefaultRoom {
		t.Fatalf("rooms %+v, %v; want only general", rooms, err)
	}
	if n := pgtest.Count(t, dbURL, "schema_migrations"); n != int64(sqlstore.SchemaVersion()) {
		t.Fatalf("schema_migrations has %d rows, want %d", n, sqlstore.SchemaVersion())
	}
}

// TestPoolTooSmall checks that a pool the writer would starve is refused
// with a clear error.
func TestPoolTooSmall(t *testing.T) {
	if _, err := sqlstore.ParseConfig("postgres://u@127.0.0.1/db?pool_max_conns=1"); err == nil {
		t.Fatal("pool_max_conns=1 accepted")
	}
	cfg, err := sqlstore.ParseConfig("postgres://u@127.0.0.1/db?pool_max_conns=7")
	if err != nil || cfg.MaxConns != 7 {
		t.Fatalf("pool_max_conns=7: %v, %v", cfg, err)
	}
}

// node is one of several stores on one database, with the events its
// commits produced.
type node struct {
	s  *sqlstore.Store
	c  *chat.Service
	mu sync.Mutex
	ev []store.Event
}

func nodes(t *testing.T, dbURL string, n int) []*node {
	t.Helper()
	ns := make([]*node, n)
	for i := range ns {
		nd := &node{}
		nd.s = openPostgres(t, pgtest.WithParams(t, dbURL, "pool_max_conns", "3"), store.Options{OnCommit: func(evs []store.Event) {
			nd.mu.Lock()
			nd.ev = append(nd.ev, evs...)
			nd.mu.Unlock()
		}})
		t.Cleanup(func() { nd.s.Close() })
		nd.c = service(nd.s)
		ns[i] = nd
	}
	return ns
}

// TestNodesShareRoom runs several stores (nodes) on one database, all
// sending into one room at once, with some sends retried on another node
// with the same client_id: the room's seqs are exactly 1..N with no gap and
// no duplicate, every retry answers with the original, and each node's
// OnCommit saw its own sends in seq order.
func TestNodesShareRoom(t *testing.T) {
	dbURL, _ := pgtest.Schema(t)
	ctx := t.Context()
	const senders, each = 4, 30
	ns := nodes(t, dbURL, 3)
	alice := account(t, ns[0].c, "alice")
	room, err := ns[1].c.CreateRoom(ctx, alice, "busy", false)
	if err != nil {
		t.Fatal(err)
	}
	// A second room written at the same time, in the other lock order on
	// each node, must not deadlock the batches.
	other, err := ns[2].c.CreateRoom(ctx, alice, "other", false)
	if err != nil {
		t.Fatal(err)
	}
	users := make([]protocol.User, len(ns)*senders)
	for i := range users {
		users[i] = account(t, ns[i%len(ns)].c, fmt.Sprint("u", i))
		for _, r := range []string{room.ID, other.ID} {
			if _, err := ns[(i+1)%len(ns)].c.Join(ctx, users[i], r); err != nil {
				t.Fatal(err)
			}
		}
	}
	base, err := ns[0].s.Room(ctx, room.ID, alice.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range ns {
		n.mu.Lock()
		n.ev = nil
		n.mu.Unlock()
	}

	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		seqs []int64
	)
	errs := make(chan error, len(users)*each)
	for i, u := range users {
		n := ns[i%len(ns)]
		wg.Go(func() {
			for j := range each {
				rooms := []string{room.ID, other.ID}
				if j%2 == 1 {
					rooms[0], rooms[1] = rooms[1], rooms[0]
				}
				// Two sends in flight at once, so one batch holds both rooms.
				type res struct {
					m   protocol.Message
					err error
				}
				out := make(chan res, 2)
				for k, r := range rooms {
					n.c.SendAsync(ctx, u, chat.SendParams{Room: r, Text: fmt.Sprint(i, "/", j), ClientID: fmt.Sprint("c", j, "-", k)},
						func(m protocol.Message, err error) { out <- res{m, err} })
				}
				for range rooms {
					r := <-out
					if r.err != nil {
						errs <- r.err
						return
					}
					if r.m.Room != room.ID {
						continue
					}
					mu.Lock()
					seqs = append(seqs, r.m.Seq)
					mu.Unlock()
					// Every third message is retried through another node.
					if j%3 == 0 {
						k := slices.Index(rooms, room.ID)
						again, err := ns[(i+1)%len(ns)].c.Send(ctx, u, chat.SendParams{Room: room.ID, Text: "retry", ClientID: fmt.Sprint("c", j, "-", k)})
						if err != nil || again.ID != r.m.ID || again.Text == "retry" {
							errs <- fmt.Errorf("retry on another node: %+v, %v", again, err)
							return
						}
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	slices.Sort(seqs)
	want := len(users) * each
	if len(seqs) != want {
		t.Fatalf("%d sends acknowledged, want %d", len(seqs), want)
	}
	for i, s := range seqs {
		if s != base.LastSeq+int64(i)+1 {
			t.Fatalf("seq at position %d is %d, want %d: a gap or a duplicate", i, s, base.LastSeq+int64(i)+1)
		}
	}
	log, err := ns[0].s.Since(ctx, room.ID, 0, 100000)
	if err != nil {
		t.Fatal(err)
	}
	for i, ev := range log {
		if ev.Seq != int64(i)+1 {
			t.Fatalf("log entry %d has seq %d", i, ev.Seq)
		}
	}
	if int64(len(log)) != base.LastSeq+int64(want) {
		t.Fatalf("log has %d entries, want %d", len(log), base.LastSeq+int64(want))
	}
	// Each node's OnCommit: its own sends only, in seq order per room.
	total := 0
	for i, n := range ns {
		n.mu.Lock()
		last := map[string]int64{}
		for _, ev := range n.ev {
			if ev.Seq <= last[ev.RoomID] {
				t.Fatalf("node %d: OnCommit seq %d in room %s after %d", i, ev.Seq, ev.RoomID, last[ev.RoomID])
			}
			last[ev.RoomID] = ev.Seq
			if ev.RoomID == room.ID {
				total++
			}
		}
		n.mu.Unlock()
	}
	if total != want {
		t.Fatalf("the nodes' OnCommit saw %d messages of the room, want %d", total, want)
	}
}

// TestNodesRaceSameClientID sends the same client_id through two nodes at
// the same moment, as a client that reconnected to another node and resent
// does: exactly one of the two stores the message, the other answers with
// it as a duplicate, and the log holds it once. One node sends into
// general, the other into another room: in one room the room's lock already
// orders the two, across rooms only the unique index does, and the loser's
// row of sends is rolled back and run again.
func TestNodesRaceSameClientID(t *testing.T) {
	dbURL, _ := pgtest.Schema(t)
	ctx := t.Context()
	ns := nodes(t, dbURL, 2)
	alice := account(t, ns[0].c, "alice")
	g, err := ns[0].s.RoomByName(ctx, protocol.DefaultRoom)
	if err != nil {
		t.Fatal(err)
	}
	side, err := ns[0].c.CreateRoom(ctx, alice, "side", false)
	if err != nil {
		t.Fatal(err)
	}
	const rounds = 40
	type res struct {
		m   protocol.Message
		dup bool
		err error
	}
	rule := func(_ *store.SendRequest, f *store.SendFacts) error { return nil }
	for i := range rounds {
		out := make(chan res, 4)
		done := func(m protocol.Message, dup bool, err error) { out <- res{m, dup, err} }
		req := store.SendRequest{RoomID: g.ID, SenderID: alice.ID, Text: fmt.Sprint("round ", i), ClientID: fmt.Sprint("c", i)}
		// A second send without client_id in each batch keeps the row of
		// sends longer than one.
		filler := store.SendRequest{RoomID: g.ID, SenderID: alice.ID, Text: "filler"}
		ns[0].s.SendAsync(ctx, req, rule, done)
		ns[0].s.SendAsync(ctx, filler, rule, done)
		req.RoomID, filler.RoomID = side.ID, side.ID
		ns[1].s.SendAsync(ctx, req, rule, done)
		ns[1].s.SendAsync(ctx, filler, rule, done)
		var stored, dups int
		var ids []string
		for range 4 {
			r := <-out
			if r.err != nil {
				t.Fatalf("round %d: %v", i, r.err)
			}
			if r.m.ClientID == "" {
				continue
			}
			ids = append(ids, r.m.ID)
			if r.dup {
				dups++
			} else {
				stored++
			}
		}
		if stored != 1 || dups != 1 || ids[0] != ids[1] {
			t.Fatalf("round %d: %d stored, %d duplicates, ids %v", i, stored, dups, ids)
		}
	}
	seen := map[string]bool{}
	for _, r := range []string{g.ID, side.ID} {
		log, err := ns[0].s.Since(ctx, r, 0, 10000)
		if err != nil {
			t.Fatal(err)
		}
		for i, ev := range log {
			if ev.Seq != int64(i)+1 {
				t.Fatalf("log entry %d has seq %d", i, ev.Seq)
			}
			if c := ev.Message.ClientID; c != "" {
				if seen[c] {
					t.Fatalf("client_id %s stored twice", c)
				}
				seen[c] = true
			}
		}
	}
	if len(seen) != rounds {
		t.Fatalf("%d client_ids stored, want %d", len(seen), rounds)
	}
}

// TestNodesRaceDM opens the direct-message room of two users from both
// sides on two nodes at the same moment: the write that loses the race for
// the room's key runs again and finds the winner's room, so both sides get
// the one room.
func TestNodesRaceDM(t *testing.T) {
	dbURL, _ := pgtest.Schema(t)
	ctx := t.Context()
	ns := nodes(t, dbURL, 2)
	for i := range 20 {
		a := account(t, ns[0].c, fmt.Sprint("a", i))
		b := account(t, ns[1].c, fmt.Sprint("b", i))
		type res struct {
			r   protocol.Room
			err error
		}
		out := make(chan res, 2)
		go func() { r, err := ns[0].c.DM(ctx, a, b.Name); out <- res{r, err} }()
		go func() { r, err := ns[1].c.DM(ctx, b, a.Name); out <- res{r, err} }()
		x, y := <-out, <-out
		if x.err != nil || y.err != nil || x.r.ID != y.r.ID || x.r.Members != 2 || y.r.Members != 2 {
			t.Fatalf("round %d: %+v / %+v", i, x, y)
		}
	}
	if n := pgtest.Count(t, dbURL, "rooms"); n != 21 {
		t.Fatalf("%d rooms, want general and 20 direct-message rooms", n)
	}
}
