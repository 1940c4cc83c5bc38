package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"minichat/server"
	"minichat/server/hub"
)

// firstFrame dials a socket for token and returns the type of the first
// frame the server sends on it.
func (e *env) firstFrame(token string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(e.ts.URL, "http")+"/ws", &websocket.DialOptions{
		HTTPHeader: map[string][]string{"Authorization": {"Bearer " + token}},
	})
	if err != nil {
		return "", err
	}
	defer ws.CloseNow()
	ws.SetReadLimit(1 << 24)
	_, data, err := ws.Read(ctx)
	if err != nil {
		return "", err
	}
	line, _, _ := bytes.Cut(data, []byte("\n"))
	var f struct{ Type string }
	if err := json.Unmarshal(line, &f); err != nil {
		return "", err
	}
	return f.Type, nil
}

// welcome is the first frame on every socket, whatever arrives around it:
// 300 sockets connect at once while messages flow, people come online and
// the sweeper pings a slice of the sockets every 40 ms (a 1 s heartbeat;
// shorter would close sockets of a loaded machine for silence before
// their welcome is written).
func TestWelcomeIsTheFirstFrameUnderAConnectStorm(t *testing.T) {
	e := newEnv(t, func(c *server.Config) { c.Heartbeat = time.Second })
	alice := e.register("alice")
	general := e.roomID(alice, "general")
	users := make([]user, 30)
	for i := range users {
		users[i] = e.register(fmt.Sprint("storm", i))
	}
	a := e.dial(alice)
	a.send(map[string]any{"type": "hello", "since": map[string]int64{}})
	stop := make(chan struct{})
	var sender sync.WaitGroup
	sender.Add(1)
	go func() {
		defer sender.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(2 * time.Millisecond):
			}
			b, _ := json.Marshal(map[string]any{"type": "send", "room": general, "text": fmt.Sprint(i), "client_id": fmt.Sprint(i)})
			if a.c.Write(context.Background(), websocket.MessageText, b) != nil {
				return
			}
		}
	}()
	var wg sync.WaitGroup
	errs := make(chan error, 300)
	for i := 0; i < 300; i++ {
		wg.Add(1)
		go func(u user) {
			defer wg.Done()
			ty, err := e.firstFrame(u.Token)
			switch {
			case err != nil:
				errs <- err
			case ty != "welcome":
				errs <- fmt.Errorf("%s: first frame %q", u.Name, ty)
			}
		}(users[i%len(users)])
	}
	wg.Wait()
	close(stop)
	sender.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// A hello is checked against the user's rooms: a room they do not belong
// to gets one forbidden error (and no replay), the others are replayed; a
// hello naming more rooms than the user belongs to is refused whole.
func TestHelloAnswersRoomsNotTheUsers(t *testing.T) {
	e := newEnv(t)
	alice, bob := e.register("alice"), e.register("bob")
	general := e.roomID(alice, "general")
	st, out := e.call("POST", "/api/rooms", alice.Token, map[string]any{"name": "secret", "private": true})
	if st != 201 {
		t.Fatalf("create: %d %v", st, out)
	}
	secret := out["room"].(map[string]any)["id"].(string)
	b := e.dial(bob)
	b.send(map[string]any{"type": "hello", "ref": "h1", "since": map[string]int64{secret: 0, general: 0}})
	if f := b.next("error", "synced", "message"); f.Type != "error" || f.Error.Code != "bad_request" || f.Ref() != "h1" {
		t.Fatalf("hello of more rooms than bob's: %v", f)
	}
	// Now bob belongs to two rooms.
	if st, out := e.call("POST", "/api/rooms", bob.Token, map[string]any{"name": "bobs"}); st != 201 {
		t.Fatalf("create: %d %v", st, out)
	}
	b.next("room")
	b.send(map[string]any{"type": "hello", "ref": "h2", "since": map[string]int64{general: 0, secret: 0}})
	got := map[string]bool{}
	for !got["synced"] {
		f := b.next("error", "synced", "message")
		switch f.Type {
		case "error":
			if f.Error.Code != "forbidden" || f.Ref() != "h2" || got["error"] {
				t.Fatalf("error %v", f)
			}
		case "message":
			if f.Msg().Room == secret {
				t.Fatalf("replayed %v", f)
			}
		case "synced":
			if f.Synced.Room != general {
				t.Fatalf("synced %v", f)
			}
		}
		got[f.Type] = true
	}
	if !got["error"] || !got["message"] {
		t.Fatalf("got %v, want a forbidden error and general's replay", got)
	}
}

