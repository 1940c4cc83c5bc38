package broker

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/rs/zerolog"

	"minichat/server/auth"
	"minichat/server/broker/natstest"
	"minichat/server/chat"
	"minichat/server/hub"
	"minichat/server/protocol"
	"minichat/server/protocol/frametest"
	"minichat/server/store"
	"minichat/server/store/sqlstore"
)

// cluster is several nodes — hub and NATS broker each — sharing one store
// whose commits the first node makes.
type cluster struct {
	st     store.Store
	nodes  []*node
	prefix string
}

type node struct {
	b *NATS
	h *hub.Hub
}

// newCluster starts n nodes; the store's commits go to onCommit, or to the
// first node's broker when it is nil.
func newCluster(t *testing.T, url string, n int, onCommit func([]store.Event)) *cluster {
	t.Helper()
	c := &cluster{prefix: fmt.Sprintf("test%d", time.Now().UnixNano())}
	for range n {
		c.nodes = append(c.nodes, c.startNode(t, url))
	}
	if onCommit == nil {
		onCommit = c.nodes[0].b.Commit
	}
	st, err := sqlstore.OpenSQLite(filepath.Join(t.TempDir(), "cluster.db"), store.Options{OnCommit: onCommit})
	if err != nil {
		t.Fatal(err)
	}
	c.st = st
	t.Cleanup(func() { st.Close() })
	return c
}

func (c *cluster) startNode(t *testing.T, url string) *node {
	t.Helper()
	b, err := NewNATS(NATSOptions{URL: url, Prefix: c.prefix, Heartbeat: 100 * time.Millisecond, PresenceGrace: 300 * time.Millisecond,
		ReconnectWait: 50 * time.Millisecond, Log: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	h := hub.New(hub.Options{Cluster: b, GapWait: 20 * time.Millisecond, PresenceGrace: 300 * time.Millisecond,
		Fill: func(ctx context.Context, room string, after int64, limit int) ([]store.Event, error) {
			return c.st.Since(ctx, room, after, limit)
		}})
	if err := b.Attach(h); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = h.Shutdown(context.Background())
		_ = b.Close()
	})
	return &node{b, h}
}

// client is a connection registered with one node's hub, drained into a
// channel as the ws writer would.
type client struct {
	c      *hub.Conn
	frames chan frame
}

// frame is a frame the hub queued, or (Type "closed") the closing of the
// connection with its code.
type frame struct {
	frametest.Frame
	code int
}

func connect(t *testing.T, n *node, st store.Store, u protocol.User, session string) (*client, protocol.Welcome) {
	t.Helper()
	rooms, err := st.Rooms(context.Background(), store.Scope{UserID: u.ID, Public: true})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range rooms {
		if r.Member {
			ids = append(ids, r.ID)
		}
	}
	cl := &client{c: hub.NewConn("c_"+u.Name+session, u, session, 0), frames: make(chan frame, 10000)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		var batch [][]byte
		for {
			select {
			case <-cl.c.Wake():
				var closed bool
				batch, closed = cl.c.Take(batch[:0], 0)
				for _, f := range batch {
					m, err := frametest.Decode(f)
					if err != nil {
						panic(err)
					}
					for _, m := range m.Split() {
						cl.frames <- frame{Frame: m}
					}
				}
				if closed {
					code, _ := cl.c.CloseCode()
					cl.frames <- frame{Frame: frametest.Frame{Type: "closed"}, code: code}
					n.h.Unregister(cl.c)
					return
				}
			case <-cl.c.Done():
				code, _ := cl.c.CloseCode()
				cl.frames <- frame{Frame: frametest.Frame{Type: "closed"}, code: code}
				n.h.Unregister(cl.c)
				return
			}
		}
	}()
	t.Cleanup(func() { cl.c.Close(protocol.CloseNormal, ""); <-done })
	if !n.h.Register(cl.c, hub.Registration{RoomIDs: ids, Welcome: protocol.Welcome{User: u, Rooms: rooms}}) {
		t.Fatal("register")
	}
	return cl, cl.next(t, "welcome").Welcome
}

// next returns the next frame of one of the types, skipping others.
func (cl *client) next(t *testing.T, types ...string) frame {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case m := <-cl.frames:
			if slices.Contains(types, m.Type) {
				return m
			}
		case <-deadline:
			t.Fatalf("%s: no frame of type %v", cl.c.User.Name, types)
			return frame{}
		}
	}
}

// presence waits for presence frames of users with statuses, given as
// name, status pairs, in any order.
func (cl *client) presence(t *testing.T, pairs ...string) {
	t.Helper()
	want := map[string]string{}
	for i := 0; i < len(pairs); i += 2 {
		want[pairs[i]] = pairs[i+1]
	}
	for len(want) > 0 {
		p := cl.next(t, "presence").Presence
		if want[p.User.Name] == p.Status {
			delete(want, p.User.Name)
		}
	}
}

