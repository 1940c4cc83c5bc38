package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"minichat/server/protocol"
	"minichat/server/store"
)

func testUsers(t *testing.T, e *env) {
	var some bool
	e.write(func(tx store.Tx) (_ []store.Event, err error) { some, err = tx.HasUsers(); return nil, err })
	if some {
		t.Fatal("HasUsers on a new store")
	}
	alice := e.user("alice")
	if len(alice.ID) < 3 || alice.ID[:2] != "u_" || alice.Name != "alice" || alice.Role != protocol.RoleMember {
		t.Fatalf("user %+v", alice)
	}
	bob := e.user("Bob")
	var boss protocol.User
	e.write(func(tx store.Tx) (_ []store.Event, err error) {
		boss, err = tx.CreateUser(store.NewUser{Name: "boss", Role: protocol.RoleAdmin, PasswordHash: "h"})
		if err == nil {
			some, err = tx.HasUsers()
		}
		return nil, err
	})
	if boss.Role != protocol.RoleAdmin || !some {
		t.Fatalf("user %+v, HasUsers %v", boss, some)
	}

	// Names are unique without regard to case.
	for _, name := range []string{"ALICE", "bob", "Alice"} {
		err := e.s.Write(e.ctx, nil, func(tx store.Tx) ([]store.Event, error) {
			_, err := tx.CreateUser(store.NewUser{Name: name, Role: protocol.RoleMember, PasswordHash: "h"})
			return nil, err
		})
		wantErr(t, "CreateUser("+name+")", err, store.ErrConflict)
	}

	a, err := e.s.UserByName(e.ctx, "BOB")
	must(t, "UserByName", err)
	if a.User != bob || a.PasswordHash != "hash-of-Bob" || a.Disabled {
		t.Fatalf("UserByName(BOB) = %+v, want %+v", a, bob)
	}
	_, err = e.s.UserByName(e.ctx, "carol")
	wantErr(t, "UserByName(unknown)", err, store.ErrNotFound)
	u, err := e.s.UserByID(e.ctx, alice.ID)
	if err != nil || u != alice {
		t.Fatalf("UserByID = %+v, %v; want %+v", u, err, alice)
	}
	_, err = e.s.UserByID(e.ctx, "u_nobody")
	wantErr(t, "UserByID(unknown)", err, store.ErrNotFound)
	// Inside a write too.
	e.write(func(tx store.Tx) ([]store.Event, error) {
		if a, err := tx.UserByName("ALICE"); err != nil || a.User != alice || a.PasswordHash != "hash-of-alice" {
			t.Errorf("Tx.UserByName = %+v, %v", a, err)
		}
		if a, err := tx.User(bob.ID); err != nil || a.User != bob {
			t.Errorf("Tx.User = %+v, %v", a, err)
		}
		_, err := tx.User("u_nobody")
		wantErr(t, "Tx.User(unknown)", err, store.ErrNotFound)
		_, err = tx.UserByName("nobody")
		wantErr(t, "Tx.UserByName(unknown)", err, store.ErrNotFound)
		return nil, nil
	})

	// Passwords and the disabled flag.
	e.write(func(tx store.Tx) ([]store.Event, error) { return nil, tx.SetPassword(bob.ID, "new-hash") })
	if a, _ := e.s.UserByName(e.ctx, "bob"); a.PasswordHash != "new-hash" {
		t.Fatalf("hash after SetPassword = %q", a.PasswordHash)
	}
	e.write(func(tx store.Tx) ([]store.Event, error) { return nil, tx.SetDisabled(bob.ID, true) })
	ids, err := e.s.DisabledUserIDs(e.ctx)
	if err != nil || !slices.Equal(ids, []string{bob.ID}) {
		t.Fatalf("DisabledUserIDs = %v, %v", ids, err)
	}
	for _, err := range []error{
		e.s.Write(e.ctx, nil, func(tx store.Tx) ([]store.Event, error) { return nil, tx.SetPassword("u_nobody", "h") }),
		e.s.Write(e.ctx, nil, func(tx store.Tx) ([]store.Event, error) { return nil, tx.SetDisabled("u_nobody", true) }),
	} {
		wantErr(t, "change of an unknown user", err, store.ErrNotFound)
	}

	// Users: by name without regard to case, with the disabled flag, no
	// hashes.
	users, err := e.s.Users(e.ctx)
	must(t, "Users", err)
	var got []string
	for _, a := range users {
		got = append(got, fmt.Sprint(a.User, a.Disabled, a.PasswordHash))
	}
	if want := []string{fmt.Sprint(alice, false, ""), fmt.Sprint(bob, true, ""), fmt.Sprint(boss, false, "")}; !slices.Equal(got, want) {
		t.Fatalf("Users = %v, want %v", got, want)
	}
	if len(e.rec.take()) != 0 {
		t.Fatal("writes that returned no events produced some")
	}
}

