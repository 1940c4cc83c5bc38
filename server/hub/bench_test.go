package hub

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"minichat/server/protocol"
	"minichat/server/store"
)

// BenchmarkFanOut publishes messages into one room with n subscribed fake
// connections whose writers drain their queues as the ws writer does (Take,
// then join the batch), and reports deliveries per second.
func BenchmarkFanOut(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("conns=%d", n), func(b *testing.B) {
			h := New(Options{})
			defer h.Shutdown(context.Background())
			var delivered atomic.Int64
			var wg sync.WaitGroup
			stop := make(chan struct{})
			conns := make([]*Conn, n)
			for i := range conns {
				u := protocol.User{ID: fmt.Sprintf("u_%d", i%100), Name: fmt.Sprintf("user%d", i%100)}
				c := NewConn(fmt.Sprintf("c%d", i), u, "s", 64<<20)
				conns[i] = c
				h.Register(c, Registration{RoomIDs: []string{"r1"}})
				wg.Add(1)
				go func() {
					defer wg.Done()
					var batch [][]byte
					var buf []byte
					for {
						select {
						case <-c.Wake():
							batch, _ = c.Take(batch[:0], 0)
							buf = buf[:0]
							for _, f := range batch {
								buf = append(buf, f...)
								buf = append(buf, '\n')
							}
							delivered.Add(int64(len(batch)))
						case <-stop:
							return
						}
					}
				}()
			}
			// Let the welcome and presence frames drain.
			time.Sleep(100 * time.Millisecond)
			base := delivered.Load()
			sender := protocol.User{ID: "u_0", Name: "user0"}
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			for i := 0; i < b.N; i++ {
				h.Publish([]store.Event{{Kind: store.EventMessage, RoomID: "r1", Seq: int64(i + 1), Message: protocol.Message{
					ID: "m_x", Room: "r1", Seq: int64(i + 1), Kind: "chat", Sender: &sender, Text: "benchmark message of a typical length", TS: "2026-01-01T00:00:00.000Z"}}})
			}
			want := base + int64(b.N)*int64(n)
			for delivered.Load() < want {
				time.Sleep(100 * time.Microsecond)
			}
			elapsed := time.Since(start)
			b.StopTimer()
			b.ReportMetric(float64(b.N)*float64(n)/elapsed.Seconds(), "deliveries/s")
			close(stop)
			wg.Wait()
		})
	}
}

// BenchmarkRoomStateMemory reports the heap a connection keeps for its
// delivery state (the last seq queued per room) once a hello has replayed
// each of its user's rooms: an account in 100 rooms, as a busy team member
// might be.
func BenchmarkRoomStateMemory(b *testing.B) {
	const conns, rooms = 1000, 100
	ids := make([]string, rooms)
	for i := range ids {
		ids[i] = store.NewID("r_")
	}
	synced := []byte(`{"type":"synced"}`)
	b.ReportAllocs()
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		cs := make([]*Conn, conns)
		for i := range cs {
			c := NewConn(fmt.Sprint("c", i), protocol.User{ID: "u_1"}, "s", 0)
			for j, id := range ids {
				c.BeginReplay(id, int64(j))
				c.EndReplay(id, []LogFrame{{Seq: int64(j + 1), Frame: synced}}, func(int64) []byte { return synced })
			}
			c.Take(nil, 0)
			cs[i] = c
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/conns, "B/conn")
		runtime.KeepAlive(cs)
	}
}

// BenchmarkWelcome registers (and unregisters) one more connection of a
// user in a room with n people online, as a reconnect storm does: its cost
// is mostly the welcome's online list.
func BenchmarkWelcome(b *testing.B) {
	for _, n := range []int{100, 1000} {
		b.Run(fmt.Sprintf("online=%d", n), func(b *testing.B) {
			h := New(Options{})
			defer h.Shutdown(context.Background())
			for i := 0; i < n; i++ {
				u := protocol.User{ID: fmt.Sprintf("u_%d", i), Name: fmt.Sprintf("user%d", i), Role: "member"}
				h.Register(NewConn(fmt.Sprintf("c%d", i), u, "s", 64<<20), Registration{RoomIDs: []string{"general"}})
			}
			u := protocol.User{ID: "u_0", Name: "user0", Role: "member"}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				c := NewConn("again", u, "s", 64<<20)
				h.Register(c, Registration{RoomIDs: []string{"general"}})
				h.Unregister(c)
			}
		})
	}
}
