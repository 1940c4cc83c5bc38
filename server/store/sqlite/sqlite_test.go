package sqlite_test

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"go.uber.org/goleak"

	"minichat/server/protocol"
	"minichat/server/store"
	"minichat/server/store/sqlite"
	"minichat/server/store/storetest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func openAt(t testing.TB, dir string, opts store.Options) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(filepath.Join(dir, "minichat.db"), opts)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T, dir string, opts store.Options) store.Store {
		return openAt(t, dir, opts)
	})
}

// TestMigrationsIdempotent opens the same file several times: the schema is
// applied once, the general room is created once, and the recorded version
// stays put.
func TestMigrationsIdempotent(t *testing.T) {
	dir := t.TempDir()
	ctx := t.Context()
	var generalID string
	for i := range 3 {
		s := openAt(t, dir, store.Options{})
		if i == 0 {
			if _, err := s.CreateUser(ctx, store.NewUser{Name: "alice", PasswordHash: "h"}); err != nil {
				t.Fatal(err)
			}
		}
		rooms, err := s.Rooms(ctx, "")
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
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
	db, err := sql.Open("sqlite", filepath.Join(dir, "minichat.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var version, users int
	if err := db.QueryRow("PRAGMA user_version").Scan(&version); err != nil {
		t.Fatal(err)
	}
	if version < 1 {
		t.Fatalf("user_version %d after migrations", version)
	}
	if err := db.QueryRow("SELECT COUNT(*) FROM users").Scan(&users); err != nil || users != 1 {
		t.Fatalf("users %d, %v", users, err)
	}
	var mode string
	if err := db.QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
		t.Fatalf("journal_mode %q, %v", mode, err)
	}
}

// TestNewerSchemaRefused checks that a file written by a newer program is
// not opened (and not touched).
func TestNewerSchemaRefused(t *testing.T) {
	dir := t.TempDir()
	s := openAt(t, dir, store.Options{})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", filepath.Join(dir, "minichat.db"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("PRAGMA user_version = 999"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if s, err := sqlite.Open(filepath.Join(dir, "minichat.db"), store.Options{}); err == nil {
		s.Close()
		t.Fatal("opened a database with a newer schema")
	}
}

// TestReopenSeqContinues checks that seq keeps counting across many reopens.
func TestReopenSeqContinues(t *testing.T) {
	dir := t.TempDir()
	ctx := t.Context()
	s := openAt(t, dir, store.Options{})
	u, err := s.CreateUser(ctx, store.NewUser{Name: "alice", PasswordHash: "h"}) // general seq 1
	if err != nil {
		t.Fatal(err)
	}
	rooms, err := s.Rooms(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	general := rooms[0].ID
	want := int64(2)
	for round := range 3 {
		for range 5 {
			m, _, err := s.Send(ctx, store.SendRequest{RoomID: general, SenderID: u.ID, Text: "x"})
			if err != nil {
				t.Fatal(err)
			}
			if m.Seq != want {
				t.Fatalf("round %d: seq %d, want %d", round, m.Seq, want)
			}
			want++
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		s = openAt(t, dir, store.Options{})
	}
	defer s.Close()
	evs, err := s.Since(ctx, general, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(evs)) != want-1 {
		t.Fatalf("log has %d entries, want %d", len(evs), want-1)
	}
}

// TestCancelWhileQueued checks that ops whose callers gave up while the
// writer was busy are skipped, and everything else still completes.
func TestCancelWhileQueued(t *testing.T) {
	ctx := t.Context()
	blocked := make(chan struct{})
	release := make(chan struct{})
	s := openAt(t, t.TempDir(), store.Options{OnCommit: func([]store.Event) {
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

	first := make(chan error, 1)
	go func() {
		_, err := s.CreateUser(ctx, store.NewUser{Name: "alice", PasswordHash: "h"})
		first <- err
	}()
	<-blocked // the writer is busy: new ops wait to be taken

	cctx, cancel := context.WithCancel(ctx)
	second := make(chan error, 1)
	go func() {
		_, err := s.CreateUser(cctx, store.NewUser{Name: "bob", PasswordHash: "h"})
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
	if _, _, err := s.UserByName(ctx, "bob"); err == nil {
		t.Fatal("a write cancelled before it was taken was stored")
	}
}

// TestSearchBackfill checks that the migration adding the search index
// indexes the chat messages already stored: it opens a file, rolls it back
// to the schema before that step (dropping what the step adds), and opens it
// again.
func TestSearchBackfill(t *testing.T) {
	dir := t.TempDir()
	ctx := t.Context()
	s := openAt(t, dir, store.Options{})
	u, err := s.CreateUser(ctx, store.NewUser{Name: "alice", PasswordHash: "h"})
	if err != nil {
		t.Fatal(err)
	}
	rooms, err := s.Rooms(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	general := rooms[0].ID
	var ids []string
	for _, text := range []string{"first needle", "no match", "second needle", "third needle"} {
		m, _, err := s.Send(ctx, store.SendRequest{RoomID: general, SenderID: u.ID, Text: text})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, m.ID)
	}
	if _, err := s.Delete(ctx, general, ids[3], u.ID, false); err != nil {
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
		"DROP TRIGGER messages_search_update", // messages_search_insert: gone since searchAtCommit
		"DROP TABLE search_text", "DROP TABLE search_docs", "DROP TABLE message_files", "DROP TABLE files",
		"ALTER TABLE users DROP COLUMN disabled", // the steps after it, undone too
		"PRAGMA user_version = 2",
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	db.Close()

	s = openAt(t, dir, store.Options{})
	defer s.Close()
	found, err := s.Search(ctx, store.SearchRequest{UserID: u.ID, Terms: []string{"needle"}})
	if err != nil {
		t.Fatal(err)
	}
	var texts []string
	for _, m := range found {
		texts = append(texts, m.Text)
	}
	if want := []string{"second needle", "first needle"}; !slices.Equal(texts, want) {
		t.Fatalf("after backfill found %q, want %q", texts, want)
	}
	// New messages are indexed after the backfilled ones.
	if _, _, err := s.Send(ctx, store.SendRequest{RoomID: general, SenderID: u.ID, Text: "fresh needle"}); err != nil {
		t.Fatal(err)
	}
	found, err = s.Search(ctx, store.SearchRequest{UserID: u.ID, Terms: []string{"needle"}, Limit: 1})
	if err != nil || len(found) != 1 || found[0].Text != "fresh needle" {
		t.Fatalf("newest after backfill: %+v, %v", found, err)
	}
}
