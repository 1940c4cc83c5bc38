package sqlstore_test

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"go.uber.org/goleak"

	"minichat/server/auth"
	"minichat/server/chat"
	"minichat/server/protocol"
	"minichat/server/store"
	"minichat/server/store/pgtest"
	"minichat/server/store/sqlstore"
	"minichat/server/store/storetest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func openSQLite(t testing.TB, dir string, opts store.Options) *sqlstore.Store {
	t.Helper()
	s, err := sqlstore.OpenSQLite(filepath.Join(dir, "minichat.db"), opts)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	return s
}

func openPostgres(t testing.TB, dbURL string, opts store.Options) *sqlstore.Store {
	t.Helper()
	s, err := sqlstore.OpenPostgres(context.Background(), dbURL, opts)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	return s
}

// TestConformance runs the store suite on both databases; on Postgres each
// subtest has a schema of its own (the suite's dir names the schema, so a
// reopen finds the same one).
func TestConformance(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		storetest.Run(t, func(t *testing.T, dir string, opts store.Options) store.Store {
			return openSQLite(t, dir, opts)
		})
	})
	t.Run("postgres", func(t *testing.T) {
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
			return openPostgres(t, dbURL, opts)
		})
	})
}

// both runs a test on a fresh store of each database.
func both(t *testing.T, test func(t *testing.T, open func() *sqlstore.Store)) {
	t.Run("sqlite", func(t *testing.T) {
		dir := t.TempDir()
		test(t, func() *sqlstore.Store { return openSQLite(t, dir, store.Options{}) })
	})
	t.Run("postgres", func(t *testing.T) {
		dbURL, _ := pgtest.Schema(t)
		test(t, func() *sqlstore.Store { return openPostgres(t, dbURL, store.Options{}) })
	})
}

// service is the chat service of a test's store, with cheap password
// hashes: the tests make accounts, not hashes.
func service(s store.Store) *chat.Service {
	return &chat.Service{Store: s, Passwords: auth.NewPasswords(auth.Params{Time: 1, MemoryKiB: 8 * 1024, Threads: 1, KeyLen: 32, SaltLen: 16}, 0)}
}

func account(t testing.TB, c *chat.Service, name string) protocol.User {
	t.Helper()
	u, err := c.CreateAccount(context.Background(), name, "password", false)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// TestMigrationsIdempotent opens the same database several times: the
// schema is applied once, the general room is created once, and the
// recorded version stays put.
func TestMigrationsIdempotent(t *testing.T) {
	both(t, func(t *testing.T, open func() *sqlstore.Store) {
		ctx := t.Context()
		var generalID string
		for i := range 3 {
			s := open()
			if i == 0 {
				account(t, service(s), "alice")
			}
			rooms, err := s.Rooms(ctx, store.Scope{Public: true})
			if err != nil {
				t.Fatal(err)
			}
			if len(rooms) != 1 || rooms[0].Name != protocol.DefaultRoom {
				t.Fatalf("open %d: rooms %+v, want only general", i, rooms)
			}
			if generalID == "" {
				generalID = rooms[0].ID
			} else if rooms[0].ID != generalID {
				t.Fatalf("open %d: general is %s, was %s", i, rooms[0].ID, generalID)
			}
			users, err := s.Users(ctx)
			if err != nil || len(users) != 1 {
				t.Fatalf("open %d: users %+v, %v", i, users, err)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
		}
	})
}

// TestNewerSchemaRefused checks that a database records this program's
// version, and that one written by a newer program is not opened (and not
// touched).
func TestNewerSchemaRefused(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		dir := t.TempDir()
		if err := openSQLite(t, dir, store.Options{}).Close(); err != nil {
			t.Fatal(err)
		}
		db, err := sql.Open("sqlite", filepath.Join(dir, "minichat.db"))
		if err != nil {
			t.Fatal(err)
		}
		var version int
		if err := db.QueryRow("PRAGMA user_version").Scan(&version); err != nil || version != sqlstore.SchemaVersion() {
			t.Fatalf("user_version %d, %v; want %d", version, err, sqlstore.SchemaVersion())
		}
		var mode string
		if err := db.QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
			t.Fatalf("journal_mode %q, %v; want wal", mode, err)
		}
		if _, err := db.Exec("PRAGMA user_version = 999"); err != nil {
			t.Fatal(err)
		}
		db.Close()
		if s, err := sqlstore.OpenSQLite(filepath.Join(dir, "minichat.db"), store.Options{}); err == nil {
			s.Close()
			t.Fatal("opened a database with a newer schema")
		}
	})
	t.Run("postgres", func(t *testing.T) {
		dbURL, _ := pgtest.Schema(t)
		if err := openPostgres(t, dbURL, store.Options{}).Close(); err != nil {
			t.Fatal(err)
		}
		if n := pgtest.Count(t, dbURL, "schema_migrations"); n != int64(sqlstore.SchemaVersion()) {
			t.Fatalf("schema_migrations has %d rows, want %d", n, sqlstore.SchemaVersion())
		}
		pgtest.Exec(t, dbURL, `INSERT INTO schema_migrations (version) VALUES (999)`)
		if s, err := sqlstore.OpenPostgres(t.Context(), dbURL, store.Options{}); err == nil {
			s.Close()
			t.Fatal("opened a database with a newer schema")
		}
	})
}

