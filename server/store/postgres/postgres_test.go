package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"go.uber.org/goleak"

	"minichat/server/protocol"
	"minichat/server/store"
	"minichat/server/store/postgres"
	"minichat/server/store/postgres/pgtest"
	"minichat/server/store/storetest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func open(t testing.TB, dbURL string, opts store.Options) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(context.Background(), dbURL, opts)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	return s
}

// TestConformance runs the store suite, each subtest in a schema of its
// own (the suite's dir names the schema; a reopen finds the same one).
func TestConformance(t *testing.T) {
	pgtest.BaseURL(t)
	var (
		mu      sync.Mutex
		schemas = map[string]string{}
	)
	storetest.Run(t, func(t *testing.T, dir string, opts store.Options) store.Store {
		mu.Lock()
		dbURL, ok := schemas[dir]
		if !ok {
			dbURL, _ = pgtest.Schema(t)
			schemas[dir] = dbURL
		}
		mu.Unlock()
		return open(t, dbURL, opts)
	})
}

// TestMigrationsConcurrentStart starts several stores on one empty schema
// at once, as nodes of a cluster do: the advisory lock lets one apply the
// schema and the others find it done, so every open succeeds, each step is
// recorded once and there is one general room.
func TestMigrationsConcurrentStart(t *testing.T) {
	dbURL, _ := pgtest.Schema(t)
	const nodes = 4
	stores := make([]*postgres.Store, nodes)
	errs := make([]error, nodes)
	var wg sync.WaitGroup
	for i := range nodes {
		wg.Go(func() {
			stores[i], errs[i] = postgres.Open(context.Background(), pgtest.WithParams(t, dbURL, "pool_max_conns", "2"), store.Options{})
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("node %d: %v", i, err)
		}
		defer stores[i].Close()
	}
	rooms, err := stores[0].Rooms(t.Context(), "")
	if err != nil {
		t.Fatal(err)
	}
	if len(rooms) != 1 || rooms[0].Name != protocol.DefaultRoom {
		t.Fatalf("rooms %+v, want only general", rooms)
	}
	if n := pgtest.Count(t, dbURL, "schema_migrations"); n != int64(postgres.SchemaVersion()) {
		t.Fatalf("schema_migrations has %d rows, want %d", n, postgres.SchemaVersion())
	}
	// Opening again changes nothing.
	s := open(t, dbURL, store.Options{})
	defer s.Close()
	again, err := s.Rooms(t.Context(), "")
	if err != nil || len(again) != 1 || again[0].ID != rooms[0].ID {
		t.Fatalf("after another open: %+v, %v", again, err)
	}
}

// TestNewerSchemaRefused checks that a database written by a newer program
// is not opened.
func TestNewerSchemaRefused(t *testing.T) {
	dbURL, _ := pgtest.Schema(t)
	s := open(t, dbURL, store.Options{})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	c, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	if _, err := c.Exec(ctx, `INSERT INTO schema_migrations (version) VALUES (999)`); err != nil {
		t.Fatal(err)
	}
	if s, err := postgres.Open(ctx, dbURL, store.Options{}); err == nil {
		s.Close()
		t.Fatal("opened a database with a newer schema")
	}
}

// TestPoolTooSmall checks that a pool the writer would starve is refused
// with a clear error.
func TestPoolTooSmall(t *testing.T) {
	if _, err := postgres.ParseConfig("postgres://u@127.0.0.1/db?pool_max_conns=1"); err == nil {
		t.Fatal("pool_max_conns=1 accepted")
	}
	cfg, err := postgres.ParseConfig("postgres://u@127.0.0.1/db?pool_max_conns=7")
	if err != nil || cfg.MaxConns != 7 {
		t.Fatalf("pool_max_conns=7: %v, %v", cfg, err)
	}
}

// TestNodesShareRoom runs several stores (nodes) on one database, all
// sending into one room at once, with some sends retried on another node
// with the same client_id: the room's seqs are exactly 1..N with no gap and
// no duplicate, every retry answers with the original, and each node's
// OnCommit saw its own sends in seq order.
func TestNodesShareRoom(t *testing.T) {
	dbURL, _ := pgtest.Schema(t)
	ctx := t.Context()
	const nodes, senders, each = 3, 4, 30
	type node struct {
		s  *postgres.Store
		mu sync.Mutex
		ev []store.Event
	}
	ns := make([]*node, nodes)
	for i := range ns {
		n := &node{}
		n.s = open(t, pgtest.WithParams(t, dbURL, "pool_max_conns", "3"), store.Options{OnCommit: func(evs []store.Event) {
			n.mu.Lock()
			n.ev = append(n.ev, evs...)
			n.mu.Unlock()
		}})
		defer n.s.Close()
		ns[i] = n
	}
	alice, err := ns[0].s.CreateUser(ctx, store.NewUser{Name: "alice", PasswordHash: "h"})
	if err != nil {
		t.Fatal(err)
	}
	room, err := ns[1].s.CreateRoom(ctx, alice.ID, "busy", protocol.RoomPublic)
	if err != nil {
		t.Fatal(err)
	}
	// A second room written at the same time, in the other lock order on
	// each node, must not deadlock the batches.
	other, err := ns[2].s.CreateRoom(ctx, alice.ID, "other", protocol.RoomPublic)
	if err != nil {
		t.Fatal(err)
	}
	users := make([]protocol.User, nodes*senders)
	for i := range users {
		u, err := ns[i%nodes].s.CreateUser(ctx, store.NewUser{Name: fmt.Sprint("u", i), PasswordHash: "h"})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range []string{room.ID, other.ID} {
			if _, err := ns[(i+1)%nodes].s.Join(ctx, r, u.ID); err != nil {
				t.Fatal(err)
			}
		}
		users[i] = u
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
		n := ns[i%nodes]
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
					n.s.SendAsync(ctx, store.SendRequest{RoomID: r, SenderID: u.ID, Text: fmt.Sprint(i, "/", j), ClientID: fmt.Sprint("c", j, "-", k)},
						func(m protocol.Message, dup bool, err error) {
							if err == nil && dup {
								err = fmt.Errorf("first send answered as a duplicate")
							}
							out <- res{m, err}
						})
				}
				for range rooms {
					r := <-out
					if r.err != nil {
						errs <- r.err
						return
					}
					if r.m.Room == room.ID {
						mu.Lock()
						seqs = append(seqs, r.m.Seq)
						mu.Unlock()
						// Every third message is retried through another node.
						if j%3 == 0 {
							k := slices.Index(rooms, room.ID)
							again, dup, err := ns[(i+1)%nodes].s.Send(ctx, store.SendRequest{RoomID: room.ID, SenderID: u.ID, Text: "retry", ClientID: fmt.Sprint("c", j, "-", k)})
							if err != nil || !dup || again.ID != r.m.ID {
								errs <- fmt.Errorf("retry on another node: dup %v, %v", dup, err)
								return
							}
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
	a := open(t, dbURL, store.Options{})
	defer a.Close()
	b := open(t, dbURL, store.Options{})
	defer b.Close()
	alice, err := a.CreateUser(ctx, store.NewUser{Name: "alice", PasswordHash: "h"})
	if err != nil {
		t.Fatal(err)
	}
	g, err := a.Rooms(ctx, alice.ID)
	if err != nil {
		t.Fatal(err)
	}
	room := g[0].ID
	side, err := a.CreateRoom(ctx, alice.ID, "side", protocol.RoomPublic)
	if err != nil {
		t.Fatal(err)
	}
	const rounds = 40
	type res struct {
		m   protocol.Message
		dup bool
		err error
	}
	for i := range rounds {
		out := make(chan res, 4)
		done := func(m protocol.Message, dup bool, err error) { out <- res{m, dup, err} }
		req := store.SendRequest{RoomID: room, SenderID: alice.ID, Text: fmt.Sprint("round ", i), ClientID: fmt.Sprint("c", i)}
		// A second send without client_id in each batch keeps the row of
		// sends longer than one.
		other := store.SendRequest{RoomID: room, SenderID: alice.ID, Text: "filler"}
		a.SendAsync(ctx, req, done)
		a.SendAsync(ctx, other, done)
		req.RoomID, other.RoomID = side.ID, side.ID
		b.SendAsync(ctx, req, done)
		b.SendAsync(ctx, other, done)
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
	for _, r := range []string{room, side.ID} {
		log, err := a.Since(ctx, r, 0, 10000)
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

// TestNULRefused checks that text Postgres cannot hold (a NUL character) is
// refused as invalid, storing nothing, while the sends committed with it in
// the same batch are stored.
func TestNULRefused(t *testing.T) {
	dbURL, _ := pgtest.Schema(t)
	ctx := t.Context()
	s := open(t, dbURL, store.Options{})
	defer s.Close()
	alice, err := s.CreateUser(ctx, store.NewUser{Name: "alice", PasswordHash: "h"})
	if err != nil {
		t.Fatal(err)
	}
	rooms, err := s.Rooms(ctx, alice.ID)
	if err != nil {
		t.Fatal(err)
	}
	g := rooms[0]
	type res struct {
		m   protocol.Message
		err error
	}
	out := make(chan res, 3)
	for _, text := range []string{"before", "bad\x00text", "after"} {
		s.SendAsync(ctx, store.SendRequest{RoomID: g.ID, SenderID: alice.ID, Text: text},
			func(m protocol.Message, _ bool, err error) { out <- res{m, err} })
	}
	var stored []string
	for range 3 {
		r := <-out
		switch {
		case r.err == nil:
			stored = append(stored, r.m.Text)
		case !errors.Is(r.err, store.ErrInvalid):
			t.Fatalf("NUL text: %v, want ErrInvalid", r.err)
		}
	}
	if !slices.Equal(stored, []string{"before", "after"}) {
		t.Fatalf("stored %q", stored)
	}
	if _, err := s.Edit(ctx, g.ID, mustFirst(t, s, g.ID, "before"), alice.ID, false, "x\x00"); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("edit to NUL text: %v, want ErrInvalid", err)
	}
	if _, err := s.CreateFile(ctx, store.NewFile{Name: "a\x00.png", Size: 1, Type: "image/png", SHA256: "x", UploaderID: alice.ID}); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("file name with NUL: %v, want ErrInvalid", err)
	}
	if r, err := s.Room(ctx, g.ID, alice.ID); err != nil || r.LastSeq != g.LastSeq+2 {
		t.Fatalf("room after: %+v, %v (last seq was %d)", r, err, g.LastSeq)
	}
}

// mustFirst returns the id of the message of a room with that text.
func mustFirst(t *testing.T, s store.Store, roomID, text string) string {
	t.Helper()
	msgs, _, err := s.History(t.Context(), roomID, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		if m.Text == text {
			return m.ID
		}
	}
	t.Fatalf("no message %q", text)
	return ""
}