// seqs asserts the next messages of a room are from..to, each once, in order.
func (cl *client) seqs(t *testing.T, room string, from, to int64) {
	t.Helper()
	for want := from; want <= to; want++ {
		msg := cl.next(t, "message").Msg()
		if msg.Room != room || msg.Seq != want {
			t.Fatalf("%s: got %s seq %d, want %d", cl.c.User.Name, msg.Room, msg.Seq, want)
		}
	}
}

func (cl *client) quiet(t *testing.T, d time.Duration, types ...string) {
	t.Helper()
	timeout := time.After(d)
	for {
		select {
		case m := <-cl.frames:
			if slices.Contains(types, m.Type) {
				t.Fatalf("%s: unexpected %+v", cl.c.User.Name, m)
			}
		case <-timeout:
			return
		}
	}
}

// service is the chat service of a test's store, with cheap password
// hashes.
func service(st store.Store) *chat.Service {
	return &chat.Service{Store: st, Passwords: auth.NewPasswords(auth.Params{Time: 1, MemoryKiB: 8 * 1024, Threads: 1, KeyLen: 32, SaltLen: 16}, 1)}
}

func addUser(t *testing.T, st store.Store, name string) protocol.User {
	t.Helper()
	u, err := service(st).CreateAccount(context.Background(), name, "password", false)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func general(t *testing.T, st store.Store, u protocol.User) protocol.Room {
	t.Helper()
	rooms, err := st.Rooms(context.Background(), store.Scope{UserID: u.ID, Public: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rooms {
		if r.Name == protocol.DefaultRoom {
			return r
		}
	}
	t.Fatal("no general room")
	return protocol.Room{}
}

func send(t *testing.T, st store.Store, room string, from protocol.User, n int) {
	t.Helper()
	for i := range n {
		if _, err := service(st).Send(context.Background(), from, chat.SendParams{Room: room, Text: "m" + strconv.Itoa(i)}); err != nil {
			t.Fatal(err)
		}
	}
}

func TestWireKeepsEveryEventAClientSees(t *testing.T) {
	var mu sync.Mutex
	var evs []store.Event
	st, err := sqlstore.OpenSQLite(filepath.Join(t.TempDir(), "wire.db"), store.Options{OnCommit: func(e []store.Event) {
		mu.Lock()
		evs = append(evs, e...)
		mu.Unlock()
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	alice := addUser(t, st, "alice")
	svc := service(st)
	room, err := svc.CreateRoom(ctx, alice, "wire", false)
	if err != nil {
		t.Fatal(err)
	}
	msg, err := svc.Send(ctx, alice, chat.SendParams{Room: room.ID, Text: "hello ✓ \"quoted\"", ClientID: "k1"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Edit(ctx, alice, room.ID, msg.ID, "edited"); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.React(ctx, alice, room.ID, msg.ID, "👍", true); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Delete(ctx, alice, room.ID, msg.ID); err != nil {
		t.Fatal(err)
	}
	data, err := encodeEvents("n_x", evs)
	if err != nil {
		t.Fatal(err)
	}
	var env envelope
	if err := json.Unmarshal(data, &env); err != nil {
		t.Fatal(err)
	}
	if len(env.Events) != len(evs) {
		t.Fatalf("%d events on the wire, want %d", len(env.Events), len(evs))
	}
	kinds := map[store.EventKind]int{}
	for i := range evs {
		got := fromWire(&env.Events[i])
		kinds[got.Kind]++
		if got.Kind == store.EventMember {
			if got.UserID != evs[i].UserID || got.Joined != evs[i].Joined || got.Created != evs[i].Created || got.Room != evs[i].Room || got.RoomID != evs[i].RoomID {
				t.Fatalf("member event %+v became %+v", evs[i], got)
			}
			continue
		}
		if a, b := string(hub.EncodeLog(evs[i])), string(hub.EncodeLog(got)); a != b || got.Seq != evs[i].Seq || got.RoomID != evs[i].RoomID {
			t.Fatalf("event %d: frame %s became %s", i, a, b)
		}
	}
	if kinds[store.EventMember] == 0 || kinds[store.EventMessage] == 0 || kinds[store.EventUpdate] != 3 {
		t.Fatalf("kinds %v: the test should cover members, messages and updates", kinds)
	}
	if token("r_abc-1") != "r_abc-1" || token("x1") == "x1" || token("a.b") == "a.b" || token("a.b") == token("a_b") {
		t.Fatal("subject tokens collide or are not safe")
	}
}

func TestMessagesTypingPresenceAndClosesCrossNodes(t *testing.T) {
	c := newCluster(t, natstest.URL(t), 2, nil)
	a, b := c.nodes[0], c.nodes[1]
	alice, bob, carol := addUser(t, c.st, "alice"), addUser(t, c.st, "bob"), addUser(t, c.st, "carol")
	room := general(t, c.st, alice)

	bobB, _ := connect(t, b, c.st, bob, "s_bob")
	aliceA, _ := connect(t, a, c.st, alice, "s_alice")
	// Alice is online on node A: bob, on node B, is told, and carol, who
	// connects to B later, finds her in the welcome's online list.
	bobB.presence(t, "alice", protocol.StatusOnline)
	_, w := connect(t, b, c.st, carol, "s_carol")
	names := map[string]string{}
	for _, p := range w.Online {
		names[p.User.Name] = p.Status
	}
	if names["alice"] != "online" || names["bob"] != "online" || names["carol"] != "online" {
		t.Fatalf("carol's welcome lists %v, want alice, bob and carol online", names)
	}

	// Messages committed by node A reach node B's connections in order.
	send(t, c.st, room.ID, alice, 50)
	bobB.seqs(t, room.ID, room.LastSeq+1, room.LastSeq+50)
	aliceA.seqs(t, room.ID, room.LastSeq+1, room.LastSeq+50)

	// Typing on node A shows on node B, and stops with the next message.
	if !a.h.Typing(aliceA.c, room.ID, true) {
		t.Fatal("typing refused")
	}
	m := bobB.next(t, "typing")
	if !m.Typing.Active || m.Typing.User.Name != "alice" {
		t.Fatalf("typing frame %v", m)
	}
	send(t, c.st, room.ID, alice, 1)
	if m := bobB.next(t, "typing"); m.Typing.Active {
		t.Fatalf("typing frame after the message %v", m)
	}

	// Status changes cross too.
	a.h.SetStatus(aliceA.c, protocol.StatusAway, "lunch")
	for {
		m := bobB.next(t, "presence")
		if m.Presence.Status == "away" && m.Presence.Text == "lunch" {
			break
		}
	}

	// Signing bob out on node A closes his socket on node B.
	a.h.CloseSession("s_bob", protocol.CloseUnauthenticated, "signed out")
	if m := bobB.next(t, "closed"); m.code != protocol.CloseUnauthenticated {
		t.Fatalf("bob's socket closed with %d", m.code)
	}
}

func TestDeadNodesUsersGoOfflineElsewhere(t *testing.T) {
	c := newCluster(t, natstest.URL(t), 3, nil)
	a, b, d := c.nodes[0], c.nodes[1], c.nodes[2]
	alice, bob, dan := addUser(t, c.st, "alice"), addUser(t, c.st, "bob"), addUser(t, c.st, "dan")
	bobB, _ := connect(t, b, c.st, bob, "s_bob")
	connect(t, a, c.st, alice, "s_alice")
	connect(t, d, c.st, dan, "s_dan")
	bobB.presence(t, "alice", protocol.StatusOnline, "dan", protocol.StatusOnline)

	// Node D dies without a word (its NATS connection just drops): its
	// users go offline on the other nodes once its heartbeats stop.
	d.b.nc.Close()
	bobB.presence(t, "dan", protocol.StatusOffline)

	// Node A shuts down and says so: alice counts as online for the
	// presence grace (time to reconnect elsewhere), then goes offline.
	_ = a.h.Shutdown(context.Background())
	_ = a.b.Close()
	bobB.presence(t, "alice", protocol.StatusOffline)
	bobB.quiet(t, 300*time.Millisecond, "presence")
}

func TestLossyBrokerNeverLosesAMessage(t *testing.T) {
	url := natstest.URL(t)
	// The store's commits do not go through a broker: the test publishes
	// them by hand as a node whose messages are lost and reordered.
	var mu sync.Mutex
	var committed []store.Event
	c := newCluster(t, url, 1, func(evs []store.Event) {
		mu.Lock()
		committed = append(committed, evs...)
		mu.Unlock()
	})
	b := c.nodes[0]
	alice, bob := addUser(t, c.st, "alice"), addUser(t, c.st, "bob")
	room := general(t, c.st, alice)
	bobB, _ := connect(t, b, c.st, bob, "s_bob")
	mu.Lock()
	committed = nil
	mu.Unlock()
	send(t, c.st, room.ID, alice, 60)
	mu.Lock()
	evs := committed
	mu.Unlock()

	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	lossy := &NATS{opts: NATSOptions{Prefix: c.prefix}}
	publish := func(env envelope) {
		env.Node = "n_lossy"
		data, err := json.Marshal(env)
		if err != nil {
			t.Fatal(err)
		}
		subject := lossy.roomSubject(room.ID)
		if env.Full {
			subject = c.prefix + subjectPresence
		}
		if err := nc.Publish(subject, data); err != nil {
			t.Fatal(err)
		}
	}
	// Every third event is lost, every fifth swaps places with the next,
	// and the last one is lost too: nothing comes after it to show the
	// gap but the node's heartbeat, which names its latest seq.
	for i := 0; i < len(evs)-1; i++ {
		switch {
		case i%3 == 2:
		case i%5 == 4 && i+1 < len(evs)-1:
			publish(envelope{Events: []event{toWire(&evs[i+1])}})
			publish(envelope{Events: []event{toWire(&evs[i])}})
			i++
		default:
			publish(envelope{Events: []event{toWire(&evs[i])}})
		}
	}
	publish(envelope{Full: true, Heads: map[string]int64{room.ID: evs[len(evs)-1].Seq}})
	bobB.seqs(t, room.ID, room.LastSeq+1, room.LastSeq+60)
	bobB.quiet(t, 200*time.Millisecond, "message")
}

func TestReconnectionFillsWhatWasMissed(t *testing.T) {
	// A NATS server of this process, restarted on the same port.
	ns := natstest.Start(t, nil)
	port := ns.Addr().(*net.TCPAddr).Port
	c := newCluster(t, ns.ClientURL(), 2, nil)
	a, b := c.nodes[0], c.nodes[1]
	alice, bob := addUser(t, c.st, "alice"), addUser(t, c.st, "bob")
	room := general(t, c.st, alice)
	aliceA, _ := connect(t, a, c.st, alice, "s_alice")
	bobB, _ := connect(t, b, c.st, bob, "s_bob")
	send(t, c.st, room.ID, alice, 5)
	bobB.seqs(t, room.ID, room.LastSeq+1, room.LastSeq+5)
	aliceA.seqs(t, room.ID, room.LastSeq+1, room.LastSeq+5)

	ns.Shutdown()
	// NATS is down: node A still delivers its own commits to its own
	// connections.
	send(t, c.st, room.ID, alice, 20)
	aliceA.seqs(t, room.ID, room.LastSeq+6, room.LastSeq+25)

	natstest.Start(t, &natsserver.Options{Port: port})
	// After the reconnection node B has every message, once, in order.
	send(t, c.st, room.ID, alice, 5)
	bobB.seqs(t, room.ID, room.LastSeq+6, room.LastSeq+30)
	aliceA.seqs(t, room.ID, room.LastSeq+26, room.LastSeq+30)
	bobB.quiet(t, 200*time.Millisecond, "message")
}

func TestCommitsLargerThanTheServersPayloadLimitAreSplit(t *testing.T) {
	ns := natstest.Start(t, &natsserver.Options{MaxPayload: 8 << 10})
	c := newCluster(t, ns.ClientURL(), 2, nil)
	a, b := c.nodes[0], c.nodes[1]
	alice, bob := addUser(t, c.st, "alice"), addUser(t, c.st, "bob")
	room := general(t, c.st, alice)
	bobB, _ := connect(t, b, c.st, bob, "s_bob")
	// One commit of 40 messages of 1 KiB: five times the limit.
	evs := make([]store.Event, 40)
	for i := range evs {
		seq := room.LastSeq + 1 + int64(i)
		evs[i] = store.Event{Kind: store.EventMessage, RoomID: room.ID, Seq: seq, Message: protocol.Message{
			ID: fmt.Sprintf("m_%d", seq), Room: room.ID, Seq: seq, Kind: protocol.KindChat, Sender: &alice, Text: strings.Repeat("x", 1024)}}
	}
	a.b.Commit(evs)
	// None of them is in the store: had one message been refused, node B
	// would have nowhere to fill the gap from.
	bobB.seqs(t, room.ID, room.LastSeq+1, room.LastSeq+40)
}

func TestHeartbeatsLargerThanThePayloadLimitKeepEveryoneOnline(t *testing.T) {
	ns := natstest.Start(t, &natsserver.Options{MaxPayload: 2 << 10})
	c := newCluster(t, ns.ClientURL(), 2, nil)
	a, b := c.nodes[0], c.nodes[1]
	bob := addUser(t, c.st, "bob")
	bobB, _ := connect(t, b, c.st, bob, "s_bob")
	// 40 users on node A: their heartbeat is several times the limit.
	var pairs []string
	for i := range 40 {
		u := addUser(t, c.st, fmt.Sprintf("user%02d", i))
		connect(t, a, c.st, u, "s_"+u.Name)
		pairs = append(pairs, u.Name, protocol.StatusOnline)
	}
	bobB.presence(t, pairs...)
	// Many heartbeats later (each user counts for three of them unless
	// restated), nobody has gone offline.
	bobB.quiet(t, 20*100*time.Millisecond, "presence")
}
