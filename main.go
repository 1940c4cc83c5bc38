// Command minichat is a self-hosted, real-time team chat in one binary.
//
//	minichat [serve] [flags]        serve the chat (the default)
//	minichat user add NAME [--admin] [--password P]
//	minichat user passwd NAME [--password P]
//	minichat user list
//	minichat bench [flags]          drive a running server over the protocol
//	minichat healthcheck [--addr A] [--tls-cert F]
//	                                exit 0 when the server answers /healthz
//	minichat version
//
// Every flag has an environment twin: --data-dir is MINICHAT_DATA_DIR.
package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/rs/zerolog"

	"minichat/server"
	"minichat/server/auth"
	"minichat/server/bench"
	"minichat/server/protocol"
	"minichat/server/store"
)

// version is set at build time with -ldflags "-X main.version=v1.2.3".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "minichat:", err)
		os.Exit(1)
	}
}

// run is the whole program, testable: it returns when the command is done
// or, for serve, when ctx ends and the server has shut down.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	cmd := "serve"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		return serve(ctx, args, stderr)
	case "version":
		fmt.Fprintf(stdout, "minichat %s (protocol %d)\n", version, protocol.Version)
		return nil
	case "user":
		return userCmd(ctx, args, stdin, stdout, stderr)
	case "bench":
		return bench.Main(ctx, args, stdout, stderr)
	case "healthcheck":
		return healthcheck(ctx, args, stdout, stderr)
	case "help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		return fmt.Errorf("unknown command %q\n%s", cmd, usage)
	}
}

const usage = `usage:
  minichat [serve] [flags]           serve the chat (default); minichat serve -h lists the flags
  minichat user add NAME [--admin]   create an account (password from --password, stdin, or generated)
  minichat user passwd NAME          set a password and sign the user out everywhere
  minichat user list                 list accounts
  minichat bench [flags]             load-test a running server (minichat bench -h)
  minichat healthcheck [--addr A] [--tls-cert F]
                                     exit 0 when the server on A answers /healthz (over HTTPS with --tls-cert)
  minichat version                   print the version
`

// flags holds the serve configuration and the shared logging flags.
type flags struct {
	cfg            server.Config
	allowedOrigins string
	trustedProxies string
	logLevel       string
	logFormat      string
}

func newFlagSet(name string, stderr io.Writer) (*flag.FlagSet, *flags) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	f := &flags{}
	c := &f.cfg
	fs.StringVar(&c.Addr, "addr", ":8080", "listen address")
	fs.StringVar(&c.DataDir, "data-dir", "./data", "directory of the SQLite database and uploaded files")
	fs.StringVar(&c.Database, "database", "", "database URL (default: SQLite in the data dir)")
	fs.StringVar(&c.Registration, "registration", "open", "open, or closed (accounts only via 'minichat user add')")
	fs.StringVar(&f.allowedOrigins, "allowed-origins", "", "comma-separated origins besides the server's own that may open /ws")
	fs.DurationVar(&c.Heartbeat, "heartbeat", 25*time.Second, "app-level ping interval")
	fs.StringVar(&f.logLevel, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&f.logFormat, "log-format", "auto", "auto (console on a terminal, JSON otherwise), console or json")
	fs.StringVar(&c.TLSCert, "tls-cert", "", "TLS certificate file: serve HTTPS and WSS directly")
	fs.StringVar(&c.TLSKey, "tls-key", "", "TLS key file")
	fs.StringVar(&f.trustedProxies, "trusted-proxies", "", "comma-separated CIDRs whose X-Forwarded-For is believed")
	fs.IntVar(&c.MaxFrameBytes, "max-frame-bytes", 65536, "largest client WebSocket message")
	fs.Int64Var(&c.MaxUploadBytes, "max-upload-bytes", 25<<20, "largest uploaded file in bytes")
	fs.Float64Var(&c.Rate, "rate", 5, "messages per second per connection")
	fs.IntVar(&c.Burst, "burst", 20, "message burst per connection")
	fs.IntVar(&c.MaxConnsPerUser, "max-conns-per-user", 32, "open sockets one account may hold (-1: no cap)")
	fs.IntVar(&c.MaxConnsPerIP, "max-conns-per-ip", 512, "open sockets one client address may hold (-1: no cap)")
	fs.Float64Var(&c.LoginRate, "login-rate", 10, "sign-in and sign-up attempts per minute per client address, and failed sign-ins per account (-1: no limit)")
	fs.Float64Var(&c.APIRate, "api-rate", 5, "REST writes (sends over HTTP) per second per user (-1: no limit)")
	fs.IntVar(&c.APIBurst, "api-burst", 20, "REST write burst per user")
	fs.DurationVar(&c.SendTimeout, "send-timeout", 10*time.Second, "how long a send or other write may wait for the database before it fails")
	fs.DurationVar(&c.ReadTimeout, "read-timeout", 60*time.Second, "how long a client may take to send one HTTP request, body included")
	fs.DurationVar(&c.PresenceGrace, "presence-grace", 5*time.Second, "how long a user stays online after their last connection closes")
	fs.DurationVar(&c.ShutdownGrace, "shutdown-grace", 5*time.Second, "how long shutdown waits for sockets to close")
	fs.StringVar(&c.PprofAddr, "pprof-addr", "", "serve /debug/pprof/ on this separate address, e.g. 127.0.0.1:6060 (default off; exposes internals: keep it on loopback)")
	return fs, f
}

