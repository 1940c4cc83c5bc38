package broker

import (
	"context"
	"testing"

	"minichat/server/broker/natstest"
	"minichat/server/store"
)

// A profile change committed through one node reaches the members of the
// user's rooms on the other node as a user frame.
func TestProfileChangesCrossNodes(t *testing.T) {
	c := newCluster(t, natstest.URL(t), 2, nil)
	b := c.nodes[1]
	alice, bob := addUser(t, c.st, "alice"), addUser(t, c.st, "bob")
	room := general(t, c.st, alice)
	bobB, _ := connect(t, b, c.st, bob, "s_bob")

	err := c.st.Write(context.Background(), nil, func(tx store.Tx) ([]store.Event, error) {
		if err := tx.SetProfile(alice.ID, "Alice L.", "here"); err != nil {
			return nil, err
		}
		u := alice
		u.DisplayName, u.StatusText = "Alice L.", "here"
		return []store.Event{{Kind: store.EventUser, User: u, Rooms: []string{room.ID}}}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	f := bobB.next(t, "user")
	if f.User.User.ID != alice.ID || f.User.User.DisplayName != "Alice L." || f.User.User.StatusText != "here" {
		t.Fatalf("bob on node B got %+v", f.User)
	}
}
