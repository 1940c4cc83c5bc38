package chat_test

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"minichat/server/auth"
	"minichat/server/chat"
	"minichat/server/protocol"
	"minichat/server/store"
	"minichat/server/store/pgtest"
	"minichat/server/store/sqlstore"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// env is a Service on a real store, and the events its commits produced.
type env struct {
	t   *testing.T
	ctx context.Context
	c   *chat.Service
	mu  sync.Mutex
	evs []store.Event
}

// onBoth runs a test on a fresh store of each database.
func onBoth(t *testing.T, test func(t *testing.T, e *env)) {
	open := map[string]func(t *testing.T, opts store.Options) (store.Store, error){
		"sqlite": func(t *testing.T, opts store.Options) (store.Store, error) {
			return sqlstore.OpenSQLite(filepath.Join(t.TempDir(), "minichat.db"), opts)
		},
		"postgres": func(t *testing.T, opts store.Options) (store.Store, error) {
			dbURL, _ := pgtest.Schema(t)
			return sqlstore.OpenPostgres(t.Context(), dbURL, opts)
		},
	}
	for _, name := range []string{"sqlite", "postgres"} {
		t.Run(name, func(t *testing.T) {
			e := &env{t: t, ctx: t.Context()}
			s, err := open[name](t, store.Options{OnCommit: func(evs []store.Event) {
				e.mu.Lock()
				e.evs = append(e.evs, evs...)
				e.mu.Unlock()
			}})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			e.c = &chat.Service{Store: s, Passwords: auth.NewPasswords(auth.Params{Time: 1, MemoryKiB: 8 * 1024, Threads: 1, KeyLen: 32, SaltLen: 16}, 0)}
			test(t, e)
		})
	}
}

// events returns the events committed since the last call, compactly.
func (e *env) events() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []string
	for _, ev := range e.evs {
		switch ev.Kind {
		case store.EventMessage:
			out = append(out, "message "+ev.Message.Text)
		case store.EventUpdate:
			out = append(out, "update "+ev.Message.ID)
		case store.EventMember:
			s := fmt.Sprintf("member %s joined=%v", ev.Room.Name, ev.Joined)
			if ev.Created {
				s += " created"
			}
			out = append(out, s)
		}
	}
	e.evs = nil
	return out
}

func (e *env) wantEvents(what string, want ...string) {
	e.t.Helper()
	if got := e.events(); !slices.Equal(got, want) {
		e.t.Fatalf("%s: events\n got %q\nwant %q", what, got, want)
	}
}

// code is an error's protocol code, "" for none.
func code(err error) string {
	if err == nil {
		return ""
	}
	return protocol.ErrorCode(err)
}

func (e *env) wantCode(what string, err error, want string) {
	e.t.Helper()
	if got := code(err); got != want {
		e.t.Fatalf("%s: %q (%v), want %q", what, got, err, want)
	}
}

func (e *env) account(name string) protocol.User {
	e.t.Helper()
	u, err := e.c.CreateAccount(e.ctx, name, "password", false)
	e.wantCode("CreateAccount("+name+")", err, "")
	return u
}