// parse applies MINICHAT_* environment variables, then the command line
// (which wins).
func parse(fs *flag.FlagSet, args []string) error {
	var err error
	fs.VisitAll(func(fl *flag.Flag) {
		env := "MINICHAT_" + strings.ToUpper(strings.ReplaceAll(fl.Name, "-", "_"))
		if v, ok := os.LookupEnv(env); ok && err == nil {
			if e := fs.Set(fl.Name, v); e != nil {
				err = fmt.Errorf("%s: %w", env, e)
			}
		}
	})
	if err != nil {
		return err
	}
	return fs.Parse(args)
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func newLogger(level, format string, w io.Writer) (zerolog.Logger, error) {
	lvl, err := zerolog.ParseLevel(level)
	if err != nil || level == "" {
		return zerolog.Logger{}, fmt.Errorf("log level %q: want debug, info, warn or error", level)
	}
	switch format {
	case "auto":
		if f, ok := w.(*os.File); ok {
			if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
				w = zerolog.ConsoleWriter{Out: w, TimeFormat: time.TimeOnly}
			}
		}
	case "console":
		w = zerolog.ConsoleWriter{Out: w, TimeFormat: time.TimeOnly, NoColor: true}
	case "json":
	default:
		return zerolog.Logger{}, fmt.Errorf("log format %q: want auto, console or json", format)
	}
	return zerolog.New(w).Level(lvl).With().Timestamp().Logger(), nil
}

func serve(ctx context.Context, args []string, stderr io.Writer) error {
	fs, f := newFlagSet("serve", stderr)
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	log, err := newLogger(f.logLevel, f.logFormat, stderr)
	if err != nil {
		return err
	}
	f.cfg.AllowedOrigins = splitList(f.allowedOrigins)
	f.cfg.TrustedProxies = splitList(f.trustedProxies)
	f.cfg.Version = version
	srv, err := server.New(f.cfg, log, webFS())
	if err != nil {
		return err
	}
	return srv.Run(ctx, nil)
}

func healthcheck(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("healthcheck", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", ":8080", "address the server listens on")
	tlsCert := fs.String("tls-cert", "", "the server's TLS certificate file: when set, check over HTTPS")
	if err := parse(fs, args); err != nil {
		return err
	}
	host, port, err := net.SplitHostPort(*addr)
	if err != nil {
		return fmt.Errorf("addr %q: %w", *addr, err)
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	scheme, client := "http", http.DefaultClient
	if *tlsCert != "" {
		// The check only talks to the local process, by an address the
		// certificate rarely names (127.0.0.1), so it does not verify the
		// certificate: it asks whether the server answers, not who it is.
		scheme = "https"
		client = &http.Client{Transport: &http.Transport{
			TLSClientConfig:   &tls.Config{InsecureSkipVerify: true},
			DisableKeepAlives: true,
		}}
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, scheme+"://"+net.JoinHostPort(host, port)+"/healthz", nil)
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("healthcheck: %s", resp.Status)
	}
	fmt.Fprintln(stdout, "ok")
	return nil
}

func userCmd(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New("user: want add, passwd or list")
	}
	sub, args := args[0], args[1:]
	fs, f := newFlagSet("user "+sub, stderr)
	admin := fs.Bool("admin", false, "make the new user an admin (add)")
	password := fs.String("password", "", "the password (default: first line of stdin, or generated when stdin is a terminal)")
	// Names may come before or after the flags.
	var names []string
	for len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		names, args = append(names, args[0]), args[1:]
	}
	if err := parse(fs, args); err != nil {
		return err
	}
	names = append(names, fs.Args()...)
	st, err := server.OpenStore(f.cfg, store.Options{})
	if err != nil {
		return err
	}
	defer st.Close()
	switch sub {
	case "list":
		users, err := st.Users(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tROLE\tID")
		for _, u := range users {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", u.Name, u.Role, u.ID)
		}
		return tw.Flush()
	case "add", "passwd":
		if len(names) != 1 {
			return fmt.Errorf("user %s: want exactly one NAME", sub)
		}
		name := names[0]
		if err := protocol.CheckName("username", name); err != nil {
			return err
		}
		pw, generated, err := readPassword(*password, stdin)
		if err != nil {
			return err
		}
		if err := protocol.CheckPassword(pw); err != nil {
			return err
		}
		hash, err := auth.HashPassword(pw, auth.DefaultParams)
		if err != nil {
			return err
		}
		if sub == "add" {
			u, err := st.CreateUser(ctx, store.NewUser{Name: name, PasswordHash: hash, Admin: *admin})
			if errors.Is(err, store.ErrConflict) {
				return fmt.Errorf("user add: the name %q is taken", name)
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "created %s (%s)\n", u.Name, u.Role)
		} else {
			u, _, err := st.UserByName(ctx, name)
			if errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("user passwd: no user %q", name)
			}
			if err != nil {
				return err
			}
			if err := st.SetPassword(ctx, u.ID, hash); err != nil {
				return err
			}
			ids, err := st.DeleteUserSessions(ctx, u.ID)
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "password of %s changed; %d session(s) signed out\n", u.Name, len(ids))
		}
		if generated {
			fmt.Fprintf(stdout, "password: %s\n", pw)
		}
		return nil
	default:
		return fmt.Errorf("user: unknown subcommand %q (want add, passwd or list)", sub)
	}
}

// readPassword takes the flag, else the first line of stdin, else (stdin
// being a terminal or empty) a generated password.
func readPassword(flagValue string, stdin io.Reader) (pw string, generated bool, err error) {
	if flagValue != "" {
		return flagValue, false, nil
	}
	if f, ok := stdin.(*os.File); !ok || !isTerminal(f) {
		line, err := bufio.NewReader(stdin).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return "", false, fmt.Errorf("read password: %w", err)
		}
		if line = strings.TrimRight(line, "\r\n"); line != "" {
			return line, false, nil
		}
	}
	var b [15]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", false, err
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), true, nil
}

func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
