package chaos

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	natsserver "github.com/nats-io/nats-server/v2/server"

	"minichat/server/broker/natstest"
)

// Every process the suite starts is a child in a process group of its own
// (so a signal reaches a node's whole group) that the kernel kills if the
// suite itself dies (Pdeathsig), so an aborted run leaves nothing behind
// listening on loopback. Everything listens on 127.0.0.1 only.
func childAttrs() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// freePort asks the kernel for a loopback port nobody uses right now. The
// port is given to a process that binds it a moment later, and again on
// its restart, which is why it is chosen here and not by the process.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// BuildBinary builds minichat from the repository that holds dir (or one
// of its parents) into out, as `go build` would for a release, without the
// race detector: the suite judges the binary people run. MINICHAT_CHAOS_BIN
// names a binary to use instead.
func BuildBinary(dir, out string) (string, error) {
	if bin := os.Getenv("MINICHAT_CHAOS_BIN"); bin != "" {
		if _, err := os.Stat(bin); err != nil {
			return "", fmt.Errorf("MINICHAT_CHAOS_BIN: %w", err)
		}
		return bin, nil
	}
	root, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(root, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(root)
		if parent == root {
			return "", fmt.Errorf("build minichat: no go.mod above %s", dir)
		}
		root = parent
	}
	bin := filepath.Join(out, "minichat")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build minichat in %s: %w\n%s", root, err, b)
	}
	return bin, nil
}

// Postgres is a PostgreSQL server of the suite's own: a fresh cluster
// (initdb) in a temporary directory, on a spare loopback port, which the
// scenarios stop and start. Run as root, it runs as the postgres account,
// since initdb and postgres refuse root.
type Postgres struct {
	bin  string // directory of initdb and postgres
	dir  string // everything of this server, removed by Close
	data string
	Port int
	cred *syscall.Credential

	mu   sync.Mutex
	cmd  *exec.Cmd     // guarded by mu; nil while stopped
	done chan struct{} // closed when cmd has exited
}

// postgresBin finds the directory of initdb and postgres:
// MINICHAT_CHAOS_PG_BIN, else the newest /usr/lib/postgresql/*/bin
// (Debian), else the PATH.
func postgresBin() (string, error) {
	if d := os.Getenv("MINICHAT_CHAOS_PG_BIN"); d != "" {
		return d, nil
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool {
		vi, _ := strconv.ParseFloat(filepath.Base(filepath.Dir(dirs[i])), 64)
		vj, _ := strconv.ParseFloat(filepath.Base(filepath.Dir(dirs[j])), 64)
		return vi > vj
	})
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, nil
		}
	}
	p, err := exec.LookPath("initdb")
	if err != nil {
		return "", errors.New("postgres: no initdb under /usr/lib/postgresql/*/bin or on the PATH (apt-get install postgresql, or set MINICHAT_CHAOS_PG_BIN)")
	}
	return filepath.Dir(p), nil
}

// StartPostgres creates and starts a server. Close stops it and removes
// its files.
func StartPostgres() (*Postgres, error) {
	bin, err := postgresBin()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "minichat-chaos-pg-")
	if err != nil {
		return nil, err
	}
	p := &Postgres{bin: bin, dir: dir, data: filepath.Join(dir, "data")}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("postgres: running as root, and initdb refuses root; no postgres account to run it as: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		p.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(dir, uid, gid); err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("postgres: %w", err)
		}
	}
	if p.Port, err = freePort(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	initdb := exec.Command(filepath.Join(bin, "initdb"), "-D", p.data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync")
	initdb.SysProcAttr = childAttrs()
	initdb.SysProcAttr.Credential = p.cred
	if b, err := initdb.CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("initdb: %w\n%s", err, b)
	}
	if err := p.Start(); err != nil {
		p.Close()
		return nil, err
	}
	return p, nil
}

