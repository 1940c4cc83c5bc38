package chaos

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

// chaosEnv turns the scenarios on: MINICHAT_CHAOS=long (make chaos) or
// short (make chaos CHAOS_SHORT=1, as .ci/run does). With it set, anything
// missing fails the run; it never skips.
const chaosEnv = "MINICHAT_CHAOS"

// timings are the durations of one form of the suite.
type timings struct {
	warm     time.Duration // traffic before the fault
	fault    time.Duration // a fault's length
	freeze   time.Duration // a frozen node's
	recover  time.Duration // traffic after the fault is healed
	converge time.Duration // the bound on catching up once traffic stops
}

var forms = map[string]timings{
	"long":  {warm: 3 * time.Second, fault: 12 * time.Second, freeze: 15 * time.Second, recover: 5 * time.Second, converge: 45 * time.Second},
	"short": {warm: 2 * time.Second, fault: 5 * time.Second, freeze: 6 * time.Second, recover: 3 * time.Second, converge: 30 * time.Second},
}

// The cluster and the traffic of every scenario: three nodes; six users,
// two a node, each sending 15 messages a second (90 in all) into general.
const (
	users     = 6
	perSecond = 15
	heartbeat = 2 * time.Second
	grace     = 5 * time.Second
	latency   = 200 * time.Millisecond
)

// scenario is one fault. inject runs it (and heals it) while the traffic
// runs, recording the fault's window with r.fault; it may return a check
// of invariants of its own, which runs once the clients have caught up.
type scenario struct {
	name   string
	inject func(r *run) func() []Result
}

var scenarios = []scenario{
	{"baseline", func(r *run) func() []Result {
		r.fault("none", "", r.tm.fault, func() {}, func() {})
		return nil
	}},
	{"nats-kill", func(r *run) func() []Result {
		r.fault("nats-kill", "", r.tm.fault, r.env.NATS.Kill, func() { r.must(r.env.NATS.Start()) })
		return nil
	}},
	{"pg-stop", func(r *run) func() []Result {
		res := Result{Invariant: "pg-stop: /readyz 503 and /healthz 200 on every node while the database is down"}
		r.fault("pg-stop", "", r.tm.fault, func() { r.must(r.env.PG.Stop()) }, func() { r.must(r.env.PG.Start()) }, func() {
			time.Sleep(min(3*time.Second, r.tm.fault/2))
			for _, n := range r.cl.Nodes {
				if st := n.Get("/readyz", 3*time.Second); st != http.StatusServiceUnavailable {
					res.Failures = append(res.Failures, fmt.Sprintf("%s: /readyz %d during the outage, want 503", n.Name, st))
				}
				if st := n.Get("/healthz", 3*time.Second); st != http.StatusOK {
					res.Failures = append(res.Failures, fmt.Sprintf("%s: /healthz %d during the outage, want 200", n.Name, st))
				}
			}
		})
		return func() []Result { return []Result{res} }
	}},
	{"nats-latency", func(r *run) func() []Result {
		r.fault("nats-latency", "", r.tm.fault, func() { r.setLatency(r.cl.NATSLinks, latency) }, func() { r.setLatency(r.cl.NATSLinks, 0) })
		return nil
	}},
	{"pg-latency", func(r *run) func() []Result {
		r.fault("pg-latency", "", r.tm.fault, func() { r.setLatency(r.cl.PGProxies, latency) }, func() { r.setLatency(r.cl.PGProxies, 0) })
		return nil
	}},
	{"node-freeze", func(r *run) func() []Result {
		const node = "n2"
		var on []*Client
		f := r.fault("node-freeze", node, r.tm.freeze, func() {
			for _, c := range r.clients {
				if c.Node() == node {
					on = append(on, c)
				}
			}
			r.must(r.cl.Node(node).Freeze())
		}, func() { r.must(r.cl.Node(node).Thaw()) })
		return func() []Result { return []Result{movedOff(on, f)} }
	}},
	{"node-kill", func(r *run) func() []Result {
		const node = "n3"
		r.fault("node-kill", node, r.tm.fault, r.cl.Node(node).Kill, func() { r.must(r.cl.Node(node).Start()) })
		return nil
	}},
	{"client-far-behind", func(r *run) func() []Result {
		c := r.clients[1]
		var behind int64
		resume := func() {
			behind = maxAcked(r.clients) - c.High()
			c.Resume()
		}
		f := r.fault("client-away", "", r.tm.fault, c.Pause, resume, func() {
			// Away until the room has moved more than a replay's worth past
			// the client, whatever the machine's pace.
			deadline := time.Now().Add(90 * time.Second)
			for time.Now().Before(deadline) {
				var replayMax int
				c.with(func() { replayMax = c.replayMax })
				if maxAcked(r.clients)-c.High() > int64(replayMax)+100 {
					return
				}
				time.Sleep(100 * time.Millisecond)
			}
		})
		return func() []Result { return []Result{farBehind(c, behind, f)} }
	}},
}

