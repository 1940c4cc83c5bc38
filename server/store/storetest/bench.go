package storetest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"minichat/server/protocol"
	"minichat/server/store"
)

// The benchmarks every store runs, so that their figures compare: each
// takes a function that opens an empty store with the given options (the
// benchmark closes it).

// errNotMember is memberRule's refusal.
var errNotMember = errors.New("not a member")

// memberRule is the benchmarks' SendRule, the same work as chat's: a
// member may post, a retry is answered.
func memberRule(_ *store.SendRequest, f *store.SendFacts) error {
	if !f.Room.Member {
		return errNotMember
	}
	return nil
}

// Send sends req through rule and waits for the answer, as chat.Send does.
func Send(ctx context.Context, s store.Store, req store.SendRequest, rule store.SendRule) (protocol.Message, error) {
	type result struct {
		msg protocol.Message
		err error
	}
	res := make(chan result, 1)
	s.SendAsync(ctx, req, rule, func(m protocol.Message, _ bool, err error) { res <- result{m, err} })
	r := <-res
	return r.msg, r.err
}

// BenchRoom makes n users, all members of one public room, and returns
// them and the room's id.
func BenchRoom(b *testing.B, s store.Store, n int) ([]protocol.User, string) {
	b.Helper()
	users := benchUsers(b, s, n)
	ids := benchRooms(b, s, users, 1)
	for _, u := range users[1:] {
		benchJoin(b, s, ids[0], u)
	}
	return users, ids[0]
}

// Fill sends total messages into a room from all users concurrently.
func Fill(b *testing.B, s store.Store, users []protocol.User, roomID string, total int) {
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
				if _, err := Send(context.Background(), s, store.SendRequest{
					RoomID: roomID, SenderID: u.ID, Text: fmt.Sprintf("message %d of %s, a line of ordinary chat text", j, u.Name),
				}, memberRule); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
}