func TestAccounts(t *testing.T) {
	onBoth(t, func(t *testing.T, e *env) {
		alice := e.account("alice")
		e.wantEvents("the first account", "member general joined=true", "message alice joined")
		bob := e.account("bob")
		root, err := e.c.CreateAccount(e.ctx, "root", "password", true)
		if alice.Role != protocol.RoleAdmin || bob.Role != protocol.RoleMember || err != nil || root.Role != protocol.RoleAdmin {
			t.Fatalf("roles: %+v %+v %+v (%v)", alice, bob, root, err)
		}
		e.events()
		for _, c := range []struct{ name, password, want string }{
			{"ALICE", "password", protocol.CodeConflict},
			{"bad name", "password", protocol.CodeBadRequest},
			{"carol", "short", protocol.CodeBadRequest},
		} {
			_, err := e.c.CreateAccount(e.ctx, c.name, c.password, false)
			e.wantCode("CreateAccount("+c.name+")", err, c.want)
		}
		e.wantEvents("refused accounts")

		for _, c := range []struct {
			name, password string
			ok             bool
		}{{"Alice", "password", true}, {"alice", "wrong", false}, {"nobody", "password", false}, {"", "password", false}} {
			u, ok, err := e.c.SignIn(e.ctx, c.name, c.password)
			if err != nil || ok != c.ok || (ok && u != alice) {
				t.Fatalf("SignIn(%q, %q) = %+v %v %v", c.name, c.password, u, ok, err)
			}
		}
		s1, err := e.c.StartSession(e.ctx, bob, []byte("t1"), "")
		e.wantCode("StartSession", err, "")
		_, err = e.c.StartSession(e.ctx, bob, []byte("t2"), "")
		e.wantCode("StartSession", err, "")
		_, ids, err := e.c.SetDisabled(e.ctx, "BOB", true)
		if err != nil || len(ids) != 2 || !slices.Contains(ids, s1.ID) {
			t.Fatalf("SetDisabled = %v, %v; want bob's two sessions", ids, err)
		}
		_, err = e.c.StartSession(e.ctx, bob, []byte("t3"), "")
		e.wantCode("StartSession(disabled)", err, protocol.CodeForbidden)
		_, _, err = e.c.SetDisabled(e.ctx, "bob", false)
		e.wantCode("SetDisabled(false)", err, "")
		_, err = e.c.StartSession(e.ctx, bob, []byte("t4"), "")
		e.wantCode("StartSession(enabled)", err, "")
		_, ids, err = e.c.SetPassword(e.ctx, "bob", "new password")
		if err != nil || len(ids) != 1 {
			t.Fatalf("SetPassword ended %v, %v; want the one session", ids, err)
		}
		if _, ok, _ := e.c.SignIn(e.ctx, "bob", "new password"); !ok {
			t.Fatal("the new password does not sign in")
		}
		_, _, err = e.c.SetPassword(e.ctx, "nobody", "new password")
		e.wantCode("SetPassword(unknown)", err, protocol.CodeNotFound)
		_, _, err = e.c.SetDisabled(e.ctx, "nobody", true)
		e.wantCode("SetDisabled(unknown)", err, protocol.CodeNotFound)
		e.wantCode("EndSession", e.c.EndSession(e.ctx, s1.ID), "")
		e.wantEvents("sessions")
	})
}

