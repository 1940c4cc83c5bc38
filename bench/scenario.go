package bench

import (
	"errors"
	"fmt"
	"math"
	"math/rand"
	"sort"
)

// The team scenario (--scenario team) is a team's traffic rather than one
// room with everyone in it:
//
//   - U accounts (--users) hold the C sockets (--conns), one to three each
//     (socketsPerUser);
//   - every account is in the bench room (the team's general, room 0);
//   - G rooms (--groups, <room>-group-0 … ) have sizes that fall off as a
//     Zipf law by rank, from --group-max for the first to --group-min for
//     the last (groupSizes), their members drawn at random;
//   - D direct-message rooms (--dms) join D distinct random pairs, made
//     through the server's DM API;
//   - each socket follows every room of its account, with one seq tracker
//     per room, and resumes all of them with one hello{since} after a drop;
//   - messages: a room's share of --rate is proportional to its member
//     count (roomRates; --rate-exp 0.5 weighs by its square root, 0 gives
//     every room the same); each is sent by a random open socket of a
//     member;
//   - typing notices (--typing) are drawn to rooms as messages are, from a
//     random open socket in the room;
//   - churn (--churn) drops a random socket that reconnects at once.
//
// Everything is drawn from fixed seeds, so the parent and every worker
// process compute the same layout, and a rerun finds the memberships it
// made the first time.

// Room classes of the team scenario, for the per-class figures.
const (
	classGeneral = iota
	classGroup
	classDM
	nClasses
)

var classNames = [nClasses]string{"general", "groups", "dms"}

// team is the layout of the team scenario.
type team struct {
	users      int
	connUser   []int   // account of each socket
	groupSizes []int   // members of group g
	groupOf    [][]int // the groups of each account
	dms        [][2]int
	dmOf       [][]int // the DMs of each account
	// members[r] is the member count of room r (global index: 0 general,
	// 1…G the groups, G+1… the DMs).
	members []int
}

// groupSizes returns n sizes falling off as a Zipf law by rank, the first
// hi and the last lo: size(k) = hi · (k+1)^-s with s = ln(hi/lo) / ln(n).
func groupSizes(n, lo, hi int) []int {
	out := make([]int, n)
	if n == 0 {
		return out
	}
	s := 0.0
	if n > 1 && hi > lo {
		s = math.Log(float64(hi)/float64(lo)) / math.Log(float64(n))
	}
	for k := range out {
		out[k] = max(lo, int(math.Round(float64(hi)*math.Pow(float64(k+1), -s))))
	}
	return out
}

// socketsPerUser gives each of users accounts one to three sockets, conns
// in all (users ≤ conns ≤ 3·users), the extra ones spread at random.
func socketsPerUser(users, conns int, seed int64) []int {
	out := make([]int, users)
	for u := range out {
		out[u] = 1
	}
	rng := rand.New(rand.NewSource(seed))
	free := make([]int, users) // accounts that may take one more
	for u := range free {
		free[u] = u
	}
	for extra := conns - users; extra > 0 && len(free) > 0; extra-- {
		j := rng.Intn(len(free))
		u := free[j]
		out[u]++
		if out[u] == 3 {
			free[j] = free[len(free)-1]
			free = free[:len(free)-1]
		}
	}
	return out
}

// connUsers orders the sockets: every account's first socket, then the
// second ones, then the third, so everyone is online early in a connect.
func connUsers(per []int) []int {
	var out []int
	for round := 1; round <= 3; round++ {
		for u, n := range per {
			if n >= round {
				out = append(out, u)
			}
		}
	}
	return out
}