// benchRooms makes n public rooms, room i of users[i], who is its member,
// and returns their ids.
func benchRooms(b *testing.B, s store.Store, users []protocol.User, n int) []string {
	b.Helper()
	ids := make([]string, n)
	for i := range ids {
		err := s.Write(context.Background(), nil, func(tx store.Tx) (_ []store.Event, err error) {
			if ids[i], err = tx.CreateRoom(store.NewRoom{Name: fmt.Sprint("bench", i), Kind: protocol.RoomPublic}); err != nil {
				return nil, err
			}
			if err := tx.AddMember(ids[i], users[i].ID); err != nil {
				return nil, err
			}
			_, err = tx.AppendSystem(ids[i], users[i].Name+" created the room")
			return nil, err
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	return ids
}

// benchJoin makes u a member of a room, with a system message.
func benchJoin(b *testing.B, s store.Store, roomID string, u protocol.User) {
	b.Helper()
	err := s.Write(context.Background(), []string{roomID}, func(tx store.Tx) ([]store.Event, error) {
		if err := tx.AddMember(roomID, u.ID); err != nil {
			return nil, err
		}
		_, err := tx.AppendSystem(roomID, u.Name+" joined")
		return nil, err
	})
	if err != nil {
		b.Fatal(err)
	}
}

// BenchSends runs b.N acknowledged sends from senders users at once, user i
// into room i%rooms (public rooms of their own), and reports msgs/s and the
// messages per commit.
func BenchSends(b *testing.B, open func(store.Options) store.Store, senders, rooms int) {
	var commits, events atomic.Int64
	s := open(store.Options{OnCommit: func(evs []store.Event) {
		commits.Add(1)
		events.Add(int64(len(evs)))
	}})
	b.Cleanup(func() { s.Close() })
	ctx := context.Background()
	users := benchUsers(b, s, senders)
	ids := benchRooms(b, s, users, rooms)
	for i, u := range users[rooms:] {
		benchJoin(b, s, ids[(i+rooms)%rooms], u)
	}
	commits.Store(0)
	events.Store(0)
	var next atomic.Int64
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for i, u := range users {
		wg.Go(func() {
			// One answer channel per sender, as a connection has one.
			res := make(chan error, 1)
			done := func(_ protocol.Message, _ bool, err error) { res <- err }
			for {
				n := next.Add(1)
				if n > int64(b.N) {
					return
				}
				s.SendAsync(ctx, store.SendRequest{
					RoomID: ids[i%len(ids)], SenderID: u.ID, Text: "hello, a line of ordinary chat text",
					ClientID: fmt.Sprint("c", n),
				}, memberRule, done)
				if err := <-res; err != nil {
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

// benchUsers makes n users, members of general.
func benchUsers(b *testing.B, s store.Store, n int) []protocol.User {
	b.Helper()
	users := make([]protocol.User, n)
	for i := range users {
		err := s.Write(context.Background(), nil, func(tx store.Tx) (_ []store.Event, err error) {
			if users[i], err = tx.CreateUser(store.NewUser{Name: fmt.Sprint("user", i), Role: protocol.RoleMember, PasswordHash: "h"}); err != nil {
				return nil, err
			}
			g, err := tx.RoomByName(protocol.DefaultRoom)
			if err != nil {
				return nil, err
			}
			if err := tx.AddMember(g.ID, users[i].ID); err != nil {
				return nil, err
			}
			_, err = tx.AppendSystem(g.ID, users[i].Name+" joined")
			return nil, err
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	return users
}

// searchCorpus is a store of searchTotal chat messages of 8 to 15 words
// each, drawn from a vocabulary of 20,000 made-up words with a Zipf
// distribution (a few very common words, a long tail of rare ones), posted
// by 49 users into 10 rooms of uneven size (room i gets about twice the
// messages of room i-1), with vocab[rank] the word of that rank. Room 0 is
// public, the others private with those 49 users as members; a 50th user,
// outsider, may read only room 0 (and the empty general room).
type searchCorpus struct {
	s        store.Store
	user     protocol.User
	outsider protocol.User
	rooms    []string
	vocab    []string
}

const searchTotal = 100_000

func newSearchCorpus(b *testing.B, s store.Store) *searchCorpus {
	b.Helper()
	ctx := context.Background()
	c := &searchCorpus{s: s}
	users := benchUsers(b, s, 50)
	c.user, c.outsider = users[0], users[49]
	users = users[:49]
	for i := range 10 {
		kind := protocol.RoomPrivate
		if i == 0 {
			kind = protocol.RoomPublic
		}
		err := s.Write(ctx, nil, func(tx store.Tx) ([]store.Event, error) {
			id, err := tx.CreateRoom(store.NewRoom{Name: fmt.Sprint("room", i), Kind: kind})
			if err != nil {
				return nil, err
			}
			for _, u := range users {
				if err := tx.AddMember(id, u.ID); err != nil {
					return nil, err
				}
			}
			c.rooms = append(c.rooms, id)
			return nil, nil
		})
		if err != nil {
			b.Fatal(err)
		}
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
		s.SendAsync(ctx, store.SendRequest{RoomID: pickRoom(), SenderID: users[i%len(users)].ID, Text: strings.Join(words, " ")}, memberRule,
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

// BenchSearch runs searches over 100,000 messages, from the commonest word
// (the newest 50 of ~10 % of the corpus) to a word that is nowhere. Building
// the corpus takes a while and is done once for all cases; loaded, when not
// nil, runs after it (what a database would do by itself soon after such a
// load, like gathering planner statistics).
func BenchSearch(b *testing.B, open func(store.Options) store.Store, loaded func(context.Context) error) {
	s := open(store.Options{})
	b.Cleanup(func() { s.Close() })
	c := newSearchCorpus(b, s)
	ctx := context.Background()
	if loaded != nil {
		if err := loaded(ctx); err != nil {
			b.Fatal(err)
		}
	}
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
				msgs, err := c.s.Search(ctx, store.SearchRequest{Scope: store.Scope{UserID: tc.user.ID, Public: true}, RoomID: tc.room, Terms: tc.terms})
				if err != nil {
					b.Fatal(err)
				}
				found = len(msgs)
			}
			b.ReportMetric(float64(found), "results")
		})
	}
}

// BenchRoomList lists the rooms of one person of a team — people users in
// general, rooms more public rooms with a few members each — as each
// socket's welcome does.
func BenchRoomList(b *testing.B, s store.Store, people, rooms int) {
	users := benchUsers(b, s, people)
	ids := benchRooms(b, s, users, rooms)
	for i, u := range users[rooms:] {
		benchJoin(b, s, ids[i%rooms], u)
	}
	viewer := users[people-1]
	for b.Loop() {
		list, err := s.Rooms(context.Background(), store.Scope{UserID: viewer.ID})
		if err != nil || len(list) != 2 {
			b.Fatalf("Rooms = %d rooms, %v", len(list), err)
		}
	}
}
