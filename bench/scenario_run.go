package bench

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"sort"
	"sync"
	"time"

	"minichat/server/protocol"
)

// plan builds the send plan of the worker holding clients.
func (t *team) plan(cfg *config, clients []*client) *sendPlan {
	n := len(t.members)
	total := make([]int, n)
	for i := 0; i < cfg.Conns; i++ {
		u := t.connUser[i]
		total[0]++
		for _, g := range t.groupOf[u] {
			total[t.groupRoom(g)]++
		}
		for _, d := range t.dmOf[u] {
			total[t.dmRoom(d)]++
		}
	}
	local := make([]int, n)
	conns := make([][]*client, n)
	for _, c := range clients {
		for i := range c.rooms { // ix only: the reader writes the other fields
			ix := c.rooms[i].ix
			local[ix]++
			conns[ix] = append(conns[ix], c)
		}
	}
	return newSendPlan(roomRates(t.members, cfg.Rate, cfg.RateExp), local, total, conns)
}

// teamPublish sends the worker's share of the messages on a fixed schedule
// (open loop): each goes to a room drawn by rate, from a random open
// socket of the worker in that room.
func (w *worker) teamPublish(ctx context.Context, measureStart time.Time) {
	p := w.plan
	w.every(ctx, p.rate(), func() {
		j := p.pick(rand.Float64())
		cs := p.conns[j]
		for range 4 {
			c := cs[rand.N(len(cs))]
			if c.conn.Load() == nil {
				continue
			}
			warm := time.Now().Before(measureStart)
			c.sendTo(ctx, w.roomIDs[p.rooms[j]], warm, c.sendSeq.Add(1))
			return
		}
		w.countErr("send_no_conn")
	})
}

// teamTyping sends one typing notice, to a room drawn as a message's room
// is (people type where they write), from a random open socket in it.
func (w *worker) teamTyping() {
	p := w.plan
	if p.rate() <= 0 {
		return
	}
	j := p.pick(rand.Float64())
	cs := p.conns[j]
	for range 4 {
		if c := cs[rand.N(len(cs))]; c.conn.Load() != nil {
			if c.typingIn(w.roomIDs[p.rooms[j]]) {
				w.typingSent.Add(1)
			}
			return
		}
	}
}

// waitAcks waits, until deadline, for the answers to the messages sent;
// it gives up early when none has come for three seconds (their sockets
// were dropped by churn: the messages may be stored, their acks are lost).
func (w *worker) waitAcks(ctx context.Context, deadline time.Time) {
	last, since := int64(-1), time.Now()
	for time.Now().Before(deadline) && ctx.Err() == nil {
		var sent, answered int64
		for _, c := range w.clients {
			sent += c.sent.Load() + c.warmSent.Load()
			answered += c.acked.Load() + c.warmAcked.Load() + c.refused.Load()
		}
		if answered >= sent {
			return
		}
		if answered != last {
			last, since = answered, time.Now()
		} else if time.Since(since) > 3*time.Second {
			return
		}
		sleepCtx(ctx, 10*time.Millisecond)
	}
}

// teamFinals reads the last seq of every room the worker's sockets follow:
// a few accounts' room lists cover them all.
func (w *worker) teamFinals(ctx context.Context, finals []int64) error {
	ixOf := make(map[string]int, len(w.roomIDs))
	for ix, id := range w.roomIDs {
		ixOf[id] = ix
	}
	covered := make([]bool, len(w.roomIDs))
	var tokens []string
	seen := map[string]bool{}
	for _, c := range w.clients {
		need := false
		c.mu.Lock() // the socket's reader updates its rooms' counts
		for i := range c.rooms {
			if ix := c.rooms[i].ix; !covered[ix] {
				need = true
				covered[ix] = true
			}
		}
		c.mu.Unlock()
		if need && !seen[c.token] {
			seen[c.token] = true
			tokens = append(tokens, c.token)
		}
	}
	var (
		mu    sync.Mutex
		first error
		wg    sync.WaitGroup
		sem   = make(chan struct{}, 16)
	)
	for _, tok := range tokens {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			rooms, err := w.api.rooms(ctx, tok)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if first == nil {
					first = err
				}
				return
			}
			for _, r := range rooms {
				if ix, ok := ixOf[r.ID]; ok {
					finals[ix] = r.LastSeq
				}
			}
		}()
	}
	wg.Wait()
	return first
}

// teamResult is a worker's per-class and per-room account of the team
// scenario.
type teamResult struct {
	Class    [nClasses]classResult `json:"class"`
	RoomLost []int64               `json:"room_lost"` // seqs some socket of the room never saw
	RoomDup  []int64               `json:"room_dup"`
}

type classResult struct {
	Deliveries  int64 `json:"deliveries"`
	Lost        int64 `json:"lost"`
	Undelivered int64 `json:"undelivered"`
	Dup         int64 `json:"dup"`
	Hist        Hist  `json:"hist"`
}

