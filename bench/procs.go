package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"
)

// A worker process talks to its parent over its standard streams, one line
// per message: commands on stdin ("setup", "connect", "run <t0 unix ns>",
// "drain"), events on stdout as JSON (progress every half second, and
// "done" with the step's error or result). Its stderr is the parent's. When
// stdin closes (the parent is gone) the worker stops.

// event is one line of a worker's stdout.
type event struct {
	Ev     string    `json:"ev"` // "progress" or "done"
	Step   string    `json:"step,omitempty"`
	Err    string    `json:"err,omitempty"`
	P      *progress `json:"p,omitempty"`
	Result *result   `json:"result,omitempty"`
}

// childMain is Main in a worker process.
func childMain(ctx context.Context, cfg *config, spec string, stdout, stderr io.Writer) error {
	ks, ns, _ := strings.Cut(spec, "/")
	k, err1 := strconv.Atoi(ks)
	n, err2 := strconv.Atoi(ns)
	if err1 != nil || err2 != nil || k < 0 || k >= n {
		return fmt.Errorf("bench worker: bad %s %q", envWorker, spec)
	}
	cfg.RunID = os.Getenv(envRunID)
	tb, err := os.ReadFile(os.Getenv(envTokens))
	if err != nil {
		return fmt.Errorf("bench worker: tokens: %w", err)
	}
	tokens := strings.Split(string(tb), "\n")
	if len(tokens) != cfg.Users {
		return fmt.Errorf("bench worker: %d tokens for %d accounts", len(tokens), cfg.Users)
	}
	w := newWorker(cfg, k, n, strings.Split(os.Getenv(envRoom), ","), tokens, stderr)
	defer w.stop()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var outMu sync.Mutex
	emit := func(e event) {
		b, _ := json.Marshal(e)
		outMu.Lock()
		defer outMu.Unlock()
		fmt.Fprintf(stdout, "%s\n", b)
	}

	cmds := make(chan string)
	go func() {
		defer close(cmds)
		sc := bufio.NewScanner(os.Stdin)
		for sc.Scan() {
			select {
			case cmds <- sc.Text():
			case <-ctx.Done():
				return
			}
		}
	}()
	go func() {
		t := time.NewTicker(500 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				p := w.snapshot()
				emit(event{Ev: "progress", P: &p})
			}
		}
	}()

	for {
		var line string
		var ok bool
		select {
		case line, ok = <-cmds:
		case <-ctx.Done():
			return ctx.Err()
		}
		if !ok {
			return nil // the parent closed our stdin: the run is over
		}
		step, arg, _ := strings.Cut(line, " ")
		var err error
		var res *result
		switch step {
		case "setup":
			err = w.setup(ctx)
		case "connect":
			err = w.connect(ctx)
		case "run":
			ns, perr := strconv.ParseInt(arg, 10, 64)
			if perr != nil {
				err = perr
				break
			}
			err = w.run(ctx, time.Unix(0, ns))
		case "drain":
			var r result
			r, err = w.drain(ctx)
			res = &r
		default:
			err = fmt.Errorf("unknown command %q", step)
		}
		e := event{Ev: "done", Step: step, Result: res}
		if err != nil {
			e.Err = err.Error()
		}
		emit(e)
	}
}

// child is a worker process seen from the parent.
type child struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	done  chan event    // "done" events
	gone  chan struct{} // closed when the process's stdout ends

	mu   sync.Mutex // guards last
	last progress

	stopOnce sync.Once
}

// startChild starts worker k of cfg.Procs: the running executable with the
// same command line (os.Args) and the worker environment.
func startChild(cfg *config, k int, roomIDs []string, tokenFile string, stderr io.Writer) (*child, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe, os.Args[1:]...)
	cmd.Env = append(os.Environ(),
		envWorker+"="+strconv.Itoa(k)+"/"+strconv.Itoa(cfg.Procs),
		envRoom+"="+strings.Join(roomIDs, ","),
		envRunID+"="+cfg.RunID,
		envTokens+"="+tokenFile,
	)
	cmd.Stderr = stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	c := &child{cmd: cmd, stdin: stdin, done: make(chan event, 1), gone: make(chan struct{})}
	go func() {
		defer close(c.gone)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 64<<20)
		for sc.Scan() {
			var e event
			if json.Unmarshal(sc.Bytes(), &e) != nil {
				continue
			}
			switch e.Ev {
			case "progress":
				if e.P != nil {
					c.mu.Lock()
					c.last = *e.P
					c.mu.Unlock()
				}
			case "done":
				c.done <- e
			}
		}
	}()
	return c, nil
}

func (c *child) call(ctx context.Context, line, step string) (event, error) {
	if _, err := io.WriteString(c.stdin, line+"\n"); err != nil {
		return event{}, fmt.Errorf("worker %d: %w", c.cmd.Process.Pid, err)
	}
	select {
	case e := <-c.done:
		if e.Step != step {
			return e, fmt.Errorf("worker %d: answered %q to %q", c.cmd.Process.Pid, e.Step, step)
		}
		if e.Err != "" {
			return e, fmt.Errorf("worker %d: %s", c.cmd.Process.Pid, e.Err)
		}
		return e, nil
	case <-c.gone:
		return event{}, fmt.Errorf("worker %d exited", c.cmd.Process.Pid)
	case <-ctx.Done():
		return event{}, ctx.Err()
	}
}

func (c *child) setup(ctx context.Context) error {
	_, err := c.call(ctx, "setup", "setup")
	return err
}

func (c *child) connect(ctx context.Context) error {
	_, err := c.call(ctx, "connect", "connect")
	return err
}

func (c *child) run(ctx context.Context, t0 time.Time) error {
	_, err := c.call(ctx, "run "+strconv.FormatInt(t0.UnixNano(), 10), "run")
	return err
}

func (c *child) drain(ctx context.Context) (result, error) {
	e, err := c.call(ctx, "drain", "drain")
	if err != nil {
		return result{}, err
	}
	if e.Result == nil {
		return result{}, errors.New("worker sent no result")
	}
	return *e.Result, nil
}

func (c *child) snapshot() progress {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.last
}

func (c *child) pid() int { return c.cmd.Process.Pid }

// stop closes the worker's stdin, which ends it, and waits a few seconds
// before killing it.
func (c *child) stop() {
	c.stopOnce.Do(func() {
		c.stdin.Close()
		select {
		case <-c.gone:
		case <-time.After(10 * time.Second):
			c.cmd.Process.Kill()
			<-c.gone
		}
		c.cmd.Wait() // after the last read of stdout, as exec requires
	})
}
