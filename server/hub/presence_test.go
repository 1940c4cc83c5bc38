package hub

import (
	"slices"
	"testing"
	"time"

	"minichat/server/protocol"
	"minichat/server/protocol/frametest"
)

// frames takes what is queued on c, decoded.
func frames(t *testing.T, c *Conn) []frametest.Frame {
	t.Helper()
	raw, _ := c.Take(nil, 0)
	out := make([]frametest.Frame, 0, len(raw))
	for _, b := range raw {
		f, err := frametest.Decode(b)
		if err != nil {
			t.Fatalf("decode %s: %v", b, err)
		}
		out = append(out, f)
	}
	return out
}

// Presence changes within one window reach a connection that shares a
// room with the people as one presence_batch frame listing each of them
// once, in the state they ended in; a connection sharing no room with
// them gets nothing.
func TestPresenceChangesOfAWindowArriveAsOneFrame(t *testing.T) {
	h := newHub(t, Options{PresenceWindow: time.Hour}) // told when the test flushes
	flush := func() { h.do(h.flushPresence) }
	register := func(u protocol.User, room string) *Conn {
		c := NewConn("c_"+u.Name, u, "s_"+u.Name, 0)
		if !h.Register(c, Registration{RoomIDs: []string{room}, Welcome: protocol.Welcome{User: u}}) {
			t.Fatal("register after shutdown")
		}
		return c
	}
	obs := register(user("obs"), "general")
	out := register(user("out"), "elsewhere")
	flush()
	if fs := frames(t, obs); len(fs) != 2 || fs[0].Type != protocol.TypeWelcome || fs[1].Type != protocol.TypePresence {
		t.Fatalf("observer got %v, want its welcome and its own presence", fs)
	}
	frames(t, out)

	names := []string{"ann", "ben", "cat", "dan", "eve"}
	var ann *Conn
	for _, n := range names {
		if c := register(user(n), "general"); n == "ann" {
			ann = c
		}
	}
	register(user("ben"), "general") // a second tab: no change
	h.SetStatus(ann, protocol.StatusAway, "lunch")
	flush()

	fs := frames(t, obs)
	if len(fs) != 1 || fs[0].Type != protocol.TypePresenceBatch {
		t.Fatalf("observer got %d frames %v, want one presence_batch", len(fs), fs)
	}
	got := fs[0].Presences()
	if len(got) != len(names) {
		t.Fatalf("batch lists %v, want %d people", got, len(names))
	}
	for i, p := range got {
		want := protocol.Presence{User: user(names[i]), Status: protocol.StatusOnline}
		if names[i] == "ann" {
			want.Status, want.Text = protocol.StatusAway, "lunch"
		}
		if p != want {
			t.Errorf("change %d is %+v, want %+v", i, p, want)
		}
	}
	if fs := frames(t, out); len(fs) != 0 {
		t.Fatalf("a connection sharing no room got %v", fs)
	}
}

// onlineOf is the online list of the welcome queued first on c.
func onlineOf(t *testing.T, c *Conn) []string {
	t.Helper()
	fs := frames(t, c)
	if len(fs) == 0 || fs[0].Type != protocol.TypeWelcome {
		t.Fatalf("first frames %v, want a welcome", fs)
	}
	var out []string
	for _, p := range fs[0].Welcome.Online {
		out = append(out, p.User.Name+":"+p.Status+":"+p.Text)
	}
	return out
}

// Welcomes share a room's encoded online list, and each one still lists
// the people as they are when it is sent: after a status change, after
// someone's last connection closed, and with the people of a second room
// who are not in the big one.
func TestWelcomeOnlineListFollowsChanges(t *testing.T) {
	h := newHub(t, Options{PresenceGrace: time.Hour})
	register := func(u protocol.User, rooms ...string) *Conn {
		c := NewConn("c_"+u.Name, u, "s", 0)
		if !h.Register(c, Registration{RoomIDs: rooms, Welcome: protocol.Welcome{User: u}}) {
			t.Fatal("register after shutdown")
		}
		return c
	}
	eq := func(got []string, want ...string) {
		t.Helper()
		if !slices.Equal(got, want) {
			t.Fatalf("welcome lists %v, want %v", got, want)
		}
	}
	ann := register(user("ann"), "general")
	ben := register(user("ben"), "general")
	eq(onlineOf(t, register(user("cat"), "general")), "ann:online:", "ben:online:", "cat:online:")
	eq(onlineOf(t, register(user("cat"), "general")), "ann:online:", "ben:online:", "cat:online:")

	h.SetStatus(ann, protocol.StatusAway, "lunch")
	eq(onlineOf(t, register(user("cat"), "general")), "ann:away:lunch", "ben:online:", "cat:online:")

	register(user("zed"), "side") // in a room cat is not in
	eq(onlineOf(t, register(user("cat"), "general")), "ann:away:lunch", "ben:online:", "cat:online:")
	eq(onlineOf(t, register(user("cat"), "general", "side")), "ann:away:lunch", "ben:online:", "cat:online:", "zed:online:")
	eq(onlineOf(t, register(user("dan"), "general")), "ann:away:lunch", "ben:online:", "cat:online:", "dan:online:")

	h.Unregister(ben)
	eq(onlineOf(t, register(user("dan"), "general")), "ann:away:lunch", "cat:online:", "dan:online:")
}

// With the window off, each change is told at once in a presence frame of
// its own.
func TestPresenceWindowOffTellsEachChangeAtOnce(t *testing.T) {
	h := newHub(t, Options{PresenceWindow: -1})
	register := func(u protocol.User) *Conn {
		c := NewConn("c_"+u.Name, u, "s", 0)
		if !h.Register(c, Registration{RoomIDs: []string{"general"}, Welcome: protocol.Welcome{User: u}}) {
			t.Fatal("register after shutdown")
		}
		return c
	}
	obs := register(user("obs"))
	frames(t, obs)
	register(user("ann"))
	register(user("ben"))
	h.do(func() {}) // the changes are told on the loop, before this returns
	var got []string
	for _, f := range frames(t, obs) {
		if f.Type != protocol.TypePresence {
			t.Fatalf("got a %s frame, want presence frames only", f.Type)
		}
		got = append(got, f.Presence.User.Name)
	}
	if !slices.Equal(got, []string{"ann", "ben"}) {
		t.Fatalf("presence frames about %v, want ann then ben", got)
	}
}
