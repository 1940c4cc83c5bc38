// Package server wires minichat together: the store, the hub, the chat
// rules, the /ws endpoint and the HTTP API. New builds a Server from a
// Config; Run serves until its context ends and then shuts down in order —
// stop accepting, close every socket with 1001, drain the store's writer —
// so nothing acknowledged is lost.
package server

import (
	"context"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log"
	"net"
	"net/http"
	"net/http/pprof"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/caddyserver/certmagic"
	"github.com/rs/zerolog"

	"minichat/server/api"
	"minichat/server/auth"
	"minichat/server/autotls"
	"minichat/server/broker"
	"minichat/server/chat"
	"minichat/server/files"
	"minichat/server/hub"
	"minichat/server/metrics"
	"minichat/server/netguard"
	"minichat/server/protocol"
	"minichat/server/push"
	"minichat/server/store"
	"minichat/server/store/sqlstore"
	"minichat/server/ws"
)

// Config is the server's configuration. A zero field takes its value in
// DefaultConfig (New fills it in), so a Config literal names only what it
// changes.
type Config struct {
	Addr     string // listen address
	DataDir  string // SQLite database and uploaded files
	Database string // "" (SQLite in DataDir), "sqlite:PATH" or a postgres:// URL
	// NATS, when set (nats://host:port), links this node to the others of a
	// cluster that share one Postgres database; "" is a single node.
	NATS string
	// Registration is who may sign up over HTTP: "invite" (the default:
	// those with the invitation link), "open" or "closed". The first
	// account of an empty instance can always be created.
	Registration string
	// PublicURL is the address users reach the server at (such as
	// https://chat.example.com), for the invitation link; "" takes it
	// from each request.
	PublicURL      string
	AllowedOrigins []string      // extra origins allowed to open /ws
	Heartbeat      time.Duration // ping interval; also the account watch's
	MaxFrameBytes  int           // largest client WebSocket message
	Rate           float64       // writing frames per second per connection
	Burst          int
	TLSCert        string
	TLSKey         string
	TrustedProxies []string
	PresenceGrace  time.Duration
	// PresenceWindow is how long presence changes are gathered before they
	// are told, several to a frame (negative: each at once).
	PresenceWindow time.Duration
	TypingTimeout  time.Duration
	ShutdownGrace  time.Duration // how long Run waits for sockets to close
	Version        string
	// MaxConnsPerUser and MaxConnsPerIP cap the open sockets of one account
	// and of one client address (through TrustedProxies); an upgrade beyond
	// either is answered 429. Negative: no cap.
	MaxConnsPerUser int
	MaxConnsPerIP   int
	// ReplayMax is how many log entries a hello replays per room at most:
	// when more follow the client's seq, the newest ReplayMax and a synced
	// naming the range left out (welcome.limits.replay_max). Default 500.
	ReplayMax int
	// ReplayRate and ReplayBurst bound the rooms one account may have
	// replayed by hello: ReplayBurst at once, then ReplayRate a second
	// (rate_limited beyond). Defaults 200/s and 2000.
	ReplayRate  float64
	ReplayBurst int
	// LoginRate limits sign-in and sign-up attempts per client address, and
	// failed sign-ins per account name, per minute (429 beyond); negative:
	// no limit.
	LoginRate float64
	// APIRate and APIBurst limit each user's REST writes (POST
	// /api/rooms/{id}/messages); a negative APIRate: no limit.
	APIRate  float64
	APIBurst int
	// SendTimeout bounds how long a send or other write waits for the
	// store before it fails with internal.
	SendTimeout time.Duration
	// SlowCommit is the p99 of store commit latency (over 10 s) past which
	// the server logs a warning and /readyz reports "degraded"; default
	// 250 ms; negative: not watched.
	SlowCommit time.Duration
	// ReadTimeout bounds reading one HTTP request, headers and body
	// (WebSockets are exempt once upgraded).
	ReadTimeout time.Duration
	// MaxUploadBytes is the largest file POST /api/uploads accepts.
	// Uploaded files live in DataDir/files.
	MaxUploadBytes int64
	// SessionIdle ends a session unused for that long, SessionMax one that
	// long after its sign-in; negative: never.
	SessionIdle time.Duration
	SessionMax  time.Duration
	// UploadQuota is the most bytes of files one account keeps (negative:
	// no quota); UploadTTL is how long an upload no message carries is
	// kept; MinFreeDisk refuses uploads while the data directory's disk
	// has less free (negative: no floor).
	UploadQuota int64
	UploadTTL   time.Duration
	MinFreeDisk int64
	// CreateRoomRate, JoinRate, InviteRate and DMRate limit each account's
	// room operations per minute (negative: no limit).
	CreateRoomRate, JoinRate, InviteRate, DMRate float64
	// PprofAddr, when set, serves net/http/pprof on a listener of its own
	// (never on the public handler); default "" (off). The profiles expose
	// the program's internals, so it must name a host — ":6060" would listen
	// on every interface and is refused — and should stay on 127.0.0.1.
	PprofAddr string
	// MetricsAddr, when set, serves the Prometheus metrics at /metrics on a
	// listener of its own, without authentication; default "" (none).
	MetricsAddr string
	// MetricsToken, when set, also serves /metrics on the main address to
	// requests that carry "Authorization: Bearer <MetricsToken>". Without
	// it the main address answers /metrics with 404, so that counters of
	// the server's activity are not public by default.
	MetricsToken string
	// TLSDomains, when set, turns on automatic HTTPS (server/autotls):
	// certificates for these names from the ACME CA at ACMECA (default
	// Let's Encrypt), kept in DataDir/certificates, or in the database when
	// it is Postgres so that every node shares them. HTTPAddr (default
	// ":80") answers the CA's HTTP-01 challenges and redirects everything
	// else to HTTPS on Addr. Not with TLSCert.
	TLSDomains []string
	HTTPAddr   string
	ACMECA     string
	ACMEEmail  string
	// ACMECARoot is a PEM file of roots to trust for the CA's own HTTPS
	// (a private or test CA); default the system's.
	ACMECARoot string
	// ACMERenewCheck (default 10 minutes) and ACMERenewWindow (default
	// 1/3 of a certificate's lifetime) tune renewal; tests shorten them.
	ACMERenewCheck  time.Duration
	ACMERenewWindow float64
	// PushOff turns Web Push off (--push=false): no VAPID key is made, GET
	// /api/push/key answers 404 and nothing is pushed. Default on.
	PushOff bool
	// PushNoContent (--push-content=false) makes every push say only "New
	// message" under the instance's name: no sender, no excerpt. Default:
	// sender and an excerpt of at most 100 characters.
	PushNoContent bool
	// PushContact is the VAPID contact (a mailto: or https: URL) push
	// services may use to reach the operator; default PublicURL, else
	// "mailto:postmaster@localhost".
	PushContact string
	// PushTTL is how long push services keep a push for an offline device;
	// default 24h.
	PushTTL time.Duration
	// MaxPushSubscriptions bounds the devices of one account that receive
	// pushes; default 20, negative: no bound.
	MaxPushSubscriptions int
	// PushPoll is how often each node looks for due pushes (retries, and
	// those of a node that died); default 2 s. Tests shorten it.
	PushPoll time.Duration
	// AllowPrivateTargets lets the server's outbound requests (bot
	// webhooks, link previews, push services) reach loopback, private and
	// link-local addresses; off, server/netguard refuses them, also after
	// DNS resolution and across redirects. It also lets push
	// subscriptions name http:// endpoints (a loopback push service).
	AllowPrivateTargets bool
}

