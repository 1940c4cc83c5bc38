// Command minichat is a self-hosted, real-time team chat in one binary.
//
//	minichat [serve] [flags]        serve the chat (the default)
//	minichat user add NAME [--admin] [--password P]
//	minichat user passwd NAME [--password P]
//	minichat user disable|enable NAME
//	minichat user list
//	minichat backup FILE            copy the database consistently while it is in use
//	minichat bench [flags]          drive a running server over the protocol
//	minichat migrate --from sqlite:PATH --to postgres://…
//	                                copy a SQLite installation into an empty Postgres database
//	minichat healthcheck [--addr A] [--tls-cert F | --tls-domain D]
//	                                exit 0 when the server answers /healthz
//	minichat version
//
// Every flag has an environment twin: --data-dir is MINICHAT_DATA_DIR, and
// MINICHAT_DATA_DIR_FILE names a file holding the value (for secrets).
// Mistakes in flags or their values are reported as one line each and exit
// with status 2.
package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	iofs "io/fs"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/rs/zerolog"

	"minichat/bench"
	"minichat/server"
	"minichat/server/chat"
	"minichat/server/protocol"
	"minichat/server/store"
	"minichat/server/store/migrate"
	"minichat/server/store/sqlstore"
)

// version and commit are set at build time with
// -ldflags "-X main.version=v1.2.3 -X main.commit=0123abc"; a plain
// go build in a git checkout takes the commit from the build info.
var (
	version = "dev"
	commit  = ""
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(exitCode(err, os.Stderr))
}

// exitCode prints err as one line and returns the process's exit status:
// 0 on success (and after -h), 2 for a mistake in the command line or the
// environment, 1 for any other failure.
func exitCode(err error, stderr io.Writer) int {
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return 0
	}
	fmt.Fprintln(stderr, "minichat:", err)
	var ue *usageError
	if errors.As(err, &ue) {
		return 2
	}
	return 1
}

// usageError is a mistake in the command line or in the environment.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usageErrorf(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// buildCommit is the commit the binary was built from: the -X value, else
// the VCS revision Go recorded, else "unknown".
func buildCommit() string {
	if commit != "" {
		return commit
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		rev, dirty := "", false
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				dirty = s.Value == "true"
			}
		}
		if len(rev) > 12 {
			rev = rev[:12]
		}
		if rev != "" && dirty {
			rev += "-dirty"
		}
		if rev != "" {
			return rev
		}
	}
	return "unknown"
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
		return serve(ctx, args, stdout, stderr)
	case "version":
		fmt.Fprintf(stdout, "minichat %s (commit %s, protocol %d, %s %s/%s)\n",
			version, buildCommit(), protocol.Version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
		return nil
	case "user":
		return userCmd(ctx, args, stdin, stdout, stderr)
	case "backup":
		return backupCmd(ctx, args, stdout, stderr)
	case "bench":
		return bench.Main(ctx, args, stdout, stderr)
	case "migrate":
		return migrateCmd(ctx, args, stdout, stderr)
	case "healthcheck":
		return healthcheck(ctx, args, stdout, stderr)
	case "help":
		fs, _ := newFlagSet("serve", stderr)
		printHelp(stdout, fs)
		return nil
	default:
		return usageErrorf("unknown command %q (minichat help lists them)", cmd)
	}
}

const usage = `usage:
  minichat [serve] [flags]           serve the chat (default)
  minichat user add NAME [--admin]   create an account (password from --password, stdin, or generated)
  minichat user passwd NAME          set a password and sign the user out everywhere
  minichat user disable NAME         block sign-in and sign the user out everywhere (enable: undo)
  minichat user list                 list accounts
  minichat backup FILE               write a consistent copy of the database, also while it serves
  minichat bench [flags]             load-test a running server (minichat bench -h)
  minichat migrate --from sqlite:PATH --to postgres://…
                                     copy a single-node SQLite database into an empty Postgres database
  minichat healthcheck [--addr A] [--tls-cert F | --tls-domain D]
                                     exit 0 when the server on A answers /healthz (over HTTPS with --tls-cert or --tls-domain)
  minichat version                   print the version and commit
`

// flags holds the serve configuration and the shared logging flags.
type flags struct {
	cfg            server.Config
	allowedOrigins string
	trustedProxies string
	push           bool // --push; Config.PushOff is its negation
	pushContent    bool // --push-content; Config.PushNoContent is its negation
	logLevel       string
	logFormat      string
}