func testSessions(t *testing.T, e *env) {
	alice := e.user("alice")
	bob := e.user("bob")
	create := func(u protocol.User, tok string) store.Session {
		t.Helper()
		var s store.Session
		e.write(func(tx store.Tx) (_ []store.Event, err error) {
			s, err = tx.CreateSession(u.ID, []byte(tok), "")
			return nil, err
		})
		return s
	}
	s1, s2, s3 := create(alice, "token-1"), create(alice, "token-2"), create(bob, "token-3")
	if s1.ID[:2] != "s_" || s1.User != alice || s1.CreatedAt.IsZero() || s1.ID == s2.ID {
		t.Fatalf("sessions %+v %+v", s1, s2)
	}
	got, err := e.s.SessionByToken(e.ctx, bytes.Clone([]byte("token-1")))
	if err != nil || got.ID != s1.ID || got.User != alice || !got.CreatedAt.Equal(s1.CreatedAt) {
		t.Fatalf("SessionByToken = %+v, %v; want %+v", got, err, s1)
	}
	_, err = e.s.SessionByToken(e.ctx, []byte("nope"))
	wantErr(t, "SessionByToken(unknown)", err, store.ErrNotFound)
	err = e.s.Write(e.ctx, nil, func(tx store.Tx) ([]store.Event, error) {
		_, err := tx.CreateSession("u_nobody", []byte("token-x"), "")
		return nil, err
	})
	wantErr(t, "CreateSession(unknown user)", err, store.ErrNotFound)

	live, err := e.s.LiveSessionIDs(e.ctx, []string{s1.ID, "s_unknown", s3.ID})
	slices.Sort(live)
	want := []string{s1.ID, s3.ID}
	slices.Sort(want)
	if err != nil || !slices.Equal(live, want) {
		t.Fatalf("LiveSessionIDs = %v, %v; want %v", live, err, want)
	}
	if live, err := e.s.LiveSessionIDs(e.ctx, nil); err != nil || len(live) != 0 {
		t.Fatalf("LiveSessionIDs(nil) = %v, %v", live, err)
	}

	e.write(func(tx store.Tx) ([]store.Event, error) { return nil, tx.DeleteSession(s1.ID) })
	_, err = e.s.SessionByToken(e.ctx, []byte("token-1"))
	wantErr(t, "SessionByToken(deleted)", err, store.ErrNotFound)
	err = e.s.Write(e.ctx, nil, func(tx store.Tx) ([]store.Event, error) { return nil, tx.DeleteSession(s1.ID) })
	wantErr(t, "DeleteSession(again)", err, store.ErrNotFound)

	s4 := create(alice, "token-4")
	var ids []string
	e.write(func(tx store.Tx) (_ []store.Event, err error) {
		ids, err = tx.DeleteSessions(alice.ID, "")
		return nil, err
	})
	slices.Sort(ids)
	want = []string{s2.ID, s4.ID}
	slices.Sort(want)
	if !slices.Equal(ids, want) {
		t.Fatalf("DeleteSessions = %v, want %v", ids, want)
	}
	if got, err := e.s.SessionByToken(e.ctx, []byte("token-3")); err != nil || got.ID != s3.ID {
		t.Fatalf("other user's session after DeleteSessions: %+v, %v", got, err)
	}
	e.write(func(tx store.Tx) (_ []store.Event, err error) {
		ids, err = tx.DeleteSessions(alice.ID, "")
		return nil, err
	})
	if len(ids) != 0 {
		t.Fatalf("DeleteSessions(none) = %v", ids)
	}
	e.reopen()
	if got, err := e.s.SessionByToken(e.ctx, []byte("token-3")); err != nil || got.ID != s3.ID {
		t.Fatalf("session after reopen: %+v, %v", got, err)
	}
}