// DefaultConfig is the configuration of a server given no settings: the
// one place where the defaults are written down. main.go's flags take
// their defaults from it and New fills a Config's zero fields from it; a
// default that a package owns is named here by its constant.
func DefaultConfig() Config {
	return Config{
		Addr:            ":8080",
		DataDir:         "./data",
		Registration:    chat.RegistrationInvite,
		Heartbeat:       ws.DefaultHeartbeat,
		MaxFrameBytes:   ws.DefaultMaxFrameBytes,
		Rate:            ws.DefaultRate,
		Burst:           ws.DefaultBurst,
		PresenceGrace:   hub.DefaultPresenceGrace,
		PresenceWindow:  hub.DefaultPresenceWindow,
		TypingTimeout:   hub.DefaultTypingTimeout,
		ShutdownGrace:   5 * time.Second,
		MaxConnsPerUser: ws.DefaultMaxConnsPerUser,
		MaxConnsPerIP:   ws.DefaultMaxConnsPerIP,
		ReplayMax:       protocol.MaxReplay,
		ReplayRate:      ws.DefaultReplayRate,
		ReplayBurst:     ws.DefaultReplayBurst,
		LoginRate:       api.DefaultLoginPerMinute,
		APIRate:         api.DefaultWriteRate,
		APIBurst:        api.DefaultWriteBurst,
		SendTimeout:     chat.DefaultTimeout,
		SlowCommit:      metrics.DefaultSlowCommit,
		ReadTimeout:     60 * time.Second,
		MaxUploadBytes:  api.DefaultMaxUploadBytes,
		SessionIdle:     api.DefaultSessionIdle,
		SessionMax:      api.DefaultSessionMax,
		UploadQuota:     api.DefaultUploadQuota,
		UploadTTL:       api.DefaultUploadTTL,
		MinFreeDisk:     api.DefaultMinFreeDisk,
		CreateRoomRate:  api.DefaultRoomRates.Create,
		JoinRate:        api.DefaultRoomRates.Join,
		InviteRate:      api.DefaultRoomRates.Invite,
		DMRate:          api.DefaultRoomRates.DM,
		HTTPAddr:        ":80",
		ACMECA:          autotls.LetsEncrypt,

		// Web Push
		PushTTL:              push.DefaultTTL,
		MaxPushSubscriptions: chat.DefaultMaxPushSubscriptions,
		PushPoll:             push.DefaultPoll,
	}
}

