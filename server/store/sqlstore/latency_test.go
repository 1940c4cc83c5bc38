package sqlstore_test

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"minichat/server/chaos"
	"minichat/server/protocol"
	"minichat/server/store"
	"minichat/server/store/pgtest"
	"minichat/server/store/storetest"
)

// benchLatency is the delay added to everything Postgres sends back to each
// node in BenchmarkNodesOneRoomLatency: MINICHAT_BENCH_PG_LATENCY (a Go
// duration), default 200ms, what the chaos suite adds.
func benchLatency(b *testing.B) time.Duration {
	v := os.Getenv("MINICHAT_BENCH_PG_LATENCY")
	if v == "" {
		return 200 * time.Millisecond
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		b.Fatalf("MINICHAT_BENCH_PG_LATENCY: %v", err)
	}
	return d
}

// BenchmarkNodesOneRoomLatency runs three stores (nodes) on one Postgres
// schema, each reaching it through a proxy that delays every answer, with
// four senders per node writing into one shared room: b.N acknowledged
// sends in all. It reports sends per second and the p50 and p99 time from
// a send to its ack. What limits it is how long a batch holds the room's
// row lock, during which the other nodes' batches of the room wait.
func BenchmarkNodesOneRoomLatency(b *testing.B) {
	const nodes, perNode = 3, 4
	dbURL, _ := pgtest.Schema(b)
	latency := benchLatency(b)
	stores := make([]store.Store, nodes)
	proxies := make([]*chaos.Proxy, nodes)
	for i := range stores {
		u, err := url.Parse(dbURL)
		if err != nil {
			b.Fatal(err)
		}
		p, err := chaos.NewProxy(u.Host)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { p.Close() })
		u.Host = p.Addr()
		s := openPostgres(b, pgtest.WithParams(b, u.String(), "pool_max_conns", "3"), store.Options{})
		b.Cleanup(func() { s.Close() })
		stores[i], proxies[i] = s, p
	}
	users, room := storetest.BenchRoom(b, stores[0], nodes*perNode)
	for _, p := range proxies {
		p.SetLatency(latency)
	}
	b.ResetTimer()

	var (
		next  atomic.Int64
		mu    sync.Mutex
		waits []time.Duration
		wg    sync.WaitGroup
	)
	start := time.Now()
	for i, u := range users {
		s := stores[i%nodes]
		wg.Go(func() {
			for n := next.Add(1); n <= int64(b.N); n = next.Add(1) {
				t0 := time.Now()
				if _, err := storetest.Send(context.Background(), s, store.SendRequest{
					RoomID: room, SenderID: u.ID, Text: fmt.Sprint("message ", n), ClientID: fmt.Sprint("c", n),
				}, func(_ *store.SendRequest, f *store.SendFacts) error {
					if !f.Room.Member {
						return protocol.Errorf(protocol.CodeForbidden, "not a member")
					}
					return nil
				}); err != nil {
					b.Error(err)
					return
				}
				d := time.Since(t0)
				mu.Lock()
				waits = append(waits, d)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	took := time.Since(start)
	b.StopTimer()
	slices.Sort(waits)
	if len(waits) > 0 {
		b.ReportMetric(float64(len(waits))/took.Seconds(), "msgs/s")
		b.ReportMetric(float64(waits[len(waits)/2].Milliseconds()), "ack-p50-ms")
		b.ReportMetric(float64(waits[min(len(waits)-1, len(waits)*99/100)].Milliseconds()), "ack-p99-ms")
	}
	b.ReportMetric(0, "ns/op")
}
