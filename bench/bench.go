// Package bench is the load tool behind `minichat bench`: it drives a
// running minichat server over the real protocol — HTTP to sign in and join
// a room, WebSocket for everything else — and measures what a deployment
// delivers: connections opened per second, deliveries per second, delivery
// latency (every message carries its send time in its text), losses and
// duplicates (every receiver checks the room's seq continuity, across its
// reconnects), and the server's memory and CPU when it runs on this host.
//
// One process holds at most as many sockets as its file limit allows, so
// --procs N re-executes the tool as N worker processes; each drives the
// connections i with i % N == k, they move through the phases (setup,
// connect, run, drain) in step under the parent, and the parent merges
// their counters and latency histograms.
//
// Everything here is bounded: connecting, the run and the drain each have a
// timeout, and the tool stops by itself.
package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"time"
)

// config is the parsed command line.
type config struct {
	URL              string
	Conns            int
	Users            int
	UserPrefix       string
	Password         string
	Room             string
	Rooms            int
	TeamRooms        int
	Scenario         string
	Groups           int
	GroupMin         int
	GroupMax         int
	DMs              int
	RateExp          float64
	team             *team    // the team scenario's layout (scenario.go)
	teamIDs          []string // the team rooms' ids, by index (team.go)
	teamOf           []int    // each account's team room
	Publishers       int
	Rate             float64
	Count            int
	Duration         time.Duration
	Warmup           time.Duration
	Typing           float64
	Churn            float64
	Storm            bool
	SourceIPs        string
	Reader           string
	PID              int
	JSON             bool
	Procs            int
	RunID            string
	DialConcurrency  int
	LoginConcurrency int
	MaxInflight      int
	ConnectTimeout   time.Duration
	DialTimeout      time.Duration
	DrainTimeout     time.Duration
	Settle           time.Duration
	Progress         time.Duration
	Strict           bool
	CPUProfile       string
	TokenFile        string

	registerFirst bool // set by the coordinator: the accounts look new
}

const usage = `usage: minichat bench [flags]

Drives a running minichat server over its real protocol and reports
connections/s, deliveries/s, delivery latency, losses and duplicates, and the
server's memory and CPU (when it runs on this host). A progress line goes to
stderr while it runs; a one-line JSON summary goes to stdout at the end.

Example (1,000 subscribers, 200 msg/s from 20 publishers, for 20 s):

  minichat bench --url http://127.0.0.1:8080 --conns 1000 --publishers 20 --rate 200 --duration 20s

The server limits sends per connection (its --rate and --burst): spread the
rate over enough publishers, or start the server with higher limits for
saturation runs. The tool signs its accounts up itself, which a server
allows only with --registration open (the default, invite, refuses them),
and makes rooms faster than the server's per-account limits let a person:
start it with --registration open --create-room-rate -1 --join-rate -1.
Each process holds fewer sockets than its file limit: use --procs for more.

Flags:
`