// withDefaults returns c with its zero fields taken from DefaultConfig.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	orDefault(&c.Addr, d.Addr)
	orDefault(&c.DataDir, d.DataDir)
	orDefault(&c.Registration, d.Registration)
	orDefault(&c.Heartbeat, d.Heartbeat)
	orDefault(&c.MaxFrameBytes, d.MaxFrameBytes)
	orDefault(&c.Rate, d.Rate)
	orDefault(&c.Burst, d.Burst)
	orDefault(&c.PresenceGrace, d.PresenceGrace)
	orDefault(&c.PresenceWindow, d.PresenceWindow)
	orDefault(&c.TypingTimeout, d.TypingTimeout)
	orDefault(&c.ShutdownGrace, d.ShutdownGrace)
	orDefault(&c.MaxConnsPerUser, d.MaxConnsPerUser)
	orDefault(&c.MaxConnsPerIP, d.MaxConnsPerIP)
	orDefault(&c.ReplayMax, d.ReplayMax)
	orDefault(&c.ReplayRate, d.ReplayRate)
	orDefault(&c.ReplayBurst, d.ReplayBurst)
	orDefault(&c.LoginRate, d.LoginRate)
	orDefault(&c.APIRate, d.APIRate)
	orDefault(&c.APIBurst, d.APIBurst)
	orDefault(&c.SendTimeout, d.SendTimeout)
	orDefault(&c.SlowCommit, d.SlowCommit)
	orDefault(&c.ReadTimeout, d.ReadTimeout)
	orDefault(&c.MaxUploadBytes, d.MaxUploadBytes)
	orDefault(&c.SessionIdle, d.SessionIdle)
	orDefault(&c.SessionMax, d.SessionMax)
	orDefault(&c.UploadQuota, d.UploadQuota)
	orDefault(&c.UploadTTL, d.UploadTTL)
	orDefault(&c.MinFreeDisk, d.MinFreeDisk)
	orDefault(&c.CreateRoomRate, d.CreateRoomRate)
	orDefault(&c.JoinRate, d.JoinRate)
	orDefault(&c.InviteRate, d.InviteRate)
	orDefault(&c.DMRate, d.DMRate)
	orDefault(&c.PushTTL, d.PushTTL)
	orDefault(&c.MaxPushSubscriptions, d.MaxPushSubscriptions)
	orDefault(&c.PushPoll, d.PushPoll)
	return c
}

func orDefault[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}

// check refuses a Config that cannot work.
func (c Config) check(log zerolog.Logger) error {
	if c.MaxUploadBytes < 0 {
		return fmt.Errorf("max upload bytes must not be negative, not %d", c.MaxUploadBytes)
	}
	switch c.Registration {
	case chat.RegistrationOpen, chat.RegistrationInvite, chat.RegistrationClosed:
	default:
		return fmt.Errorf("registration must be open, invite or closed, not %q", c.Registration)
	}
	if c.UploadTTL < 0 {
		return fmt.Errorf("upload unattached TTL must not be negative, not %v", c.UploadTTL)
	}
	if c.PprofAddr != "" {
		if err := checkPprofAddr(c.PprofAddr, log); err != nil {
			return err
		}
	}
	if c.NATS != "" && !IsPostgres(c.Database) {
		log.Warn().Msg("--nats without a postgres:// --database: every node has its own SQLite store, so nodes will not see each other's messages")
	}
	return nil
}