func TestRooms(t *testing.T) {
	onBoth(t, func(t *testing.T, e *env) {
		alice, bob, carol := e.account("alice"), e.account("bob"), e.account("carol")
		e.events()

		pub, err := e.c.CreateRoom(e.ctx, alice, "pub", false)
		e.wantCode("CreateRoom", err, "")
		e.wantEvents("CreateRoom", "member pub joined=true created", "message alice created the room")
		priv, err := e.c.CreateRoom(e.ctx, alice, "priv", true)
		if err != nil || priv.Kind != protocol.RoomPrivate || !priv.Member || priv.LastSeq != 1 {
			t.Fatalf("private room %+v, %v", priv, err)
		}
		e.events()
		_, err = e.c.CreateRoom(e.ctx, bob, "PUB", true)
		e.wantCode("CreateRoom(a name taken)", err, protocol.CodeConflict)
		_, err = e.c.CreateRoom(e.ctx, bob, "no spaces", false)
		e.wantCode("CreateRoom(a bad name)", err, protocol.CodeBadRequest)

		r, err := e.c.Join(e.ctx, bob, pub.ID)
		if err != nil || !r.Member || r.Members != 2 {
			t.Fatalf("Join = %+v, %v", r, err)
		}
		e.wantEvents("Join", "member pub joined=true", "message bob joined")
		_, err = e.c.Join(e.ctx, bob, pub.ID)
		e.wantCode("Join(again)", err, "")
		_, err = e.c.Join(e.ctx, bob, priv.ID)
		e.wantCode("Join(private)", err, protocol.CodeNotFound)

		e.wantCode("Invite", e.c.Invite(e.ctx, alice, priv.ID, "bob"), "")
		e.wantEvents("Invite", "member priv joined=true", "message bob joined")
		e.wantCode("Invite(again)", e.c.Invite(e.ctx, bob, priv.ID, "ALICE"), "")
		e.wantCode("Invite(by an outsider)", e.c.Invite(e.ctx, carol, priv.ID, "carol"), protocol.CodeNotFound)
		e.wantCode("Invite(nobody)", e.c.Invite(e.ctx, alice, priv.ID, "nobody"), protocol.CodeNotFound)

		e.wantCode("Leave", e.c.Leave(e.ctx, bob, pub.ID), "")
		e.wantEvents("Leave", "message bob left", "member pub joined=false")
		e.wantCode("Leave(again)", e.c.Leave(e.ctx, bob, pub.ID), protocol.CodeNotFound)

		dm, err := e.c.DM(e.ctx, carol, "alice")
		if err != nil || dm.Kind != protocol.RoomDM || dm.Name != "alice" || dm.Members != 2 {
			t.Fatalf("DM = %+v, %v", dm, err)
		}
		e.wantEvents("DM", "member alice joined=true created", "member carol joined=true")
		again, err := e.c.DM(e.ctx, alice, "CAROL")
		if err != nil || again.ID != dm.ID || again.Name != "carol" {
			t.Fatalf("DM from the other side = %+v, %v; want %s", again, err, dm.ID)
		}
		_, err = e.c.DM(e.ctx, alice, "alice")
		e.wantCode("DM(oneself)", err, protocol.CodeBadRequest)
		e.wantCode("Leave(dm)", e.c.Leave(e.ctx, carol, dm.ID), protocol.CodeForbidden)
		e.wantCode("Invite(dm)", e.c.Invite(e.ctx, carol, dm.ID, "bob"), protocol.CodeForbidden)
		_, err = e.c.Join(e.ctx, bob, dm.ID)
		e.wantCode("Join(dm)", err, protocol.CodeNotFound)
		e.wantEvents("refusals and an existing DM")

		rooms, err := e.c.Rooms(e.ctx, bob)
		var names []string
		for _, r := range rooms {
			names = append(names, r.Name)
		}
		// Bob's rooms are those he belongs to; the public room he has not
		// joined is in the directory.
		if err != nil || !slices.Equal(names, []string{"general", "priv"}) {
			t.Fatalf("bob's rooms %v, %v", names, err)
		}
		dir, next, err := e.c.Directory(e.ctx, bob, "", "", 50)
		names = nil
		for _, r := range dir {
			names = append(names, r.Name)
		}
		if err != nil || next != "" || !slices.Equal(names, []string{"general", "pub"}) {
			t.Fatalf("bob's directory %v (next %q), %v", names, next, err)
		}
	})
}

