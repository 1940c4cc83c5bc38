package sqlstore_test

import (
	"compress/gzip"
	"context"
	"database/sql"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"minichat/server/auth"
	"minichat/server/chat"
	"minichat/server/protocol"
	"minichat/server/store"
	"minichat/server/store/pgtest"
	"minichat/server/store/sqlstore"
)

// The databases in testdata were made by the stores of 8638021, the last
// ones written once per database (schema version 5), through their own API
// with a clock starting at 2026-01-02T03:04:05Z:
//
//   - accounts Alice (the admin), bob, carol and dave, passwords "NAME
//     password" (argon2id, t=1, 8 MiB); sessions for the tokens
//     "token-of-alice" and "token-of-dave"; dave then disabled;
//   - Alice's private room Secret, bob invited; bob's public room pub,
//     which carol joined and left; the DM of Alice and carol;
//   - bob's upload cat.png, posted in Secret;
//   - in general: Alice's "hello world" (client_id c1, then edited to "hello
//     edited world"), bob's reply "hi alice" (reactions 👍 by carol and
//     Alice, 🎉 by Alice), carol's "oops wrong room" (deleted); "psst" in the
//     DM; 30 messages "filler N" in pub; bob's read marker at his reply.
//
// v5.db is the SQLite file; v5-postgres.sql.gz is pg_dump --inserts of the
// Postgres schema, with the schema's name replaced by {{schema}};
// v5-fixture.go.txt is the program that made them, and how.

// openV5 opens a copy of the version 5 database of one dialect with the
// current code, which brings it to the current version.
func openV5(t *testing.T, dialect string) (*sqlstore.Store, fingerprint) {
	s, before, _ := openV5Again(t, dialect)
	return s, before
}