func parseFlags(args []string, stderr io.Writer) (*config, error) {
	cfg := &config{}
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, usage)
		fs.PrintDefaults()
	}
	fs.StringVar(&cfg.URL, "url", "http://127.0.0.1:8080", "base URL of the server")
	fs.IntVar(&cfg.Conns, "conns", 100, "WebSocket connections to open, all in the bench room (see --rooms)")
	fs.IntVar(&cfg.Users, "users", 0, "accounts to spread the connections over; connections of one account share one login (default min(conns, 50))")
	fs.StringVar(&cfg.UserPrefix, "user-prefix", "bench", "account names are this prefix followed by 0, 1, 2…; they are registered when missing")
	fs.StringVar(&cfg.Password, "password", "bench-password", "password of the bench accounts")
	fs.StringVar(&cfg.Room, "room", "bench", "public room to create or join")
	fs.IntVar(&cfg.TeamRooms, "team-rooms", 0, "team layout: besides the bench room (everyone's general), each account joins one of this many more rooms of Zipf sizes (<room>-team-0 the largest)")
	fs.StringVar(&cfg.Scenario, "scenario", "room", "room: every socket in the bench room (see --rooms), the first --publishers sending; "+
		"team: a team's traffic — --users people with one to three sockets each (--conns in all), everyone in the bench room (general), "+
		"--groups rooms of Zipf sizes from --group-max down to --group-min, --dms direct-message pairs; each socket follows all its rooms "+
		"(one hello{since} for all after a drop); --rate is split over the rooms in proportion to their member counts and each message "+
		"is sent by a random open socket of a member; --typing and --churn as usual; integrity and latency per room class")
	fs.IntVar(&cfg.Groups, "groups", 300, "team scenario: rooms besides general, of Zipf sizes (<room>-group-0 the largest)")
	fs.IntVar(&cfg.GroupMin, "group-min", 10, "team scenario: members of the smallest group")
	fs.IntVar(&cfg.GroupMax, "group-max", 300, "team scenario: members of the largest group")
	fs.Float64Var(&cfg.RateExp, "rate-exp", 1, "team scenario: a room's share of --rate is in proportion to its member count raised to this (1: to its size; 0.5: its square root; 0: every room alike)")
	fs.IntVar(&cfg.DMs, "dms", 2000, "team scenario: direct-message rooms, between random pairs (POST /api/dms)")
	fs.IntVar(&cfg.Rooms, "rooms", 1, "spread the accounts over this many rooms (<room>-0, <room>-1, …; account u joins room u % rooms), e.g. to measure storage without fan-out")
	fs.IntVar(&cfg.Publishers, "publishers", 1, "connections that publish (the first ones); each sends rate/publishers msg/s")
	fs.Float64Var(&cfg.Rate, "rate", 10, "messages per second in all, after warm-up (0: none, or as fast as acks allow with --count)")
	fs.IntVar(&cfg.Count, "count", 0, "stop after this many measured messages in all (0: no limit; --duration still bounds the run)")
	fs.DurationVar(&cfg.Duration, "duration", 10*time.Second, "length of the measured window")
	fs.DurationVar(&cfg.Warmup, "warmup", 2*time.Second, "publishing before the measured window, left out of the figures")
	fs.Float64Var(&cfg.Typing, "typing", 0, "typing notices per second in all, from random connections")
	fs.Float64Var(&cfg.Churn, "churn", 0, "reconnections per second in all: a random subscriber drops its socket and resumes with hello{since}")
	fs.BoolVar(&cfg.Storm, "storm", false, "halfway through the window, drop every connection at once; report the time until all have resynced")
	fs.StringVar(&cfg.SourceIPs, "source-ips", "auto", "local addresses to dial from, e.g. 127.0.0.1-127.0.0.8 (each gives ~28k ports); auto: 127.0.0.1-127.0.0.16 for a loopback server on Linux, none otherwise")
	fs.StringVar(&cfg.Reader, "reader", "auto", "how subscribers' sockets are read: epoll (a few epoll loops, one read per arrival; Linux, ws:// only), goroutine (a goroutine per socket, as publishers' always are); auto: epoll where it can be used")
	fs.IntVar(&cfg.PID, "pid", 0, "server pid for memory and CPU figures (0: find the process listening on the port, on loopback; -1: none)")
	fs.BoolVar(&cfg.JSON, "json", false, "print only the JSON summary: no progress, no table")
	fs.IntVar(&cfg.Procs, "procs", 1, "worker processes (the binary re-executes itself); each holds conns/procs sockets")
	fs.StringVar(&cfg.RunID, "run-id", "", "identifies this run in client ids (default: random)")
	fs.IntVar(&cfg.DialConcurrency, "dial-concurrency", 64, "WebSocket dials in flight per process")
	fs.IntVar(&cfg.LoginConcurrency, "login-concurrency", 2, "sign-ins in flight (each costs the server a password hash and its memory)")
	fs.IntVar(&cfg.MaxInflight, "max-inflight", 256, "unanswered sends per publisher before it waits")
	fs.DurationVar(&cfg.ConnectTimeout, "connect-timeout", 2*time.Minute, "time allowed to open every connection")
	fs.DurationVar(&cfg.DialTimeout, "dial-timeout", 15*time.Second, "time allowed for one WebSocket dial")
	fs.DurationVar(&cfg.DrainTimeout, "drain-timeout", 15*time.Second, "time allowed after the window for acks and the last deliveries")
	fs.DurationVar(&cfg.Settle, "settle", time.Second, "pause after connecting before the memory reading")
	fs.DurationVar(&cfg.Progress, "progress", time.Second, "interval of the progress line")
	fs.BoolVar(&cfg.Strict, "strict", false, "fail unless every delivery arrived (deliveries = acked × connections), nothing was lost or duplicated, no frame came before welcome and no error occurred")
	fs.StringVar(&cfg.TokenFile, "tokens", "", "file that keeps the accounts' tokens between runs (JSON; created if missing): later runs sign in no one, so the server hashes no password")
	fs.StringVar(&cfg.CPUProfile, "cpuprofile", "", "write the tool's own CPU profile here (workers add .<k>), to tell whether the tool is the bottleneck")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	return cfg, cfg.validate()
}