func TestMessages(t *testing.T) {
	onBoth(t, func(t *testing.T, e *env) {
		admin, alice, bob := e.account("admin"), e.account("alice"), e.account("bob")
		pub, _ := e.c.CreateRoom(e.ctx, alice, "pub", false)
		priv, _ := e.c.CreateRoom(e.ctx, alice, "priv", true)
		g, err := e.c.Store.RoomByName(e.ctx, protocol.DefaultRoom)
		if err != nil {
			t.Fatal(err)
		}
		e.events()

		m, err := e.c.Send(e.ctx, alice, chat.SendParams{Room: g.ID, Text: "  hello  ", ClientID: "c1"})
		if err != nil || m.Text != "hello" || m.Sender.ID != alice.ID {
			t.Fatalf("Send = %+v, %v", m, err)
		}
		again, err := e.c.Send(e.ctx, alice, chat.SendParams{Room: g.ID, Text: "other", ClientID: "c1"})
		if err != nil || again.ID != m.ID {
			t.Fatalf("retry = %+v, %v", again, err)
		}
		e.wantEvents("Send", "message hello")
		for _, c := range []struct {
			what string
			p    chat.SendParams
			want string
		}{
			{"public room, not joined", chat.SendParams{Room: pub.ID, Text: "x"}, protocol.CodeForbidden},
			{"private room, not invited", chat.SendParams{Room: priv.ID, Text: "x"}, protocol.CodeNotFound},
			{"unknown room", chat.SendParams{Room: "r_nothing", Text: "x"}, protocol.CodeNotFound},
			{"reply to no message", chat.SendParams{Room: g.ID, Text: "x", ReplyTo: "m_nothing"}, protocol.CodeNotFound},
			{"an unknown file", chat.SendParams{Room: g.ID, Attachments: []string{"f_nothing"}}, protocol.CodeNotFound},
			{"empty text", chat.SendParams{Room: g.ID, Text: " \t "}, protocol.CodeBadRequest},
		} {
			_, err := e.c.Send(e.ctx, bob, c.p)
			e.wantCode("Send("+c.what+")", err, c.want)
		}
		_, err = e.c.Send(e.ctx, bob, chat.SendParams{Room: pub.ID, Text: "x"})
		if !strings.Contains(fmt.Sprint(err), "join the room") {
			t.Fatalf("a non-member's send into a public room: %v", err)
		}

		_, err = e.c.Edit(e.ctx, bob, g.ID, m.ID, "hijack")
		e.wantCode("Edit(another's)", err, protocol.CodeForbidden)
		ed, err := e.c.Edit(e.ctx, admin, g.ID, m.ID, "moderated")
		if err != nil || ed.Text != "moderated" || ed.EditedAt == "" {
			t.Fatalf("Edit(admin) = %+v, %v", ed, err)
		}
		_, err = e.c.Edit(e.ctx, alice, pub.ID, m.ID, "wrong room")
		e.wantCode("Edit(in another room)", err, protocol.CodeNotFound)
		_, err = e.c.React(e.ctx, bob, pub.ID, m.ID, "👍", true)
		e.wantCode("React(not joined)", err, protocol.CodeForbidden)
		r, err := e.c.React(e.ctx, bob, g.ID, m.ID, "👍", true)
		if err != nil || len(r.Reactions) != 1 {
			t.Fatalf("React = %+v, %v", r, err)
		}
		_, err = e.c.React(e.ctx, bob, g.ID, m.ID, "👍", true)
		e.wantCode("React(again)", err, "")
		e.wantEvents("Edit and React", "update "+m.ID, "update "+m.ID)
		del, err := e.c.Delete(e.ctx, alice, g.ID, m.ID)
		if err != nil || !del.Deleted || del.Text != "" || len(del.Reactions) != 0 {
			t.Fatalf("Delete = %+v, %v", del, err)
		}
		_, err = e.c.Delete(e.ctx, alice, g.ID, m.ID)
		e.wantCode("Delete(again)", err, "")
		_, err = e.c.Edit(e.ctx, alice, g.ID, m.ID, "zombie")
		e.wantCode("Edit(deleted)", err, protocol.CodeNotFound)
		_, err = e.c.React(e.ctx, bob, g.ID, m.ID, "🎉", true)
		e.wantCode("React(deleted)", err, protocol.CodeNotFound)
		e.wantEvents("Delete", "update "+m.ID)

		// Reading: history and search of a room one may not see are not
		// found; read markers are members'.
		_, _, err = e.c.History(e.ctx, bob, priv.ID, 0, 10)
		e.wantCode("History(private)", err, protocol.CodeNotFound)
		_, _, err = e.c.History(e.ctx, bob, pub.ID, 0, 10)
		e.wantCode("History(public)", err, "")
		_, err = e.c.Search(e.ctx, bob, "hello", priv.ID)
		e.wantCode("Search(private)", err, protocol.CodeNotFound)
		e.wantCode("Read(private)", e.c.Read(e.ctx, bob, priv.ID, 1), protocol.CodeNotFound)
		e.wantCode("Read", e.c.Read(e.ctx, bob, g.ID, 1), "")
		_, _, err = e.c.Replay(e.ctx, bob, pub.ID, 0, 10)
		e.wantCode("Replay(not a member)", err, protocol.CodeNotFound)
	})
}

