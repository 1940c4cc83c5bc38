package broker

import (
	"fmt"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"minichat/server/broker/natstest"
	"minichat/server/hub"
	"minichat/server/protocol"
	"minichat/server/store"
)

// recorder is a Handler without a hub: it records what the broker
// delivers.
type recorder struct {
	events chan []store.Event
	typing chan string
}

func newRecorder() *recorder {
	return &recorder{events: make(chan []store.Event, 16), typing: make(chan string, 16)}
}

func (r *recorder) Publish(evs []store.Event) { r.events <- evs }
func (r *recorder) RemoteTyping(room string, user protocol.User, active bool) {
	r.typing <- room + " " + user.Name
}
func (*recorder) RemoteClose(string, string, int, string)                    {}
func (*recorder) RemotePresence(string, []hub.UserPresence, bool, time.Time) {}
func (*recorder) RemoteHeads(map[string]int64)                               {}
func (*recorder) NodeExpires(string, time.Time)                              {}
func (*recorder) LocalPresence() ([]hub.UserPresence, bool)                  { return nil, true }
func (*recorder) ExpireNodes(time.Time)                                      {}
func (*recorder) HoldNodes(time.Time)                                        {}
func (*recorder) Resync()                                                    {}

// TestBrokersDeliverToTheirHandlers: a commit reaches the committing node's
// Handler and the other node's; typing reaches the other node's only. No
// hub is involved.
func TestBrokersDeliverToTheirHandlers(t *testing.T) {
	url := natstest.URL(t)
	prefix := fmt.Sprintf("handler%d", time.Now().UnixNano())
	open := func() (*NATS, *recorder) {
		b, err := NewNATS(NATSOptions{URL: url, Prefix: prefix, Log: zerolog.Nop()})
		if err != nil {
			t.Fatal(err)
		}
		r := newRecorder()
		if err := b.Attach(r); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = b.Close() })
		return b, r
	}
	a, ra := open()
	b, rb := open()

	msg := protocol.Message{ID: "m_1", Room: "r_1", Seq: 7, Kind: protocol.KindChat, Text: "hi"}
	a.Commit([]store.Event{{Kind: store.EventMessage, RoomID: "r_1", Seq: 7, Message: msg}})
	for name, r := range map[string]*recorder{"committing": ra, "other": rb} {
		select {
		case evs := <-r.events:
			if len(evs) != 1 || evs[0].Seq != 7 || evs[0].Message.Text != "hi" {
				t.Fatalf("the %s node's handler got %+v", name, evs)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("the %s node's handler got no commit", name)
		}
	}

	b.Typing("r_1", protocol.User{ID: "u_1", Name: "bob"}, true)
	select {
	case got := <-ra.typing:
		if got != "r_1 bob" {
			t.Fatalf("typing %q", got)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no typing on the other node")
	}
	select {
	case got := <-rb.typing:
		t.Fatalf("the typing node's own handler got %q", got)
	default:
	}
}
