// Package autotls is minichat's automatic HTTPS: certificates for the
// names of --tls-domain from an ACME CA (Let's Encrypt by default),
// obtained at start and renewed before they expire, answering the CA's
// HTTP-01 challenge on the plain HTTP listener and its TLS-ALPN-01
// challenge on the HTTPS one.
//
// It is built on certmagic rather than golang.org/x/crypto/acme/autocert
// because a cluster needs what autocert lacks: certmagic's storage is an
// interface with distributed locks (autocert's Cache has no locks, so
// every node would order its own certificate, and a fleet restart could
// run into the CA's rate limits), it solves a challenge that another node
// started (the tokens live in the shared storage, so the load balancer may
// send the CA's request to any node), it renews in the background with
// the CA's renewal information (ARI), and it retries with backoff.
// Certificates live in the data directory (certmagic's FileStorage) on a
// single node, and in the database (SQLStorage) when nodes share Postgres.
package autotls

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/caddyserver/certmagic"
	"github.com/rs/zerolog"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// LetsEncrypt is the directory of Let's Encrypt's production CA, the
// default of --acme-ca.
const LetsEncrypt = certmagic.LetsEncryptProductionCA

// Options configure a Manager.
type Options struct {
	Domains []string // names to get certificates for; at least one
	CA      string   // ACME directory URL; default LetsEncrypt
	Email   string   // account contact, for the CA's expiry notices; optional
	// CARoots, when set, are the roots trusted for the CA's own HTTPS
	// (a test or private CA); default the system's.
	CARoots *x509.CertPool
	Storage certmagic.Storage // where certificates and locks live
	// HTTPAddr and TLSAddr are the listeners the challenges arrive on
	// (--http-addr and --addr); their ports tell certmagic not to start
	// challenge servers of its own.
	HTTPAddr, TLSAddr string
	// RenewCheck is how often certificates are checked for renewal
	// (default 10 minutes); RenewWindow the fraction of a certificate's
	// lifetime, before it expires, in which it is renewed (default 1/3).
	RenewCheck  time.Duration
	RenewWindow float64
	Log         zerolog.Logger
}

// Manager obtains, renews and serves the certificates.
type Manager struct {
	opts   Options
	cache  *certmagic.Cache
	cfg    *certmagic.Config
	issuer *certmagic.ACMEIssuer
}

// New builds a Manager; Start begins obtaining certificates.
func New(opts Options) (*Manager, error) {
	if len(opts.Domains) == 0 {
		return nil, errors.New("autotls: no domain")
	}
	if opts.Storage == nil {
		return nil, errors.New("autotls: no storage")
	}
	if opts.CA == "" {
		opts.CA = LetsEncrypt
	}
	httpPort, err := port(opts.HTTPAddr)
	if err != nil {
		return nil, fmt.Errorf("http addr: %w", err)
	}
	tlsPort, err := port(opts.TLSAddr)
	if err != nil {
		return nil, fmt.Errorf("tls addr: %w", err)
	}
	logger := zap.New(zerologCore{log: opts.Log.With().Str("component", "acme").Logger()})
	m := &Manager{opts: opts}
	m.cache = certmagic.NewCache(certmagic.CacheOptions{
		GetConfigForCert:   func(certmagic.Certificate) (*certmagic.Config, error) { return m.cfg, nil },
		RenewCheckInterval: opts.RenewCheck,
		Logger:             logger,
	})
	m.cfg = certmagic.New(m.cache, certmagic.Config{
		// A client that names no server (an HTTPS health check by IP
		// address) gets the first domain's certificate.
		DefaultServerName:  opts.Domains[0],
		RenewalWindowRatio: opts.RenewWindow,
		Storage:            opts.Storage,
		Logger:             logger,
		OnEvent:            m.event,
	})
	m.issuer = certmagic.NewACMEIssuer(m.cfg, certmagic.ACMEIssuer{
		CA:     opts.CA,
		TestCA: opts.CA, // never fall back to Let's Encrypt's staging CA
		Email:  opts.Email,
		Agreed: true,
		// The challenges come to our own listeners; naming their ports
		// keeps certmagic from binding :80 and :443 itself.
		ListenHost:     host(opts.HTTPAddr),
		AltHTTPPort:    httpPort,
		AltTLSALPNPort: tlsPort,
		TrustedRoots:   opts.CARoots,
		Logger:         logger,
	})
	m.cfg.Issuers = []certmagic.Issuer{m.issuer}
	return m, nil
}

func port(addr string) (int, error) {
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(p)
}

func host(addr string) string {
	h, _, _ := net.SplitHostPort(addr)
	return h
}

