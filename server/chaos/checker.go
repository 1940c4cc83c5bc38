package chaos

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
)

// Fault is one injected fault: what, on which node ("" for a service),
// and when it began and was healed.
type Fault struct {
	Kind       string // nats-kill, pg-stop, nats-latency, pg-latency, node-freeze, node-kill, client-away
	Node       string
	Start, End time.Time
}

// Result is one invariant's verdict on one scenario: it holds when
// Failures is empty.
type Result struct {
	Invariant string
	Failures  []string
	Notes     []string // figures worth reporting either way
}

// OK reports whether the invariant held.
func (r Result) OK() bool { return len(r.Failures) == 0 }

// Invariant names, as the report prints them.
const (
	InvDelivery = "delivery: every acked message reached every member once, in order, no gap"
	InvStream   = "stream: replay, synced, then live frames in order (PROTOCOL.md §3)"
	InvAcked    = "acks: every message acknowledged, each client_id stored once"
	InvAckTime  = "acks: no send waits over 3 s for its ack while the database is up"
	InvErrors   = "errors: only unavailable or rate_limited, with retry_after_ms"
	InvPresence = "presence: converged after the fault"
	InvFlap     = "presence: nobody shown offline who was not away"
	InvSockets  = "sockets: healthy nodes keep their sockets and ping every heartbeat"
	InvNodes    = "nodes: none exited, all ready after, each serves a resume"
	InvLogs     = "logs: at most 20 warn/error lines per node per fault"
)

// maxLoudLines bounds the warn and error lines a node may log over one
// fault and the seconds after it: an outage says so, and again now and
// then, not once per request.
const maxLoudLines = 20

// LogEntry is one entry of the room's log as history returns it.
type LogEntry struct {
	Seq  int64
	ID   string
	Text string
}

// Probe is a fresh connection's resume on one node after the fault.
type Probe struct {
	Node string
	Err  error
}

// CheckInput is everything a scenario observed.
type CheckInput struct {
	Clients []*Client
	Cluster *Cluster
	Log     []LogEntry // the room's whole log, by seq, read after the run
	Faults  []Fault
	Traffic time.Time      // when traffic began: earlier presence is setup
	Ready   map[string]int // /readyz status of each node after the fault
	Probes  []Probe        // one per node
}

// Check evaluates every general invariant.
func Check(in CheckInput) []Result {
	return []Result{
		checkDelivery(in), checkStream(in), checkAcked(in), checkAckTime(in), checkErrors(in),
		checkPresence(in), checkFlap(in), checkSockets(in), checkNodes(in), checkLogs(in),
	}
}

func lastSeq(log []LogEntry) int64 {
	if len(log) == 0 {
		return 0
	}
	return log[len(log)-1].Seq
}