// roomName is the name of bench room r.
func (cfg *config) roomName(r int) string {
	if cfg.Rooms == 1 {
		return cfg.Room
	}
	return fmt.Sprintf("%s-%d", cfg.Room, r)
}

// roomOf is the index of the room connection i follows: its account's.
func (cfg *config) roomOf(i int) int { return cfg.accountOf(i) % cfg.Rooms }

// accountOf is the account of connection i.
func (cfg *config) accountOf(i int) int {
	if cfg.team != nil {
		return cfg.team.connUser[i]
	}
	return i % cfg.Users
}

func (cfg *config) validate() error {
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("--url %q: want http(s)://host:port", cfg.URL)
	}
	if cfg.SourceIPs == "auto" {
		cfg.SourceIPs = ""
		if runtime.GOOS == "linux" {
			cfg.SourceIPs = defaultSourceIPs(u)
		}
	}
	if _, err := parseSourceIPs(cfg.SourceIPs); err != nil {
		return err
	}
	switch cfg.Reader {
	case "auto":
		cfg.Reader = "goroutine"
		if rawReaderSupported && u.Scheme == "http" {
			cfg.Reader = "epoll"
		}
	case "epoll":
		if !rawReaderSupported || u.Scheme != "http" {
			return errors.New("--reader epoll needs Linux and an http:// server (it speaks no TLS)")
		}
	case "goroutine":
	default:
		return fmt.Errorf("--reader %q: want auto, epoll or goroutine", cfg.Reader)
	}
	switch {
	case cfg.Conns < 1:
		return errors.New("--conns must be at least 1")
	case cfg.Users < 0:
		return errors.New("--users must not be negative")
	case cfg.Publishers < 0 || cfg.Publishers > cfg.Conns:
		return errors.New("--publishers must be between 0 and --conns")
	case cfg.Scenario != "room" && cfg.Scenario != "team":
		return fmt.Errorf("--scenario %q: want room or team", cfg.Scenario)
	case (cfg.Rate > 0 || cfg.Count > 0) && cfg.Publishers == 0 && cfg.Scenario != "team":
		return errors.New("--rate or --count needs at least one publisher")
	case cfg.Rate < 0 || cfg.Typing < 0 || cfg.Churn < 0 || cfg.Count < 0:
		return errors.New("--rate, --count, --typing and --churn must not be negative")
	case cfg.Duration <= 0:
		return errors.New("--duration must be positive")
	case cfg.Procs < 1 || cfg.Procs > cfg.Conns:
		return errors.New("--procs must be between 1 and --conns")
	case cfg.DialConcurrency < 1 || cfg.LoginConcurrency < 1 || cfg.MaxInflight < 1:
		return errors.New("--dial-concurrency, --login-concurrency and --max-inflight must be at least 1")
	case cfg.TeamRooms < 0:
		return errors.New("--team-rooms must not be negative")
	case cfg.TeamRooms > 0 && cfg.Rooms != 1:
		return errors.New("--team-rooms needs --rooms 1: everyone is in the bench room")
	case cfg.Rooms < 1:
		return errors.New("--rooms must be at least 1")
	case cfg.Progress <= 0:
		return errors.New("--progress must be positive")
	}
	if cfg.Users == 0 {
		cfg.Users = min(cfg.Conns, 50)
		if cfg.Scenario == "team" {
			cfg.Users = (cfg.Conns + 1) / 2
		}
	}
	if cfg.Users > cfg.Conns {
		cfg.Users = cfg.Conns
	}
	if cfg.Rooms > cfg.Users {
		return fmt.Errorf("--rooms (%d) must not exceed --users (%d): every room needs an account", cfg.Rooms, cfg.Users)
	}
	if cfg.Scenario == "team" {
		if err := cfg.validateTeam(); err != nil {
			return err
		}
	}
	if cfg.RunID == "" {
		var b [4]byte
		_, _ = rand.Read(b[:])
		cfg.RunID = hex.EncodeToString(b[:])
	}
	// The run id goes into client ids (≤ 64 bytes) and message texts.
	if len(cfg.RunID) > 24 || strings.Trim(cfg.RunID, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") != "" {
		return fmt.Errorf("--run-id %q: at most 24 of [A-Za-z0-9_.-]", cfg.RunID)
	}
	return nil
}

// Environment of a worker process (set by the parent, see procs.go).
const (
	envWorker = "MINICHAT_BENCH_WORKER" // "k/n"
	envRoom   = "MINICHAT_BENCH_ROOM"
	envRunID  = "MINICHAT_BENCH_RUN_ID"
	envTokens = "MINICHAT_BENCH_TOKENS" // file of the tokens, one per line, by account index
)

