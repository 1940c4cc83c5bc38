package sqlite_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"minichat/server/protocol"
	"minichat/server/store"
	"minichat/server/store/sqlite"
)

// benchRoom opens a store in a temp dir with n users who are all members of
// one public room, and returns the store, the users and the room id.
func benchRoom(b *testing.B, n int, opts store.Options) (*sqlite.Store, []protocol.User, string) {
	b.Helper()
	ctx := context.Background()
	s := openAt(b, b.TempDir(), opts)
	b.Cleanup(func() { s.Close() })
	users := make([]protocol.User, n)
	for i := range users {
		u, err := s.CreateUser(ctx, store.NewUser{Name: fmt.Sprint("user", i), PasswordHash: "h"})
		if err != nil {
			b.Fatal(err)
		}
		users[i] = u
	}
	r, err := s.CreateRoom(ctx, users[0].ID, "bench", protocol.RoomPublic)
	if err != nil {
		b.Fatal(err)
	}
	for _, u := range users[1:] {
		if _, err := s.Join(ctx, r.ID, u.ID); err != nil {
			b.Fatal(err)
		}
	}
	return s, users, r.ID
}

// fill sends total messages into a room from all users concurrently.
func fill(b *testing.B, s *sqlite.Store, users []protocol.User, roomID string, total int) {
	b.Helper()
	var wg sync.WaitGroup
	per := total / len(users)
	for i, u := range users {
		n := per
		if i == 0 {
			n += total - per*len(users)
		}
		wg.Go(func() {
			for j := range n {
				if _, _, err := s.Send(context.Background(), store.SendRequest{
					RoomID: roomID, SenderID: u.ID, Text: fmt.Sprintf("message %d of %s, a line of ordinary chat text", j, u.Name),
				}); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
}

// BenchmarkSendGroupCommit measures acknowledged (durably committed) sends
// per second from 100 concurrent senders into one room.
func BenchmarkSendGroupCommit(b *testing.B) {
	const senders = 100
	var commits, events atomic.Int64
	s, users, roomID := benchRoom(b, senders, store.Options{OnCommit: func(evs []store.Event) {
		commits.Add(1)
		events.Add(int64(len(evs)))
	}})
	ctx := context.Background()
	commits.Store(0)
	events.Store(0)
	var next sync.Mutex
	i := 0
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for _, u := range users {
		wg.Go(func() {
			for {
				next.Lock()
				if i >= b.N {
					next.Unlock()
					return
				}
				i++
				n := i
				next.Unlock()
				if _, _, err := s.Send(ctx, store.SendRequest{
					RoomID: roomID, SenderID: u.ID, Text: "hello, a line of ordinary chat text",
					ClientID: fmt.Sprint("c", n),
				}); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "msgs/s")
	if c := commits.Load(); c > 0 {
		b.ReportMetric(float64(events.Load())/float64(c), "msgs/commit")
	}
}

// BenchmarkHistoryPage reads 50-message pages from a 10,000-message room,
// at positions spread over the whole room.
func BenchmarkHistoryPage(b *testing.B) {
	const total = 10000
	s, users, roomID := benchRoom(b, 100, store.Options{})
	fill(b, s, users, roomID, total)
	ctx := context.Background()
	last := int64(total + len(users) + 1)
	n := int64(0)
	b.ResetTimer()
	for b.Loop() {
		before := last - (n*997)%(last-60)
		n++
		page, _, err := s.History(ctx, roomID, before, 50)
		if err != nil || len(page) != 50 {
			b.Fatalf("History(before %d) = %d messages, %v", before, len(page), err)
		}
	}
}

// BenchmarkSinceReplay replays the last 500 log entries of a room, as a
// reconnecting client's hello does.
func BenchmarkSinceReplay(b *testing.B) {
	const total = 5000
	s, users, roomID := benchRoom(b, 100, store.Options{})
	fill(b, s, users, roomID, total)
	ctx := context.Background()
	r, err := s.Room(ctx, roomID, users[0].ID)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		evs, err := s.Since(ctx, roomID, r.LastSeq-500, protocol.MaxReplay)
		if err != nil || len(evs) != 500 {
			b.Fatalf("Since = %d entries, %v", len(evs), err)
		}
	}
}

// searchCorpus is a store of searchTotal chat messages of 8 to 15 words
// each, drawn from a vocabulary of 20,000 made-up words with a Zipf
// distribution (a few very common words, a long tail of rare ones), posted
// by 49 users into 10 rooms of uneven size (room i gets about twice the
// messages of room i-1), with vocab[rank] the word of that rank. Room 0 is
// public, the others private with those 49 users as members; a 50th user,
// outsider, may read only room 0 (and the empty general room).
type searchCorpus struct {
	s        *sqlite.Store
	user     protocol.User
	outsider protocol.User
	rooms    []string
	vocab    []string
}

const searchTotal = 100_000

func newSearchCorpus(b *testing.B) *searchCorpus {
	b.Helper()
	ctx := context.Background()
	s := openAt(b, b.TempDir(), store.Options{})
	b.Cleanup(func() { s.Close() })
	c := &searchCorpus{s: s}
	var users []protocol.User
	for i := range 50 {
		u, err := s.CreateUser(ctx, store.NewUser{Name: fmt.Sprint("user", i), PasswordHash: "h"})
		if err != nil {
			b.Fatal(err)
		}
		users = append(users, u)
	}
	c.user, c.outsider = users[0], users[49]
	users = users[:49]
	for i := range 10 {
		kind := protocol.RoomPrivate
		if i == 0 {
			kind = protocol.RoomPublic
		}
		r, err := s.CreateRoom(ctx, users[0].ID, fmt.Sprint("room", i), kind)
		if err != nil {
			b.Fatal(err)
		}
		for _, u := range users[1:] {
			if err := s.Invite(ctx, r.ID, users[0].ID, u.ID); err != nil {
				b.Fatal(err)
			}
		}
		c.rooms = append(c.rooms, r.ID)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	syll := []string{"ka", "lo", "mi", "re", "tu", "sa", "ne", "po", "vi", "da", "gu", "fe", "zo", "bi", "ry", "qu"}
	seen := map[string]bool{}
	for len(c.vocab) < 20000 {
		w := ""
		for range 2 + rng.IntN(3) {
			w += syll[rng.IntN(len(syll))]
		}
		if !seen[w] {
			seen[w] = true
			c.vocab = append(c.vocab, w)
		}
	}
	zipf := rand.NewZipf(rng, 1.1, 1, uint64(len(c.vocab)-1))
	// Room weights 1, 2, 4 … 512: pick room by the top set bit of a
	// uniform number below 1023.
	pickRoom := func() string {
		n := rng.IntN(1023) + 1
		i := 0
		for n > 1 {
			n >>= 1
			i++
		}
		return c.rooms[i]
	}
	var wg sync.WaitGroup
	errs := make(chan error, 1)
	for i := range searchTotal {
		words := make([]string, 8+rng.IntN(8))
		for j := range words {
			words[j] = c.vocab[zipf.Uint64()]
		}
		wg.Add(1)
		s.SendAsync(ctx, store.SendRequest{RoomID: pickRoom(), SenderID: users[i%len(users)].ID, Text: strings.Join(words, " ")},
			func(_ protocol.Message, _ bool, err error) {
				if err != nil {
					select {
					case errs <- err:
					default:
					}
				}
				wg.Done()
			})
		if i%5000 == 4999 {
			wg.Wait() // bound what is queued
		}
	}
	wg.Wait()
	select {
	case err := <-errs:
		b.Fatal(err)
	default:
	}
	return c
}

// BenchmarkSearch runs searches over 100,000 messages, from the commonest
// word (the newest 50 of ~10 % of the corpus) to a word that is nowhere.
// Building the corpus takes a while and is done once for all cases.
func BenchmarkSearch(b *testing.B) {
	c := newSearchCorpus(b)
	ctx := context.Background()
	cases := []struct {
		name  string
		user  protocol.User
		room  string
		terms []string
	}{
		{"common_word", c.user, "", []string{c.vocab[0]}},
		{"mid_word", c.user, "", []string{c.vocab[100]}},
		{"rare_word", c.user, "", []string{c.vocab[15000]}},
		{"two_words", c.user, "", []string{c.vocab[3], c.vocab[40]}},
		{"phrase", c.user, "", []string{c.vocab[0] + " " + c.vocab[1]}},
		{"no_match", c.user, "", []string{"zzzzzz"}},
		{"common_word_smallest_room", c.user, c.rooms[0], []string{c.vocab[0]}},
		{"mid_word_smallest_room", c.user, c.rooms[0], []string{c.vocab[100]}},
		// The outsider may read about 0.1 % of the messages.
		{"outsider_common_word", c.outsider, "", []string{c.vocab[0]}},
		{"outsider_mid_word", c.outsider, "", []string{c.vocab[100]}},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			var found int
			for b.Loop() {
				msgs, err := c.s.Search(ctx, store.SearchRequest{UserID: tc.user.ID, RoomID: tc.room, Terms: tc.terms})
				if err != nil {
					b.Fatal(err)
				}
				found = len(msgs)
			}
			b.ReportMetric(float64(found), "results")
		})
	}
}
