package storetest

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"minichat/server/protocol"
	"minichat/server/store"
)

// The data of access control: session use and expiry, the instance's
// settings, the room directory and what counts against an upload quota.

func testSessionUse(t *testing.T, e *env) {
	alice, bob := e.user("alice"), e.user("bob")
	create := func(u protocol.User, tok, agent string) store.Session {
		t.Helper()
		var s store.Session
		e.write(func(tx store.Tx) (_ []store.Event, err error) {
			s, err = tx.CreateSession(u.ID, []byte(tok), agent)
			return nil, err
		})
		return s
	}
	long := "\x00" + strings.Repeat("é", 200)
	s1 := create(alice, "t1", "Firefox on Linux")
	s2 := create(alice, "t2", long)
	s3 := create(bob, "t3", "curl")
	if !s1.LastSeen.Equal(s1.CreatedAt) || s1.UserAgent != "Firefox on Linux" || len(s2.UserAgent) > store.MaxUserAgent ||
		strings.ContainsRune(s2.UserAgent, 0) || !utf8.ValidString(s2.UserAgent) {
		t.Fatalf("new sessions %+v / agent of %d bytes", s1, len(s2.UserAgent))
	}
	// Use makes a session the most recent.
	used := e.tick().Add(time.Hour)
	e.write(func(tx store.Tx) ([]store.Event, error) {
		return nil, tx.TouchSessions([]string{s1.ID, "s_unknown"}, used)
	})
	got, err := e.s.Sessions(e.ctx, alice.ID)
	if err != nil || len(got) != 2 || got[0].ID != s1.ID || got[1].ID != s2.ID || !got[0].LastSeen.Equal(used) ||
		got[0].User != alice || got[0].UserAgent != "Firefox on Linux" {
		t.Fatalf("Sessions(alice) = %+v, %v", got, err)
	}
	if byTok, err := e.s.SessionByToken(e.ctx, []byte("t1")); err != nil || !byTok.LastSeen.Equal(used) {
		t.Fatalf("SessionByToken after use = %+v, %v", byTok, err)
	}
	// Touching never moves last use back.
	e.write(func(tx store.Tx) ([]store.Event, error) {
		return nil, tx.TouchSessions([]string{s1.ID}, used.Add(-time.Minute))
	})
	if byTok, _ := e.s.SessionByToken(e.ctx, []byte("t1")); !byTok.LastSeen.Equal(used) {
		t.Fatalf("last use moved back to %v", byTok.LastSeen)
	}
	var one store.Session
	e.write(func(tx store.Tx) (_ []store.Event, err error) { one, err = tx.Session(s3.ID); return nil, err })
	if one.ID != s3.ID || one.User != bob {
		t.Fatalf("Session(s3) = %+v", one)
	}
	err = e.s.Write(e.ctx, nil, func(tx store.Tx) ([]store.Event, error) { _, err := tx.Session("s_unknown"); return nil, err })
	wantErr(t, "Session(unknown)", err, store.ErrNotFound)

	// Idle: s2 and s3 were not used since their creation; s1 was.
	var ids []string
	e.write(func(tx store.Tx) (_ []store.Event, err error) {
		ids, err = tx.ExpireSessions(used.Add(-time.Minute), time.UnixMilli(0))
		return nil, err
	})
	slices.Sort(ids)
	want := []string{s2.ID, s3.ID}
	slices.Sort(want)
	if !slices.Equal(ids, want) {
		t.Fatalf("ExpireSessions(idle) = %v, want %v", ids, want)
	}
	// Absolute: s1, however recently used, was created too long ago.
	e.write(func(tx store.Tx) (_ []store.Event, err error) {
		ids, err = tx.ExpireSessions(time.UnixMilli(0), s1.CreatedAt.Add(time.Millisecond))
		return nil, err
	})
	if !slices.Equal(ids, []string{s1.ID}) {
		t.Fatalf("ExpireSessions(max) = %v, want [%s]", ids, s1.ID)
	}
	// All but one.
	a, b := create(bob, "t4", ""), create(bob, "t5", "")
	e.write(func(tx store.Tx) (_ []store.Event, err error) {
		ids, err = tx.DeleteSessions(bob.ID, b.ID)
		return nil, err
	})
	if !slices.Equal(ids, []string{a.ID}) {
		t.Fatalf("DeleteSessions(but %s) = %v", b.ID, ids)
	}
	if left, err := e.s.Sessions(e.ctx, bob.ID); err != nil || len(left) != 1 || left[0].ID != b.ID {
		t.Fatalf("bob's sessions %+v, %v", left, err)
	}
	e.reopen()
	if left, err := e.s.Sessions(e.ctx, bob.ID); err != nil || len(left) != 1 || left[0].ID != b.ID || left[0].LastSeen.IsZero() {
		t.Fatalf("bob's sessions after reopen %+v, %v", left, err)
	}
}

func testSettings(t *testing.T, e *env) {
	err := e.s.Write(e.ctx, nil, func(tx store.Tx) ([]store.Event, error) { _, err := tx.Setting("invite_code"); return nil, err })
	wantErr(t, "Setting(unset)", err, store.ErrNotFound)
	e.write(func(tx store.Tx) ([]store.Event, error) { return nil, tx.SetSetting("invite_code", "one") })
	e.write(func(tx store.Tx) ([]store.Event, error) { return nil, tx.SetSetting("invite_code", "two") })
	e.reopen()
	var v string
	e.write(func(tx store.Tx) (_ []store.Event, err error) { v, err = tx.Setting("invite_code"); return nil, err })
	if v != "two" {
		t.Fatalf("Setting = %q, want two", v)
	}
}