// Server is a running minichat.
type Server struct {
	cfg     Config
	log     zerolog.Logger
	store   store.Store
	hub     *hub.Hub
	broker  broker.Broker
	ws      *ws.Handler
	metrics *metrics.Metrics
	handler http.Handler

	closeOnce sync.Once
	closeErr  error

	accounts *accountWatch // see watchAccounts
	uploads  *accountWatch // see watchUploads

	chat   *chat.Service
	blobs  *files.Blobs
	pusher *push.Pusher // nil with PushOff

	autoTLSOpts *autotls.Options // with Config.TLSDomains
	autoTLS     *autotls.Manager // made by Serve, which knows the ports
	httpLn      net.Listener     // SetHTTPListener's
}

// New opens the store and builds the server, each part once and after
// the parts it needs: the metrics and the broker, the store (whose commits
// go to both), the hub (told about the other nodes through the broker, and
// filling gaps from the store), then the sockets and the HTTP API. web is
// the built client (may be nil). Call Close (or Run) to release it.
func New(cfg Config, log zerolog.Logger, web fs.FS) (*Server, error) {
	cfg = cfg.withDefaults()
	if err := cfg.check(log); err != nil {
		return nil, err
	}
	blobs, err := files.Open(filepath.Join(cfg.DataDir, "files"))
	if err != nil {
		return nil, err
	}
	m := metrics.New(cfg.Version)
	m.WatchCommits(cfg.SlowCommit, log.With().Str("component", "store").Logger())
	b, err := openBroker(cfg, log)
	if err != nil {
		return nil, err
	}
	storeLog := log.With().Str("component", "store").Logger()
	// The pusher is made after the store (it keeps its key there), so the
	// commit hook reaches it through this variable, set before the first
	// message can be sent.
	var pusher atomic.Pointer[push.Pusher]
	st, err := OpenStore(cfg, store.Options{
		OnCommit: func(evs []store.Event) {
			m.Committed(evs)
			b.Commit(evs)
			if p := pusher.Load(); p != nil {
				p.Committed(evs)
			}
		},
		ObserveCommit: m.ObserveCommit,
		Log:           &storeLog,
	})
	if err != nil {
		_ = b.Close()
		return nil, err
	}
	hopts := hub.Options{PresenceGrace: cfg.PresenceGrace, PresenceWindow: cfg.PresenceWindow, TypingTimeout: cfg.TypingTimeout, Log: log, Cluster: b.Cluster()}
	if hopts.Cluster != nil {
		hopts.Fill = st.Since // orders each room's log and fills its gaps
	}
	h := hub.New(hopts)
	if err := b.Attach(h); err != nil {
		_ = h.Shutdown(context.Background())
		_ = st.Close()
		_ = b.Close()
		return nil, err
	}
	svc := &chat.Service{Store: st, Timeout: cfg.SendTimeout, Passwords: auth.NewPasswords(auth.DefaultParams, 0),
		MaxPushSubscriptions: cfg.MaxPushSubscriptions, PushInsecure: cfg.AllowPrivateTargets}
	if !cfg.PushOff {
		p, err := startPush(cfg, st, h, log)
		if err != nil {
			_ = h.Shutdown(context.Background())
			_ = st.Close()
			_ = b.Close()
			return nil, err
		}
		pusher.Store(p)
	}
	sockets := ws.New(ws.Options{
		Hub:             h,
		Chat:            svc,
		Authenticate:    api.Authenticator(st, cfg.SessionIdle, cfg.SessionMax),
		AllowedOrigins:  cfg.AllowedOrigins,
		Heartbeat:       cfg.Heartbeat,
		MaxFrameBytes:   cfg.MaxFrameBytes,
		Rate:            cfg.Rate,
		Burst:           cfg.Burst,
		MaxConnsPerUser: cfg.MaxConnsPerUser,
		MaxConnsPerIP:   cfg.MaxConnsPerIP,
		ClientIP:        api.ClientIP,
		MaxUploadBytes:  cfg.MaxUploadBytes,
		ReplayMax:       cfg.ReplayMax,
		ReplayRate:      cfg.ReplayRate,
		ReplayBurst:     cfg.ReplayBurst,
		Version:         cfg.Version,
		Log:             log,
	})
	m.Register(h, sockets, st, b)
	if p := pusher.Load(); p != nil {
		m.Registry().MustRegister(p.Collectors()...)
	}
	s := &Server{cfg: cfg, log: log, store: st, hub: h, broker: b, ws: sockets, metrics: m, chat: svc, blobs: blobs, pusher: pusher.Load()}
	apiHandler, err := api.New(api.Options{
		Store:          st,
		Chat:           svc,
		Hub:            h,
		WS:             sockets,
		Web:            web,
		Registration:   cfg.Registration,
		PublicURL:      cfg.PublicURL,
		SessionIdle:    cfg.SessionIdle,
		SessionMax:     cfg.SessionMax,
		UploadQuota:    cfg.UploadQuota,
		UploadTTL:      cfg.UploadTTL,
		MinFreeDisk:    cfg.MinFreeDisk,
		RoomRates:      api.RoomRates{Create: cfg.CreateRoomRate, Join: cfg.JoinRate, Invite: cfg.InviteRate, DM: cfg.DMRate},
		TrustedProxies: cfg.TrustedProxies,
		AllowedOrigins: cfg.AllowedOrigins,
		LoginPerMinute: cfg.LoginRate,
		WriteRate:      cfg.APIRate,
		WriteBurst:     cfg.APIBurst,
		Blobs:          blobs,
		MaxUploadBytes: cfg.MaxUploadBytes,
		Degraded:       m.Degraded,
		Push:           s.pusher,
		Log:            log,
	})
	if err != nil {
		s.Close()
		return nil, err
	}
	s.handler = withMetrics(m.Instrument(apiHandler), m.Handler(), cfg.MetricsToken)
	if len(cfg.TLSDomains) > 0 {
		if err := s.autoTLSOptions(); err != nil {
			s.Close()
			return nil, err
		}
		s.handler = autotls.HSTS(s.handler)
	}
	s.watchAccounts()
	s.watchUploads()
	return s, nil
}