// farBehind judges the resume of a client that was away for more than a
// replay's worth of entries: its synced must declare the skipped range
// (and the delivery check then shows that history filled it).
func farBehind(c *Client, behind int64, f Fault) Result {
	res := Result{Invariant: "far behind: a resume past replay_max declares skipped and history fills it"}
	c.with(func() {
		res.Notes = append(res.Notes, fmt.Sprintf("%s resumed %d entries behind (replay_max %d)", c.Name, behind, c.replayMax))
		if behind <= int64(c.replayMax) {
			res.Failures = append(res.Failures, fmt.Sprintf("%s was only %d entries behind: the scenario did not test a capped replay", c.Name, behind))
			return
		}
		for _, rec := range c.conns {
			if !rec.Dialed.Before(f.End) && !rec.Synced.IsZero() {
				if len(c.log.skipped) == 0 {
					res.Failures = append(res.Failures, fmt.Sprintf("%s resumed %d entries behind on %s at %s and synced declared nothing skipped",
						c.Name, behind, rec.Node, rec.Synced.Format("15:04:05.000")))
				}
				return
			}
		}
		res.Failures = append(res.Failures, c.Name+" never resumed after the fault")
	})
	return res
}

// movedOff judges that the clients of a frozen node left it for another
// while it was frozen: the node sent nothing, and two silent heartbeats
// are the clients' cue.
func movedOff(on []*Client, f Fault) Result {
	res := Result{Invariant: "node-freeze: the frozen node's clients moved to another node while it was frozen"}
	if len(on) == 0 {
		res.Failures = append(res.Failures, "no client was on "+f.Node+" when it froze")
	}
	for _, c := range on {
		c.with(func() {
			for _, rec := range c.conns {
				if rec.Node != f.Node && !rec.Welcomed.IsZero() && rec.Welcomed.After(f.Start) && rec.Welcomed.Before(f.End) {
					res.Notes = append(res.Notes, fmt.Sprintf("%s on %s %.1f s after the freeze", c.Name, rec.Node, rec.Welcomed.Sub(f.Start).Seconds()))
					return
				}
			}
			res.Failures = append(res.Failures, fmt.Sprintf("%s stayed on frozen %s: %s", c.Name, f.Node, connSummary(c.conns)))
		})
	}
	return res
}

func maxAcked(clients []*Client) int64 {
	var m int64
	for _, c := range clients {
		c.with(func() {
			for _, a := range c.acked {
				m = max(m, a.Seq)
			}
		})
	}
	return m
}

// run is one scenario under way.
type run struct {
	t       *testing.T
	tm      timings
	env     *Env
	cl      *Cluster
	clients []*Client
	faults  []Fault
	room    string
	probe   string // the probe user's token
}

func (r *run) must(err error) {
	if err != nil {
		r.t.Fatal(err)
	}
}

func (r *run) setLatency(ps []*Proxy, d time.Duration) {
	for _, p := range ps {
		p.SetLatency(d)
	}
}

// fault injects, waits d (and for each of during, run in turn from the
// start of the fault), heals, and records the fault's window.
func (r *run) fault(kind, node string, d time.Duration, inject, heal func(), during ...func()) Fault {
	f := Fault{Kind: kind, Node: node, Start: time.Now()}
	r.t.Logf("%s: %s %s", f.Start.Format("15:04:05.000"), kind, node)
	inject()
	end := time.Now().Add(d)
	for _, fn := range during {
		fn()
	}
	time.Sleep(time.Until(end))
	heal()
	f.End = time.Now()
	r.t.Logf("%s: healed after %.1f s", f.End.Format("15:04:05.000"), f.End.Sub(f.Start).Seconds())
	if kind != "none" {
		r.faults = append(r.faults, f)
	}
	return f
}

// waitUntil polls cond until it holds or bound passes.
func waitUntil(bound time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(bound)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
	return true
}