func newFlagSet(name string, stderr io.Writer) (*flag.FlagSet, *flags) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	f := &flags{}
	c, d := &f.cfg, server.DefaultConfig() // every default comes from d
	fs.StringVar(&c.Addr, "addr", d.Addr, "listen address")
	fs.StringVar(&c.DataDir, "data-dir", d.DataDir, "directory of the SQLite database and uploaded files")
	fs.StringVar(&c.Database, "database", "", "database URL (default: SQLite in the data dir)")
	fs.StringVar(&c.NATS, "nats", "", "NATS URL, e.g. nats://127.0.0.1:4222, linking several nodes that share a Postgres database (default: a single node)")
	fs.StringVar(&c.Registration, "registration", d.Registration, "who may sign up: invite (with the admin's invitation link), open (anyone) or closed (accounts only via 'minichat user add'); the first account can always be created")
	fs.StringVar(&c.PublicURL, "public-url", "", "the address users reach the server at, e.g. https://chat.example.com, for invitation links (default: taken from each request)")
	fs.StringVar(&f.allowedOrigins, "allowed-origins", "", "comma-separated origins besides the server's own that may open /ws")
	fs.DurationVar(&c.Heartbeat, "heartbeat", d.Heartbeat, "app-level ping interval")
	fs.StringVar(&f.logLevel, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&f.logFormat, "log-format", "auto", "auto (console on a terminal, JSON otherwise), console or json")
	fs.StringVar(&c.TLSCert, "tls-cert", "", "TLS certificate file: serve HTTPS and WSS directly")
	fs.StringVar(&c.TLSKey, "tls-key", "", "TLS key file")
	fs.Var(&listFlag{vals: &c.TLSDomains}, "tls-domain", "serve HTTPS for this domain with a certificate obtained and renewed automatically from the ACME CA (repeatable; in the environment comma-separated); --addr then defaults to :443")
	fs.StringVar(&c.HTTPAddr, "http-addr", d.HTTPAddr, "with --tls-domain: plain HTTP listener answering the CA's challenges and redirecting everything else to HTTPS")
	fs.StringVar(&c.ACMECA, "acme-ca", d.ACMECA, "with --tls-domain: the ACME directory URL of the certificate authority")
	fs.StringVar(&c.ACMEEmail, "acme-email", "", "with --tls-domain: contact address for the CA's account (expiry warnings)")
	fs.StringVar(&c.ACMECARoot, "acme-ca-root", "", "with --tls-domain: PEM file of root certificates to trust for the CA's own HTTPS (a private or test CA)")
	fs.StringVar(&f.trustedProxies, "trusted-proxies", "", "comma-separated CIDRs whose X-Forwarded-For is believed")
	fs.IntVar(&c.MaxFrameBytes, "max-frame-bytes", d.MaxFrameBytes, "largest client WebSocket message")
	fs.Int64Var(&c.MaxUploadBytes, "max-upload-bytes", d.MaxUploadBytes, "largest uploaded file in bytes")
	fs.Float64Var(&c.Rate, "rate", d.Rate, "messages per second per connection")
	fs.IntVar(&c.Burst, "burst", d.Burst, "message burst per connection")
	fs.IntVar(&c.MaxConnsPerUser, "max-conns-per-user", d.MaxConnsPerUser, "open sockets one account may hold (-1: no cap)")
	fs.IntVar(&c.MaxConnsPerIP, "max-conns-per-ip", d.MaxConnsPerIP, "open sockets one client address may hold (-1: no cap)")
	fs.IntVar(&c.ReplayMax, "replay-max", d.ReplayMax, "log entries a hello replays per room at most (the newest; synced names the range left out)")
	fs.Float64Var(&c.ReplayRate, "replay-rate", d.ReplayRate, "rooms per second one account may have replayed by hello, after the burst")
	fs.IntVar(&c.ReplayBurst, "replay-burst", d.ReplayBurst, "rooms one account may have replayed by hello at once")
	fs.Float64Var(&c.LoginRate, "login-rate", d.LoginRate, "sign-in and sign-up attempts per minute per client address, and failed sign-ins per account (-1: no limit)")
	fs.Float64Var(&c.APIRate, "api-rate", d.APIRate, "REST writes (sends over HTTP) per second per user (-1: no limit)")
	fs.IntVar(&c.APIBurst, "api-burst", d.APIBurst, "REST write burst per user")
	fs.DurationVar(&c.SessionIdle, "session-idle", d.SessionIdle, "a session unused this long ends (-1ns: never)")
	fs.DurationVar(&c.SessionMax, "session-max", d.SessionMax, "a session ends this long after its sign-in at the latest (-1ns: never)")
	c.UploadQuota, c.MinFreeDisk = d.UploadQuota, d.MinFreeDisk
	fs.Var(&byteSize{&c.UploadQuota}, "upload-quota", "bytes of files one account may keep, e.g. 1GiB, 500MiB (-1: no quota)")
	fs.DurationVar(&c.UploadTTL, "upload-unattached-ttl", d.UploadTTL, "uploads never attached to a message are deleted after this long")
	fs.Var(&byteSize{&c.MinFreeDisk}, "min-free-disk", "refuse uploads while the data directory's disk has less free than this, e.g. 1GiB (-1: no floor)")
	fs.Float64Var(&c.CreateRoomRate, "create-room-rate", d.CreateRoomRate, "rooms one account may create per minute (-1: no limit)")
	fs.Float64Var(&c.JoinRate, "join-rate", d.JoinRate, "rooms one account may join per minute (-1: no limit)")
	fs.Float64Var(&c.InviteRate, "invite-rate", d.InviteRate, "invitations into rooms one account may make per minute (-1: no limit)")
	fs.Float64Var(&c.DMRate, "dm-rate", d.DMRate, "direct-message conversations one account may open per minute (-1: no limit)")
	fs.Int64Var(&c.AvatarMaxBytes, "avatar-max-bytes", d.AvatarMaxBytes, "largest avatar picture one may upload, in bytes")
	fs.IntVar(&c.AvatarMaxSide, "avatar-max-side", d.AvatarMaxSide, "widest and tallest avatar picture accepted, in pixels (checked before it is decoded)")
	fs.Float64Var(&c.AvatarRate, "avatar-rate", d.AvatarRate, "avatar changes one account may make per minute (-1: no limit)")
	fs.Float64Var(&c.HookRate, "hook-rate", d.HookRate, "posts per second to one incoming webhook, after the burst (-1: no limit)")
	fs.IntVar(&c.HookBurst, "hook-burst", d.HookBurst, "posts one incoming webhook takes at once")
	fs.IntVar(&c.MaxHooks, "max-hooks", d.MaxHooks, "incoming webhooks one account may have (-1: no bound)")
	fs.BoolVar(&c.LinkPreviews, "link-previews", d.LinkPreviews, "fetch the title, description and image of the first link of new messages (through the outbound guard; false: never fetch)")
	fs.IntVar(&c.PreviewWorkers, "link-preview-workers", d.PreviewWorkers, "link previews fetched at once")
	fs.Float64Var(&c.PreviewRate, "link-preview-rate", d.PreviewRate, "links of one account previewed per minute (-1: no limit)")
	fs.DurationVar(&c.PreviewTTL, "link-preview-ttl", d.PreviewTTL, "how long a fetched preview is cached and reused")
	fs.Float64Var(&c.ProfileRate, "profile-rate", d.ProfileRate, "display name and status text changes one account may make per minute (-1: no limit)")
	fs.DurationVar(&c.SendTimeout, "send-timeout", d.SendTimeout, "how long a send or other write may wait for the database before it fails")
	fs.DurationVar(&c.SlowCommit, "slow-commit", d.SlowCommit, "p99 of store commit latency past which a warning is logged and /readyz says degraded (negative: off)")
	fs.DurationVar(&c.ReadTimeout, "read-timeout", d.ReadTimeout, "how long a client may take to send one HTTP request, body included")
	fs.DurationVar(&c.PresenceGrace, "presence-grace", d.PresenceGrace, "how long a user stays online after their last connection closes")
	fs.DurationVar(&c.PresenceWindow, "presence-window", d.PresenceWindow, "how long presence changes are gathered and then told several to a frame (negative: each at once)")
	fs.DurationVar(&c.ShutdownGrace, "shutdown-grace", d.ShutdownGrace, "how long shutdown waits for sockets to close")
	fs.BoolVar(&c.AllowPrivateTargets, "allow-private-targets", false, "let outbound requests (bot webhooks, link previews, push) reach loopback, private and link-local addresses (default: refused)")
	fs.IntVar(&c.MaxAPITokens, "max-api-tokens", d.MaxAPITokens, "API tokens one account (or bot) may hold (-1: no limit)")
	fs.IntVar(&c.MaxBots, "max-bots", d.MaxBots, "bots one admin may own (-1: no limit)")
	fs.IntVar(&c.BotDeliveries, "bot-deliveries", d.BotDeliveries, "webhook deliveries kept per bot for its owner to read")
	fs.IntVar(&c.WebhookWorkers, "webhook-workers", d.WebhookWorkers, "bot webhook deliveries made at once")
	fs.DurationVar(&c.WebhookTimeout, "webhook-timeout", d.WebhookTimeout, "how long one attempt of a bot webhook delivery may take (3 attempts, 1 s and 4 s apart)")
	fs.StringVar(&c.PprofAddr, "pprof-addr", "", "serve /debug/pprof/ on this separate address, e.g. 127.0.0.1:6060 (default off; exposes internals: keep it on loopback)")
	fs.StringVar(&c.MetricsAddr, "metrics-addr", "", "serve Prometheus /metrics on this separate address, e.g. 127.0.0.1:9090 (default off)")
	fs.StringVar(&c.MetricsToken, "metrics-token", "", "also serve /metrics on --addr to requests bearing this token (default off; use MINICHAT_METRICS_TOKEN_FILE)")
	fs.BoolVar(&f.push, "push", !d.PushOff, "send Web Push notifications to the devices of users who are not connected (false: off, nothing leaves the server)")
	fs.BoolVar(&f.pushContent, "push-content", !d.PushNoContent, "put the sender and an excerpt (at most 100 characters) in pushes; false: they say only \"New message\"")
	fs.StringVar(&c.PushContact, "push-contact", "", "VAPID contact push services may use to reach the operator, a mailto: or https: URL (default: --public-url)")
	fs.DurationVar(&c.PushTTL, "push-ttl", d.PushTTL, "how long push services keep a push for a device that is offline")
	fs.IntVar(&c.MaxPushSubscriptions, "max-push-subscriptions", d.MaxPushSubscriptions, "devices of one account that may receive pushes (-1: no cap)")
	return fs, f
}