// autoTLSOptions prepares automatic HTTPS: certificates in the database
// when it is Postgres (shared by the nodes), else in DataDir/certificates.
func (s *Server) autoTLSOptions() error {
	c := s.cfg
	if c.TLSCert != "" || c.TLSKey != "" {
		return errors.New("tls domains and a tls cert exclude each other: use one")
	}
	if c.HTTPAddr == "" {
		c.HTTPAddr = ":80"
		s.cfg.HTTPAddr = c.HTTPAddr
	}
	var storage certmagic.Storage = &certmagic.FileStorage{Path: filepath.Join(c.DataDir, "certificates")}
	if sq, ok := s.store.(*sqlstore.Store); ok && IsPostgres(c.Database) {
		storage = autotls.NewSQLStorage(sq)
	}
	var roots *x509.CertPool
	if c.ACMECARoot != "" {
		pem, err := os.ReadFile(c.ACMECARoot)
		if err != nil {
			return fmt.Errorf("acme ca root: %w", err)
		}
		roots = x509.NewCertPool()
		if !roots.AppendCertsFromPEM(pem) {
			return fmt.Errorf("acme ca root %s: no PEM certificate in it", c.ACMECARoot)
		}
	}
	s.autoTLSOpts = &autotls.Options{
		Domains:     c.TLSDomains,
		CA:          c.ACMECA,
		Email:       c.ACMEEmail,
		CARoots:     roots,
		Storage:     storage,
		RenewCheck:  c.ACMERenewCheck,
		RenewWindow: c.ACMERenewWindow,
		Log:         s.log,
	}
	return nil
}

// SetHTTPListener gives Serve the plain HTTP listener of automatic HTTPS,
// instead of listening on Config.HTTPAddr. Call it before Serve.
func (s *Server) SetHTTPListener(ln net.Listener) { s.httpLn = ln }

// openBroker returns the broker a Config names: NATS, or the single
// node's.
func openBroker(cfg Config, log zerolog.Logger) (broker.Broker, error) {
	if cfg.NATS == "" {
		return broker.NewLocal(), nil
	}
	if !strings.HasPrefix(cfg.Database, "postgres") {
		log.Warn().Msg("--nats without a postgres:// --database: every node has its own SQLite store, so nodes will not see each other's messages")
	}
	return broker.NewNATS(broker.NATSOptions{URL: cfg.NATS, PresenceGrace: cfg.PresenceGrace, Log: log})
}

// withMetrics answers /metrics on the main handler: with the metrics to a
// request bearing token (Config.MetricsToken), with a JSON 401 to one
// without it, and with a JSON 404 when token is "". Every other path goes
// to next.
func withMetrics(next, metricsHandler http.Handler, token string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/metrics" {
			next.ServeHTTP(w, r)
			return
		}
		switch {
		case token == "":
			jsonError(w, http.StatusNotFound, protocol.CodeNotFound,
				"metrics are not served on this address; see --metrics-addr and --metrics-token")
		case !bearerIs(r, token):
			w.Header().Set("WWW-Authenticate", `Bearer realm="minichat metrics"`)
			jsonError(w, http.StatusUnauthorized, protocol.CodeUnauthorized, "metrics need the bearer token of --metrics-token")
		default:
			metricsHandler.ServeHTTP(w, r)
		}
	})
}