// dmPairs draws n distinct unordered pairs of distinct accounts.
func dmPairs(users, n int, seed int64) [][2]int {
	rng := rand.New(rand.NewSource(seed))
	seen := make(map[[2]int]bool, n)
	out := make([][2]int, 0, n)
	for len(out) < n {
		a, b := rng.Intn(users), rng.Intn(users)
		if a == b {
			continue
		}
		if a > b {
			a, b = b, a
		}
		p := [2]int{a, b}
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	return out
}

// roomRates splits rate over the rooms in proportion to their member
// counts raised to exp: 1 is in proportion to size, 0 every room alike.
func roomRates(members []int, rate, exp float64) []float64 {
	w := make([]float64, len(members))
	total := 0.0
	for r, m := range members {
		if m > 0 {
			w[r] = math.Pow(float64(m), exp)
		}
		total += w[r]
	}
	out := make([]float64, len(members))
	if total == 0 {
		return out
	}
	for r := range w {
		out[r] = rate * w[r] / total
	}
	return out
}

// newTeam computes the layout for cfg (without the room ids).
func newTeam(cfg *config) *team {
	t := &team{users: cfg.Users}
	t.connUser = connUsers(socketsPerUser(cfg.Users, cfg.Conns, 24))
	t.groupSizes = groupSizes(cfg.Groups, min(cfg.GroupMin, cfg.Users), min(cfg.GroupMax, cfg.Users))
	t.groupOf = make([][]int, cfg.Users)
	for g, size := range t.groupSizes {
		perm := rand.New(rand.NewSource(int64(1000 + g))).Perm(cfg.Users)
		for _, u := range perm[:size] {
			t.groupOf[u] = append(t.groupOf[u], g)
		}
	}
	t.dms = dmPairs(cfg.Users, cfg.DMs, 2024)
	t.dmOf = make([][]int, cfg.Users)
	for d, p := range t.dms {
		t.dmOf[p[0]] = append(t.dmOf[p[0]], d)
		t.dmOf[p[1]] = append(t.dmOf[p[1]], d)
	}
	t.members = make([]int, 1+len(t.groupSizes)+len(t.dms))
	t.members[0] = cfg.Users
	for g, s := range t.groupSizes {
		t.members[1+g] = s
	}
	for d := range t.dms {
		t.members[1+len(t.groupSizes)+d] = 2
	}
	return t
}

// groupRoom and dmRoom are the global room indexes of group g and DM d.
func (t *team) groupRoom(g int) int { return 1 + g }
func (t *team) dmRoom(d int) int    { return 1 + len(t.groupSizes) + d }

// class is the class of room r.
func (t *team) class(r int) int {
	switch {
	case r == 0:
		return classGeneral
	case r <= len(t.groupSizes):
		return classGroup
	default:
		return classDM
	}
}

// roomsOf returns the rooms of account u, general first.
func (t *team) roomsOf(u int) []int {
	out := make([]int, 0, 1+len(t.groupOf[u])+len(t.dmOf[u]))
	out = append(out, 0)
	for _, g := range t.groupOf[u] {
		out = append(out, t.groupRoom(g))
	}
	for _, d := range t.dmOf[u] {
		out = append(out, t.dmRoom(d))
	}
	return out
}

// groupName is the name of group g.
func (cfg *config) groupName(g int) string { return fmt.Sprintf("%s-group-%d", cfg.Room, g) }

// sendPlan is one worker's share of the messages: the rooms its sockets
// are in, each with the worker's part of the room's rate (in proportion to
// the room's sockets it holds), and a cumulative table to draw from.
type sendPlan struct {
	rooms []int       // global room index
	conns [][]*client // the worker's sockets in each of those rooms
	cum   []float64   // cumulative rate
}

// rate is the worker's messages per second in all.
func (p *sendPlan) rate() float64 {
	if len(p.cum) == 0 {
		return 0
	}
	return p.cum[len(p.cum)-1]
}

// pick returns the room (index into p.rooms) for a uniform x in [0, 1).
func (p *sendPlan) pick(x float64) int {
	v := x * p.rate()
	j := sort.SearchFloat64s(p.cum, v)
	if j < len(p.cum) && p.cum[j] == v {
		j++ // SearchFloat64s finds the first cum ≥ v; want the first > v
	}
	return min(j, len(p.cum)-1)
}

// newSendPlan builds the plan for the sockets of one worker: local[r] of
// them are in room r, of total[r] sockets in all.
func newSendPlan(rates []float64, local, total []int, conns [][]*client) *sendPlan {
	p := &sendPlan{}
	sum := 0.0
	for r, rate := range rates {
		if local[r] == 0 || total[r] == 0 || rate <= 0 {
			continue
		}
		sum += rate * float64(local[r]) / float64(total[r])
		p.rooms = append(p.rooms, r)
		p.cum = append(p.cum, sum)
		if conns != nil {
			p.conns = append(p.conns, conns[r])
		}
	}
	return p
}

// validateTeam checks the team scenario's flags and computes its layout.
func (cfg *config) validateTeam() error {
	switch {
	case cfg.Conns > 3*cfg.Users:
		return fmt.Errorf("--scenario team: %d sockets for %d people: at most three each", cfg.Conns, cfg.Users)
	case cfg.Rooms != 1 || cfg.TeamRooms != 0:
		return errors.New("--scenario team: not with --rooms or --team-rooms")
	case cfg.Count > 0:
		return errors.New("--scenario team: not with --count (the rate is what it sets)")
	case cfg.Groups < 0 || cfg.DMs < 0 || cfg.GroupMin < 2 || cfg.GroupMax < cfg.GroupMin:
		return errors.New("--scenario team: want --groups, --dms ≥ 0 and 2 ≤ --group-min ≤ --group-max")
	case cfg.RateExp < 0 || cfg.RateExp > 2:
		return errors.New("--scenario team: --rate-exp between 0 and 2")
	case cfg.Users < 2 && cfg.DMs > 0:
		return errors.New("--scenario team: DMs need two people")
	case cfg.DMs > cfg.Users*(cfg.Users-1)/2:
		return fmt.Errorf("--scenario team: %d people make at most %d DMs", cfg.Users, cfg.Users*(cfg.Users-1)/2)
	}
	cfg.Publishers = 0 // any member's socket sends
	cfg.team = newTeam(cfg)
	return nil
}