// openV5Again is openV5 that also returns a fingerprint of the database as
// it is when called (after the store has closed): the upgraded schema.
func openV5Again(t *testing.T, dialect string) (*sqlstore.Store, fingerprint, func() fingerprint) {
	t.Helper()
	if dialect == "sqlite" {
		dir := t.TempDir()
		data, err := os.ReadFile(filepath.Join("testdata", "v5.db"))
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, "minichat.db")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		before := sqliteFingerprint(t, path)
		return openSQLite(t, dir, store.Options{}), before, func() fingerprint { return sqliteFingerprint(t, path) }
	}
	dbURL, schema := pgtest.Schema(t)
	f, err := os.Open(filepath.Join("testdata", "v5-postgres.sql.gz"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	dump, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	pgtest.Exec(t, dbURL, strings.ReplaceAll(string(dump), "{{schema}}", schema))
	before := pgFingerprint(t, dbURL)
	return openPostgres(t, dbURL, store.Options{}), before, func() fingerprint { return pgFingerprint(t, dbURL) }
}

// TestUpgradeFromV5 opens a database made by the previous stores and finds
// everything in it as it was, then goes on writing to it.
func TestUpgradeFromV5(t *testing.T) {
	for _, dialect := range []string{"sqlite", "postgres"} {
		t.Run(dialect, func(t *testing.T) {
			s, _ := openV5(t, dialect)
			defer s.Close()
			ctx := t.Context()
			c := &chat.Service{Store: s, Passwords: auth.NewPasswords(auth.DefaultParams, 0)}

			// Accounts.
			users, err := s.Users(ctx)
			if err != nil {
				t.Fatal(err)
			}
			var listed []string
			byName := map[string]protocol.User{}
			for _, a := range users {
				listed = append(listed, fmt.Sprint(a.Name, " ", a.Role, " ", a.Disabled))
				byName[strings.ToLower(a.Name)] = a.User
			}
			if want := []string{"Alice admin false", "bob member false", "carol member false", "dave member true"}; !slices.Equal(listed, want) {
				t.Fatalf("users %q, want %q", listed, want)
			}
			alice, bob, carol, dave := byName["alice"], byName["bob"], byName["carol"], byName["dave"]
			if u, ok, err := c.SignIn(ctx, "ALICE", "alice password"); err != nil || !ok || u != alice {
				t.Fatalf("Alice signs in: %+v %v %v", u, ok, err)
			}
			// A session of before the upgrade counts as used at the upgrade:
			// the idle expiry does not end it at the first start.
			if sess, err := s.SessionByToken(ctx, auth.HashToken("token-of-alice")); err != nil ||
				time.Since(sess.LastSeen) > time.Hour || chat.SessionExpired(sess, time.Now(), 720*time.Hour, -1) {
				t.Fatalf("alice's session after the upgrade: %+v, %v", sess, err)
			}
			if sess, err := s.SessionByToken(ctx, auth.HashToken("token-of-alice")); err != nil || sess.User != alice {
				t.Fatalf("Alice's session: %+v, %v", sess, err)
			}
			if _, err := s.SessionByToken(ctx, auth.HashToken("token-of-dave")); err == nil {
				t.Fatal("dave's session outlived his account's disabling")
			}
			if _, err := c.StartSession(ctx, dave, []byte("again"), ""); protocol.ErrorCode(err) != protocol.CodeForbidden {
				t.Fatalf("disabled dave starts a session: %v", err)
			}

			// Rooms, as Alice sees them.
			rooms, err := s.Rooms(ctx, store.Scope{UserID: alice.ID, Public: true})
			if err != nil {
				t.Fatal(err)
			}
			var seen []string
			ids := map[string]string{}
			for _, r := range rooms {
				seen = append(seen, fmt.Sprint(r.Name, " ", r.Kind, " ", r.Member, " ", r.Members, " ", r.LastSeq))
				ids[r.Name] = r.ID
			}
			if want := []string{"general public true 4 12", "pub public false 1 33", "Secret private true 2 3", "carol dm true 2 1"}; !slices.Equal(seen, want) {
				t.Fatalf("Alice's rooms %q, want %q", seen, want)
			}

			// The log of general, in its current state.
			log, err := s.Since(ctx, ids["general"], 0, 100)
			if err != nil {
				t.Fatal(err)
			}
			var entries []string
			for i, ev := range log {
				if ev.Seq != int64(i+1) {
					t.Fatalf("entry %d has seq %d", i, ev.Seq)
				}
				m := ev.Message
				s := fmt.Sprintf("%d %q", ev.Kind, m.Text)
				if m.EditedAt != "" {
					s += " edited"
				}
				if m.Deleted {
					s += " deleted"
				}
				if m.ReplyTo != "" {
					s += " reply"
				}
				for _, r := range m.Reactions {
					s += " " + r.Emoji + strings.Join(r.Users, ",")
				}
				entries = append(entries, s)
			}
			const msg, upd = store.EventMessage, store.EventUpdate
			const reply = `%d "hi alice" reply 👍carol,Alice 🎉Alice`
			want := []string{
				fmt.Sprintf(`%d "Alice joined"`, msg), fmt.Sprintf(`%d "bob joined"`, msg),
				fmt.Sprintf(`%d "carol joined"`, msg), fmt.Sprintf(`%d "dave joined"`, msg),
				fmt.Sprintf(`%d "hello edited world" edited`, msg), fmt.Sprintf(reply, msg),
				fmt.Sprintf(`%d "" deleted`, msg),
				fmt.Sprintf(`%d "hello edited world" edited`, upd), fmt.Sprintf(`%d "" deleted`, upd),
				fmt.Sprintf(reply, upd), fmt.Sprintf(reply, upd), fmt.Sprintf(reply, upd),
			}
			if !slices.Equal(entries, want) {
				t.Fatalf("general's log\n got %q\nwant %q", entries, want)
			}
			if r, err := s.Room(ctx, ids["general"], bob.ID); err != nil || r.ReadSeq != 6 || r.Unread != 0 {
				t.Fatalf("bob's read marker: %+v, %v", r, err)
			}

			// The file posted in Secret.
			page, _, err := c.History(ctx, bob, ids["Secret"], 0, 10)
			if err != nil || len(page) != 3 || len(page[2].Attachments) != 1 || page[2].Attachments[0].Name != "cat.png" {
				t.Fatalf("Secret's history: %+v, %v", page, err)
			}
			file := page[2].Attachments[0].ID
			for _, u := range []protocol.User{alice, bob} {
				if _, err := c.File(ctx, u, file); err != nil {
					t.Fatalf("%s reads the file: %v", u.Name, err)
				}
			}
			if _, err := c.File(ctx, carol, file); err == nil {
				t.Fatal("carol reads a file posted where she is not")
			}

			// Search finds the current text only.
			for q, n := range map[string]int{`"edited world"`: 1, "oops": 0, "filler": 30} {
				found, err := c.Search(ctx, bob, q, "")
				if err != nil || len(found) != min(n, protocol.MaxSearch) {
					t.Fatalf("search %s: %d found, %v; want %d", q, len(found), err, n)
				}
			}

			// And it goes on: seqs continue, client_ids are remembered, the DM
			// is found from either side, new accounts join general.
			next, err := c.Send(ctx, bob, chat.SendParams{Room: ids["general"], Text: "after the upgrade"})
			if err != nil || next.Seq != 13 {
				t.Fatalf("a new message: %+v, %v; want seq 13", next, err)
			}
			again, err := c.Send(ctx, alice, chat.SendParams{Room: ids["general"], Text: "x", ClientID: "c1"})
			if err != nil || again.Text != "hello edited world" {
				t.Fatalf("a retried client_id: %+v, %v", again, err)
			}
			if dm, err := c.DM(ctx, carol, "alice"); err != nil || dm.ID != ids["carol"] {
				t.Fatalf("the DM from carol's side: %+v, %v; want %s", dm, err, ids["carol"])
			}
			erin, err := c.CreateAccount(ctx, "erin", "erin password", false)
			if err != nil || erin.Role != protocol.RoleMember {
				t.Fatalf("a new account: %+v, %v", erin, err)
			}
			if _, err := c.React(ctx, erin, ids["general"], log[5].Message.ID, "👍", true); err != nil {
				t.Fatalf("a reaction to an old message: %v", err)
			}
			if _, err := c.Join(ctx, alice, ids["pub"]); err != nil {
				t.Fatal(err)
			}
			if found, err := c.Search(ctx, bob, "upgrade", ""); err != nil || len(found) != 1 {
				t.Fatalf("search of a new message: %+v, %v", found, err)
			}
		})
	}
}

// fingerprint describes a database's schema, comparably: its tables,
// columns, types, defaults, keys, indexes, triggers and version.
type fingerprint []string

// TestSchemaAsBefore checks that the schema written once for both databases
// makes, on each, the schema the previous stores made: a new database of
// this program is like the version 5 database the previous store made,
// brought up to this version by the steps after 5.
func TestSchemaAsBefore(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		s, _, now := openV5Again(t, "sqlite")
		dir := t.TempDir()
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if err := openSQLite(t, dir, store.Options{}).Close(); err != nil {
			t.Fatal(err)
		}
		fresh := sqliteFingerprint(t, filepath.Join(dir, "minichat.db"))
		compare(t, fresh, now())
	})
	t.Run("postgres", func(t *testing.T) {
		s, _, now := openV5Again(t, "postgres")
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		before := now()
		dbURL, _ := pgtest.Schema(t)
		if err := openPostgres(t, dbURL, store.Options{}).Close(); err != nil {
			t.Fatal(err)
		}
		compare(t, pgFingerprint(t, dbURL), before)
	})
}