func TestFiles(t *testing.T) {
	onBoth(t, func(t *testing.T, e *env) {
		alice, bob, carol := e.account("alice"), e.account("bob"), e.account("carol")
		priv, _ := e.c.CreateRoom(e.ctx, alice, "priv", true)
		_ = e.c.Invite(e.ctx, alice, priv.ID, "bob")
		f, err := e.c.RecordFile(e.ctx, alice, store.NewFile{Name: "a.png", Size: 1, Type: "image/png", SHA256: "aa"}, 0, time.Time{})
		if err != nil || f.UploaderID != alice.ID {
			t.Fatalf("RecordFile = %+v, %v", f, err)
		}
		read := func(u protocol.User) string { _, err := e.c.File(e.ctx, u, f.ID); return code(err) }
		if read(alice) != "" || read(bob) != protocol.CodeNotFound {
			t.Fatal("before it is posted only the uploader reads a file")
		}
		_, err = e.c.Send(e.ctx, bob, chat.SendParams{Room: priv.ID, Attachments: []string{f.ID}})
		e.wantCode("Send(another's file)", err, protocol.CodeNotFound)
		if _, err := e.c.Send(e.ctx, alice, chat.SendParams{Room: priv.ID, Attachments: []string{f.ID}}); err != nil {
			t.Fatal(err)
		}
		if read(bob) != "" || read(carol) != protocol.CodeNotFound {
			t.Fatal("a posted file: a member cannot read it, or an outsider can")
		}
		_, err = e.c.File(e.ctx, alice, "f_nothing")
		e.wantCode("File(unknown)", err, protocol.CodeNotFound)
	})
}

// TestLeaveStopsSends checks that a rule and the write it allows are one
// step: sends in flight while their sender leaves are each stored before
// the "left" message or refused, never stored after it.
func TestLeaveStopsSends(t *testing.T) {
	onBoth(t, func(t *testing.T, e *env) {
		alice, bob := e.account("alice"), e.account("bob")
		pub, _ := e.c.CreateRoom(e.ctx, alice, "pub", false)
		if _, err := e.c.Join(e.ctx, bob, pub.ID); err != nil {
			t.Fatal(err)
		}
		const n = 200
		var wg sync.WaitGroup
		wg.Add(n)
		for i := range n {
			e.c.SendAsync(e.ctx, bob, chat.SendParams{Room: pub.ID, Text: fmt.Sprint(i)}, func(_ protocol.Message, err error) {
				if c := code(err); c != "" && c != protocol.CodeForbidden {
					t.Errorf("send %d: %v", i, err)
				}
				wg.Done()
			})
			if i == n/2 {
				if err := e.c.Leave(e.ctx, bob, pub.ID); err != nil {
					t.Fatal(err)
				}
			}
		}
		wg.Wait()
		log, err := e.c.Store.Since(e.ctx, pub.ID, 0, 1000)
		if err != nil {
			t.Fatal(err)
		}
		left := false
		for _, ev := range log {
			left = left || ev.Message.Text == "bob left"
			if left && ev.Message.Sender != nil && ev.Message.Sender.ID == bob.ID {
				t.Fatalf("bob's message %q stored after he left", ev.Message.Text)
			}
		}
		if !left {
			t.Fatal("no left message")
		}
	})
}

