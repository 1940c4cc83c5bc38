package storetest

import (
	"fmt"
	"testing"

	"minichat/server/protocol"
)

// A MentionCase is a row of the one table of what a mention is.
type MentionCase struct {
	Text, Name string
	// Mention is chat.Mentions(Text, Name): "@name" (ASCII case folded)
	// standing alone, neither begun nor continued by a name's characters,
	// though a '.' or '-' that ends it is punctuation.
	Mention bool
	// Counted is whether the store's unread-mentions count of a room
	// counts the message for the user Name.
	Counted bool
}

// MentionCases is what both matchers of mentions answer to. chat.Mentions
// decides pushes and bot deliveries one message at a time; the room's
// mentions badge must be counted in the database (the recent log of every
// room a list shows), so it is a LIKE '%@name%' over the lowered text: a
// superset, which counts "@name" wherever it stands. The rows where the two
// differ are those with Mention false and Counted true; Counted is true
// wherever Mention is (the badge never misses a mention). chat's test
// checks Mentions against the table, the conformance suite the count on
// every store, so neither can change without the table.
var MentionCases = []MentionCase{
	{"@echo ping", "echo", true, true},
	{"hey @Echo, ping", "echo", true, true},
	{"@BOB: look", "bob", true, true},
	{"thanks @echo.", "echo", true, true},
	{"(@echo)", "echo", true, true},
	{"@ec @echo", "echo", true, true},
	{"@bobby and @bob", "bob", true, true},
	{"hi @bob.smith", "bob.smith", true, true},
	{"hi @bob_x", "bob_x", true, true},
	{"echo ping", "echo", false, false},
	{"mail bob@example.com", "bob", false, false},
	{"mail bob_x without the at", "bob_x", false, false},
	{"@bobax is someone else", "bob_x", false, false}, // the _ is no wildcard
	{"@echoes ping", "echo", false, true},
	{"hi @bob.smith", "bob", false, true},
	{"hi @bob_", "bob", false, true},
	{"@echo.bot ping", "echo", false, true},
	{"mail@echo.org", "echo", false, true},
}

// testMentionCases sends each text of MentionCases, in a room of its own,
// and checks the count of mentions its user sees.
func testMentionCases(t *testing.T, e *env) {
	alice := e.user("alice")
	users := map[string]protocol.User{}
	for i, c := range MentionCases {
		u, ok := users[c.Name]
		if !ok {
			u = e.user(c.Name)
			users[c.Name] = u
		}
		r := e.room(alice, fmt.Sprint("mention-", i), protocol.RoomPublic)
		e.join(r.ID, u)
		must(t, "SetRead", e.setRead(r.ID, u, e.roomOf(r.ID, u).LastSeq))
		e.send(alice, r.ID, c.Text)
		var want int64
		if c.Counted {
			want = 1
		}
		if got := e.roomOf(r.ID, u).Mentions; got != want {
			t.Errorf("%q for %s: mentions %d, want %d", c.Text, c.Name, got, want)
		}
	}
}