// bearerIs reports whether r carries "Authorization: Bearer token",
// comparing in constant time.
func bearerIs(r *http.Request, token string) bool {
	scheme, got, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	return strings.EqualFold(scheme, "Bearer") &&
		subtle.ConstantTimeCompare([]byte(strings.TrimSpace(got)), []byte(token)) == 1
}

func jsonError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(protocol.ErrorBody{Error: protocol.ErrorDetail{Code: code, Message: msg}})
}

// Metrics is the server's metrics registry.
func (s *Server) Metrics() *metrics.Metrics { return s.metrics }

// OpenStore opens the store a Config names: a postgres:// (or
// postgresql://) Database opens the Postgres store, which several nodes may
// share; otherwise the SQLite store, in DataDir or at the path of a
// "sqlite:PATH" Database.
func OpenStore(cfg Config, opts store.Options) (store.Store, error) {
	cfg = cfg.withDefaults()
	if IsPostgres(cfg.Database) {
		ctx, cancel := context.WithTimeout(context.Background(), openTimeout)
		defer cancel()
		st, err := sqlstore.OpenPostgres(ctx, cfg.Database, opts)
		if err != nil {
			return nil, fmt.Errorf("open store %s: %w", redact(cfg.Database), err)
		}
		return st, nil
	}
	path, err := SQLitePath(cfg)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	st, err := sqlstore.OpenSQLite(path, opts)
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	return st, nil
}

// openTimeout bounds connecting to Postgres and migrating its schema at
// start (a node waiting for another node's migration waits within it).
const openTimeout = time.Minute

// IsPostgres reports whether a Database value names a Postgres server.
func IsPostgres(database string) bool {
	return strings.HasPrefix(database, "postgres://") || strings.HasPrefix(database, "postgresql://")
}

// SQLitePath is the SQLite database file a Config names: minichat.db in the
// data dir, or the path of a "sqlite:PATH" Database. It fails for any other
// Database (a Postgres one included).
func SQLitePath(cfg Config) (string, error) {
	cfg = cfg.withDefaults()
	if IsPostgres(cfg.Database) {
		return "", fmt.Errorf("database %s is Postgres, not SQLite", redact(cfg.Database))
	}
	if cfg.Database != "" && !strings.HasPrefix(cfg.Database, "sqlite:") {
		return "", fmt.Errorf("database %q: want a postgres:// URL or sqlite:PATH", redact(cfg.Database))
	}
	if p, ok := strings.CutPrefix(cfg.Database, "sqlite:"); ok && p != "" {
		return p, nil
	}
	return filepath.Join(cfg.DataDir, "minichat.db"), nil
}

func redact(dsn string) string {
	if i := strings.Index(dsn, "@"); i >= 0 {
		if j := strings.Index(dsn, "://"); j >= 0 && j < i {
			return dsn[:j+3] + "…" + dsn[i:]
		}
	}
	return dsn
}

// Handler is the server's whole HTTP surface (API, /ws, client).
func (s *Server) Handler() http.Handler { return s.handler }

// Store is the server's store.
func (s *Server) Store() store.Store { return s.store }

// Hub is the server's hub.
func (s *Server) Hub() *hub.Hub { return s.hub }

// Close closes every socket with 1001, waits (bounded by the shutdown
// grace) for their goroutines, then drains and closes the store. It is
// idempotent.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		s.stopWatchingAccounts()
		if s.autoTLS != nil {
			s.autoTLS.Stop() // renewal, before the store it writes to closes
		}
		s.stopWatchingUploads()
		if s.pusher != nil {
			// Before the hub, whose sockets tell it who is connected (a
			// hub shut down would say nobody, and everyone would get
			// pushes), and before the store it reads and writes.
			s.pusher.Close()
		}
		ctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownGrace)
		defer cancel()
		_ = s.hub.Shutdown(ctx)
		if err := s.ws.Shutdown(ctx); err != nil {
			s.log.Warn().Err(err).Msg("some sockets did not close in time")
		}
		s.closeErr = s.store.Close()
		_ = s.broker.Close()
	})
	return s.closeErr
}

// Run listens on Config.Addr and serves until ctx ends, then shuts down
// gracefully. ready, if not nil, is called with the bound address.
func (s *Server) Run(ctx context.Context, ready func(net.Addr)) error {
	ln, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		s.Close()
		return fmt.Errorf("listen: %w", err)
	}
	return s.Serve(ctx, ln, ready)
}