func apiCall(method, url, token, body string, out any) (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, method, url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(resp.Body)
	if out != nil {
		if err := json.Unmarshal(b.Bytes(), out); err != nil {
			return resp.StatusCode, fmt.Errorf("%s %s: %s: %.200s", method, url, resp.Status, b.String())
		}
	}
	return resp.StatusCode, nil
}

// register creates a user on node and returns its token.
func register(n *Node, name string) (string, error) {
	var out struct{ Token string }
	st, err := apiCall("POST", n.URL()+"/api/users", "", fmt.Sprintf(`{"username":%q,"password":"password1"}`, name), &out)
	if err != nil || st != http.StatusCreated {
		return "", fmt.Errorf("register %s: %d %v", name, st, err)
	}
	return out.Token, nil
}

// generalRoom returns the id of the general room.
func generalRoom(n *Node, token string) (string, error) {
	var out struct {
		Rooms []struct{ ID, Name string }
	}
	if _, err := apiCall("GET", n.URL()+"/api/rooms", token, "", &out); err != nil {
		return "", err
	}
	for _, r := range out.Rooms {
		if r.Name == "general" {
			return r.ID, nil
		}
	}
	return "", fmt.Errorf("no general room among %v", out.Rooms)
}

// TestChaos runs every scenario on a fresh cluster, one fault at a time,
// under steady traffic, and checks the invariants after each; the log
// ends with a table of every scenario's verdicts.
func TestChaos(t *testing.T) {
	form := os.Getenv(chaosEnv)
	if form == "" {
		t.Skip(chaosEnv + " is not set: the fault-injection suite was NOT run (make chaos, or make chaos CHAOS_SHORT=1)")
	}
	tm, ok := forms[form]
	if !ok {
		t.Fatalf("%s=%q: want long or short", chaosEnv, form)
	}
	// MINICHAT_CHAOS_ONLY picks scenarios by name, comma-separated; a name
	// that matches none fails rather than quietly running less.
	var only []string
	if o := os.Getenv("MINICHAT_CHAOS_ONLY"); o != "" {
		only = strings.Split(o, ",")
		for _, name := range only {
			if !slices.ContainsFunc(scenarios, func(sc scenario) bool { return sc.name == name }) {
				t.Fatalf("MINICHAT_CHAOS_ONLY names %q, which is no scenario", name)
			}
		}
	}
	bin := t.TempDir()
	t.Log("building minichat and starting Postgres and NATS")
	env, err := NewEnv(bin)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(env.Close)

	type verdict struct {
		scenario string
		results  []Result
	}
	var verdicts []verdict
	t.Cleanup(func() {
		var b strings.Builder
		fmt.Fprintf(&b, "\nscenario | invariant | verdict\n--- | --- | ---\n")
		for _, v := range verdicts {
			for _, res := range v.results {
				word := "pass"
				if !res.OK() {
					word = fmt.Sprintf("FAIL (%d)", len(res.Failures))
				}
				fmt.Fprintf(&b, "%s | %s | %s\n", v.scenario, res.Invariant, word)
			}
		}
		t.Log(b.String())
	})
	for _, sc := range scenarios {
		if only != nil && !slices.Contains(only, sc.name) {
			continue
		}
		t.Run(sc.name, func(t *testing.T) {
			results := runScenario(t, env, tm, sc)
			verdicts = append(verdicts, verdict{sc.name, results})
			for _, res := range results {
				if res.OK() {
					t.Logf("pass  %s%s", res.Invariant, indent(res.Notes))
				} else {
					t.Errorf("FAIL  %s%s%s", res.Invariant, indent(res.Failures), indent(res.Notes))
				}
			}
		})
	}
}

func indent(lines []string) string {
	var b strings.Builder
	for _, l := range lines {
		b.WriteString("\n        ")
		b.WriteString(l)
	}
	return b.String()
}