// TestMalformedInput checks that what no store could keep the same way —
// control characters, bytes that are not UTF-8, ids that cannot be the
// server's — is answered the same on both databases, without reaching
// them: a bad request, or not found like any unknown id.
func TestMalformedInput(t *testing.T) {
	onBoth(t, func(t *testing.T, e *env) {
		alice := e.account("alice")
		g, err := e.c.Store.RoomByName(e.ctx, protocol.DefaultRoom)
		if err != nil {
			t.Fatal(err)
		}
		m, err := e.c.Send(e.ctx, alice, chat.SendParams{Room: g.ID, Text: "hi"})
		if err != nil {
			t.Fatal(err)
		}
		e.events()
		bad := []string{"r_\x00", "r_\xff", "r_\u0085", "r_ x", strings.Repeat("r", 65)}
		for _, id := range bad {
			for what, err := range map[string]error{
				"send":    func() error { _, err := e.c.Send(e.ctx, alice, chat.SendParams{Room: id, Text: "x"}); return err }(),
				"history": func() error { _, _, err := e.c.History(e.ctx, alice, id, 0, 10); return err }(),
				"replay":  func() error { _, _, err := e.c.Replay(e.ctx, alice, id, 0, 10); return err }(),
				"read":    e.c.Read(e.ctx, alice, id, 1),
				"join":    func() error { _, err := e.c.Join(e.ctx, alice, id); return err }(),
				"leave":   e.c.Leave(e.ctx, alice, id),
				"invite":  e.c.Invite(e.ctx, alice, id, "alice"),
				"search":  func() error { _, err := e.c.Search(e.ctx, alice, "hi", id); return err }(),
				"edit":    func() error { _, err := e.c.Edit(e.ctx, alice, g.ID, id, "x"); return err }(),
				"react":   func() error { _, err := e.c.React(e.ctx, alice, g.ID, id, "👍", true); return err }(),
				"delete":  func() error { _, err := e.c.Delete(e.ctx, alice, id, m.ID); return err }(),
				"reply": func() error {
					_, err := e.c.Send(e.ctx, alice, chat.SendParams{Room: g.ID, Text: "x", ReplyTo: id})
					return err
				}(),
				"file": func() error { _, err := e.c.File(e.ctx, alice, id); return err }(),
			} {
				e.wantCode(fmt.Sprintf("%s(%q)", what, id), err, protocol.CodeNotFound)
			}
			_, err := e.c.Send(e.ctx, alice, chat.SendParams{Room: g.ID, Attachments: []string{id}})
			e.wantCode(fmt.Sprintf("attach(%q)", id), err, protocol.CodeBadRequest)
		}
		for _, text := range []string{"nul\x00", "escape\x1b[2J", "c1\u0085", "bad\xff"} {
			_, err := e.c.Send(e.ctx, alice, chat.SendParams{Room: g.ID, Text: text})
			e.wantCode(fmt.Sprintf("send(%q)", text), err, protocol.CodeBadRequest)
			_, err = e.c.Edit(e.ctx, alice, g.ID, m.ID, text)
			e.wantCode(fmt.Sprintf("edit(%q)", text), err, protocol.CodeBadRequest)
			_, err = e.c.Send(e.ctx, alice, chat.SendParams{Room: g.ID, Text: "ok", ClientID: text})
			e.wantCode(fmt.Sprintf("client_id(%q)", text), err, protocol.CodeBadRequest)
			_, err = e.c.DM(e.ctx, alice, text)
			e.wantCode(fmt.Sprintf("dm(%q)", text), err, protocol.CodeBadRequest)
			_, err = e.c.CreateAccount(e.ctx, text, "password", false)
			e.wantCode(fmt.Sprintf("account(%q)", text), err, protocol.CodeBadRequest)
			if _, ok, err := e.c.SignIn(e.ctx, text, "password"); ok || err != nil {
				t.Fatalf("SignIn(%q) = %v, %v", text, ok, err)
			}
		}
		e.wantEvents("malformed input")
	})
}