// Start starts the server on its port and returns once it accepts
// connections. fsync is off: the suite kills nodes, never the database's
// machine, and a shared machine's disk should not set the pace.
func (p *Postgres) Start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil {
		return errors.New("postgres: already running")
	}
	logf, err := os.OpenFile(filepath.Join(p.dir, "postgres.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command(filepath.Join(p.bin, "postgres"), "-D", p.data, "-p", strconv.Itoa(p.Port),
		"-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories="+p.dir,
		"-c", "fsync=off", "-c", "full_page_writes=off", "-c", "max_connections=200")
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = childAttrs()
	cmd.SysProcAttr.Credential = p.cred
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	p.cmd, p.done = cmd, done
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		c, err := pgx.Connect(ctx, p.URL(p.Addr(), "postgres"))
		cancel()
		if err == nil {
			c.Close(context.Background())
			return nil
		}
		select {
		case <-done:
			p.cmd = nil
			return fmt.Errorf("postgres exited at start; see %s", filepath.Join(p.dir, "postgres.log"))
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("postgres does not accept connections after 30 s: %w", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Stop shuts the server down as `pg_ctl stop -m fast` does (SIGINT: open
// connections are cut, the data is flushed) and waits for it.
func (p *Postgres) Stop() error { return p.signal(syscall.SIGINT) }

func (p *Postgres) signal(sig syscall.Signal) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return nil
	}
	_ = p.cmd.Process.Signal(sig)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
	}
	p.cmd = nil
	return nil
}

// Close stops the server at once (SIGQUIT, immediate shutdown) and removes
// its directory.
func (p *Postgres) Close() {
	_ = p.signal(syscall.SIGQUIT)
	os.RemoveAll(p.dir)
}

// Addr is the server's own address; nodes reach it through proxies.
func (p *Postgres) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(p.Port)) }

// URL is the connection URL of database db at addr (the server's or a
// proxy's).
func (p *Postgres) URL(addr, db string) string {
	return "postgres://postgres@" + addr + "/" + db + "?sslmode=disable"
}

// CreateDatabase creates an empty database: each scenario gets its own.
func (p *Postgres) CreateDatabase(name string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, p.URL(p.Addr(), "postgres"))
	if err != nil {
		return fmt.Errorf("create database %s: %w", name, err)
	}
	defer c.Close(context.Background())
	if _, err := c.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return fmt.Errorf("create database %s: %w", name, err)
	}
	return nil
}

// NATS is a NATS server in the suite's own process (the nats-server
// module minichat already depends on), on a fixed loopback port so that it
// comes back where the nodes look for it. Kill shuts it down, which closes
// every client connection as the death of a separate process would.
type NATS struct {
	Port int

	mu  sync.Mutex
	srv *natsserver.Server // guarded by mu; nil while killed
}

// StartNATS starts a server on a spare port.
func StartNATS() (*NATS, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	n := &NATS{Port: port}
	return n, n.Start()
}

// Start starts the server (again) on its port.
func (n *NATS) Start() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.srv != nil {
		return errors.New("nats: already running")
	}
	srv, err := natstest.New(&natsserver.Options{Port: n.Port})
	if err != nil {
		return fmt.Errorf("nats: %w", err)
	}
	n.srv = srv
	return nil
}

// Kill stops the server and waits until it is gone.
func (n *NATS) Kill() {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.srv != nil {
		n.srv.Shutdown()
		n.srv.WaitForShutdown()
		n.srv = nil
	}
}

// Addr is the server's own address; nodes reach it through proxies.
func (n *NATS) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(n.Port)) }

// Node is one minichat process. Its address stays the same across
// restarts, as a real node's does behind a balancer.
type Node struct {
	Name string
	Addr string // 127.0.0.1:port
	bin  string
	args []string
	logs *os.File // every line of the node's log, for a failed run

	mu       sync.Mutex
	cmd      *exec.Cmd     // guarded by mu
	done     chan struct{} // guarded by mu; closed once cmd has exited
	stopping bool          // guarded by mu: the suite is ending this process
	exits    []nodeExit    // guarded by mu
	loud     []logLine     // guarded by mu: warn and error lines
	tail     []string      // guarded by mu: the last lines of its output
}

// nodeExit is a node process ending; Expected when the suite killed it.
type nodeExit struct {
	At       time.Time
	Err      error
	Expected bool
}

// logLine is one warn or error line of a node's log, with the time the
// suite read it.
type logLine struct {
	At      time.Time
	Level   string
	Message string
	Error   string
}

// URL is the node's base URL.
func (n *Node) URL() string { return "http://" + n.Addr }

