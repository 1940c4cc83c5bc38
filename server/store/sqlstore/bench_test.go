package sqlstore_test

import (
	"context"
	"testing"

	"minichat/server/protocol"
	"minichat/server/store"
	"minichat/server/store/pgtest"
	"minichat/server/store/sqlstore"
	"minichat/server/store/storetest"
)

// onBoth runs a benchmark on an empty store of each database (opened by
// open, closed by the benchmark).
func onBoth(b *testing.B, bench func(b *testing.B, open func(store.Options) store.Store)) {
	b.Run("sqlite", func(b *testing.B) {
		bench(b, func(opts store.Options) store.Store { return openSQLite(b, b.TempDir(), opts) })
	})
	b.Run("postgres", func(b *testing.B) {
		bench(b, func(opts store.Options) store.Store {
			dbURL, _ := pgtest.Schema(b)
			return openPostgres(b, dbURL, opts)
		})
	})
}

// BenchmarkSendGroupCommit measures acknowledged (durably committed) sends
// per second from 100 concurrent senders into one room.
func BenchmarkSendGroupCommit(b *testing.B) {
	onBoth(b, func(b *testing.B, open func(store.Options) store.Store) { storetest.BenchSends(b, open, 100, 1) })
}

// BenchmarkSendGroupCommitRooms is the same with each sender alone in its
// own room (100 rooms), as the storage run of `minichat bench` does.
func BenchmarkSendGroupCommitRooms(b *testing.B) {
	onBoth(b, func(b *testing.B, open func(store.Options) store.Store) { storetest.BenchSends(b, open, 100, 100) })
}

// filled opens a store with a room of 100 members and total messages in
// it, and returns the store, the members and the room's id.
func filled(b *testing.B, open func(store.Options) store.Store, total int) (store.Store, []protocol.User, string) {
	s := open(store.Options{})
	b.Cleanup(func() { s.Close() })
	users, roomID := storetest.BenchRoom(b, s, 100)
	storetest.Fill(b, s, users, roomID, total)
	return s, users, roomID
}

// BenchmarkHistoryPage reads 50-message pages from a 10,000-message room,
// at positions spread over the whole room.
func BenchmarkHistoryPage(b *testing.B) {
	onBoth(b, func(b *testing.B, open func(store.Options) store.Store) {
		const total = 10000
		s, users, roomID := filled(b, open, total)
		last := int64(total + len(users) + 1)
		n := int64(0)
		for b.Loop() {
			before := last - (n*997)%(last-60)
			n++
			page, _, err := s.History(context.Background(), roomID, before, 50)
			if err != nil || len(page) != 50 {
				b.Fatalf("History(before %d) = %d messages, %v", before, len(page), err)
			}
		}
	})
}

// BenchmarkSinceReplay replays the last 500 log entries of a room, as a
// reconnecting client's hello does.
func BenchmarkSinceReplay(b *testing.B) {
	onBoth(b, func(b *testing.B, open func(store.Options) store.Store) {
		s, users, roomID := filled(b, open, 5000)
		r, err := s.Room(context.Background(), roomID, users[0].ID)
		if err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			evs, err := s.Since(context.Background(), roomID, r.LastSeq-500, protocol.MaxReplay)
			if err != nil || len(evs) != 500 {
				b.Fatalf("Since = %d entries, %v", len(evs), err)
			}
		}
	})
}

// BenchmarkSearch is storetest's search benchmark: 100,000 messages; on
// Postgres with planner statistics gathered after the load, as autovacuum
// does soon after one like it.
func BenchmarkSearch(b *testing.B) {
	b.Run("sqlite", func(b *testing.B) {
		storetest.BenchSearch(b, func(opts store.Options) store.Store { return openSQLite(b, b.TempDir(), opts) }, nil)
	})
	b.Run("postgres", func(b *testing.B) {
		var s *sqlstore.Store
		storetest.BenchSearch(b, func(opts store.Options) store.Store {
			dbURL, _ := pgtest.Schema(b)
			s = openPostgres(b, dbURL, opts)
			return s
		}, func(ctx context.Context) error {
			return sqlstore.ExecRead(ctx, s, "ANALYZE messages, rooms, members, users")
		})
	})
}

// BenchmarkRoomList lists the rooms of one person of a team of 1,000 in
// 300 rooms and general, as each socket's welcome does.
func BenchmarkRoomList(b *testing.B) {
	onBoth(b, func(b *testing.B, open func(store.Options) store.Store) {
		s := open(store.Options{})
		b.Cleanup(func() { s.Close() })
		storetest.BenchRoomList(b, s, 1000, 300)
	})
}
