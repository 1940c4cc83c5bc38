package bench_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"go.uber.org/goleak"

	"minichat/bench"
	"minichat/server"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// net/http keeps idle client connections' goroutines around briefly.
		goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
		goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"),
	)
}

// startServer runs an in-process server on a fresh data directory.
func startServer(t *testing.T) string {
	t.Helper()
	srv, err := server.New(server.Config{
		DataDir:        t.TempDir(),
		Heartbeat:      time.Minute,
		Rate:           1000,
		Burst:          1000,
		LoginRate:      -1, // the tool signs many accounts in from one address
		Registration:   "open",
		CreateRoomRate: -1, JoinRate: -1, InviteRate: -1, DMRate: -1,
		ShutdownGrace: 2 * time.Second,
		Version:       "test",
	}, zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel), nil)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(func() {
		srv.Close()
		ts.Close()
	})
	return ts.URL
}

func runBench(t *testing.T, args ...string) bench.Summary {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out, errs bytes.Buffer
	err := bench.Main(ctx, args, &out, &errs)
	t.Logf("stderr:\n%s", errs.String())
	if err != nil {
		t.Fatalf("bench: %v\nstdout: %s", err, out.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 1 {
		t.Fatalf("stdout is not one line: %q", out.String())
	}
	var s bench.Summary
	if err := json.Unmarshal([]byte(lines[0]), &s); err != nil {
		t.Fatalf("summary %q: %v", lines[0], err)
	}
	return s
}

// TestSmallRoom is the acceptance run: 20 connections in one room, 2
// publishers × 20 messages; every connection must see every message once,
// whichever way the subscribers' sockets are read.
func TestSmallRoom(t *testing.T) {
	readers := []string{"goroutine"}
	if runtime.GOOS == "linux" {
		readers = append(readers, "epoll")
	}
	for _, reader := range readers {
		t.Run(reader, func(t *testing.T) { smallRoom(t, reader) })
	}
}

func smallRoom(t *testing.T, reader string) {
	url := startServer(t)
	s := runBench(t,
		"--url", url, "--pid", "-1", "--conns", "20", "--users", "5",
		"--publishers", "2", "--count", "40", "--rate", "200",
		"--warmup", "0", "--duration", "5s", "--settle", "0", "--progress", "200ms",
		"--reader", reader, "--strict")
	if s.Reader != reader {
		t.Fatalf("reader %q, want %q", s.Reader, reader)
	}
	if s.Connected != 20 || s.Sent != 40 || s.Acked != 40 {
		t.Fatalf("connected %d, sent %d, acked %d; want 20, 40, 40", s.Connected, s.Sent, s.Acked)
	}
	if s.Deliveries != s.Sent*int64(s.Conns) || s.ExpectedDeliveries != s.Deliveries {
		t.Fatalf("deliveries %d (expected %d), want sent × connections = %d", s.Deliveries, s.ExpectedDeliveries, s.Sent*int64(s.Conns))
	}
	if s.Lost != 0 || s.Undelivered != 0 || s.Dup != 0 || s.Errors != 0 {
		t.Fatalf("lost %d, dup %d, errors %d (%v)", s.Lost, s.Dup, s.Errors, s.ErrorKinds)
	}
	if s.LatencyMS.P50 <= 0 || s.LatencyMS.P99 < s.LatencyMS.P50 || s.LatencyMS.Max < s.LatencyMS.P99 {
		t.Fatalf("latency %+v", s.LatencyMS)
	}
	if s.ConnsPerS <= 0 || s.DeliveriesPerS <= 0 {
		t.Fatalf("rates: %v conns/s, %v deliveries/s", s.ConnsPerS, s.DeliveriesPerS)
	}
}

// TestChurnResumes drops subscribers while messages flow: each resumes with
// hello{since} and must end with no gap.
func TestChurnResumes(t *testing.T) {
	url := startServer(t)
	s := runBench(t,
		"--url", url, "--pid", "-1", "--conns", "10", "--users", "2", "--user-prefix", "churn",
		"--publishers", "1", "--rate", "100", "--churn", "20", "--typing", "10",
		"--warmup", "200ms", "--duration", "2s", "--settle", "0", "--json")
	if s.Churn == nil || s.Churn.Dropped == 0 {
		t.Fatalf("no churn: %+v", s.Churn)
	}
	if s.Lost != 0 || s.Undelivered != 0 || s.Dup != 0 {
		t.Fatalf("lost %d, dup %d after %d drops", s.Lost, s.Dup, s.Churn.Dropped)
	}
	if s.Deliveries != s.ExpectedDeliveries {
		t.Fatalf("deliveries %d, expected %d", s.Deliveries, s.ExpectedDeliveries)
	}
	if s.Typing == nil || s.Typing.Received == 0 {
		t.Fatalf("typing: %+v", s.Typing)
	}
}

// TestStorm drops every connection at once halfway through and checks that
// all resync with no gap.
func TestStorm(t *testing.T) {
	url := startServer(t)
	s := runBench(t,
		"--url", url, "--pid", "-1", "--conns", "30", "--users", "3", "--user-prefix", "storm",
		"--publishers", "1", "--rate", "50", "--storm",
		"--warmup", "0", "--duration", "2s", "--settle", "0", "--json")
	if s.Storm == nil || s.Storm.Resynced != 30 {
		t.Fatalf("storm: %+v", s.Storm)
	}
	if s.FramesBeforeWelcome != 0 || s.ConnectS <= 0 || s.ConnsPerS <= 0 {
		t.Fatalf("%d frames before welcome; connected in %vs at %v/s", s.FramesBeforeWelcome, s.ConnectS, s.ConnsPerS)
	}
	if s.Lost != 0 || s.Undelivered != 0 || s.Dup != 0 {
		t.Fatalf("lost %d, dup %d", s.Lost, s.Dup)
	}
}

// TestRooms spreads the connections over several rooms: each message goes
// to the connections of its own room only.
func TestRooms(t *testing.T) {
	url := startServer(t)
	s := runBench(t,
		"--url", url, "--pid", "-1", "--conns", "20", "--users", "10", "--rooms", "5", "--user-prefix", "rooms",
		"--publishers", "5", "--count", "50", "--rate", "500",
		"--warmup", "0", "--duration", "5s", "--settle", "0", "--json", "--strict")
	if s.Acked != 50 || s.Deliveries != 50*4 || s.ExpectedDeliveries != s.Deliveries {
		t.Fatalf("acked %d, deliveries %d (expected %d), want 50, 200", s.Acked, s.Deliveries, s.ExpectedDeliveries)
	}
}

// TestTeamScenario runs the team scenario: people with one to three
// sockets, general, groups of Zipf sizes and DMs, messages spread by room
// size; every socket must see every message of each of its rooms once.
// A second run on the same server reuses the rooms, memberships and DMs.
func TestTeamScenario(t *testing.T) {
	url := startServer(t)
	tokens := t.TempDir() + "/tokens.json"
	args := []string{"--url", url, "--pid", "-1", "--scenario", "team", "--conns", "40", "--users", "20",
		"--user-prefix", "team", "--tokens", tokens, "--groups", "5", "--group-min", "3", "--group-max", "12", "--dms", "15",
		"--rate", "100", "--typing", "10", "--warmup", "200ms", "--duration", "2s", "--settle", "0", "--json"}
	for run := range 2 {
		s := runBench(t, args...)
		tm := s.Team
		if tm == nil || len(tm.Classes) != 3 {
			t.Fatalf("run %d: team summary %+v", run, tm)
		}
		if s.Connected != 40 || s.Rooms != 1+5+15 {
			t.Fatalf("run %d: connected %d, rooms %d", run, s.Connected, s.Rooms)
		}
		if s.Lost != 0 || s.Undelivered != 0 || s.Dup != 0 || s.Errors != 0 || tm.RoomsWithLoss != 0 || tm.RoomsWithDup != 0 {
			t.Fatalf("run %d: lost %d, not arrived %d, dup %d, errors %v", run, s.Lost, s.Undelivered, s.Dup, s.ErrorKinds)
		}
		if s.Deliveries == 0 || s.Deliveries != s.ExpectedDeliveries {
			t.Fatalf("run %d: deliveries %d, expected %d", run, s.Deliveries, s.ExpectedDeliveries)
		}
		var sum int64
		for _, c := range tm.Classes {
			if c.Acked == 0 || c.Deliveries != c.ExpectedDeliveries || c.LatencyMS.P99 <= 0 {
				t.Fatalf("run %d: class %+v", run, c)
			}
			sum += c.Deliveries
		}
		if sum != s.Deliveries {
			t.Fatalf("run %d: classes deliver %d of %d", run, sum, s.Deliveries)
		}
		if g := tm.Classes[0]; g.Rooms != 1 || g.MembersMax != 20 || g.RateTarget <= tm.Classes[2].RateTarget/15 {
			t.Fatalf("run %d: general %+v", run, g)
		}
	}
}