// Serve is Run on an existing listener. With Config.PprofAddr set it also
// listens there for net/http/pprof, and with Config.MetricsAddr there for
// /metrics, and stops those listeners with the main one; their bound
// addresses are logged as "pprof listening" and "metrics listening".
func (s *Server) Serve(ctx context.Context, ln net.Listener, ready func(net.Addr)) error {
	// http.Server's own errors (TLS handshakes, malformed requests) go to
	// the structured log rather than to the standard logger.
	errorLog := log.New(httpErrorWriter{s.log.With().Str("component", "http").Logger()}, "", 0)
	srv := &http.Server{
		Handler: s.handler,
		// A client gets 10 s to send its headers and ReadTimeout for the
		// whole request, so slow or stalled senders cannot hold connections
		// open; an upgraded WebSocket is exempt (net/http clears the
		// deadline on hijack) and is watched by its heartbeat instead.
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       s.cfg.ReadTimeout,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          errorLog,
	}
	tlsOn := s.cfg.TLSCert != "" || s.cfg.TLSKey != ""
	if tlsOn {
		cert, err := tls.LoadX509KeyPair(s.cfg.TLSCert, s.cfg.TLSKey)
		if err != nil {
			ln.Close()
			s.Close()
			return fmt.Errorf("tls: %w", err)
		}
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		ln = tls.NewListener(ln, srv.TLSConfig)
	}
	servers := []*http.Server{srv}
	listeners := []net.Listener{ln}
	if s.autoTLSOpts != nil {
		tlsOn = true
		hln := s.httpLn
		if hln == nil {
			var err error
			if hln, err = net.Listen("tcp", s.cfg.HTTPAddr); err != nil {
				ln.Close()
				s.Close()
				return fmt.Errorf("http listen (for HTTPS redirects and ACME challenges): %w", err)
			}
		}
		// The bound addresses, not the configured ones (which may say
		// port 0), tell certmagic where the challenges arrive.
		opts := *s.autoTLSOpts
		opts.TLSAddr, opts.HTTPAddr = ln.Addr().String(), hln.Addr().String()
		m, err := autotls.New(opts)
		if err != nil {
			ln.Close()
			hln.Close()
			s.Close()
			return err
		}
		s.autoTLS = m
		srv.TLSConfig = m.TLSConfig()
		_, tlsPort, _ := net.SplitHostPort(ln.Addr().String())
		ln = tls.NewListener(ln, srv.TLSConfig)
		listeners[0] = ln
		servers = append(servers, &http.Server{
			Handler:           s.autoTLS.HTTPHandler(tlsPort),
			ReadHeaderTimeout: 10 * time.Second,
			ReadTimeout:       30 * time.Second,
			IdleTimeout:       30 * time.Second,
			ErrorLog:          errorLog,
		})
		listeners = append(listeners, hln)
		s.log.Info().Str("addr", hln.Addr().String()).Strs("domains", s.cfg.TLSDomains).Msg("http listening for ACME challenges and redirects to https")
	}
	// Side listeners: plain HTTP on addresses of their own, stopped with
	// the main one.
	side := []struct {
		name, addr string
		handler    http.Handler
	}{
		{"pprof", s.cfg.PprofAddr, pprofHandler()},
		{"metrics", s.cfg.MetricsAddr, s.metricsMux()},
	}
	for _, sl := range side {
		if sl.addr == "" {
			continue
		}
		sln, err := net.Listen("tcp", sl.addr)
		if err != nil {
			for _, l := range listeners {
				l.Close()
			}
			s.Close()
			return fmt.Errorf("%s listen: %w", sl.name, err)
		}
		servers = append(servers, &http.Server{
			Handler:           sl.handler,
			ReadHeaderTimeout: 10 * time.Second,
			ErrorLog:          errorLog,
		})
		listeners = append(listeners, sln)
		s.log.Info().Str("addr", sln.Addr().String()).Msg(sl.name + " listening")
	}
	scheme := "http"
	if tlsOn {
		scheme = "https"
	}
	url := scheme + "://" + displayAddr(ln.Addr())
	if len(s.cfg.TLSDomains) > 0 {
		url = "https://" + s.cfg.TLSDomains[0]
		if _, port, _ := net.SplitHostPort(ln.Addr().String()); port != "443" {
			url += ":" + port
		}
	}
	s.log.Info().Str("addr", ln.Addr().String()).Str("url", url).Msg("minichat is serving")
	if ready != nil {
		ready(ln.Addr())
	}
	// Each server's goroutine sends exactly once; the first error (or ctx)
	// starts the shutdown, and every send is received before Serve returns,
	// so no goroutine outlives it.
	errc := make(chan error, len(servers))
	for i, hs := range servers {
		go func() { errc <- hs.Serve(listeners[i]) }()
	}
	if s.autoTLS != nil {
		// The listeners answer challenges from here on.
		if err := s.autoTLS.Start(ctx); err != nil {
			s.log.Error().Err(err).Msg("automatic https")
		}
	}
	received := 0
	var err error
	select {
	case e := <-errc:
		received++
		err = fmt.Errorf("serve: %w", e)
	case <-ctx.Done():
	}
	s.log.Info().Msg("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownGrace)
	defer cancel()
	// Stop accepting and finish plain requests; WebSockets are hijacked, so
	// http.Server.Shutdown leaves them to Close below. A request still
	// running at the deadline (a 30 s CPU profile) is cut off by Close.
	for _, hs := range servers {
		if e := hs.Shutdown(sctx); e != nil {
			if !errors.Is(e, context.DeadlineExceeded) {
				s.log.Warn().Err(e).Msg("http shutdown")
			}
			hs.Close()
		}
	}
	if e := s.Close(); err == nil {
		err = e
	}
	for ; received < len(servers); received++ {
		if e := <-errc; e != nil && !errors.Is(e, http.ErrServerClosed) && err == nil {
			err = e
		}
	}
	s.log.Info().Msg("stopped")
	return err
}

// httpErrorWriter turns the lines http.Server prints on its ErrorLog (TLS
// handshake errors, panics in handlers) into warnings of the server's log.
type httpErrorWriter struct{ log zerolog.Logger }

func (w httpErrorWriter) Write(p []byte) (int, error) {
	w.log.Warn().Msg(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// checkPprofAddr refuses a profiling address without a host, which would
// listen on every interface; an explicit host is the operator's choice,
// warned about unless it is a loopback address.
func checkPprofAddr(addr string, log zerolog.Logger) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("pprof addr %q: %w", addr, err)
	}
	if host == "" {
		return fmt.Errorf("pprof addr %q: name a host, such as 127.0.0.1%s: the profiles expose the program's internals and should not be reachable from other hosts", addr, addr)
	}
	if ip, err := netip.ParseAddr(host); (err != nil || !ip.IsLoopback()) && !strings.EqualFold(host, "localhost") {
		log.Warn().Str("addr", addr).Msg("pprof is reachable beyond this host; keep it on 127.0.0.1 unless the network is trusted")
	}
	return nil
}

// pprofHandler serves the net/http/pprof endpoints under /debug/pprof/.
// It is built here rather than taken from http.DefaultServeMux (where the
// package also registers them), so nothing else leaks onto the listener.
func pprofHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}

