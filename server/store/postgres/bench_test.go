package postgres_test

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
	"minichat/server/store/postgres"
	"minichat/server/store/postgres/pgtest"
)

// benchUsers opens a store on a fresh schema with n users; rooms > 0
// creates that many public rooms, user i a member of room i%rooms.
func benchUsers(b *testing.B, n, rooms int, opts store.Options) (*postgres.Store, []protocol.User, []string) {
	b.Helper()
	ctx := context.Background()
	dbURL, _ := pgtest.Schema(b)
	s := open(b, dbURL, opts)
	b.Cleanup(func() { s.Close() })
	users := make([]protocol.User, n)
	for i := range users {
		u, err := s.CreateUser(ctx, store.NewUser{Name: fmt.Sprint("user", i), PasswordHash: "h"})
		if err != nil {
			b.Fatal(err)
		}
		users[i] = u
	}
	ids := make([]string, rooms)
	for i := range ids {
		r, err := s.CreateRoom(ctx, users[i].ID, fmt.Sprint("bench", i), protocol.RoomPublic)
		if err != nil {
			b.Fatal(err)
		}
		ids[i] = r.ID
	}
	for i, u := range users {
		if i >= rooms {
			if _, err := s.Join(ctx, ids[i%rooms], u.ID); err != nil {
				b.Fatal(err)
			}
		}
	}
	return s, users, ids
}

// benchSends runs b.N acknowledged sends from every user at once, user i
// into room i%len(rooms), and reports msgs/s and messages per commit.
func benchSends(b *testing.B, senders, rooms int) {
	var commits, events atomic.Int64
	s, users, ids := benchUsers(b, senders, rooms, store.Options{OnCommit: func(evs []store.Event) {
		commits.Add(1)
		events.Add(int64(len(evs)))
	}})
	ctx := context.Background()
	commits.Store(0)
	events.Store(0)
	var next atomic.Int64
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for i, u := range users {
		wg.Go(func() {
			for {
				n := next.Add(1)
				if n > int64(b.N) {
					return
				}
				if _, _, err := s.Send(ctx, store.SendRequest{
					RoomID: ids[i%len(ids)], SenderID: u.ID, Text: "hello, a line of ordinary chat text",
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

// BenchmarkSendGroupCommit measures acknowledged (committed) sends per
// second from 100 concurrent senders into one room, on one store.
func BenchmarkSendGroupCommit(b *testing.B) { benchSends(b, 100, 1) }

// BenchmarkSendGroupCommitRooms is the same with each sender alone in its
// own room (100 rooms), as the storage run of `minichat bench` does.
func BenchmarkSendGroupCommitRooms(b *testing.B) { benchSends(b, 100, 100) }

// searchCorpus is a store of searchTotal chat messages of 8 to 15 words
// each, drawn from a vocabulary of 20,000 made-up words with a Zipf
// distribution (a few very common words, a long tail of rare ones), posted
// by 49 users into 10 rooms of uneven size (room i gets about twice the
// messages of room i-1), with vocab[rank] the word of that rank. Room 0 is
// public, the others private with those 49 users as members; a 50th user,
// outsider, may read only room 0 (and the empty general room).
type searchCorpus struct {
	s        *postgres.Store
	user     protocol.User
	outsider protocol.User
	rooms    []string
	vocab    []string
}

const searchTotal = 100_000

func newSearchCorpus(b *testing.B) *searchCorpus {
	b.Helper()
	ctx := context.Background()
	dbURL, _ := pgtest.Schema(b)
	s := open(b, dbURL, store.Options{})
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
	// What autovacuum does soon after a load like this one: statistics for
	// the planner.
	if _, err := s.Pool().Exec(ctx, "ANALYZE messages, rooms, members, users"); err != nil {
		b.Fatal(err)
	}
	return c
}

// BenchmarkSearch is the SQLite store's search benchmark on Postgres: the
// same corpus and cases. It runs searches over 100,000 messages, from the commonest
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