func spans(ss []span) string {
	var b strings.Builder
	for i, s := range ss {
		if i == 8 {
			fmt.Fprintf(&b, " and %d more ranges", len(ss)-i)
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(s.String())
	}
	return b.String()
}

func checkDelivery(in CheckInput) Result {
	r := Result{Invariant: InvDelivery}
	last := lastSeq(in.Log)
	bySeq := map[int64]LogEntry{}
	for _, e := range in.Log {
		bySeq[e.Seq] = e
	}
	acked := map[int64]bool{}
	for _, c := range in.Clients {
		c.with(func() {
			for _, a := range c.acked {
				acked[a.Seq] = true
			}
		})
	}
	total := 0
	for _, c := range in.Clients {
		c.with(func() {
			miss := c.log.missing(last)
			var lost int64
			var lostAcked int
			for _, s := range miss {
				lost += s.len()
				for seq := s.From; seq <= s.To; seq++ {
					if acked[seq] {
						lostAcked++
					}
				}
			}
			if lost > 0 {
				total += lostAcked
				r.Failures = append(r.Failures, fmt.Sprintf("%s never got %d entries (%d of them acked messages): %s; its connections: %s",
					c.Name, lost, lostAcked, spans(miss), connSummary(c.conns)))
			}
			var wrong []string
			for seq, id := range c.log.got {
				if e, ok := bySeq[seq]; ok && e.ID != id && !strings.HasPrefix(id, "update of ") {
					wrong = append(wrong, fmt.Sprintf("seq %d as %s, the log has %s", seq, id, e.ID))
				}
			}
			if len(wrong) > 0 {
				sort.Strings(wrong)
				r.Failures = append(r.Failures, fmt.Sprintf("%s got %d entries unlike the log: %s", c.Name, len(wrong), strings.Join(wrong[:min(3, len(wrong))], "; ")))
			}
		})
	}
	if total > 0 {
		r.Notes = append(r.Notes, fmt.Sprintf("%d acked messages lost in all", total))
	}
	return r
}

// connSummary lists a client's connections: node, how long, how each ended.
func connSummary(conns []*ConnRecord) string {
	var parts []string
	for _, c := range conns {
		s := c.Node + " from " + c.Dialed.Format("15:04:05.000")
		if !c.Ended.IsZero() {
			s += " to " + c.Ended.Format("15:04:05.000") + " (" + c.Reason + ")"
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, ", ")
}

func checkStream(in CheckInput) Result {
	r := Result{Invariant: InvStream}
	type agg struct {
		n        int
		examples []string
	}
	byKind := map[string]*agg{}
	var kinds []string
	for _, c := range in.Clients {
		c.with(func() {
			for _, v := range slices.Concat(c.log.violations, c.other) {
				a := byKind[v.Kind]
				if a == nil {
					a = &agg{}
					byKind[v.Kind] = a
					kinds = append(kinds, v.Kind)
				}
				a.n++
				if len(a.examples) < 3 {
					a.examples = append(a.examples, fmt.Sprintf("%s at %s: %s", c.Name, v.At.Format("15:04:05.000"), v.Detail))
				}
			}
			for _, s := range c.log.skipped {
				r.Notes = append(r.Notes, fmt.Sprintf("%s resumed with %s skipped and paged it with history", c.Name, s))
			}
		})
	}
	sort.Strings(kinds)
	for _, k := range kinds {
		a := byKind[k]
		r.Failures = append(r.Failures, fmt.Sprintf("%d × %s, e.g. %s", a.n, k, strings.Join(a.examples, " | ")))
	}
	return r
}

func checkAcked(in CheckInput) Result {
	r := Result{Invariant: InvAcked}
	bySeq := map[int64]LogEntry{}
	texts := map[string][]int64{}
	var prev int64
	for _, e := range in.Log {
		if e.Seq != prev+1 {
			r.Failures = append(r.Failures, fmt.Sprintf("the room's log has no entry %s", span{prev + 1, e.Seq - 1}))
		}
		prev = e.Seq
		bySeq[e.Seq] = e
		texts[e.Text] = append(texts[e.Text], e.Seq)
	}
	for _, c := range in.Clients {
		c.with(func() {
			if n := len(c.pending); n > 0 {
				oldest := time.Now()
				for _, o := range c.pending {
					if o.queued.Before(oldest) {
						oldest = o.queued
					}
				}
				r.Failures = append(r.Failures, fmt.Sprintf("%s: %d messages never acknowledged (the oldest made at %s)", c.Name, n, oldest.Format("15:04:05.000")))
			}
			for cid, a := range c.acked {
				e, ok := bySeq[a.Seq]
				switch {
				case !ok:
					r.Failures = append(r.Failures, fmt.Sprintf("%s acked as seq %d, which the log does not have", cid, a.Seq))
				case e.ID != a.ID || e.Text != cid:
					r.Failures = append(r.Failures, fmt.Sprintf("%s acked as %s (seq %d), the log has %s %q there", cid, a.ID, a.Seq, e.ID, e.Text))
				}
			}
		})
	}
	var dups []string
	for text, seqs := range texts {
		if len(seqs) > 1 && strings.Contains(text, "-") {
			dups = append(dups, fmt.Sprintf("%s at seqs %v", text, seqs))
		}
	}
	if len(dups) > 0 {
		sort.Strings(dups)
		r.Failures = append(r.Failures, fmt.Sprintf("%d client_ids stored more than once: %s", len(dups), strings.Join(dups[:min(5, len(dups))], "; ")))
	}
	return r
}

// ackBound is how long a send may wait for its ack, from its last
// transmission, while the database answers: a few commits, even with 200 ms
// added to every database round trip, and never a queue behind the others.
const ackBound = 3 * time.Second

func checkAckTime(in CheckInput) Result {
	r := Result{Invariant: InvAckTime}
	// Sends made while the database was down, or just before, or while it
	// came back, wait for it by design; so do sends to a node that froze or
	// died before it answered (the client sends them again elsewhere, and
	// that transmission counts).
	excused := func(a Acked) bool {
		for _, f := range in.Faults {
			switch f.Kind {
			case "pg-stop":
				if !a.Sent.Before(f.Start.Add(-ackBound)) && !a.Sent.After(f.End.Add(5*time.Second)) {
					return true
				}
			case "node-freeze", "node-kill":
				if a.SentNode == f.Node && a.Sent.Before(f.End) && a.At.After(f.Start) {
					return true
				}
			}
		}
		return false
	}
	type slow struct {
		d         time.Duration
		sent      time.Time
		cid, node string
	}
	var all, waited []time.Duration
	var late []slow
	for _, c := range in.Clients {
		c.with(func() {
			for cid, a := range c.acked {
				waited = append(waited, a.At.Sub(a.Queued))
				if excused(a) {
					continue
				}
				d := a.At.Sub(a.Sent)
				all = append(all, d)
				if d > ackBound {
					late = append(late, slow{d, a.Sent, cid, a.Node})
				}
			}
		})
	}
	quantiles := func(ds []time.Duration) string {
		slices.Sort(ds)
		q := func(p float64) time.Duration { return ds[int(p*float64(len(ds)-1))].Round(time.Millisecond) }
		return fmt.Sprintf("p50 %v, p99 %v, max %v", q(0.5), q(0.99), q(1))
	}
	if len(all) > 0 {
		r.Notes = append(r.Notes, fmt.Sprintf("%d acks judged, from the last transmission: %s", len(all), quantiles(all)))
	}
	if len(waited) > 0 {
		r.Notes = append(r.Notes, fmt.Sprintf("%d acks, from the press of send, outages included: %s", len(waited), quantiles(waited)))
	}
	if len(late) == 0 {
		return r
	}
	first, last := late[0].sent, late[0].sent
	for _, l := range late {
		first, last = minTime(first, l.sent), maxTime(last, l.sent)
	}
	sort.Slice(late, func(i, j int) bool { return late[i].d > late[j].d })
	var ex []string
	for _, l := range late[:min(3, len(late))] {
		ex = append(ex, fmt.Sprintf("%s sent at %s, acked on %s after %v", l.cid, l.sent.Format("15:04:05.000"), l.node, l.d.Round(time.Millisecond)))
	}
	r.Failures = append(r.Failures, fmt.Sprintf("%d of %d sends waited longer than %v (sent from %s to %s), e.g. %s",
		len(late), len(all), ackBound, first.Format("15:04:05.000"), last.Format("15:04:05.000"), strings.Join(ex, "; ")))
	return r
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

func checkErrors(in CheckInput) Result {
	r := Result{Invariant: InvErrors}
	type agg struct {
		n       int
		example string
	}
	bad := map[string]*agg{}
	ok := map[string]int{}
	for _, c := range in.Clients {
		c.with(func() {
			for _, e := range c.errors {
				if (e.Code == "unavailable" || e.Code == "rate_limited") && e.RetryAfterMS > 0 {
					ok[e.Code]++
					continue
				}
				key := e.Code
				if e.RetryAfterMS <= 0 && (e.Code == "unavailable" || e.Code == "rate_limited") {
					key += " without retry_after_ms"
				}
				a := bad[key]
				if a == nil {
					a = &agg{example: fmt.Sprintf("%s on %s at %s: %q", c.Name, e.Node, e.At.Format("15:04:05.000"), e.Message)}
					bad[key] = a
				}
				a.n++
			}
		})
	}
	for _, k := range slices.Sorted(mapKeys(bad)) {
		r.Failures = append(r.Failures, fmt.Sprintf("%d × %s, e.g. %s", bad[k].n, k, bad[k].example))
	}
	for _, k := range slices.Sorted(mapKeys(ok)) {
		r.Notes = append(r.Notes, fmt.Sprintf("%d × %s", ok[k], k))
	}
	return r
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func checkPresence(in CheckInput) Result {
	r := Result{Invariant: InvPresence}
	for _, c := range in.Clients {
		c.with(func() {
			var wrong []string
			for _, p := range c.peers {
				if st := c.presence[p]; st != "online" {
					wrong = append(wrong, fmt.Sprintf("%s %s", p, or(st, "unknown")))
				}
			}
			if len(wrong) > 0 {
				r.Failures = append(r.Failures, fmt.Sprintf("%s (on %s) ends seeing %s", c.Name, c.lastNode(), strings.Join(wrong, ", ")))
			}
		})
	}
	return r
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// lastNode is the node of the client's latest connection. c.mu is held.
func (c *Client) lastNode() string {
	if len(c.conns) == 0 {
		return "no node"
	}
	return c.conns[len(c.conns)-1].Node
}

// outage is a time a client had no working connection: from the last
// frame of one connection to the welcome of the next (or to now).
type outage struct{ from, to time.Time }

// outages lists the client's outages after its first welcome. c.mu is held.
func (c *Client) outages() []outage {
	var out []outage
	for i, rec := range c.conns {
		if rec.Ended.IsZero() || rec.Welcomed.IsZero() {
			continue
		}
		o := outage{from: rec.LastFrame, to: time.Now().Add(time.Hour)}
		for _, next := range c.conns[i+1:] {
			if !next.Welcomed.IsZero() {
				o.to = next.Welcomed
				break
			}
		}
		out = append(out, o)
	}
	return out
}

func checkFlap(in CheckInput) Result {
	r := Result{Invariant: InvFlap}
	grace := in.Cluster.Grace
	away := map[string][]outage{}
	for _, c := range in.Clients {
		c.with(func() { away[c.Name] = c.outages() })
	}
	// An announcement is due once a user has been without a connection for
	// the grace period; the second of slack on each side covers the gap
	// between the client's and the server's view of when a socket ended.
	due := func(user string, at time.Time) bool {
		for _, o := range away[user] {
			if !at.Before(o.from.Add(grace-time.Second)) && !at.After(o.to.Add(2*time.Second)) {
				return true
			}
		}
		return false
	}
	for _, c := range in.Clients {
		c.with(func() {
			var bad []string
			for _, o := range c.offline {
				if o.At.Before(in.Traffic) || due(o.User, o.At) {
					continue
				}
				how := "a presence frame"
				if o.FromWelcome {
					how = "the welcome"
				}
				bad = append(bad, fmt.Sprintf("%s offline at %s (%s on %s)", o.User, o.At.Format("15:04:05.000"), how, o.Node))
			}
			if len(bad) > 0 {
				r.Failures = append(r.Failures, fmt.Sprintf("%s was shown %d times a user who was not away as offline: %s",
					c.Name, len(bad), strings.Join(bad[:min(4, len(bad))], "; ")))
			}
		})
	}
	return r
}

// excused reports whether a connection to node that ended at t ended
// because of a fault on that node (killed or frozen), with slack for the
// client to notice: two heartbeats and a second.
func excused(faults []Fault, node string, t time.Time, hb time.Duration) bool {
	for _, f := range faults {
		if f.Node == node && (f.Kind == "node-kill" || f.Kind == "node-freeze") &&
			!t.Before(f.Start) && !t.After(f.End.Add(2*hb+time.Second)) {
			return true
		}
	}
	return false
}

func checkSockets(in CheckInput) Result {
	r := Result{Invariant: InvSockets}
	for _, c := range in.Clients {
		c.with(func() {
			moves := 0
			for _, rec := range c.conns {
				if rec.Ended.IsZero() {
					continue
				}
				moves++
				if rec.Reason == "client" || excused(in.Faults, rec.Node, rec.Ended, in.Cluster.Heartbeat) {
					continue
				}
				what := rec.Reason
				if rec.Reason == "silent" {
					what = "silent: no frame, not even a ping, for two heartbeats"
				}
				if rec.Detail != "" && rec.Reason != "silent" {
					what += ": " + rec.Detail
				}
				r.Failures = append(r.Failures, fmt.Sprintf("%s's socket on healthy %s ended at %s (%s)", c.Name, rec.Node, rec.Ended.Format("15:04:05.000"), what))
			}
			if moves > 0 {
				r.Notes = append(r.Notes, fmt.Sprintf("%s: %s; %d failed dials", c.Name, connSummary(c.conns), c.dials))
			}
		})
	}
	return r
}

func checkNodes(in CheckInput) Result {
	r := Result{Invariant: InvNodes}
	r.Failures = append(r.Failures, in.Cluster.ExitedUnexpectedly()...)
	for _, n := range in.Cluster.Nodes {
		if st := in.Ready[n.Name]; st != 200 {
			r.Failures = append(r.Failures, fmt.Sprintf("%s: /readyz answers %d after the fault", n.Name, st))
		}
	}
	for _, p := range in.Probes {
		if p.Err != nil {
			r.Failures = append(r.Failures, fmt.Sprintf("%s: a fresh client's resume: %v", p.Node, p.Err))
		}
	}
	return r
}

func checkLogs(in CheckInput) Result {
	r := Result{Invariant: InvLogs}
	for _, f := range in.Faults {
		for _, n := range in.Cluster.Nodes {
			lines := n.Loud(f.Start, f.End.Add(5*time.Second))
			if len(lines) == 0 {
				continue
			}
			count := map[string]int{}
			for _, l := range lines {
				count[l.Level+" "+strings.TrimSpace(l.Message+": "+l.Error)]++
			}
			keys := slices.Sorted(mapKeys(count))
			sort.SliceStable(keys, func(i, j int) bool { return count[keys[i]] > count[keys[j]] })
			var top []string
			for _, k := range keys {
				shown := k
				if len(shown) > 160 {
					shown = shown[:160] + "…"
				}
				top = append(top, fmt.Sprintf("%d × %s", count[k], shown))
			}
			line := fmt.Sprintf("%s logged %d warn/error lines over %s: %s", n.Name, len(lines), f.Kind, strings.Join(top[:min(4, len(top))], "; "))
			if len(lines) > maxLoudLines {
				r.Failures = append(r.Failures, line)
			} else {
				r.Notes = append(r.Notes, line)
			}
		}
	}
	return r
}