// Start starts the process and returns once it logs that it serves.
func (n *Node) Start() error {
	n.mu.Lock()
	if n.cmd != nil {
		n.mu.Unlock()
		return fmt.Errorf("%s: already running", n.Name)
	}
	cmd := exec.Command(n.bin, append([]string{"serve"}, n.args...)...)
	cmd.SysProcAttr = childAttrs()
	stderr, err := cmd.StderrPipe()
	if err != nil {
		n.mu.Unlock()
		return err
	}
	if err := cmd.Start(); err != nil {
		n.mu.Unlock()
		return fmt.Errorf("%s: %w", n.Name, err)
	}
	done := make(chan struct{})
	n.cmd, n.done, n.stopping = cmd, done, false
	n.mu.Unlock()

	serving := make(chan struct{})
	go func() {
		var once sync.Once
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Bytes()
			fmt.Fprintf(n.logs, "%s\n", line)
			n.mu.Lock()
			if n.tail = append(n.tail, string(line)); len(n.tail) > 5 {
				n.tail = n.tail[1:]
			}
			n.mu.Unlock()
			var l struct {
				Level   string `json:"level"`
				Message string `json:"message"`
				Error   string `json:"error"`
			}
			if json.Unmarshal(line, &l) != nil {
				continue
			}
			switch {
			case l.Message == "minichat is serving":
				once.Do(func() { close(serving) })
			case l.Level == "warn" || l.Level == "error" || l.Level == "fatal" || l.Level == "panic":
				n.mu.Lock()
				n.loud = append(n.loud, logLine{At: time.Now(), Level: l.Level, Message: l.Message, Error: l.Error})
				n.mu.Unlock()
			}
		}
		err := cmd.Wait()
		n.mu.Lock()
		n.exits = append(n.exits, nodeExit{At: time.Now(), Err: err, Expected: n.stopping})
		if n.cmd == cmd {
			n.cmd = nil
		}
		n.mu.Unlock()
		close(done)
	}()
	select {
	case <-serving:
		return nil
	case <-done:
		n.mu.Lock()
		tail := strings.Join(n.tail, "\n")
		n.mu.Unlock()
		return fmt.Errorf("%s exited at start (log: %s); its last lines:\n%s", n.Name, n.logs.Name(), tail)
	case <-time.After(30 * time.Second):
		return fmt.Errorf("%s did not start serving within 30 s", n.Name)
	}
}

// Kill ends the process with SIGKILL (thawing it first if frozen, so that
// it dies now) and waits for it.
func (n *Node) Kill() {
	n.mu.Lock()
	cmd, done := n.cmd, n.done
	n.stopping = true
	n.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGCONT)
	<-done
}

// Freeze stops the process with SIGSTOP: its sockets stay open and
// nothing answers, as on a machine that hangs.
func (n *Node) Freeze() error { return n.signal(syscall.SIGSTOP) }

// Thaw resumes a frozen process with SIGCONT.
func (n *Node) Thaw() error { return n.signal(syscall.SIGCONT) }

func (n *Node) signal(sig syscall.Signal) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd == nil {
		return fmt.Errorf("%s is not running", n.Name)
	}
	return syscall.Kill(-n.cmd.Process.Pid, sig)
}

// Running reports whether the process is alive.
func (n *Node) Running() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.cmd != nil
}

// Exits lists the process's ends so far.
func (n *Node) Exits() []nodeExit {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]nodeExit(nil), n.exits...)
}

// Loud returns the warn and error lines read between from and to.
func (n *Node) Loud(from, to time.Time) []logLine {
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []logLine
	for _, l := range n.loud {
		if !l.At.Before(from) && !l.At.After(to) {
			out = append(out, l)
		}
	}
	return out
}

