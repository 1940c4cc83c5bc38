package storetest

import (
	"slices"
	"strings"
	"testing"

	"minichat/server/store"
)

// testProfiles: a profile is kept, read back by every read of a user
// (accounts, sessions, message senders), and a missing user is not found.
func testProfiles(t *testing.T, e *env) {
	alice := e.user("alice")
	bob := e.user("bob")
	var rooms []string
	var old string
	e.write(func(tx store.Tx) (_ []store.Event, err error) {
		if err = tx.SetProfile(alice.ID, "Алиса 🧑\u200d💻", "away until 3"); err != nil {
			return nil, err
		}
		if old, err = tx.SetAvatar(alice.ID, "/api/avatars/a_one"); err != nil {
			return nil, err
		}
		rooms, err = tx.MemberRoomIDs(alice.ID)
		return nil, err
	})
	if old != "" {
		t.Fatalf("first SetAvatar replaced %q", old)
	}
	general := e.general(alice)
	if !slices.Equal(rooms, []string{general.ID}) {
		t.Fatalf("MemberRoomIDs = %v, want [%s]", rooms, general.ID)
	}
	want := alice
	want.DisplayName, want.StatusText, want.Avatar = "Алиса 🧑\u200d💻", "away until 3", "/api/avatars/a_one"

	u, err := e.s.UserByID(e.ctx, alice.ID)
	if err != nil || u != want {
		t.Fatalf("UserByID = %+v, %v; want %+v", u, err, want)
	}
	a, err := e.s.UserByName(e.ctx, "ALICE")
	if err != nil || a.User != want {
		t.Fatalf("UserByName = %+v, %v", a, err)
	}
	var sess store.Session
	e.write(func(tx store.Tx) (_ []store.Event, err error) {
		sess, err = tx.CreateSession(alice.ID, []byte("token-of-alice-profile"), "ua")
		return nil, err
	})
	got, err := e.s.SessionByToken(e.ctx, []byte("token-of-alice-profile"))
	if err != nil || got.User != want || sess.User != want {
		t.Fatalf("session user %+v / %+v, %v", got.User, sess.User, err)
	}

	// Message senders carry the display name and avatar, not the status.
	m := e.send(alice, general.ID, "hello")
	sender := want
	sender.StatusText = ""
	if m.Sender == nil || *m.Sender != sender {
		t.Fatalf("sent message's sender %+v, want %+v", m.Sender, sender)
	}
	msgs, _, err := e.s.History(e.ctx, general.ID, 0, 10)
	must(t, "History", err)
	if last := msgs[len(msgs)-1]; last.Sender == nil || *last.Sender != sender {
		t.Fatalf("history sender %+v", last.Sender)
	}

	e.write(func(tx store.Tx) (_ []store.Event, err error) {
		old, err = tx.SetAvatar(alice.ID, "")
		return nil, err
	})
	if old != "/api/avatars/a_one" {
		t.Fatalf("SetAvatar replaced %q", old)
	}
	if u, _ := e.s.UserByID(e.ctx, alice.ID); u.Avatar != "" {
		t.Fatalf("avatar after removal %q", u.Avatar)
	}
	if u, _ := e.s.UserByID(e.ctx, bob.ID); u != bob {
		t.Fatalf("bob changed: %+v", u)
	}
	for name, fn := range map[string]func(tx store.Tx) error{
		"SetProfile": func(tx store.Tx) error { return tx.SetProfile("u_nobody", "x", "") },
		"SetAvatar":  func(tx store.Tx) error { _, err := tx.SetAvatar("u_nobody", "x"); return err },
	} {
		err := e.s.Write(e.ctx, nil, func(tx store.Tx) ([]store.Event, error) { return nil, fn(tx) })
		wantErr(t, name+"(unknown)", err, store.ErrNotFound)
	}
}

// testSearchUsers: SearchUsers matches a prefix of the name, the display
// name or a word of it, without regard to case, leaves disabled accounts
// out, and pages by lowered name.
func testSearchUsers(t *testing.T, e *env) {
	for _, n := range []string{"alice", "Albert", "bob", "carol", "dave_x", "davex"} {
		e.user(n)
	}
	carol, err := e.s.UserByName(e.ctx, "carol")
	must(t, "UserByName", err)
	albert, err := e.s.UserByName(e.ctx, "albert")
	must(t, "UserByName", err)
	e.write(func(tx store.Tx) ([]store.Event, error) {
		if err := tx.SetProfile(carol.ID, "Éloïse Alvarez", "busy"); err != nil {
			return nil, err
		}
		return nil, tx.SetDisabled(albert.ID, true)
	})
	search := func(prefix, after string, limit int) string {
		t.Helper()
		us, err := e.s.SearchUsers(e.ctx, prefix, after, limit)
		must(t, "SearchUsers", err)
		var names []string
		for _, u := range us {
			if u.ID == carol.ID && (u.DisplayName != "Éloïse Alvarez" || u.StatusText != "busy") {
				t.Fatalf("carol found as %+v", u)
			}
			names = append(names, u.Name)
		}
		return strings.Join(names, ",")
	}
	for _, c := range []struct {
		prefix, after string
		limit         int
		want          string
	}{
		{"", "", 10, "alice,bob,carol,dave_x,davex"},
		{"AL", "", 10, "alice,carol"},
		{"éloï", "", 10, "carol"},
		{"ÉLOÏSE A", "", 10, "carol"},
		{"lvarez", "", 10, ""},
		{"dave_", "", 10, "dave_x"},
		{"dave%", "", 10, ""},
		{"", "", 2, "alice,bob"},
		{"", "bob", 2, "carol,dave_x"},
		{"", "dave_x", 2, "davex"},
		{"", "davex", 2, ""},
	} {
		if got := search(c.prefix, c.after, c.limit); got != c.want {
			t.Errorf("SearchUsers(%q, %q, %d) = %s, want %s", c.prefix, c.after, c.limit, got, c.want)
		}
	}
}