func newTeamResult(rooms int) *teamResult {
	return &teamResult{RoomLost: make([]int64, rooms), RoomDup: make([]int64, rooms)}
}

func (t *teamResult) add(o *teamResult) {
	for k := range t.Class {
		c, oc := &t.Class[k], o.Class[k]
		c.Deliveries += oc.Deliveries
		c.Lost += oc.Lost
		c.Undelivered += oc.Undelivered
		c.Dup += oc.Dup
		c.Hist.Merge(oc.Hist)
	}
	addByRoom(&t.RoomLost, o.RoomLost)
	addByRoom(&t.RoomDup, o.RoomDup)
}

// TeamSummary is the team scenario's part of the summary.
type TeamSummary struct {
	Users int `json:"users"`
	// SocketsPerUser counts the accounts with one, two and three sockets.
	SocketsPerUser [3]int `json:"sockets_per_user"`
	// RateSplit says how --rate is spread over the rooms.
	RateSplit string `json:"rate_split"`
	// Classes: general (the largest room, everyone), groups, dms.
	Classes []ClassSummary `json:"classes"`
	// RoomsWithLoss and RoomsWithDup count the rooms where some socket
	// missed or repeated a seq.
	RoomsWithLoss int `json:"rooms_with_loss"`
	RoomsWithDup  int `json:"rooms_with_dup"`
}

// ClassSummary is one class of rooms of the team scenario.
type ClassSummary struct {
	Name               string  `json:"name"`
	Rooms              int     `json:"rooms"`
	MembersMin         int     `json:"members_min"`
	MembersMax         int     `json:"members_max"`
	Members            int     `json:"members"` // in all
	RateTarget         float64 `json:"rate_target"`
	Acked              int64   `json:"acked"`
	Deliveries         int64   `json:"deliveries"`
	ExpectedDeliveries int64   `json:"expected_deliveries"`
	Lost               int64   `json:"lost"`
	Undelivered        int64   `json:"undelivered"`
	Dup                int64   `json:"dup"`
	LatencyMS          Latency `json:"latency_ms"`
}

func latencyOf(h Hist) Latency {
	return Latency{P50: ms(h.Quantile(0.50)), P90: ms(h.Quantile(0.90)), P99: ms(h.Quantile(0.99)), Max: ms(h.MaxUS)}
}

// teamSummary fills the team part of the summary from the merged result.
func teamSummary(cfg *config, r result) *TeamSummary {
	t := cfg.team
	split := "in proportion to member count"
	if cfg.RateExp != 1 {
		split = fmt.Sprintf("in proportion to member count^%g", cfg.RateExp)
	}
	s := &TeamSummary{Users: cfg.Users, RateSplit: split}
	per := make([]int, cfg.Users)
	for _, u := range t.connUser {
		per[u]++
	}
	for _, n := range per {
		if n >= 1 && n <= 3 {
			s.SocketsPerUser[n-1]++
		}
	}
	rates := roomRates(t.members, cfg.Rate, cfg.RateExp)
	s.Classes = make([]ClassSummary, nClasses)
	for k := range s.Classes {
		s.Classes[k].Name = classNames[k]
		s.Classes[k].MembersMin = -1
	}
	for ix, m := range t.members {
		c := &s.Classes[t.class(ix)]
		c.Rooms++
		c.Members += m
		if c.MembersMin < 0 || m < c.MembersMin {
			c.MembersMin = m
		}
		c.MembersMax = max(c.MembersMax, m)
		c.RateTarget += rates[ix]
		if ix < len(r.AckedByRoom) {
			c.Acked += r.AckedByRoom[ix]
			c.ExpectedDeliveries += r.AckedByRoom[ix] * int64(r.ConnectedByRoom[ix])
		}
	}
	for k := range s.Classes {
		c := &s.Classes[k]
		c.MembersMin = max(c.MembersMin, 0)
		c.RateTarget = round(c.RateTarget, 1)
		if tr := r.Team; tr != nil {
			cr := tr.Class[k]
			c.Deliveries, c.Lost, c.Undelivered, c.Dup = cr.Deliveries, cr.Lost, cr.Undelivered, cr.Dup
			c.LatencyMS = latencyOf(cr.Hist)
		}
	}
	if tr := r.Team; tr != nil {
		for ix := range tr.RoomLost {
			if tr.RoomLost[ix] > 0 {
				s.RoomsWithLoss++
			}
			if tr.RoomDup[ix] > 0 {
				s.RoomsWithDup++
			}
		}
	}
	return s
}