// TestCancelWhileQueued checks that writes whose callers gave up while the
// writer was busy are skipped, and everything else still completes.
func TestCancelWhileQueued(t *testing.T) {
	ctx := t.Context()
	blocked := make(chan struct{})
	release := make(chan struct{})
	s := openSQLite(t, t.TempDir(), store.Options{OnCommit: func([]store.Event) {
		// Hold the writer inside the first commit's OnCommit.
		select {
		case blocked <- struct{}{}:
			<-release
		default:
		}
	}})
	defer s.Close()
	// On any failure the writer must be let go before Close waits for it.
	releaseOnce := sync.OnceFunc(func() { close(release) })
	defer releaseOnce()
	c := service(s)

	first := make(chan error, 1)
	go func() {
		_, err := c.CreateAccount(ctx, "alice", "password", false)
		first <- err
	}()
	<-blocked // the writer is busy: new writes wait to be taken

	cctx, cancel := context.WithCancel(ctx)
	second := make(chan error, 1)
	go func() {
		_, err := c.CreateAccount(cctx, "bob", "password", false)
		second <- err
	}()
	cancel()
	if err := <-second; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled while queued: %v, want context.Canceled", err)
	}
	releaseOnce()
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if _, err := s.UserByName(ctx, "bob"); err == nil {
		t.Fatal("a write cancelled before it was taken was stored")
	}
}

