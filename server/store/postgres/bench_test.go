package postgres_test

import (
	"context"
	"testing"

	"minichat/server/store"
	"minichat/server/store/postgres"
	"minichat/server/store/postgres/pgtest"
	"minichat/server/store/storetest"
)

// openBench opens an empty store on a fresh schema, for storetest's
// benchmarks.
func openBench(b *testing.B) func(store.Options) store.Store {
	return func(opts store.Options) store.Store {
		dbURL, _ := pgtest.Schema(b)
		return open(b, dbURL, opts)
	}
}

// BenchmarkSendGroupCommit measures acknowledged (committed) sends per
// second from 100 concurrent senders into one room, on one store.
func BenchmarkSendGroupCommit(b *testing.B) { storetest.BenchSends(b, openBench(b), 100, 1) }

// BenchmarkSendGroupCommitRooms is the same with each sender alone in its
// own room (100 rooms), as the storage run of `minichat bench` does.
func BenchmarkSendGroupCommitRooms(b *testing.B) { storetest.BenchSends(b, openBench(b), 100, 100) }

// BenchmarkSearch is storetest's search benchmark (the SQLite store's
// corpus and cases) on Postgres, with planner statistics gathered after the
// load, as autovacuum does soon after one like it.
func BenchmarkSearch(b *testing.B) {
	var s *postgres.Store
	storetest.BenchSearch(b, func(opts store.Options) store.Store {
		s = openBench(b)(opts).(*postgres.Store)
		return s
	}, func(ctx context.Context) error {
		_, err := s.Pool().Exec(ctx, "ANALYZE messages, rooms, members, users")
		return err
	})
}