// byteSize is a flag of a number of bytes, written as an integer with an
// optional unit: 1GiB, 500MiB, 64KiB, 2GB, 1048576. -1 means "no limit".
type byteSize struct{ p *int64 }

var sizeUnits = []struct {
	suffix string
	n      int64
}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12}, {"B", 1}}

func (b *byteSize) String() string {
	if b == nil || b.p == nil {
		return "0"
	}
	v := *b.p
	for _, u := range sizeUnits[:4] {
		if v >= u.n && v%u.n == 0 && (v/u.n < 1024 || u.suffix == "TiB") {
			return strconv.FormatInt(v/u.n, 10) + u.suffix
		}
	}
	return strconv.FormatInt(v, 10)
}

func (b *byteSize) Set(s string) error {
	t := strings.TrimSpace(s)
	mult := int64(1)
	for _, u := range sizeUnits {
		if num, ok := strings.CutSuffix(t, u.suffix); ok {
			t, mult = strings.TrimSpace(num), u.n
			break
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || (n < 0 && !(n == -1 && mult == 1)) || (mult > 1 && n > (1<<62)/mult) {
		return fmt.Errorf("invalid size %q (want bytes such as 1GiB, 500MiB or 1048576; -1: none)", s)
	}
	*b.p = n * mult
	return nil
}

// listFlag is a repeatable flag of strings; one value may list several,
// separated by commas. The command line replaces what the environment set.
type listFlag struct {
	vals    *[]string
	replace bool // the values came from the environment
}

func (l *listFlag) String() string {
	if l == nil || l.vals == nil {
		return ""
	}
	return strings.Join(*l.vals, ",")
}

func (l *listFlag) Set(s string) error {
	if l.replace {
		*l.vals, l.replace = nil, false
	}
	*l.vals = append(*l.vals, splitList(s)...)
	return nil
}

// envName is the environment twin of a flag: --data-dir → MINICHAT_DATA_DIR.
func envName(flagName string) string {
	return "MINICHAT_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// checkedValue wraps a flag's Value to turn a refused value into one clear
// line naming where it came from ("--heartbeat: invalid duration "abc"",
// or the environment variable), and to remember where each value came from
// for the checks after parsing.
type checkedValue struct {
	flag.Value
	name   string
	from   *string           // where values come from now: "" for the command line, else an env var
	origin map[string]string // flag name → where its value came from
	err    *error            // the first refused value
}

func (v *checkedValue) Set(s string) error {
	if err := v.Value.Set(s); err != nil {
		where := "--" + v.name
		if *v.from != "" {
			where = *v.from
		}
		what := "invalid value"
		if g, ok := v.Value.(flag.Getter); ok {
			switch g.Get().(type) {
			case time.Duration:
				what = "invalid duration"
			case int, int64, uint, uint64:
				what = "invalid integer"
			case float64:
				what = "invalid number"
			case bool:
				what = "invalid boolean (want true or false)"
			}
		}
		if *v.err == nil {
			*v.err = usageErrorf("%s: %s %q", where, what, s)
		}
		return *v.err
	}
	v.origin[v.name] = *v.from
	return nil
}

// IsBoolFlag keeps "--admin" (no value) working for wrapped bool flags.
func (v *checkedValue) IsBoolFlag() bool {
	b, ok := v.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

// parsed is where each flag's value came from, for error messages.
type parsed struct {
	origin map[string]string // flag name → env var; absent or "" for the command line or the default
}

// where names the source of a flag's value: "--name" or the env var.
func (p parsed) where(name string) string {
	if env := p.origin[name]; env != "" {
		return env
	}
	return "--" + name
}

// parse applies the environment (MINICHAT_<FLAG>, or MINICHAT_<FLAG>_FILE
// naming a file that holds the value), then the command line, which wins.
// Mistakes are usage errors of one line; -h and --help return
// flag.ErrHelp after printing the help to stdout.
func parse(fs *flag.FlagSet, args []string, stdout io.Writer) (parsed, error) {
	p := parsed{origin: map[string]string{}}
	var from string
	var firstErr error
	fs.SetOutput(io.Discard) // errors are returned, help is printed below
	fs.Usage = func() {}
	fs.VisitAll(func(fl *flag.Flag) {
		fl.Value = &checkedValue{Value: fl.Value, name: fl.Name, from: &from, origin: p.origin, err: &firstErr}
	})
	var err error
	fs.VisitAll(func(fl *flag.Flag) {
		if err != nil {
			return
		}
		env := envName(fl.Name)
		v, direct := os.LookupEnv(env)
		file, fromFile := os.LookupEnv(env + "_FILE")
		switch {
		case direct && fromFile:
			err = usageErrorf("%s and %s_FILE are both set; use one", env, env)
			return
		case fromFile:
			b, rerr := os.ReadFile(file)
			if rerr != nil {
				err = usageErrorf("%s_FILE: %v", env, rerr)
				return
			}
			// A file written by an editor or echo ends with a newline that
			// is not part of the secret.
			v, env = strings.TrimRight(string(b), "\r\n"), env+"_FILE"
		case !direct:
			return
		}
		from = env
		err = fs.Set(fl.Name, v)
	})
	if err != nil {
		return p, err
	}
	fs.VisitAll(func(fl *flag.Flag) {
		if l, ok := fl.Value.(*checkedValue).Value.(*listFlag); ok && p.origin[fl.Name] != "" {
			l.replace = true
		}
	})
	from = ""
	if err := fs.Parse(args); err != nil {
		switch {
		case errors.Is(err, flag.ErrHelp):
			printHelp(stdout, fs)
			return p, flag.ErrHelp
		case firstErr != nil:
			return p, firstErr
		}
		msg := err.Error()
		if name, ok := strings.CutPrefix(msg, "flag provided but not defined: -"); ok {
			return p, usageErrorf("unknown flag --%s (minichat %s -h lists the flags)", name, fs.Name())
		}
		if name, ok := strings.CutPrefix(msg, "flag needs an argument: -"); ok {
			return p, usageErrorf("--%s needs a value", name)
		}
		return p, usageErrorf("%s", msg)
	}
	return p, nil
}

// valueType names the kind of value a flag takes ("" for a switch).
func valueType(fl *flag.Flag) string {
	if b, ok := fl.Value.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() {
		return ""
	}
	v := fl.Value
	if c, ok := v.(*checkedValue); ok {
		v = c.Value
	}
	if _, ok := v.(*byteSize); ok {
		return "size"
	}
	if g, ok := v.(flag.Getter); ok {
		switch g.Get().(type) {
		case time.Duration:
			return "duration"
		case int, int64, uint, uint64:
			return "int"
		case float64:
			return "number"
		}
	}
	return "string"
}

// printHelp lists the commands and every flag of fs with its environment
// variable and default.
func printHelp(w io.Writer, fs *flag.FlagSet) {
	if fs.Name() == "serve" {
		fmt.Fprint(w, usage)
		fmt.Fprintln(w, "\nflags of serve (and of user and backup, which need the data location):")
	} else {
		fmt.Fprintf(w, "usage: minichat %s [flags]\n\nflags:\n", fs.Name())
	}
	fs.VisitAll(func(fl *flag.Flag) {
		typ, help := valueType(fl), fl.Usage
		name := "--" + fl.Name
		if typ != "" {
			name += " " + typ
		}
		def := fl.DefValue
		if def == "" {
			def = "none"
		} else if typ == "string" {
			def = strconv.Quote(def)
		}
		fmt.Fprintf(w, "  %-28s %s\n  %-28s $%s, default %s\n", name, help, "", envName(fl.Name), def)
	})
	fmt.Fprint(w, `
Each flag can also be set by the environment variable shown, or by the same
name with _FILE appended, naming a file that holds the value (for secrets:
MINICHAT_METRICS_TOKEN_FILE=/run/secrets/token). The command line wins over
the environment. Durations take Go syntax: 500ms, 25s, 2m.
`)
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

func serve(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return serveClient(ctx, args, webFS(), stdout, stderr)
}

// serveClient is serve with the web client web (the embedded one, or a
// test's).
func serveClient(ctx context.Context, args []string, web iofs.FS, stdout, stderr io.Writer) error {
	fs, f := newFlagSet("serve", stderr)
	p, err := parse(fs, args, stdout)
	if err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageErrorf("unexpected arguments: %v", fs.Args())
	}
	if len(f.cfg.TLSDomains) > 0 {
		set := false
		fs.Visit(func(fl *flag.Flag) { set = set || fl.Name == "addr" })
		if !set {
			f.cfg.Addr = ":443"
		}
	}
	if err := f.check(p); err != nil {
		return err
	}
	log, err := newLogger(f.logLevel, f.logFormat, stderr)
	if err != nil {
		return err
	}
	if !clientBuilt(web) {
		log.Warn().Msg(clientNotBuilt)
	}
	f.cfg.AllowedOrigins = splitList(f.allowedOrigins)
	f.cfg.TrustedProxies = splitList(f.trustedProxies)
	f.cfg.PushOff, f.cfg.PushNoContent = !f.push, !f.pushContent
	f.cfg.Version = version
	srv, err := server.New(f.cfg, log, web)
	if err != nil {
		return err
	}
	return srv.Run(ctx, nil)
}

// check refuses values that parse but cannot work, one line each, naming
// the flag or environment variable they came from.
func (f *flags) check(p parsed) error {
	c := &f.cfg
	bad := func(name, format string, args ...any) error {
		return usageErrorf("%s: %s", p.where(name), fmt.Sprintf(format, args...))
	}
	for _, a := range []struct{ name, addr string }{{"addr", c.Addr}, {"http-addr", c.HTTPAddr}, {"pprof-addr", c.PprofAddr}, {"metrics-addr", c.MetricsAddr}} {
		if a.addr == "" && a.name != "addr" {
			continue
		}
		if _, port, err := net.SplitHostPort(a.addr); err != nil || port == "" {
			return bad(a.name, "invalid address %q (want host:port or :port)", a.addr)
		}
	}
	switch c.Registration {
	case "open", "invite", "closed":
	default:
		return bad("registration", "invalid value %q (want invite, open or closed)", c.Registration)
	}
	if c.PublicURL != "" {
		if u, err := url.Parse(c.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return bad("public-url", "invalid URL %q (want http:// or https:// and a host)", c.PublicURL)
		}
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"session-idle", c.SessionIdle}, {"session-max", c.SessionMax}} {
		if d.v == 0 {
			return bad(d.name, "must not be zero (a negative value: never)")
		}
	}
	if c.UploadTTL <= 0 {
		return bad("upload-unattached-ttl", "must be positive, not %v", c.UploadTTL)
	}
	if _, err := zerolog.ParseLevel(f.logLevel); err != nil || f.logLevel == "" {
		return bad("log-level", "invalid level %q (want debug, info, warn or error)", f.logLevel)
	}
	switch f.logFormat {
	case "auto", "console", "json":
	default:
		return bad("log-format", "invalid format %q (want auto, console or json)", f.logFormat)
	}
	for _, d := range []struct {
		name string
		v    time.Duration
		zero bool // zero allowed
	}{{"heartbeat", c.Heartbeat, false}, {"presence-grace", c.PresenceGrace, true}, {"shutdown-grace", c.ShutdownGrace, false}} {
		if d.v < 0 || (d.v == 0 && !d.zero) {
			return bad(d.name, "must be positive, not %v", d.v)
		}
	}
	if c.Rate <= 0 {
		return bad("rate", "must be positive, not %v", c.Rate)
	}
	if c.Burst < 1 {
		return bad("burst", "must be at least 1, not %d", c.Burst)
	}
	if c.MaxFrameBytes < 1024 {
		return bad("max-frame-bytes", "must be at least 1024, not %d", c.MaxFrameBytes)
	}
	if c.ReplayMax < 1 {
		return bad("replay-max", "must be at least 1, not %d", c.ReplayMax)
	}
	if c.ReplayRate <= 0 {
		return bad("replay-rate", "must be positive, not %v", c.ReplayRate)
	}
	if c.ReplayBurst < 1 {
		return bad("replay-burst", "must be at least 1, not %d", c.ReplayBurst)
	}
	if c.MaxUploadBytes < 1 {
		return bad("max-upload-bytes", "must be positive, not %d", c.MaxUploadBytes)
	}
	if c.AvatarMaxBytes < 1 {
		return bad("avatar-max-bytes", "must be positive, not %d", c.AvatarMaxBytes)
	}
	if c.AvatarMaxSide < 1 {
		return bad("avatar-max-side", "must be positive, not %d", c.AvatarMaxSide)
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		if c.TLSCert == "" {
			return bad("tls-key", "set --tls-cert too")
		}
		return bad("tls-cert", "set --tls-key too")
	}
	if c.TLSCert != "" {
		if _, err := tls.LoadX509KeyPair(c.TLSCert, c.TLSKey); err != nil {
			return bad("tls-cert", "%v", err)
		}
	}
	if len(c.TLSDomains) > 0 {
		if c.TLSCert != "" {
			return bad("tls-domain", "--tls-cert is set too: use one (a certificate of your own, or one obtained automatically)")
		}
		for _, d := range c.TLSDomains {
			if !validDomain(d) {
				return bad("tls-domain", "%q is not a domain name (want e.g. chat.example.com: no scheme, port, path or wildcard)", d)
			}
		}
		if u, err := url.Parse(c.ACMECA); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return bad("acme-ca", "%q is not an ACME directory URL (want https://…/directory)", c.ACMECA)
		}
		if c.ACMECARoot != "" {
			pem, err := os.ReadFile(c.ACMECARoot)
			if err != nil {
				return bad("acme-ca-root", "%v", err)
			}
			if !x509.NewCertPool().AppendCertsFromPEM(pem) {
				return bad("acme-ca-root", "%s holds no PEM certificate", c.ACMECARoot)
			}
		}
		if c.ACMEEmail != "" && !strings.Contains(c.ACMEEmail, "@") {
			return bad("acme-email", "%q is not an email address", c.ACMEEmail)
		}
	}
	for _, orig := range splitList(c.NATS) {
		u := orig
		if scheme, rest, ok := strings.Cut(u, "://"); ok {
			switch scheme {
			case "nats", "tls", "ws", "wss":
			default:
				return bad("nats", "%q: want nats://host:port (or tls://, ws://, wss://)", orig)
			}
			u = rest
		}
		if i := strings.LastIndex(u, "@"); i >= 0 {
			u = u[i+1:] // credentials
		}
		if _, port, err := net.SplitHostPort(u); err != nil || port == "" {
			return bad("nats", "%q: want nats://host:port", orig)
		}
	}
	for _, cidr := range splitList(f.trustedProxies) {
		if _, err := netip.ParsePrefix(cidr); err != nil {
			if _, err := netip.ParseAddr(cidr); err != nil {
				return bad("trusted-proxies", "%q is neither an IP address nor a CIDR", cidr)
			}
		}
	}
	return nil
}

func healthcheck(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("healthcheck", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", server.DefaultConfig().Addr, "address the server listens on")
	tlsCert := fs.String("tls-cert", "", "the server's TLS certificate file: when set, check over HTTPS")
	var domains []string
	fs.Var(&listFlag{vals: &domains}, "tls-domain", "the server's automatic-HTTPS domain: when set, check over HTTPS (on :443 unless --addr says otherwise)")
	if _, err := parse(fs, args, stdout); err != nil {
		return err
	}
	serverName := ""
	if len(domains) > 0 {
		serverName = domains[0]
		set := false
		fs.Visit(func(fl *flag.Flag) { set = set || fl.Name == "addr" })
		if !set {
			*addr = ":443"
		}
	}
	host, port, err := net.SplitHostPort(*addr)
	if err != nil {
		return fmt.Errorf("addr %q: %w", *addr, err)
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	scheme, client := "http", http.DefaultClient
	if *tlsCert != "" || serverName != "" {
		// The check only talks to the local process, by an address the
		// certificate rarely names (127.0.0.1), so it does not verify the
		// certificate: it asks whether the server answers, not who it is.
		// With a domain it names it (SNI), which picks the certificate.
		scheme = "https"
		client = &http.Client{Transport: &http.Transport{
			TLSClientConfig:   &tls.Config{InsecureSkipVerify: true, ServerName: serverName},
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
	const subs = "add, passwd, disable, enable or list"
	if len(args) == 0 {
		return usageErrorf("user: want %s", subs)
	}
	sub, args := args[0], args[1:]
	switch sub {
	case "add", "passwd", "disable", "enable", "list":
	default:
		return usageErrorf("user: unknown subcommand %q (want %s)", sub, subs)
	}
	fs, f := newFlagSet("user "+sub, stderr)
	admin := fs.Bool("admin", false, "make the new user an admin (add)")
	password := fs.String("password", "", "the password (default: first line of stdin, or generated when stdin is a terminal)")
	create := fs.Bool("create", false, "create the database when it does not exist yet (otherwise a mistyped --data-dir is refused)")
	// Names may come before or after the flags.
	var names []string
	for len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		names, args = append(names, args[0]), args[1:]
	}
	if _, err := parse(fs, args, stdout); err != nil {
		return err
	}
	names = append(names, fs.Args()...)
	switch {
	case sub == "list" && len(names) > 0:
		return usageErrorf("user list: unexpected arguments %v", names)
	case sub != "list" && len(names) != 1:
		return usageErrorf("user %s: want exactly one NAME", sub)
	}
	if !*create {
		if err := requireDatabase("user "+sub, f.cfg); err != nil {
			return err
		}
	}
	st, err := server.OpenStore(f.cfg, store.Options{})
	if err != nil {
		return err
	}
	defer st.Close()
	svc := &chat.Service{Store: st}
	switch sub {
	case "list":
		users, err := st.Users(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tROLE\tSTATUS\tID")
		for _, u := range users {
			status := "active"
			if u.Disabled {
				status = "disabled"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", u.Name, u.Role, status, u.ID)
		}
		return tw.Flush()
	case "disable", "enable":
		u, ids, err := svc.SetDisabled(ctx, names[0], sub == "disable")
		if err != nil {
			return userErr(sub, err)
		}
		if sub == "disable" {
			fmt.Fprintf(stdout, "disabled %s; %d session(s) signed out\n", u.Name, len(ids))
		} else {
			fmt.Fprintf(stdout, "enabled %s\n", u.Name)
		}
		return nil
	}
	// add or passwd
	name := names[0]
	pw, generated, err := readPassword(*password, stdin)
	if err != nil {
		return err
	}
	if sub == "add" {
		u, err := svc.CreateAccount(ctx, name, pw, *admin)
		if err != nil {
			return userErr(sub, err)
		}
		fmt.Fprintf(stdout, "created %s (%s)\n", u.Name, u.Role)
	} else {
		u, ids, err := svc.SetPassword(ctx, name, pw)
		if err != nil {
			return userErr(sub, err)
		}
		fmt.Fprintf(stdout, "password of %s changed; %d session(s) signed out\n", u.Name, len(ids))
	}
	if generated {
		fmt.Fprintf(stdout, "password: %s\n", pw)
	}
	return nil
}

// userErr is the error of a user subcommand: a refusal by its message
// (the name is taken, no such user, ...), anything else as it is.
func userErr(sub string, err error) error {
	var ce *protocol.CodeError
	if errors.As(err, &ce) {
		return fmt.Errorf("user %s: %s", sub, ce.Msg)
	}
	return fmt.Errorf("user %s: %w", sub, err)
}

// backupCmd writes a consistent copy of the SQLite database to FILE; it may
// run while the server runs.
func backupCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, f := newFlagSet("backup", stderr)
	var files []string
	for len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		files, args = append(files, args[0]), args[1:]
	}
	if _, err := parse(fs, args, stdout); err != nil {
		return err
	}
	files = append(files, fs.Args()...)
	if len(files) != 1 {
		return usageErrorf("backup: want exactly one FILE to write")
	}
	if d := f.cfg.Database; d != "" && !strings.HasPrefix(d, "sqlite:") {
		return errors.New("backup: copies the SQLite database only; back up a Postgres database with its own tools (pg_dump)")
	}
	if err := requireDatabase("backup", f.cfg); err != nil {
		return err
	}
	path, err := server.SQLitePath(f.cfg)
	if err != nil {
		return err
	}
	if err := sqlstore.Backup(ctx, path, files[0]); err != nil {
		return err
	}
	st, err := os.Stat(files[0])
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "backed up %s to %s (%d bytes)\n", path, files[0], st.Size())
	return nil
}

// requireDatabase refuses a SQLite database that does not exist: a
// mistyped --data-dir would otherwise create a new, empty one and act on it
// (a Postgres database that does not exist fails to connect by itself).
func requireDatabase(cmd string, cfg server.Config) error {
	if server.IsPostgres(cfg.Database) {
		return nil
	}
	path, err := server.SQLitePath(cfg)
	if err != nil {
		return err
	}
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		hint := "check --data-dir"
		if strings.HasPrefix(cmd, "user") {
			hint += ", or pass --create to start a new database"
		}
		return fmt.Errorf("%s: no database at %s (%s)", cmd, path, hint)
	} else if err != nil {
		return err
	}
	return nil
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

// migrateCmd copies a SQLite database into an empty Postgres database.
func migrateCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	from := fs.String("from", "", "the SQLite database: sqlite:PATH (e.g. sqlite:./data/minichat.db) or PATH")
	to := fs.String("to", "", "the empty Postgres database: postgres://USER@HOST:PORT/DB")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("migrate: unexpected argument %q", fs.Arg(0))
	}
	path := strings.TrimPrefix(*from, "sqlite:")
	if path == "" || server.IsPostgres(*from) {
		return errors.New("migrate: --from must name the SQLite database (sqlite:PATH)")
	}
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("migrate: --from: %w", err)
	}
	if !server.IsPostgres(*to) {
		return errors.New("migrate: --to must be a postgres:// URL")
	}
	rep, err := migrate.SQLiteToPostgres(ctx, path, *to, stdout)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TABLE\tROWS (copied and verified)")
	for _, tc := range rep.Tables {
		fmt.Fprintf(tw, "%s\t%d\n", tc.Table, tc.Rows)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "migrated %s into Postgres in %s; start the servers with --database and the same --data-dir contents for uploaded files\n",
		path, rep.Took.Round(time.Millisecond))
	return nil
}

// validDomain reports whether d is a DNS name a certificate can be ordered
// for over HTTP-01 or TLS-ALPN-01: letters, digits, hyphens and dots, at
// least two labels, none empty.
func validDomain(d string) bool {
	if len(d) > 253 || !strings.Contains(d, ".") || net.ParseIP(d) != nil {
		return false
	}
	for _, label := range strings.Split(d, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
				return false
			}
		}
	}
	return true
}