// Get asks the node for path within timeout and returns the status (0 when
// there was no answer).
func (n *Node) Get(path string, timeout time.Duration) int {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, n.URL()+path, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// Env is what every scenario shares: the binary, one Postgres server and
// one NATS server. Each scenario makes a Cluster on them with a database
// of its own.
type Env struct {
	Bin  string
	PG   *Postgres
	NATS *NATS
	n    int
}

// NewEnv builds the binary into dir and starts Postgres and NATS.
func NewEnv(dir string) (*Env, error) {
	bin, err := BuildBinary(".", dir)
	if err != nil {
		return nil, err
	}
	pg, err := StartPostgres()
	if err != nil {
		return nil, err
	}
	ns, err := StartNATS()
	if err != nil {
		pg.Close()
		return nil, err
	}
	return &Env{Bin: bin, PG: pg, NATS: ns}, nil
}

// Close stops Postgres and NATS and removes Postgres's files.
func (e *Env) Close() {
	e.NATS.Kill()
	e.PG.Close()
}

// Cluster is three nodes on a database of their own; every node reaches
// Postgres and NATS through proxies of its own, so latency can be added
// to each link.
type Cluster struct {
	Nodes     []*Node
	PGProxies []*Proxy
	NATSLinks []*Proxy
	DB        string
	Heartbeat time.Duration
	Grace     time.Duration
}

// ClusterOptions set what the scenarios vary.
type ClusterOptions struct {
	Nodes     int
	Heartbeat time.Duration // the nodes' --heartbeat
	Grace     time.Duration // the nodes' --presence-grace
	LogDir    string        // where node logs are written
}

// NewCluster creates a database and starts the nodes (the first alone, so
// that it creates the schema). Close stops everything it started.
func (e *Env) NewCluster(o ClusterOptions) (*Cluster, error) {
	e.n++
	c := &Cluster{DB: fmt.Sprintf("chaos_%d_%d", os.Getpid(), e.n), Heartbeat: o.Heartbeat, Grace: o.Grace}
	if err := e.PG.CreateDatabase(c.DB); err != nil {
		return nil, err
	}
	for i := range o.Nodes {
		pgp, err := NewProxy(e.PG.Addr())
		if err != nil {
			c.Close()
			return nil, err
		}
		c.PGProxies = append(c.PGProxies, pgp)
		np, err := NewProxy(e.NATS.Addr())
		if err != nil {
			c.Close()
			return nil, err
		}
		c.NATSLinks = append(c.NATSLinks, np)
		port, err := freePort()
		if err != nil {
			c.Close()
			return nil, err
		}
		name := fmt.Sprintf("n%d", i+1)
		data := filepath.Join(o.LogDir, name+"-data")
		if err := os.MkdirAll(data, 0o700); err != nil {
			c.Close()
			return nil, err
		}
		logs, err := os.Create(filepath.Join(o.LogDir, name+".log"))
		if err != nil {
			c.Close()
			return nil, err
		}
		n := &Node{Name: name, Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), bin: e.Bin, logs: logs}
		n.args = []string{"--addr", n.Addr, "--data-dir", data,
			"--database", e.PG.URL(pgp.Addr(), c.DB), "--nats", "nats://" + np.Addr(),
			"--heartbeat", o.Heartbeat.String(), "--presence-grace", o.Grace.String(), "--shutdown-grace", "2s",
			"--registration", "open", "--login-rate", "-1",
			"--create-room-rate", "-1", "--join-rate", "-1", "--invite-rate", "-1", "--dm-rate", "-1", "--rate", "100", "--burst", "200",
			"--log-format", "json", "--log-level", "info"}
		c.Nodes = append(c.Nodes, n)
	}
	if err := c.Nodes[0].Start(); err != nil {
		c.Close()
		return nil, err
	}
	errs := make(chan error, len(c.Nodes))
	for _, n := range c.Nodes[1:] {
		go func() { errs <- n.Start() }()
	}
	var first error
	for range c.Nodes[1:] {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	if first != nil {
		c.Close()
		return nil, first
	}
	return c, nil
}

// Node returns the node of that name.
func (c *Cluster) Node(name string) *Node {
	for _, n := range c.Nodes {
		if n.Name == name {
			return n
		}
	}
	return nil
}

// Close kills the nodes and closes the proxies.
func (c *Cluster) Close() {
	for _, n := range c.Nodes {
		n.Kill()
		n.logs.Close()
	}
	for _, p := range c.PGProxies {
		p.Close()
	}
	for _, p := range c.NATSLinks {
		p.Close()
	}
}

// ExitedUnexpectedly lists the node processes that ended without the
// suite killing them.
func (c *Cluster) ExitedUnexpectedly() []string {
	var out []string
	for _, n := range c.Nodes {
		for _, e := range n.Exits() {
			if !e.Expected {
				out = append(out, fmt.Sprintf("%s exited by itself at %s: %v", n.Name, e.At.Format("15:04:05.000"), e.Err))
			}
		}
	}
	return out
}
