package sqlite_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"minichat/server/protocol"
	"minichat/server/store"
	"minichat/server/store/sqlite"
	"minichat/server/store/storetest"
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

// openBench opens an empty store in a temp dir, for storetest's benchmarks.
func openBench(b *testing.B) func(store.Options) store.Store {
	return func(opts store.Options) store.Store { return openAt(b, b.TempDir(), opts) }
}

// BenchmarkSendGroupCommit measures acknowledged (durably committed) sends
// per second from 100 concurrent senders into one room.
func BenchmarkSendGroupCommit(b *testing.B) { storetest.BenchSends(b, openBench(b), 100, 1) }

// BenchmarkSendGroupCommitRooms is the same with each sender alone in its
// own room (100 rooms), as the storage run of `minichat bench` does.
func BenchmarkSendGroupCommitRooms(b *testing.B) { storetest.BenchSends(b, openBench(b), 100, 100) }

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

// BenchmarkSearch is storetest's search benchmark: 100,000 messages.
func BenchmarkSearch(b *testing.B) { storetest.BenchSearch(b, openBench(b), nil) }