func runScenario(t *testing.T, env *Env, tm timings, sc scenario) []Result {
	logDir := t.TempDir()
	if keep := os.Getenv("MINICHAT_CHAOS_LOGS"); keep != "" {
		logDir = keep + "/" + sc.name
		if err := os.MkdirAll(logDir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	cl, err := env.NewCluster(ClusterOptions{Nodes: 3, Heartbeat: heartbeat, Grace: grace, LogDir: logDir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	r := &run{t: t, tm: tm, env: env, cl: cl}

	// Users and the room.
	n1 := cl.Nodes[0]
	var names []string
	tokens := map[string]string{}
	for i := range users {
		name := fmt.Sprintf("u%d", i+1)
		tok, err := register(n1, name)
		if err != nil {
			t.Fatal(err)
		}
		names, tokens[name] = append(names, name), tok
	}
	if r.probe, err = register(n1, "probe"); err != nil {
		t.Fatal(err)
	}
	if r.room, err = generalRoom(n1, r.probe); err != nil {
		t.Fatal(err)
	}

	// The clients, two a node, each with the other nodes to move to.
	for i, name := range names {
		var nodes []*Node
		for k := range cl.Nodes {
			nodes = append(nodes, cl.Nodes[(i+k)%len(cl.Nodes)])
		}
		c := NewClient(ClientOptions{Name: name, Token: tokens[name], Room: r.room, Nodes: nodes,
			Peers: slices.DeleteFunc(slices.Clone(names), func(s string) bool { return s == name }), Rate: perSecond})
		r.clients = append(r.clients, c)
	}
	t.Cleanup(func() {
		for _, c := range r.clients {
			c.Close()
		}
	})
	if !waitUntil(30*time.Second, func() bool { return allSynced(r.clients) && presenceSettled(r.clients) }) {
		t.Fatalf("setup: the clients did not all sync and see each other online within 30 s: %s", states(r.clients))
	}

	// Traffic, the fault, more traffic.
	traffic := time.Now()
	for _, c := range r.clients {
		c.StartSending()
	}
	time.Sleep(tm.warm)
	check := sc.inject(r)
	time.Sleep(tm.recover)
	for _, c := range r.clients {
		c.StopSending()
	}
	stopped := time.Now()

	// Everyone catches up, or the bound says how far they got.
	caughtUp := waitUntil(tm.converge, func() bool { return settled(r.clients) })
	t.Logf("traffic stopped at %s; caught up: %v after %.1f s", stopped.Format("15:04:05.000"), caughtUp, time.Since(stopped).Seconds())
	waitUntil(20*time.Second, func() bool { return presenceSettled(r.clients) })
	ready := map[string]int{}
	waitUntil(20*time.Second, func() bool {
		all := true
		for _, n := range cl.Nodes {
			ready[n.Name] = n.Get("/readyz", 3*time.Second)
			all = all && ready[n.Name] == http.StatusOK
		}
		return all
	})

	var log []LogEntry
	for _, n := range cl.Nodes {
		if log, err = ReadLog(n, r.probe, r.room); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("reading the room's log from every node: %v", err)
	}
	var probes []Probe
	since := max(0, lastSeq(log)-50)
	for _, n := range cl.Nodes {
		probes = append(probes, Probe{Node: n.Name, Err: ProbeResume(n, r.probe, r.room, since, log)})
	}
	results := Check(CheckInput{Clients: r.clients, Cluster: cl, Log: log, Faults: r.faults, Traffic: traffic, Ready: ready, Probes: probes})
	t.Logf("%d entries in the log, %d acked messages", len(log), totalAcked(r.clients))
	if check != nil {
		results = append(results, check()...)
	}
	return results
}

func allSynced(cs []*Client) bool {
	for _, c := range cs {
		if !c.Synced() {
			return false
		}
	}
	return true
}

func presenceSettled(cs []*Client) bool {
	for _, c := range cs {
		ok := true
		c.with(func() {
			for _, p := range c.peers {
				ok = ok && c.presence[p] == "online"
			}
		})
		if !ok {
			return false
		}
	}
	return true
}

// settled: nothing waits for an ack or a history page, and every client's
// stream has reached the last acknowledged seq.
func settled(cs []*Client) bool {
	top := maxAcked(cs)
	for _, c := range cs {
		ok := true
		c.with(func() {
			ok = len(c.pending) == 0 && len(c.log.holes) == 0 && c.log.high >= top && c.cur != nil && c.cur.ready
		})
		if !ok {
			return false
		}
	}
	return true
}

func totalAcked(cs []*Client) int {
	n := 0
	for _, c := range cs {
		c.with(func() { n += len(c.acked) })
	}
	return n
}

func states(cs []*Client) string {
	var parts []string
	for _, c := range cs {
		c.with(func() {
			node, ready := "none", false
			if c.cur != nil {
				node, ready = c.cur.rec.Node, c.cur.ready
			}
			parts = append(parts, fmt.Sprintf("%s on %s synced %v sees %v", c.Name, node, ready, c.presence))
		})
	}
	return strings.Join(parts, "; ")
}
