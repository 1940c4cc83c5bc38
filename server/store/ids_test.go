package store

import (
	"strings"
	"testing"
	"time"
)

// Ids made for the same millisecond sort in the order they were made, and
// an id of a later millisecond sorts after them all.
func TestMessageIDsSortInTheOrderMade(t *testing.T) {
	now := time.UnixMilli(1_800_000_000_000)
	prev := ""
	for i := range 10000 {
		id := NewMessageID(now)
		if len(id) != 22 || !strings.HasPrefix(id, "m_") || strings.Trim(id[2:], idAlphabet) != "" {
			t.Fatalf("id %q is not m_ and 20 base32 characters", id)
		}
		if id <= prev {
			t.Fatalf("id %d, %q, sorts before the one made before it, %q", i, id, prev)
		}
		prev = id
	}
	if later := NewMessageID(now.Add(time.Millisecond)); later <= prev {
		t.Fatalf("an id of the next millisecond, %q, sorts before %q", later, prev)
	}
}

func TestIncrementCarries(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"222", "223"},
		{"22z", "232"},
		{"2zz", "322"},
		{"zzz", "222"},
	} {
		b := []byte(tc.in)
		increment(b)
		if string(b) != tc.want {
			t.Errorf("increment(%q) = %q, want %q", tc.in, b, tc.want)
		}
	}
}
