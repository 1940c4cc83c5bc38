package bench

import (
	"math"
	"slices"
	"testing"
	"time"
)

// Group sizes fall off as a Zipf law by rank from the largest to the
// smallest asked for.
func TestGroupSizesZipf(t *testing.T) {
	s := groupSizes(300, 10, 300)
	if s[0] != 300 || s[len(s)-1] != 10 {
		t.Fatalf("first %d, last %d: want 300 and 10", s[0], s[len(s)-1])
	}
	for k := 1; k < len(s); k++ {
		if s[k] > s[k-1] {
			t.Fatalf("size %d = %d above size %d = %d", k, s[k], k-1, s[k-1])
		}
	}
	// Zipf: size(k) · (k+1)^s is constant; rank 10 is 10^-s of the first.
	exp := math.Log(30) / math.Log(300)
	if want := 300 * math.Pow(10, -exp); math.Abs(float64(s[9])-want) > 1 {
		t.Fatalf("size of rank 10 = %d, want %.1f", s[9], want)
	}
	if got := groupSizes(1, 10, 300); !slices.Equal(got, []int{300}) {
		t.Fatalf("one group: %v", got)
	}
	if got := groupSizes(0, 10, 300); len(got) != 0 {
		t.Fatalf("no groups: %v", got)
	}
}

// Every account gets one to three sockets, the total asked for, the same
// on every run; the first sockets are everyone's first.
func TestSocketsPerUser(t *testing.T) {
	per := socketsPerUser(5000, 10000, 24)
	sum, seen := 0, [4]int{}
	for _, n := range per {
		if n < 1 || n > 3 {
			t.Fatalf("an account with %d sockets", n)
		}
		sum += n
		seen[n]++
	}
	if sum != 10000 {
		t.Fatalf("%d sockets, want 10000", sum)
	}
	if seen[1] == 0 || seen[2] == 0 || seen[3] == 0 {
		t.Fatalf("sockets per account %v: want some of each", seen)
	}
	if !slices.Equal(per, socketsPerUser(5000, 10000, 24)) {
		t.Fatal("differs between runs")
	}
	order := connUsers(per)
	if len(order) != 10000 {
		t.Fatalf("%d sockets ordered", len(order))
	}
	for i := range 5000 {
		if order[i] != i {
			t.Fatalf("socket %d is account %d's: want everyone's first socket first", i, order[i])
		}
	}
	if got := socketsPerUser(10, 30, 1); slices.Max(got) != 3 || slices.Min(got) != 3 {
		t.Fatalf("30 sockets for 10: %v", got)
	}
}

func TestDMPairsDistinct(t *testing.T) {
	pairs := dmPairs(100, 2000, 7)
	seen := map[[2]int]bool{}
	for _, p := range pairs {
		if p[0] >= p[1] || p[0] < 0 || p[1] >= 100 {
			t.Fatalf("pair %v", p)
		}
		if seen[p] {
			t.Fatalf("pair %v twice", p)
		}
		seen[p] = true
	}
	if len(pairs) != 2000 {
		t.Fatalf("%d pairs", len(pairs))
	}
}

// The rate is split in proportion to the rooms' member counts, and a
// worker takes the part of each room's rate its sockets hold; the room a
// message goes to is drawn by those rates.
func TestRateSplit(t *testing.T) {
	rates := roomRates([]int{100, 50, 50, 0}, 400, 1)
	if !slices.Equal(rates, []float64{200, 100, 100, 0}) {
		t.Fatalf("rates %v", rates)
	}
	if flat := roomRates([]int{100, 50, 50, 0}, 300, 0); !slices.Equal(flat, []float64{100, 100, 100, 0}) {
		t.Fatalf("every room alike: %v", flat)
	}
	if sq := roomRates([]int{400, 100}, 300, 0.5); !slices.Equal(sq, []float64{200, 100}) {
		t.Fatalf("square root: %v", sq)
	}
	// Two workers: the first holds 30 of 60 sockets of room 0, 10 of 10 of
	// room 1 and none of room 2.
	p := newSendPlan(rates, []int{30, 10, 0, 0}, []int{60, 10, 20, 0}, nil)
	if p.rate() != 100+100 {
		t.Fatalf("worker rate %v, want 200", p.rate())
	}
	if !slices.Equal(p.rooms, []int{0, 1}) {
		t.Fatalf("rooms %v", p.rooms)
	}
	counts := map[int]int{}
	for i := range 1000 {
		counts[p.rooms[p.pick(float64(i)/1000)]]++
	}
	if counts[0] != 500 || counts[1] != 500 {
		t.Fatalf("draws %v: want half each", counts)
	}
	if p.rooms[p.pick(0)] != 0 || p.rooms[p.pick(0.999999)] != 1 {
		t.Fatal("edges of the draw")
	}
	if empty := newSendPlan(rates, []int{0, 0, 0, 0}, []int{1, 1, 1, 0}, nil); empty.rate() != 0 {
		t.Fatal("a worker without sockets sends")
	}
}

