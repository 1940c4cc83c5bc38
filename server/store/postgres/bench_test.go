package postgres_test

import (
	"context"
	"fmt"
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