// Main runs `minichat bench` with args (the flags after "bench"). Progress
// and the human-readable summary go to stderr, the one-line JSON summary to
// stdout. It returns when the run is over or ctx ends; with --strict it
// returns an error when a delivery is missing, lost or duplicated.
//
// With --procs N it starts N copies of the running executable with the same
// command line (os.Args) and a worker environment, so the executable must
// route that command line back to Main.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	// The progress line and the run's notices are written from different
	// goroutines.
	stderr = &lockedWriter{w: stderr}
	cfg, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	spec := os.Getenv(envWorker)
	if cfg.CPUProfile != "" {
		name := cfg.CPUProfile
		if k, _, ok := strings.Cut(spec, "/"); ok {
			name += "." + k
		}
		f, err := os.Create(name)
		if err != nil {
			return fmt.Errorf("bench: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("bench: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	if spec != "" {
		return childMain(ctx, cfg, spec, stdout, stderr)
	}
	return coordinate(ctx, cfg, stdout, stderr)
}

// runner is one worker, in this process or in a child.
type runner interface {
	setup(ctx context.Context) error
	connect(ctx context.Context) error
	run(ctx context.Context, t0 time.Time) error
	drain(ctx context.Context) (result, error)
	snapshot() progress
	stop()
	pid() int
}

func (w *worker) pid() int { return os.Getpid() }

// all runs fn on every runner at once and returns the first error.
func all(rs []runner, fn func(r runner) error) error {
	errs := make([]error, len(rs))
	var wg sync.WaitGroup
	for i, r := range rs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = fn(r)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func coordinate(ctx context.Context, cfg *config, stdout, stderr io.Writer) (err error) {
	u, _ := url.Parse(cfg.URL)
	logw := stderr
	if cfg.JSON {
		logw = io.Discard
	}
	if per := (cfg.Conns + cfg.Procs - 1) / cfg.Procs; per > 19000 {
		fmt.Fprintf(logw, "bench: warning: %d sockets per process; past the file limit use more --procs\n", per)
	}

	// The server process, for memory and CPU figures.
	pid := cfg.PID
	if pid == 0 {
		pid = -1
		if loopbackTarget(u) {
			port, _ := strconv.Atoi(u.Port())
			if port == 0 {
				port = map[string]int{"http": 80, "https": 443}[u.Scheme]
			}
			if p, ferr := findListener(port); ferr == nil {
				pid = p
			} else {
				fmt.Fprintf(logw, "bench: no server figures: %v\n", ferr)
			}
		}
	}
	sampler := newSampler(pid)

	// The rooms, created by the first account.
	a := &api{base: strings.TrimRight(cfg.URL, "/"), client: newHTTPClient()}
	first := cfg.UserPrefix + "0"
	// Its cached token, when it still works, spares the server a password
	// hash (36 MiB of memory) before the baseline reading.
	s, registered, aerr := session{Token: cachedToken(cfg.TokenFile, first)}, false, error(nil)
	if s.Token == "" {
		s, registered, aerr = a.account(ctx, first, cfg.Password, false)
	} else if _, err := a.rooms(ctx, s.Token); err != nil {
		s, registered, aerr = a.account(ctx, first, cfg.Password, false)
	}
	if aerr != nil {
		return fmt.Errorf("bench: sign in as %s: %w", first, aerr)
	}
	// A first account that had to be registered means fresh accounts:
	// register the others directly instead of trying a login first.
	cfg.registerFirst = registered
	roomIDs := make([]string, cfg.Rooms)
	for r := range roomIDs {
		room, rerr := a.ensureRoom(ctx, s.Token, cfg.roomName(r))
		if rerr != nil {
			return fmt.Errorf("bench: room %s: %w", cfg.roomName(r), rerr)
		}
		roomIDs[r] = room.ID
	}

	if cfg.TeamRooms > 0 {
		ids, terr := ensureTeamRooms(ctx, cfg, a, s.Token)
		if terr != nil {
			return terr
		}
		cfg.teamIDs, cfg.teamOf = ids, cfg.teamRooms()
	}

	prog := newProgressPrinter(stderr, cfg, nil, time.Now())
	if !cfg.JSON {
		prog.setPhase("sign-in")
		prog.run()
	}
	defer prog.close()
	tokens, lists, terr := signIn(ctx, cfg, a, roomIDs, logw)
	if terr != nil {
		return fmt.Errorf("bench: %w", terr)
	}
	if cfg.team != nil {
		fmt.Fprintln(logw, describeTeam(cfg))
		prog.setPhase("team")
		ids, terr := teamSetup(ctx, cfg, a, tokens[0], roomIDs[0], tokens, lists, logw)
		if terr != nil {
			return fmt.Errorf("bench: team: %w", terr)
		}
		roomIDs = ids
	}

	var rs []runner
	if cfg.Procs == 1 {
		rs = []runner{newWorker(cfg, 0, 1, roomIDs, tokens, logw)}
	} else {
		tf, ferr := os.CreateTemp("", "minichat-bench-tokens-*")
		if ferr != nil {
			return fmt.Errorf("bench: %w", ferr)
		}
		defer os.Remove(tf.Name())
		_, ferr = io.WriteString(tf, strings.Join(tokens, "\n"))
		if cerr := tf.Close(); ferr == nil {
			ferr = cerr
		}
		if ferr != nil {
			return fmt.Errorf("bench: %w", ferr)
		}
		for k := 0; k < cfg.Procs; k++ {
			r, serr := startChild(cfg, k, roomIDs, tf.Name(), stderr)
			if serr != nil {
				for _, r := range rs {
					r.stop()
				}
				return fmt.Errorf("bench: start worker %d: %w", k, serr)
			}
			rs = append(rs, r)
		}
	}
	prog.setRunners(rs)
	defer func() {
		for _, r := range rs {
			r.stop()
		}
	}()

	prog.setPhase("setup")
	if err := all(rs, func(r runner) error { return r.setup(ctx) }); err != nil {
		return fmt.Errorf("bench: setup: %w", err)
	}
	sleepCtx(ctx, cfg.Settle) // let the memory of any password hashing settle first
	base := sampler.sample()
	sampler.addClients(rs)

	prog.setPhase("connect")
	if err := all(rs, func(r runner) error { return r.connect(ctx) }); err != nil {
		return fmt.Errorf("bench: connect: %w", err)
	}
	sleepCtx(ctx, cfg.Settle)
	connected := sampler.sample()

	prog.setPhase("warmup")
	t0 := time.Now().Add(100 * time.Millisecond)
	measureFrom := t0.Add(cfg.Warmup)
	measureTo := measureFrom.Add(cfg.Duration)
	stopSampling := sampler.every(250 * time.Millisecond)
	go func() {
		sleepCtx(ctx, time.Until(measureFrom))
		prog.setPhase("measure")
	}()
	runErr := all(rs, func(r runner) error { return r.run(ctx, t0) })
	if runErr != nil {
		stopSampling()
		return fmt.Errorf("bench: run: %w", runErr)
	}
	prog.setPhase("drain")
	results := make([]result, len(rs))
	derr := all(rs, func(r runner) error {
		for i := range rs {
			if rs[i] == r {
				var e error
				results[i], e = r.drain(ctx)
				return e
			}
		}
		return nil
	})
	stopSampling()
	end := sampler.sample()
	prog.close()
	if derr != nil {
		return fmt.Errorf("bench: drain: %w", derr)
	}

	var total result
	for _, r := range results {
		total.add(r)
	}
	sum := summarize(cfg, total)
	sampler.fill(&sum, base, connected, end, measureFrom, measureTo, time.Unix(0, total.StormAtNS), len(rs))

	if !cfg.JSON {
		human(stderr, sum)
	}
	line, _ := json.Marshal(sum)
	fmt.Fprintf(stdout, "%s\n", line)

	if cfg.Strict {
		var bad []string
		if sum.Deliveries != sum.ExpectedDeliveries {
			bad = append(bad, fmt.Sprintf("%d deliveries of %d expected", sum.Deliveries, sum.ExpectedDeliveries))
		}
		if sum.Lost > 0 || sum.Undelivered > 0 || sum.Dup > 0 {
			bad = append(bad, fmt.Sprintf("%d lost, %d not arrived, %d duplicated", sum.Lost, sum.Undelivered, sum.Dup))
		}
		if sum.Errors > 0 {
			bad = append(bad, fmt.Sprintf("%d errors", sum.Errors))
		}
		if sum.FramesBeforeWelcome > 0 {
			bad = append(bad, fmt.Sprintf("%d frames before welcome", sum.FramesBeforeWelcome))
		}
		if sum.Connected < sum.Conns {
			bad = append(bad, fmt.Sprintf("%d of %d connections open", sum.Connected, sum.Conns))
		}
		if len(bad) > 0 {
			return fmt.Errorf("bench: %s", strings.Join(bad, "; "))
		}
	}
	return nil
}

// lockedWriter serialises writes to w.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