func testDirectory(t *testing.T, e *env) {
	alice, bob := e.user("alice"), e.user("bob")
	for _, name := range []string{"Alpha", "alps", "beta", "al_x", "alqz"} {
		e.room(alice, name, protocol.RoomPublic)
	}
	e.room(alice, "alpine", protocol.RoomPrivate)
	e.dm(alice, bob)
	names := func(prefix, after string, limit int) []string {
		t.Helper()
		rooms, err := e.s.Directory(e.ctx, bob.ID, prefix, after, limit)
		if err != nil {
			t.Fatalf("Directory(%q, %q, %d): %v", prefix, after, limit, err)
		}
		var out []string
		for _, r := range rooms {
			if r.Name == protocol.DefaultRoom {
				continue // every user is in it
			}
			if r.Kind != protocol.RoomPublic || r.Member {
				t.Fatalf("directory room %+v", r)
			}
			out = append(out, r.Name)
		}
		return out
	}
	if got := names("", "", 100); !slices.Equal(got, []string{"al_x", "Alpha", "alps", "alqz", "beta"}) {
		t.Fatalf("whole directory %v", got)
	}
	// A prefix without regard to case; _ is a character, not a wildcard.
	if got := names("AL", "", 100); !slices.Equal(got, []string{"al_x", "Alpha", "alps", "alqz"}) {
		t.Fatalf("prefix AL: %v", got)
	}
	if got := names("al_", "", 100); !slices.Equal(got, []string{"al_x"}) {
		t.Fatalf("prefix al_: %v", got)
	}
	if got := names("al%", "", 100); len(got) != 0 {
		t.Fatalf("prefix al%%: %v", got)
	}
	// Pages: after the cursor, lowered.
	if got := names("al", "", 2); !slices.Equal(got, []string{"al_x", "Alpha"}) {
		t.Fatalf("first page %v", got)
	}
	if got := names("al", "alpha", 2); !slices.Equal(got, []string{"alps", "alqz"}) {
		t.Fatalf("second page %v", got)
	}
	if got := names("al", "alqz", 2); len(got) != 0 {
		t.Fatalf("past the end %v", got)
	}
	// The viewer's own membership shows.
	rooms, _ := e.s.Directory(e.ctx, alice.ID, "beta", "", 10)
	if len(rooms) != 1 || !rooms[0].Member || rooms[0].Members != 1 {
		t.Fatalf("beta as alice sees it: %+v", rooms)
	}
}

func testUploadQuota(t *testing.T, e *env) {
	alice, bob := e.user("alice"), e.user("bob")
	r := e.room(alice, "pics", protocol.RoomPublic)
	const shaA = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	const shaB = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
	old := e.file(alice, "old.png", shaA) // 42 bytes each
	start := e.tick()
	posted := e.file(alice, "posted.png", shaA)
	fresh := e.file(alice, "fresh.png", shaB)
	e.file(bob, "bobs.png", shaB)
	m, _, err := e.sendReq(store.SendRequest{RoomID: r.ID, SenderID: alice.ID, Text: "look", Attachments: []string{posted.ID}})
	if err != nil {
		t.Fatal(err)
	}
	used := func(u protocol.User, since time.Time) int64 {
		t.Helper()
		n, err := e.s.UploadedBytes(e.ctx, u.ID, since)
		if err != nil {
			t.Fatal(err)
		}
		var inTx int64
		e.write(func(tx store.Tx) (_ []store.Event, err error) {
			inTx, err = tx.UploadedBytes(u.ID, since)
			return nil, err
		})
		if inTx != n {
			t.Fatalf("UploadedBytes %d, in a write %d", n, inTx)
		}
		return n
	}
	// Since start: posted (attached) and fresh (recent); old is neither.
	if n := used(alice, start); n != 84 {
		t.Fatalf("alice's quota use %d, want 84", n)
	}
	if n := used(alice, time.UnixMilli(0)); n != 126 {
		t.Fatalf("alice's quota use counting everything %d, want 126", n)
	}
	if n := used(bob, start); n != 42 {
		t.Fatalf("bob's %d", n)
	}
	// Unattached and older than start: old goes; its content stays (posted
	// names it too).
	var gone []string
	e.write(func(tx store.Tx) (_ []store.Event, err error) {
		gone, err = tx.DeleteUnattachedFiles(start)
		return nil, err
	})
	if len(gone) != 0 {
		t.Fatalf("contents gone %v, want none", gone)
	}
	if _, _, err := e.s.File(e.ctx, old.ID, alice.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("old upload still there: %v", err)
	}
	// Deleting the message releases its file at once.
	e.del(r.ID, m.ID)
	if n := used(alice, start); n != 42 {
		t.Fatalf("alice's quota use after the delete %d, want 42", n)
	}
	e.write(func(tx store.Tx) (_ []store.Event, err error) {
		gone, err = tx.DeleteUnattachedFiles(start)
		return nil, err
	})
	if !slices.Equal(gone, []string{shaA}) {
		t.Fatalf("contents gone %v, want [%s]", gone, shaA)
	}
	if ok, err := e.s.ContentUsed(e.ctx, shaA); err != nil || ok {
		t.Fatalf("ContentUsed(A) = %v, %v", ok, err)
	}
	if ok, err := e.s.ContentUsed(e.ctx, shaB); err != nil || !ok {
		t.Fatalf("ContentUsed(B) = %v, %v", ok, err)
	}
	_ = fresh
}
