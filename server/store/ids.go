package store

import (
	"cmp"
	"crypto/rand"
	"slices"
	"strings"
	"sync"
	"time"

	"minichat/server/protocol"
)

// idAlphabet is lowercase base32 in ASCII order, so that ids compare like
// the numbers they encode.
const idAlphabet = "234567abcdefghijklmnopqrstuvwxyz"

// NewID returns prefix followed by 20 random lowercase base32 characters
// (100 bits from crypto/rand). Every implementation makes its ids with it,
// so an installation copied from one store to another keeps them.
func NewID(prefix string) string {
	var b [20]byte
	rand.Read(b[:]) // never returns an error (crypto/rand contract)
	out := make([]byte, len(prefix)+len(b))
	copy(out, prefix)
	for i, c := range b {
		// 256 is a multiple of 32, so c&31 is uniform.
		out[len(prefix)+i] = idAlphabet[c&31]
	}
	return string(out)
}

// NewMessageID returns "m_" followed by 20 lowercase base32 characters: 9
// encode the time in milliseconds, 11 are random (55 bits). Ids made later
// sort later, so inserting a batch of messages touches the last page or two
// of the id index instead of one random page per message, which keeps each
// group commit's writes small. Within one process, ids made for the same
// millisecond sort in the order they were made (the random part of each
// follows the last one's), so messages posted within one millisecond keep
// their order wherever ids break ties of time (search, on Postgres).
func NewMessageID(now time.Time) string {
	id := []byte(NewID("m_"))
	ms := uint64(now.UnixMilli())
	for i := 8; i >= 0; i-- { // 45 bits of milliseconds: until the year 3084
		id[2+i] = idAlphabet[ms&31]
		ms >>= 5
	}
	lastID.Lock()
	defer lastID.Unlock()
	if last := lastID.id; last != "" && last[:11] == string(id[:11]) && string(id[11:]) <= last[11:] {
		copy(id[11:], last[11:])
		increment(id[11:])
	}
	lastID.id = string(id)
	return lastID.id
}

// lastID is the last message id made, for NewMessageID's order within a
// millisecond.
var lastID struct {
	sync.Mutex
	id string
}

// increment adds one to b, a number written in idAlphabet. It wraps to
// all zeroes after the largest value, which 55 random bits make
// practically unreachable.
func increment(b []byte) {
	for i := len(b) - 1; i >= 0; i-- {
		if j := strings.IndexByte(idAlphabet, b[i]); j < len(idAlphabet)-1 {
			b[i] = idAlphabet[j+1]
			return
		}
		b[i] = idAlphabet[0]
	}
}

// SortRooms orders rooms as Store.Rooms lists them: by kind (public,
// private, dm), then name without regard to case, then id.
func SortRooms(rooms []protocol.Room) {
	slices.SortFunc(rooms, func(a, b protocol.Room) int {
		return cmp.Or(
			cmp.Compare(kindRank(a.Kind), kindRank(b.Kind)),
			cmp.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name)),
			cmp.Compare(a.ID, b.ID),
		)
	})
}

func kindRank(kind string) int {
	switch kind {
	case protocol.RoomPublic:
		return 0
	case protocol.RoomPrivate:
		return 1
	default:
		return 2
	}
}