// TestSearchBackfill checks that the step adding the SQLite search index
// indexes the chat messages already stored: it opens a file, rolls it back
// to the schema before that step (dropping what the step adds), and opens it
// again.
func TestSearchBackfill(t *testing.T) {
	dir := t.TempDir()
	ctx := t.Context()
	s := openSQLite(t, dir, store.Options{})
	c := service(s)
	u := account(t, c, "alice")
	g, err := s.RoomByName(ctx, protocol.DefaultRoom)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, text := range []string{"first needle", "no match", "second needle", "third needle"} {
		m, err := c.Send(ctx, u, chat.SendParams{Room: g.ID, Text: text})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, m.ID)
	}
	if _, err := c.Delete(ctx, u, g.ID, ids[3]); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", filepath.Join(dir, "minichat.db"))
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		"DROP TRIGGER messages_search_update", // messages_search_insert: gone since step 5
		"DROP TABLE search_text", "DROP TABLE search_docs", "DROP TABLE message_files", "DROP TABLE files",
		"ALTER TABLE users DROP COLUMN disabled", // the steps after it, undone too
		"DROP TABLE bot_deliveries", "DROP TABLE bots", "DROP TABLE api_tokens", "ALTER TABLE users DROP COLUMN bot",
		"DROP TABLE cert_files", "DROP TABLE cert_locks",
		"ALTER TABLE rooms DROP COLUMN member_count", "ALTER TABLE rooms DROP COLUMN topic", "ALTER TABLE rooms DROP COLUMN archived", "ALTER TABLE rooms DROP COLUMN created_by",
		"ALTER TABLE users DROP COLUMN display_name", "ALTER TABLE users DROP COLUMN display_key",
		"ALTER TABLE users DROP COLUMN status_text", "ALTER TABLE users DROP COLUMN avatar",
		"DROP TABLE push_outbox", "DROP TABLE push_subscriptions",
		"ALTER TABLE members DROP COLUMN notify", "ALTER TABLE users DROP COLUMN notify_paused_until",
		"DROP TABLE hooks", "DROP TABLE link_previews",
		"ALTER TABLE messages DROP COLUMN style", "ALTER TABLE messages DROP COLUMN via", "ALTER TABLE messages DROP COLUMN preview",
		"DROP TABLE settings", "DROP INDEX sessions_last_seen", "DROP INDEX sessions_created",
		"ALTER TABLE sessions DROP COLUMN last_seen", "ALTER TABLE sessions DROP COLUMN user_agent",
		"PRAGMA user_version = 2",
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	db.Close()

	s = openSQLite(t, dir, store.Options{})
	defer s.Close()
	c = service(s)
	texts := func(limit int) []string {
		t.Helper()
		found, err := s.Search(ctx, store.SearchRequest{Scope: store.Scope{UserID: u.ID}, Terms: []string{"needle"}, Limit: limit})
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, m := range found {
			out = append(out, m.Text)
		}
		return out
	}
	if got, want := texts(0), []string{"second needle", "first needle"}; !slices.Equal(got, want) {
		t.Fatalf("after backfill found %q, want %q", got, want)
	}
	// New messages are indexed after the backfilled ones.
	if _, err := c.Send(ctx, u, chat.SendParams{Room: g.ID, Text: "fresh needle"}); err != nil {
		t.Fatal(err)
	}
	if got := texts(1); !slices.Equal(got, []string{"fresh needle"}) {
		t.Fatalf("newest after backfill: %q", got)
	}
}

// FuzzSearchQuery feeds any query a user may type, as the chat service
// parses it, to the SQLite full-text index: the result is either a
// bad_request from the parser or an answer, never an error from the index.
func FuzzSearchQuery(f *testing.F) {
	for _, q := range []string{
		"fox", `"quick brown" fox`, `"unclosed`, `AND OR NOT`, `fox*`, `^fox`, `NEAR(a b, 2)`, `col:fox`,
		`a + b`, `"a""b"`, `{text}: x`, `(((`, "\x00", "e-mail", "日本語", "cafe\u0301", `-fox`, `fox AND`,
	} {
		f.Add(q)
	}
	s := openSQLite(f, f.TempDir(), store.Options{})
	f.Cleanup(func() { s.Close() })
	ctx := f.Context()
	c := service(s)
	u := account(f, c, "alice")
	g, err := s.RoomByName(ctx, protocol.DefaultRoom)
	if err != nil {
		f.Fatal(err)
	}
	for _, text := range []string{"the quick brown fox", "an e-mail about NEAR and AND", "日本語 text"} {
		if _, err := c.Send(ctx, u, chat.SendParams{Room: g.ID, Text: text}); err != nil {
			f.Fatal(err)
		}
	}
	f.Fuzz(func(t *testing.T, q string) {
		if _, err := c.Search(t.Context(), u, q, ""); err != nil && protocol.ErrorCode(err) != protocol.CodeBadRequest {
			t.Fatalf("Search(%q) = %v", q, err)
		}
	})
}