func compare(t *testing.T, fresh, before fingerprint) {
	t.Helper()
	if !reflect.DeepEqual(fresh, before) {
		for i := range max(len(fresh), len(before)) {
			var a, b string
			if i < len(fresh) {
				a = fresh[i]
			}
			if i < len(before) {
				b = before[i]
			}
			if a != b {
				t.Errorf("a new database's schema differs from version 5's:\n new: %s\n old: %s", a, b)
			}
		}
	}
}

var space = regexp.MustCompile(`\s+`)

// sqliteFingerprint is every object's statement as SQLite keeps it, with
// runs of white space made one, and the version.
func sqliteFingerprint(t *testing.T, path string) fingerprint {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT type, name, tbl_name, COALESCE(sql, '') FROM sqlite_master ORDER BY type, name`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out fingerprint
	for rows.Next() {
		var kind, name, table, text string
		if err := rows.Scan(&kind, &name, &table, &text); err != nil {
			t.Fatal(err)
		}
		text = strings.ReplaceAll(strings.ReplaceAll(space.ReplaceAllString(text, " "), "( ", "("), " )", ")")
		out = append(out, strings.Join([]string{kind, name, table, text}, " | "))
	}
	var version int
	if err := db.QueryRow("PRAGMA user_version").Scan(&version); err != nil {
		t.Fatal(err)
	}
	return append(out, fmt.Sprint("version ", version))
}

// pgFingerprint is the schema's columns, constraints and indexes as the
// catalog describes them, and its recorded versions.
func pgFingerprint(t *testing.T, dbURL string) fingerprint {
	t.Helper()
	ctx := context.Background()
	c, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	var out fingerprint
	for _, q := range []string{
		`SELECT concat_ws(' | ', table_name, column_name, data_type, is_nullable, column_default, is_identity,
			identity_generation, is_generated, generation_expression)
		FROM information_schema.columns WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position`,
		`SELECT concat_ws(' | ', conrelid::regclass::text, conname, pg_get_constraintdef(oid)) FROM pg_constraint
		WHERE connamespace = current_schema()::regnamespace ORDER BY 1`,
		`SELECT concat_ws(' | ', tablename, indexname, replace(indexdef, current_schema() || '.', ''))
		FROM pg_indexes WHERE schemaname = current_schema() ORDER BY indexname`,
		`SELECT 'version ' || string_agg(version::text, ',' ORDER BY version) FROM schema_migrations`,
	} {
		rows, err := c.Query(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, lines...)
	}
	return out
}
