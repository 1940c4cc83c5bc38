// Package broker carries what one node of minichat must tell the others:
// committed room-log and membership events, typing, presence and the
// closing of sessions. Local is the single-node broker (the default): it
// hands commits straight to the node's hub. NATS connects several nodes
// through a NATS server.
//
// Subjects (NATS):
//
//	minichat.room.<room>       committed events of the room, typing in it
//	minichat.user.<user>       close every connection of a user
//	minichat.cluster.presence  presence changes and heartbeats of each node
//	minichat.cluster.close     close every connection of a session
//
// Every message is one JSON envelope that names the node it comes from;
// a commit is encoded once per room, whatever the number of nodes.
//
// The broker may lose or delay a message (NATS core delivers at most
// once). The hub keeps each room's log in seq order and fills any gap from
// the store, so a lost broker message delays a chat message but never
// loses it; see hub/cluster.go and docs/operations.md.
package broker

import (
	"time"

	"minichat/server/hub"
	"minichat/server/protocol"
	"minichat/server/store"
)

// Broker links a node's hub to the other nodes.
type Broker interface {
	// Cluster is what the hub tells the other nodes through the broker
	// (hub.Options.Cluster); nil for a single node.
	Cluster() hub.Cluster
	// Attach starts delivering to h what this node commits and what other
	// nodes publish. Call it once, before the store commits anything.
	Attach(h Handler) error
	// Commit is the store's Options.OnCommit: it hands the events to this
	// node's Handler, then to the other nodes. It does not wait for the
	// network.
	Commit(evs []store.Event)
	// Close says goodbye to the other nodes and stops. Call it after the
	// store is closed, so its last commits are published.
	Close() error
}

// Handler receives what a broker delivers; the node's *hub.Hub is the one
// in use. The broker calls it from its own goroutines (and from the
// store's writer, through Commit); no method may block on the network.
//
// A single node needs only Publish; the other methods serve a cluster.
type Handler interface {
	// Publish delivers committed events, of this node or of another.
	Publish(evs []store.Event)

	// What another node tells: a user typing, a session or user to
	// close, the node's users (every one when full, until expires), the
	// latest seqs it committed per room, and that it shut down and its
	// users count as online until at.
	RemoteTyping(room string, user protocol.User, active bool)
	RemoteClose(sessionID, userID string, code int, reason string)
	RemotePresence(node string, users []hub.UserPresence, full bool, expires time.Time)
	RemoteHeads(heads map[string]int64)
	NodeExpires(node string, at time.Time)

	// For this node's heartbeat: its own users (ok false once the
	// handler has shut down), and the forgetting of nodes that stopped
	// speaking.
	LocalPresence() (users []hub.UserPresence, ok bool)
	ExpireNodes(now time.Time)
	// HoldNodes keeps every other node and its users counting until at
	// least until: after a reconnection, so that the broker's silence
	// expires nobody before each node restates its users.
	HoldNodes(until time.Time)
	// Resync reads from the store what messages lost on the way carried
	// (after a reconnection or a slow-consumer drop).
	Resync()
}

// Local is the broker of a single node: commits go straight to the
// Handler.
type Local struct{ h Handler }

// NewLocal returns the single-node broker.
func NewLocal() *Local { return &Local{} }

// Cluster returns nil: there is no other node to tell.
func (*Local) Cluster() hub.Cluster { return nil }

// Attach makes h the Handler that receives commits.
func (l *Local) Attach(h Handler) error { l.h = h; return nil }

// Commit hands the events to the Handler.
func (l *Local) Commit(evs []store.Event) { l.h.Publish(evs) }

// Close does nothing.
func (*Local) Close() error { return nil }
