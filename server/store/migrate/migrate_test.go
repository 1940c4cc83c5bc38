package migrate_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"testing"

	"go.uber.org/goleak"

	"minichat/server/auth"
	"minichat/server/protocol"
	"minichat/server/store"
	"minichat/server/store/migrate"
	"minichat/server/store/postgres"
	"minichat/server/store/postgres/pgtest"
	"minichat/server/store/sqlite"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// result carries a call's value and error to must.
type result[T any] struct {
	v   T
	err error
}

func get[T any](v T, err error) result[T] { return result[T]{v, err} }

func (r result[T]) must(t *testing.T) T {
	t.Helper()
	if r.err != nil {
		t.Fatal(r.err)
	}
	return r.v
}

func check(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestSQLiteToPostgres fills a SQLite store through the Store API with one
// of everything, migrates it, and reads it all back through the Postgres
// store: the same users (the password still verifies, the disabled account
// stays disabled), sessions, rooms as each user sees them, logs with edits,
// tombstones, reactions, replies and attachments, files, search; then the
// logs go on from the same seqs. A second migration into the now full
// target is refused and changes nothing.
func TestSQLiteToPostgres(t *testing.T) {
	dbURL, _ := pgtest.Schema(t)
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "minichat.db")
	src, err := sqlite.Open(path, store.Options{})
	check(t, err)

	hash := get(auth.HashPassword("correct horse", auth.Params{Time: 1, MemoryKiB: 8 * 1024, Threads: 1, KeyLen: 32, SaltLen: 16})).must(t)
	alice := get(src.CreateUser(ctx, store.NewUser{Name: "Alice", PasswordHash: hash})).must(t)
	bob := get(src.CreateUser(ctx, store.NewUser{Name: "bob", PasswordHash: "hash-b"})).must(t)
	carol := get(src.CreateUser(ctx, store.NewUser{Name: "carol", PasswordHash: "hash-c"})).must(t)
	dave := get(src.CreateUser(ctx, store.NewUser{Name: "dave", PasswordHash: "hash-d"})).must(t)
	sess := get(src.CreateSession(ctx, alice.ID, []byte("token-of-alice"))).must(t)
	get(src.CreateSession(ctx, dave.ID, []byte("token-of-dave"))).must(t)
	get(src.SetUserDisabled(ctx, dave.ID, true)).must(t)

	rooms := get(src.Rooms(ctx, alice.ID)).must(t)
	general := rooms[0].ID
	priv := get(src.CreateRoom(ctx, alice.ID, "Secret", protocol.RoomPrivate)).must(t)
	check(t, src.Invite(ctx, priv.ID, alice.ID, bob.ID))
	pub := get(src.CreateRoom(ctx, bob.ID, "pub", protocol.RoomPublic)).must(t)
	get(src.Join(ctx, pub.ID, carol.ID)).must(t)
	check(t, src.Leave(ctx, pub.ID, carol.ID))
	dm := get(src.DM(ctx, alice.ID, carol.ID)).must(t)

	file := get(src.CreateFile(ctx, store.NewFile{Name: "cat.png", Size: 3, Type: "image/png", SHA256: "abc", UploaderID: bob.ID})).must(t)
	first, _ := must2(t)(src.Send(ctx, store.SendRequest{RoomID: general, SenderID: alice.ID, Text: "hello world", ClientID: "c1"}))
	reply, _ := must2(t)(src.Send(ctx, store.SendRequest{RoomID: general, SenderID: bob.ID, Text: "hi alice", ReplyTo: first.ID}))
	_, _ = must2(t)(src.Send(ctx, store.SendRequest{RoomID: priv.ID, SenderID: bob.ID, Text: "look", Attachments: []string{file.ID}}))
	doomed, _ := must2(t)(src.Send(ctx, store.SendRequest{RoomID: general, SenderID: carol.ID, Text: "oops"}))
	_, _ = must2(t)(src.Send(ctx, store.SendRequest{RoomID: dm.ID, SenderID: carol.ID, Text: "psst"}))
	for i := range 30 {
		_, _ = must2(t)(src.Send(ctx, store.SendRequest{RoomID: pub.ID, SenderID: bob.ID, Text: fmt.Sprint("filler ", i)}))
	}
	get(src.Edit(ctx, general, first.ID, alice.ID, false, "hello edited world")).must(t)
	get(src.Delete(ctx, general, doomed.ID, carol.ID, false)).must(t)
	get(src.React(ctx, general, reply.ID, carol.ID, "👍", true)).must(t)
	get(src.React(ctx, general, reply.ID, alice.ID, "🎉", true)).must(t)
	get(src.React(ctx, general, reply.ID, alice.ID, "👍", true)).must(t)
	check(t, src.SetRead(ctx, general, bob.ID, reply.Seq))

	// What every user sees, to compare after the move.
	users := []protocol.User{alice, bob, carol, dave}
	type view struct {
		rooms []protocol.Room
		logs  map[string][]store.Event
		page  map[string][]protocol.Message
	}
	look := func(s store.Store) map[string]view {
		out := map[string]view{}
		for _, u := range users {
			v := view{rooms: get(s.Rooms(ctx, u.ID)).must(t), logs: map[string][]store.Event{}, page: map[string][]protocol.Message{}}
			for _, r := range v.rooms {
				v.logs[r.ID] = get(s.Since(ctx, r.ID, 0, 10000)).must(t)
				msgs, _, err := s.History(ctx, r.ID, 0, 10)
				check(t, err)
				v.page[r.ID] = msgs
			}
			out[u.ID] = v
		}
		return out
	}
	before := look(src)
	check(t, src.Close())

	var progress bytes.Buffer
	rep, err := migrate.SQLiteToPostgres(ctx, path, dbURL, &progress)
	check(t, err)
	counts := map[string]int64{}
	for _, tc := range rep.Tables {
		counts[tc.Table] = tc.Rows
	}
	if counts["users"] != 4 || counts["rooms"] != 4 || counts["sessions"] != 1 || counts["files"] != 1 ||
		counts["message_files"] != 1 || counts["reactions"] != 3 || counts["updates"] != 5 {
		t.Fatalf("copied %v", counts)
	}

	dst, err := postgres.Open(ctx, dbURL, store.Options{})
	check(t, err)
	defer dst.Close()
	after := look(dst)
	for _, u := range users {
		b, a := before[u.ID], after[u.ID]
		if !reflect.DeepEqual(a.rooms, b.rooms) {
			t.Fatalf("%s's rooms\n got %+v\nwant %+v", u.Name, a.rooms, b.rooms)
		}
		for id := range b.logs {
			if !reflect.DeepEqual(a.logs[id], b.logs[id]) {
				t.Fatalf("%s: log of %s\n got %+v\nwant %+v", u.Name, id, a.logs[id], b.logs[id])
			}
			if !reflect.DeepEqual(a.page[id], b.page[id]) {
				t.Fatalf("%s: history of %s\n got %+v\nwant %+v", u.Name, id, a.page[id], b.page[id])
			}
		}
	}
	// Accounts: the same password verifies, names are still
	// case-insensitive, the disabled account stays disabled and its session
	// stays revoked, alice's session still works.
	u, h, err := dst.UserByName(ctx, "ALICE")
	check(t, err)
	if ok, err := auth.VerifyPassword(h, "correct horse"); err != nil || !ok || u != alice {
		t.Fatalf("alice after migration: %+v, password verifies %v (%v)", u, ok, err)
	}
	if s, err := dst.SessionByToken(ctx, []byte("token-of-alice")); err != nil || s.ID != sess.ID || s.User != alice {
		t.Fatalf("alice's session: %+v, %v", s, err)
	}
	if _, err := dst.SessionByToken(ctx, []byte("token-of-dave")); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("dave's revoked session: %v", err)
	}
	if _, err := dst.CreateSession(ctx, dave.ID, []byte("again")); !errors.Is(err, store.ErrForbidden) {
		t.Fatalf("disabled dave signs in: %v", err)
	}
	if got := get(dst.Users(ctx)).must(t); !reflect.DeepEqual(got, []protocol.User{alice, bob, carol, dave}) {
		t.Fatalf("users %+v", got)
	}
	// Files: bob (uploader) and alice (member of the room) read it, carol
	// does not.
	if f, err := dst.File(ctx, file.ID, alice.ID); err != nil || !reflect.DeepEqual(f, file) {
		t.Fatalf("file for alice: %+v, %v", f, err)
	}
	if _, err := dst.File(ctx, file.ID, carol.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("file for carol: %v", err)
	}
	// Search finds the copied messages in their current state.
	found := get(dst.Search(ctx, store.SearchRequest{UserID: carol.ID, Terms: []string{"edited world"}})).must(t)
	if len(found) != 1 || found[0].ID != first.ID {
		t.Fatalf("search after migration: %+v", found)
	}
	if found := get(dst.Search(ctx, store.SearchRequest{UserID: carol.ID, Terms: []string{"oops"}})).must(t); len(found) != 0 {
		t.Fatalf("search finds a deleted message: %+v", found)
	}
	// The logs go on; client_ids are still remembered.
	next, _ := must2(t)(dst.Send(ctx, store.SendRequest{RoomID: general, SenderID: bob.ID, Text: "on postgres"}))
	if want := int64(len(before[bob.ID].logs[general])) + 1; next.Seq != want {
		t.Fatalf("next seq %d, want %d", next.Seq, want)
	}
	if again, dup := must2(t)(dst.Send(ctx, store.SendRequest{RoomID: general, SenderID: alice.ID, Text: "x", ClientID: "c1"})); !dup || again.ID != first.ID {
		t.Fatalf("a retried client_id after migration: dup %v, %+v", dup, again)
	}
	if !bytes.Contains(progress.Bytes(), []byte("messages: ")) {
		t.Fatalf("progress %q", progress.String())
	}

	// A second migration finds the target in use and refuses.
	_, err = migrate.SQLiteToPostgres(ctx, path, dbURL, nil)
	if !errors.Is(err, migrate.ErrNotEmpty) {
		t.Fatalf("second migration: %v, want ErrNotEmpty", err)
	}
	if n := pgtest.Count(t, dbURL, "users"); n != 4 {
		t.Fatalf("%d users after the refused migration", n)
	}
}