// event logs what operators need to know: a certificate obtained or
// renewed, and a failure to.
func (m *Manager) event(_ context.Context, name string, data map[string]any) error {
	switch name {
	case "cert_obtained":
		ev := m.opts.Log.Info().Interface("identifier", data["identifier"])
		if r, _ := data["renewal"].(bool); r {
			ev.Msg("certificate renewed")
		} else {
			ev.Msg("certificate obtained")
		}
	case "cert_failed":
		m.opts.Log.Error().Interface("identifier", data["identifier"]).Interface("error", data["error"]).Msg("certificate not obtained; retrying")
	}
	return nil
}

// Start loads the certificates from storage, or orders those missing, in
// the background: handshakes for a name fail until it has one. Maintenance
// (renewal) runs until Stop.
func (m *Manager) Start(ctx context.Context) error {
	return m.cfg.ManageAsync(ctx, m.opts.Domains)
}

// Stop ends renewal.
func (m *Manager) Stop() { m.cache.Stop() }

// TLSConfig serves the managed certificates and answers TLS-ALPN-01.
func (m *Manager) TLSConfig() *tls.Config {
	c := m.cfg.TLSConfig()
	c.MinVersion = tls.VersionTLS12
	// certmagic puts acme-tls/1 first; browsers ask for h2 and http/1.1.
	c.NextProtos = []string{"h2", "http/1.1", "acme-tls/1"}
	return c
}

// HTTPHandler is the plain HTTP listener's handler: the CA's HTTP-01
// challenges (from this node or any other sharing the storage), and a
// permanent redirect (308, keeping the method) to HTTPS for everything
// else. tlsPort is the port HTTPS listens on; see Redirect.
func (m *Manager) HTTPHandler(tlsPort string) http.Handler {
	return m.issuer.HTTPChallengeHandler(Redirect(tlsPort))
}

// Redirect sends every request to the same URL over HTTPS with a 308,
// except ACME challenge paths, answered 404 when not known. A request to
// the default port (a Host without one) goes to HTTPS's default port,
// whatever port the server listens on behind a port mapping; a request
// that names a port goes to tlsPort.
func Redirect(tlsPort string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/.well-known/acme-challenge/") {
			http.NotFound(w, r)
			return
		}
		h, port := r.Host, tlsPort
		if hh, _, err := net.SplitHostPort(h); err == nil {
			h = hh
		} else {
			port = "" // no port asked for: none in the answer
		}
		if h == "" {
			http.Error(w, "Host header required", http.StatusBadRequest)
			return
		}
		if strings.Contains(h, ":") {
			h = "[" + h + "]" // IPv6 literal
		}
		if port != "" && port != "443" {
			h += ":" + port
		}
		u := "https://" + h + r.URL.RequestURI()
		w.Header().Set("Connection", "close")
		http.Redirect(w, r, u, http.StatusPermanentRedirect)
	})
}

// HSTSValue is the Strict-Transport-Security header of HTTPS answers: two
// years, as browsers' preload lists expect, without includeSubDomains
// (the chat's domain says nothing about its siblings).
const HSTSValue = "max-age=63072000"

// HSTS adds the Strict-Transport-Security header to every answer.
func HSTS(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Strict-Transport-Security", HSTSValue)
		next.ServeHTTP(w, r)
	})
}

// zerologCore writes certmagic's zap logs to the server's log.
type zerologCore struct {
	log    zerolog.Logger
	fields []zapcore.Field
}

func (c zerologCore) Enabled(l zapcore.Level) bool {
	return c.log.GetLevel() <= zerologLevel(l)
}

func (c zerologCore) With(fs []zapcore.Field) zapcore.Core {
	return zerologCore{log: c.log, fields: append(append([]zapcore.Field(nil), c.fields...), fs...)}
}

func (c zerologCore) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if c.Enabled(e.Level) {
		return ce.AddCore(e, c)
	}
	return ce
}

func (c zerologCore) Write(e zapcore.Entry, fs []zapcore.Field) error {
	enc := zapcore.NewMapObjectEncoder()
	for _, f := range c.fields {
		f.AddTo(enc)
	}
	for _, f := range fs {
		f.AddTo(enc)
	}
	ev := c.log.WithLevel(zerologLevel(e.Level))
	if e.LoggerName != "" {
		ev = ev.Str("logger", e.LoggerName)
	}
	ev.Fields(enc.Fields).Msg(e.Message)
	return nil
}

func (c zerologCore) Sync() error { return nil }

func zerologLevel(l zapcore.Level) zerolog.Level {
	switch {
	case l <= zapcore.InfoLevel:
		// certmagic narrates every step at info; the server's own lines
		// (certificate obtained, renewed, failed) are the ones at info.
		return zerolog.DebugLevel
	case l == zapcore.WarnLevel:
		return zerolog.WarnLevel
	default:
		return zerolog.ErrorLevel
	}
}
