package server_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// settle waits until the goroutine count is back to at most want (the
// server lets go of a closed socket asynchronously) and returns it.
func settle(t *testing.T, want int) int {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		n := runtime.NumGoroutine()
		if n <= want || time.Now().After(deadline) {
			return n
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// quiet returns the goroutine count once it has stopped changing.
func quiet() int {
	n, same := runtime.NumGoroutine(), 0
	for same < 10 {
		time.Sleep(20 * time.Millisecond)
		if m := runtime.NumGoroutine(); m == n {
			same++
		} else {
			n, same = m, 0
		}
	}
	return n
}

// liveHeap is the heap in use after a full collection.
func liveHeap() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// cycles connects and disconnects n sockets of users, one after another:
// each reads its welcome, then closes as a browser tab does.
func (e *env) cycles(users []user, n int) {
	e.t.Helper()
	url := "ws" + strings.TrimPrefix(e.ts.URL, "http") + "/ws"
	for i := 0; i < n; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		ws, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{
			HTTPHeader: http.Header{"Authorization": {"Bearer " + users[i%len(users)].Token}},
		})
		if err != nil {
			cancel()
			e.t.Fatalf("cycle %d: %v", i, err)
		}
		ws.SetReadLimit(1 << 20)
		if _, data, err := ws.Read(ctx); err != nil || !bytes.Contains(data, []byte(`"type":"welcome"`)) {
			cancel()
			e.t.Fatalf("cycle %d: welcome %q %v", i, data, err)
		}
		_ = ws.Close(websocket.StatusNormalClosure, "")
		cancel()
	}
}

// checkNoLeak runs n connect/disconnect cycles after a warm-up and checks
// that goroutines and the live heap come back to where they were.
func checkNoLeak(t *testing.T, e *env, n int, heapSlack uint64) {
	t.Helper()
	users := make([]user, 3)
	for i := range users {
		users[i] = e.register(fmt.Sprint("cycler", i))
	}
	e.cycles(users, 100) // warm-up: pools, caches, prepared statements
	baseG := quiet()
	baseH := liveHeap()
	start := time.Now()
	e.cycles(users, n)
	elapsed := time.Since(start)
	g := settle(t, baseG)
	h := liveHeap()
	t.Logf("%d cycles in %v: goroutines %d → %d, live heap %.1f → %.1f MiB",
		n, elapsed.Round(time.Millisecond), baseG, g, float64(baseH)/(1<<20), float64(h)/(1<<20))
	if g > baseG {
		t.Fatalf("%d goroutines after %d cycles, %d before", g, n, baseG)
	}
	if h > baseH+heapSlack {
		t.Fatalf("live heap %d bytes after %d cycles, %d before (slack %d)", h, n, baseH, heapSlack)
	}
}

// The short leak check of make test; make soak runs 10,000 cycles.
func TestConnectDisconnectCyclesLeaveNothingBehind(t *testing.T) {
	e := newEnv(t)
	checkNoLeak(t, e, 500, 2<<20)
}