// metricsMux serves /metrics (and nothing else) on the metrics listener.
func (s *Server) metricsMux() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", s.metrics.Handler())
	return mux
}

func displayAddr(a net.Addr) string {
	host, port, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "localhost"
	}
	return net.JoinHostPort(host, port)
}

// startPush starts Web Push on a store that keeps it: the VAPID key is
// read from the database (made there by the first node to start).
func startPush(cfg Config, st store.Store, h *hub.Hub, log zerolog.Logger) (*push.Pusher, error) {
	ps, ok := st.(push.Store)
	if !ok {
		return nil, errors.New("push: this store does not keep push subscriptions (run with --push=false)")
	}
	contact, instance := cfg.PushContact, "minichat"
	if cfg.PublicURL != "" {
		if contact == "" {
			contact = cfg.PublicURL
		}
		if u, err := url.Parse(cfg.PublicURL); err == nil && u.Host != "" {
			instance = u.Hostname()
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), openTimeout)
	defer cancel()
	p, err := push.New(ctx, push.Options{
		Store:     ps,
		Connected: h.Connected,
		// Push services are public HTTPS hosts, which never redirect.
		Client: netguard.NewClient(netguard.Options{AllowPrivate: cfg.AllowPrivateTargets,
			Timeout: 30 * time.Second, MaxBytes: 64 << 10, MaxRedirects: -1}),
		Content:  !cfg.PushNoContent,
		Instance: instance,
		Contact:  contact,
		TTL:      cfg.PushTTL,
		Poll:     cfg.PushPoll,
		Log:      log.With().Str("component", "push").Logger(),
	})
	if err != nil {
		return nil, fmt.Errorf("start push: %w", err)
	}
	return p, nil
}