// testWrite checks Write's contract: a failing fn leaves no trace and its
// error comes back as it is; the events of the writes that succeed are
// published in commit order, before their writers return; one failing write
// does not spoil the others of its batch.
func testWrite(t *testing.T, e *env) {
	alice := e.user("alice")
	g := e.general(alice)
	e.rec.take()

	refused := errors.New("refused by the caller")
	err := e.s.Write(e.ctx, []string{g.ID}, func(tx store.Tx) ([]store.Event, error) {
		if _, err := tx.CreateUser(store.NewUser{Name: "ghost", Role: protocol.RoleMember, PasswordHash: "h"}); err != nil {
			return nil, err
		}
		m, err := tx.AppendSystem(g.ID, "never")
		if err != nil {
			return nil, err
		}
		return []store.Event{{Kind: store.EventMessage, RoomID: g.ID, Seq: m.Seq, Message: m}}, refused
	})
	if err != refused {
		t.Fatalf("Write returned %v, want the fn's own error value", err)
	}
	if _, err := e.s.UserByName(e.ctx, "ghost"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a failed write's user was stored: %v", err)
	}
	if r := e.roomOf(g.ID, alice); r.LastSeq != g.LastSeq {
		t.Fatalf("a failed write took a seq: %d, was %d", r.LastSeq, g.LastSeq)
	}
	if evs := e.rec.take(); len(evs) != 0 {
		t.Fatalf("a failed write's events were published: %q", describe(evs))
	}

	// Concurrent writes, every other one failing: the others all commit,
	// their events in the order of their seqs.
	const n = 40
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			errs[i] = e.s.Write(e.ctx, []string{g.ID}, func(tx store.Tx) ([]store.Event, error) {
				m, err := tx.AppendSystem(g.ID, fmt.Sprint("w", i))
				if err != nil {
					return nil, err
				}
				if i%2 == 1 {
					return nil, refused
				}
				return []store.Event{{Kind: store.EventMessage, RoomID: g.ID, Seq: m.Seq, Message: m}}, nil
			})
		})
	}
	wg.Wait()
	for i, err := range errs {
		if (i%2 == 1) != (err == refused) {
			t.Fatalf("write %d: %v", i, err)
		}
	}
	evs := e.rec.take()
	if len(evs) != n/2 {
		t.Fatalf("%d events for %d writes that succeeded", len(evs), n/2)
	}
	for i, ev := range evs {
		if ev.Seq != g.LastSeq+int64(i)+1 {
			t.Fatalf("event %d has seq %d, want %d: a gap, or out of commit order", i, ev.Seq, g.LastSeq+int64(i)+1)
		}
	}
	checkLog(t, e, g.ID)
}

func testWriteAfterClose(t *testing.T, e *env) {
	must(t, "Close", e.s.Close())
	ran := false
	err := e.s.Write(e.ctx, nil, func(store.Tx) ([]store.Event, error) { ran = true; return nil, nil })
	if err == nil || ran {
		t.Fatalf("Write after Close: %v, ran %v", err, ran)
	}
	if err := e.s.Close(); err == nil {
		t.Fatal("a second Close succeeded")
	}
	e.s = e.openStore()
}