// The leave race: a socket opening while its user leaves a private room
// never receives that room's messages, whichever of the two commits first.
// The upgrade reads the rooms before it registers with the hub; a leave
// committed in between must not be lost.
func TestLeaveRacingConnectNeverLeaksThePrivateRoom(t *testing.T) {
	// The race is about order, not durability: a data dir in memory, where
	// there is one, spares the test thousands of waits for the disk.
	e := newEnv(t, func(c *server.Config) { c.DataDir = memDir(t) })
	// Pairs race in parallel, so that their writes share commits: 10
	// pairs of 100 rounds each.
	const pairs, rounds = 10, 100
	for k := 0; k < pairs; k++ {
		alice, bob := e.register(fmt.Sprint("alice", k)), e.register(fmt.Sprint("bob", k))
		t.Run(fmt.Sprint("pair", k), func(t *testing.T) {
			t.Parallel()
			e := *e
			e.t = t
			leaveRace(&e, alice, bob, rounds)
		})
	}
}

// leaveRace invites bob to alice's private room, then opens a socket of
// bob's while he leaves it, rounds times, and checks after each that the
// socket does not receive the room's messages.
func leaveRace(e *env, alice, bob user, rounds int) {
	t := e.t
	general := e.roomID(alice, "general")
	st, out := e.call("POST", "/api/rooms", alice.Token, map[string]any{"name": "secret-" + alice.Name, "private": true})
	if st != 201 {
		t.Fatalf("create: %d %v", st, out)
	}
	secret := out["room"].(map[string]any)["id"].(string)
	a := e.dial(alice)
	for i := 0; i < rounds; i++ {
		if st, out := e.call("POST", "/api/rooms/"+secret+"/invite", alice.Token, map[string]string{"username": bob.Name}); st != 204 {
			t.Fatalf("invite %d: %d %v", i, st, out)
		}
		var (
			wg         sync.WaitGroup
			b          *client
			derr, lerr error
		)
		wg.Add(2)
		go func() {
			defer wg.Done()
			b, derr = e.tryDial(bob.Token, nil)
		}()
		go func() {
			defer wg.Done()
			if st, _ := e.call("POST", "/api/rooms/"+secret+"/leave", bob.Token, nil); st != 204 {
				lerr = fmt.Errorf("leave: %d", st)
			}
		}()
		wg.Wait()
		if derr != nil || lerr != nil {
			t.Fatalf("round %d: %v %v", i, derr, lerr)
		}
		b.name = bob.Name
		if w := b.next("welcome"); w.Type != "welcome" {
			t.Fatalf("first frame %v", w)
		}
		// Every round asks the hub whether the socket is in the room; every
		// tenth also checks that a message of the room does not reach it.
		var mine []*hub.Conn
		e.srv.Hub().Conns(func(c *hub.Conn) {
			if c.User.ID == bob.ID {
				mine = append(mine, c)
			}
		})
		for _, c := range mine {
			if e.srv.Hub().IsMember(c, secret) {
				t.Fatalf("round %d: the hub counts %s's new socket in the room he left", i, bob.Name)
			}
		}
		if i%10 == 0 {
			leaked(e, a, b, general, secret, fmt.Sprint(i))
		}
		b.close()
	}
}

// leaked fails the test when b receives a message that a (a member) sends
// to room secret, which b's user has left.
func leaked(e *env, a, b *client, general, secret, round string) {
	t := e.t
	// Bob's first frames: once history answers, the hello has been handled
	// and every room's frames flow.
	b.send(map[string]any{"type": "hello", "since": map[string]int64{}})
	b.send(map[string]any{"type": "history", "room": general, "limit": 1, "ref": "h"})
	b.next("history")
	marker := "marker " + a.name + " " + round
	a.send(map[string]any{"type": "send", "room": secret, "text": "for members", "client_id": "s" + round, "ref": "s"})
	a.send(map[string]any{"type": "send", "room": general, "text": marker, "client_id": "g" + round, "ref": "g"})
	for acks := 0; acks < 2; {
		if f := a.next("ack", "error"); f.Type == "ack" {
			acks++
		} else {
			t.Fatalf("round %s: %v", round, f)
		}
	}
	for {
		m := b.next("message").Msg()
		if m.Room == secret {
			t.Fatalf("round %s: %s left the private room as his socket opened, and received %v", round, b.name, m)
		}
		if m.Room == general && m.Text == marker {
			return
		}
	}
}

// memDir returns a temporary directory in memory (/dev/shm) when the
// system has one, else t.TempDir().
func memDir(t *testing.T) string {
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
		if dir, err := os.MkdirTemp("/dev/shm", "minichat-test-"); err == nil {
			t.Cleanup(func() { os.RemoveAll(dir) })
			return dir
		}
	}
	return t.TempDir()
}
