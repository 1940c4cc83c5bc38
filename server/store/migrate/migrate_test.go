package migrate_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"go.uber.org/goleak"

	"minichat/server/auth"
	"minichat/server/chat"
	"minichat/server/protocol"
	"minichat/server/store"
	"minichat/server/store/migrate"
	"minichat/server/store/pgtest"
	"minichat/server/store/sqlstore"
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

// cheap hashes passwords fast: the tests make accounts, not hashes.
var cheap = auth.NewPasswords(auth.Params{Time: 1, MemoryKiB: 8 * 1024, Threads: 1, KeyLen: 32, SaltLen: 16}, 0)

// TestSQLiteToPostgres fills a SQLite store through the chat service with
// one of everything, migrates it, and reads it all back through the
// Postgres store: the same users (the password still verifies, the
// disabled account stays disabled), sessions, rooms as each user sees
// them, logs with edits, tombstones, reactions, replies and attachments,
// files, search; then the logs go on from the same seqs. A second migration
// into the now full target is refused and changes nothing.
func TestSQLiteToPostgres(t *testing.T) {
	dbURL, _ := pgtest.Schema(t)
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "minichat.db")
	src, err := sqlstore.OpenSQLite(path, store.Options{})
	check(t, err)
	c := &chat.Service{Store: src, Passwords: cheap}

	alice := get(c.CreateAccount(ctx, "Alice", "correct horse", false)).must(t)
	bob := get(c.CreateAccount(ctx, "bob", "password-b", false)).must(t)
	carol := get(c.CreateAccount(ctx, "carol", "password-c", false)).must(t)
	dave := get(c.CreateAccount(ctx, "dave", "password-d", false)).must(t)
	sess := get(c.StartSession(ctx, alice, []byte("token-of-alice"), "")).must(t)
	get(c.StartSession(ctx, dave, []byte("token-of-dave"), "")).must(t)
	_, _, err = c.SetDisabled(ctx, "dave", true)
	check(t, err)

	rooms := get(c.Rooms(ctx, alice)).must(t)
	general := rooms[0].ID
	priv := get(c.CreateRoom(ctx, alice, "Secret", true)).must(t)
	check(t, c.Invite(ctx, alice, priv.ID, "bob"))
	pub := get(c.CreateRoom(ctx, bob, "pub", false)).must(t)
	get(c.Join(ctx, carol, pub.ID)).must(t)
	check(t, c.Leave(ctx, carol, pub.ID))
	dm := get(c.DM(ctx, alice, "carol")).must(t)

	file := get(c.RecordFile(ctx, bob, store.NewFile{Name: "cat.png", Size: 3, Type: "image/png", SHA256: "abc"}, 0, time.Time{})).must(t)
	first := get(c.Send(ctx, alice, chat.SendParams{Room: general, Text: "hello world", ClientID: "c1"})).must(t)
	reply := get(c.Send(ctx, bob, chat.SendParams{Room: general, Text: "hi alice", ReplyTo: first.ID})).must(t)
	get(c.Send(ctx, bob, chat.SendParams{Room: priv.ID, Text: "look", Attachments: []string{file.ID}})).must(t)
	doomed := get(c.Send(ctx, carol, chat.SendParams{Room: general, Text: "oops"})).must(t)
	get(c.Send(ctx, carol, chat.SendParams{Room: dm.ID, Text: "psst"})).must(t)
	for i := range 30 {
		get(c.Send(ctx, bob, chat.SendParams{Room: pub.ID, Text: fmt.Sprint("filler ", i)})).must(t)
	}
	get(c.Edit(ctx, alice, general, first.ID, "hello edited world")).must(t)
	get(c.Delete(ctx, carol, general, doomed.ID)).must(t)
	get(c.React(ctx, carol, general, reply.ID, "👍", true)).must(t)
	get(c.React(ctx, alice, general, reply.ID, "🎉", true)).must(t)
	get(c.React(ctx, alice, general, reply.ID, "👍", true)).must(t)
	check(t, c.Read(ctx, bob, general, reply.Seq))

	// A profile moves too.
	name, status := "Alice L. 🌷", "in the garden"
	alice = get(c.UpdateProfile(ctx, alice, protocol.ProfileChange{DisplayName: &name, StatusText: &status})).must(t)
	alice, _, err = c.SetAvatar(ctx, alice, "/api/avatars/a_migrated")
	check(t, err)

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
			v := view{rooms: get(s.Rooms(ctx, store.Scope{UserID: u.ID, Public: true})).must(t), logs: map[string][]store.Event{}, page: map[string][]protocol.Message{}}
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

	dst, err := sqlstore.OpenPostgres(ctx, dbURL, store.Options{})
	check(t, err)
	defer dst.Close()
	c = &chat.Service{Store: dst, Passwords: cheap}
	after := look(dst)
	if u, err := dst.UserByID(ctx, alice.ID); err != nil || u != alice {
		t.Fatalf("alice after the move: %+v, %v; want %+v", u, err, alice)
	}
	if found, err := dst.SearchUsers(ctx, "ALICE l", "", 5); err != nil || len(found) != 1 || found[0] != alice {
		t.Fatalf("people search by display name after the move: %+v, %v", found, err)
	}
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
	if u, ok, err := c.SignIn(ctx, "ALICE", "correct horse"); err != nil || !ok || u != alice {
		t.Fatalf("alice after migration: %+v, password verifies %v (%v)", u, ok, err)
	}
	if s, err := dst.SessionByToken(ctx, []byte("token-of-alice")); err != nil || s.ID != sess.ID || s.User != alice {
		t.Fatalf("alice's session: %+v, %v", s, err)
	}
	if _, err := dst.SessionByToken(ctx, []byte("token-of-dave")); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("dave's revoked session: %v", err)
	}
	if _, err := c.StartSession(ctx, dave, []byte("again"), ""); protocol.ErrorCode(err) != protocol.CodeForbidden {
		t.Fatalf("disabled dave signs in: %v", err)
	}
	var listed []string
	for _, a := range get(dst.Users(ctx)).must(t) {
		listed = append(listed, fmt.Sprint(a.User, a.Disabled))
	}
	if want := []string{fmt.Sprint(alice, false), fmt.Sprint(bob, false), fmt.Sprint(carol, false), fmt.Sprint(dave, true)}; !reflect.DeepEqual(listed, want) {
		t.Fatalf("users %v, want %v", listed, want)
	}
	// Files: bob (uploader) and alice (member of the room) read it, carol
	// does not.
	if f, err := c.File(ctx, alice, file.ID); err != nil || !reflect.DeepEqual(f, file) {
		t.Fatalf("file for alice: %+v, %v", f, err)
	}
	if _, err := c.File(ctx, carol, file.ID); protocol.ErrorCode(err) != protocol.CodeNotFound {
		t.Fatalf("file for carol: %v", err)
	}
	// Search finds the copied messages in their current state.
	found := get(c.Search(ctx, carol, `"edited world"`, "")).must(t)
	if len(found) != 1 || found[0].ID != first.ID {
		t.Fatalf("search after migration: %+v", found)
	}
	if found := get(c.Search(ctx, carol, "oops", "")).must(t); len(found) != 0 {
		t.Fatalf("search finds a deleted message: %+v", found)
	}
	// The logs go on; client_ids are still remembered.
	next := get(c.Send(ctx, bob, chat.SendParams{Room: general, Text: "on postgres"})).must(t)
	if want := int64(len(before[bob.ID].logs[general])) + 1; next.Seq != want {
		t.Fatalf("next seq %d, want %d", next.Seq, want)
	}
	if again := get(c.Send(ctx, alice, chat.SendParams{Room: general, Text: "x", ClientID: "c1"})).must(t); again.ID != first.ID {
		t.Fatalf("a retried client_id after migration: %+v", again)
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

// TestRefusesNonEmptyTarget checks that a target holding another
// installation's data is left alone.
func TestRefusesNonEmptyTarget(t *testing.T) {
	dbURL, _ := pgtest.Schema(t)
	ctx := context.Background()
	dst, err := sqlstore.OpenPostgres(ctx, dbURL, store.Options{})
	check(t, err)
	get((&chat.Service{Store: dst, Passwords: cheap}).CreateAccount(ctx, "existing", "password", false)).must(t)
	check(t, dst.Close())

	path := filepath.Join(t.TempDir(), "minichat.db")
	src, err := sqlstore.OpenSQLite(path, store.Options{})
	check(t, err)
	get((&chat.Service{Store: src, Passwords: cheap}).CreateAccount(ctx, "newcomer", "password", false)).must(t)
	check(t, src.Close())

	if _, err := migrate.SQLiteToPostgres(ctx, path, dbURL, nil); !errors.Is(err, migrate.ErrNotEmpty) {
		t.Fatalf("migration into a used database: %v, want ErrNotEmpty", err)
	}
	dst, err = sqlstore.OpenPostgres(ctx, dbURL, store.Options{})
	check(t, err)
	defer dst.Close()
	if users := get(dst.Users(ctx)).must(t); len(users) != 1 || users[0].Name != "existing" {
		t.Fatalf("users after the refused migration: %+v", users)
	}
}