// The layout: everyone in general, each group as large as its size, each
// DM two people, and the member counts that drive the rate split.
func TestTeamLayout(t *testing.T) {
	cfg := &config{Users: 500, Conns: 1000, Groups: 30, GroupMin: 10, GroupMax: 100, DMs: 200}
	tm := newTeam(cfg)
	if len(tm.members) != 1+30+200 || tm.members[0] != 500 {
		t.Fatalf("members %v", tm.members[:3])
	}
	inGroup := make([]int, 30)
	inDM := make([]int, 200)
	for u := range 500 {
		rooms := tm.roomsOf(u)
		if rooms[0] != 0 {
			t.Fatalf("account %d not in general first", u)
		}
		for _, r := range rooms[1:] {
			switch tm.class(r) {
			case classGroup:
				inGroup[r-1]++
			case classDM:
				inDM[r-31]++
			default:
				t.Fatalf("room %d twice", r)
			}
		}
	}
	for g, n := range inGroup {
		if n != tm.members[1+g] {
			t.Fatalf("group %d has %d members, sized %d", g, n, tm.members[1+g])
		}
	}
	for d, n := range inDM {
		if n != 2 {
			t.Fatalf("DM %d has %d members", d, n)
		}
	}
	if !slices.Equal(newTeam(cfg).connUser, tm.connUser) {
		t.Fatal("layout differs between runs")
	}
}

// Per-room integrity: one connection follows several rooms, each with its
// own tracker; a gap in one room is that room's loss only, a repeat that
// room's duplicate.
func TestFollowTracksEachRoom(t *testing.T) {
	w := &worker{cfg: &config{}, errs: map[string]int64{}}
	c := &client{w: w, shard: &w.hists[0], synced: make(chan struct{}),
		rooms: []follow{{id: "r_a", ix: 0}, {id: "r_b", ix: 1}}}
	c.welcomed.Store(true)
	for i := range c.rooms {
		c.rooms[i].tracker = newTracker(10)
	}
	msg := func(room string, seq int64) {
		var f frame
		f.Type, f.Room, f.Seq = "message", []byte(room), seq
		if err := c.handle(nil, &f, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	msg("r_a", 11)
	msg("r_b", 11)
	msg("r_a", 12)
	msg("r_b", 13) // 12 of r_b skipped
	msg("r_a", 12) // a repeat in r_a
	msg("r_c", 99) // not followed: ignored
	if g, tail := c.lost(0, 12); g != 0 || tail != 0 {
		t.Fatalf("r_a lost %d+%d", g, tail)
	}
	if g, tail := c.lost(1, 14); g != 1 || tail != 1 {
		t.Fatalf("r_b lost %d gaps + %d tail, want 1 + 1", g, tail)
	}
	if c.rooms[0].dup != 1 || c.rooms[1].dup != 0 {
		t.Fatalf("dups %d, %d", c.rooms[0].dup, c.rooms[1].dup)
	}
	if c.complete([]int64{12, 13}) {
		t.Fatal("complete: r_b misses 12")
	}
	var r teamResult
	r.add(&teamResult{RoomLost: []int64{0, 2}, RoomDup: []int64{1, 0}})
	r.add(&teamResult{RoomLost: []int64{0, 1, 0}, RoomDup: []int64{0, 0, 3}})
	if !slices.Equal(r.RoomLost, []int64{0, 3, 0}) || !slices.Equal(r.RoomDup, []int64{1, 0, 3}) {
		t.Fatalf("merged %v %v", r.RoomLost, r.RoomDup)
	}
}