// must2 checks the error of a call that returns two values.
func must2(t *testing.T) func(protocol.Message, bool, error) (protocol.Message, bool) {
	return func(m protocol.Message, dup bool, err error) (protocol.Message, bool) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return m, dup
	}
}

// TestRefusesNonEmptyTarget checks that a target holding another
// installation's data is left alone.
func TestRefusesNonEmptyTarget(t *testing.T) {
	dbURL, _ := pgtest.Schema(t)
	ctx := context.Background()
	dst, err := postgres.Open(ctx, dbURL, store.Options{})
	check(t, err)
	get(dst.CreateUser(ctx, store.NewUser{Name: "existing", PasswordHash: "h"})).must(t)
	check(t, dst.Close())

	path := filepath.Join(t.TempDir(), "minichat.db")
	src, err := sqlite.Open(path, store.Options{})
	check(t, err)
	get(src.CreateUser(ctx, store.NewUser{Name: "newcomer", PasswordHash: "h"})).must(t)
	check(t, src.Close())

	if _, err := migrate.SQLiteToPostgres(ctx, path, dbURL, nil); !errors.Is(err, migrate.ErrNotEmpty) {
		t.Fatalf("migration into a used database: %v, want ErrNotEmpty", err)
	}
	dst, err = postgres.Open(ctx, dbURL, store.Options{})
	check(t, err)
	defer dst.Close()
	if users := get(dst.Users(ctx)).must(t); len(users) != 1 || users[0].Name != "existing" {
		t.Fatalf("users after the refused migration: %+v", users)
	}
}