// humanTeam writes the team part of the table.
func humanTeam(w io.Writer, s *TeamSummary) {
	fmt.Fprintf(w, "team          %d people with 1/2/3 sockets: %d/%d/%d; messages split %s; rooms with loss %d, with dup %d\n",
		s.Users, s.SocketsPerUser[0], s.SocketsPerUser[1], s.SocketsPerUser[2], s.RateSplit, s.RoomsWithLoss, s.RoomsWithDup)
	for _, c := range s.Classes {
		if c.Rooms == 0 {
			continue
		}
		fmt.Fprintf(w, "  %-8s %5d rooms of %d-%d (%.1f msg/s): %d acked, %d of %d deliveries, %d lost, %d not arrived, %d dup; p50 %.2f p90 %.2f p99 %.2f max %.2f ms\n",
			c.Name, c.Rooms, c.MembersMin, c.MembersMax, c.RateTarget, c.Acked, c.Deliveries, c.ExpectedDeliveries,
			c.Lost, c.Undelivered, c.Dup, c.LatencyMS.P50, c.LatencyMS.P90, c.LatencyMS.P99, c.LatencyMS.Max)
	}
}

// teamSetup makes the team's rooms and memberships, idempotently: the
// groups are created when missing (as the first account), each account
// joins the groups it is not in yet, and each DM is opened by its first
// member when that member's room list lacks it. A rerun costs one room
// list per account (the token check) and nothing else. It returns the ids
// of every room by index.
func teamSetup(ctx context.Context, cfg *config, a *api, firstToken, generalID string, tokens []string, lists [][]protocol.Room, log io.Writer) ([]string, error) {
	t := cfg.team
	ids := make([]string, len(t.members))
	ids[0] = generalID

	// The groups.
	mine, err := a.rooms(ctx, firstToken)
	if err != nil {
		return nil, err
	}
	byName := map[string]string{}
	for _, r := range mine {
		byName[r.Name] = r.ID
	}
	made := 0
	for g := range t.groupSizes {
		name := cfg.groupName(g)
		if id, ok := byName[name]; ok {
			ids[t.groupRoom(g)] = id
			continue
		}
		r, err := a.ensureRoom(ctx, firstToken, name)
		if err != nil {
			return nil, fmt.Errorf("room %s: %w", name, err)
		}
		ids[t.groupRoom(g)] = r.ID
		made++
	}

	// Memberships and DMs, per account, from its room list.
	dmName := func(d, side int) string { return accountName(cfg, t.dms[d][side]) }
	var (
		mu    sync.Mutex
		first error
		wg    sync.WaitGroup
		sem   = make(chan struct{}, 8)
		joins int
		dms   int
	)
	for u := range tokens {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			fail := func(err error) {
				mu.Lock()
				if first == nil {
					first = fmt.Errorf("account %s: %w", accountName(cfg, u), err)
				}
				mu.Unlock()
			}
			have := map[string]bool{}
			dmWith := map[string]string{} // the other's name → DM id
			for _, r := range lists[u] {
				if r.Kind == "dm" {
					dmWith[r.Name] = r.ID
				} else if r.Member {
					have[r.ID] = true
				}
			}
			for _, g := range t.groupOf[u] {
				id := ids[t.groupRoom(g)]
				if have[id] {
					continue
				}
				if err := a.join(ctx, tokens[u], id); err != nil {
					fail(err)
					return
				}
				mu.Lock()
				joins++
				mu.Unlock()
			}
			for _, d := range t.dmOf[u] {
				if t.dms[d][0] != u {
					continue // opened by its first member
				}
				other := dmName(d, 1)
				id, ok := dmWith[other]
				if !ok {
					var out struct {
						Room protocol.Room `json:"room"`
					}
					if err := a.do(ctx, http.MethodPost, "/api/dms", tokens[u], map[string]any{"username": other}, &out); err != nil {
						fail(fmt.Errorf("DM with %s: %w", other, err))
						return
					}
					id = out.Room.ID
					mu.Lock()
					dms++
					mu.Unlock()
				}
				mu.Lock()
				ids[t.dmRoom(d)] = id
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if first != nil {
		return nil, first
	}
	if made+joins+dms > 0 {
		fmt.Fprintf(log, "bench: team: made %d rooms, %d memberships, %d DMs\n", made, joins, dms)
	}
	return ids, nil
}

// describeTeam is one line on the layout, for the log.
func describeTeam(cfg *config) string {
	t := cfg.team
	sizes := append([]int(nil), t.groupSizes...)
	sort.Ints(sizes)
	med := 0
	if len(sizes) > 0 {
		med = sizes[len(sizes)/2]
	}
	per := 0
	for u := range t.groupOf {
		per += len(t.groupOf[u]) + len(t.dmOf[u]) + 1
	}
	return fmt.Sprintf("bench: team: %d people, %d sockets; general + %d groups (median %d members) + %d DMs; %.1f rooms per person",
		cfg.Users, cfg.Conns, len(t.groupSizes), med, len(t.dms), float64(per)/float64(max(cfg.Users, 1)))
}
