package api

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"runtime/debug"
	"strings"
	"time"

	"github.com/go-chi/chi/v5/middleware"
	"github.com/rs/zerolog"

	"minichat/server/protocol"
	"minichat/server/ws"
)

// csp is the Content-Security-Policy of every response; the built client
// satisfies it (no inline scripts or styles, no third-party origins).
const csp = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; " +
	"connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"

func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", csp)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("X-Frame-Options", "DENY")
		next.ServeHTTP(w, r)
	})
}

// refuseCrossSite answers 403 to a write (any method but GET, HEAD and
// OPTIONS) that a browser made on behalf of another site's page: one whose
// Origin is neither this server nor an allowed origin, or, without Origin,
// whose Sec-Fetch-Site is cross-site or same-site. The session cookie is
// SameSite=Lax, which already keeps it off most cross-site requests; this
// check also covers sibling subdomains (same-site) and older browsers, and
// refuses login CSRF (signing a victim into the attacker's account).
// Calls with an Authorization header pass: a page of another site cannot
// attach one without a CORS grant, which this server never gives, and bots
// and scripts send no Origin anyway.
func (a *api) refuseCrossSite(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
			next.ServeHTTP(w, r)
			return
		}
		if r.Header.Get("Authorization") == "" && !a.sameOrigin(r) {
			writeError(w, r, protocol.Errorf(protocol.CodeForbidden, "cross-site request refused: origin %q may not write here", r.Header.Get("Origin")))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// sameOrigin reports whether a browser request comes from a page of this
// server (or an allowed origin); requests without the browser headers pass.
func (a *api) sameOrigin(r *http.Request) bool {
	if r.Header.Get("Origin") != "" {
		return ws.OriginAllowed(r, a.opts.AllowedOrigins)
	}
	switch r.Header.Get("Sec-Fetch-Site") {
	case "", "same-origin", "none":
		return true
	}
	return false
}

func errNotFound(r *http.Request) error {
	return protocol.Errorf(protocol.CodeNotFound, "%s %s not found", r.Method, r.URL.Path)
}

// proxies are the networks whose forwarding headers are believed.
type proxies struct{ nets []netip.Prefix }

func parseProxies(cidrs []string) (*proxies, error) {
	p := &proxies{}
	for _, c := range cidrs {
		c = strings.TrimSpace(c)
		if c == "" {
			continue
		}
		if !strings.Contains(c, "/") {
			addr, err := netip.ParseAddr(c)
			if err != nil {
				return nil, fmt.Errorf("trusted proxy %q: %w", c, err)
			}
			c = netip.PrefixFrom(addr, addr.BitLen()).String()
		}
		pre, err := netip.ParsePrefix(c)
		if err != nil {
			return nil, fmt.Errorf("trusted proxy %q: %w", c, err)
		}
		p.nets = append(p.nets, pre.Masked())
	}
	return p, nil
}

func (p *proxies) trusted(remoteAddr string) bool {
	if len(p.nets) == 0 {
		return false
	}
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		host = remoteAddr
	}
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return false
	}
	addr = addr.Unmap()
	for _, n := range p.nets {
		if n.Contains(addr) {
			return true
		}
	}
	return false
}

type clientIPKey struct{}

// realIP records the client's address in the request's context (read it
// with clientIP): the connection's peer, or — when the peer is a trusted
// proxy — the nearest untrusted hop of X-Forwarded-For. r.RemoteAddr stays
// the TCP peer, because secure and the proxy check itself must judge the
// connection, not what a header claims.
func (a *api) realIP(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ip := peerIP(r)
		if a.proxies.trusted(r.RemoteAddr) {
			hops := strings.Split(r.Header.Get("X-Forwarded-For"), ",")
			for i := len(hops) - 1; i >= 0; i-- {
				hop := strings.TrimSpace(hops[i])
				if hop == "" {
					continue
				}
				ip = hop
				if !a.proxies.trusted(hop) {
					break
				}
			}
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), clientIPKey{}, ip)))
	})
}

// ClientIP is the client's address of a request that passed through the
// API's handler: the TCP peer, or the nearest untrusted X-Forwarded-For hop
// when the peer is a trusted proxy. The /ws per-address cap uses it.
func ClientIP(r *http.Request) string { return clientIP(r) }

// clientIP is the client's address as realIP found it (without a port), or
// the peer's when realIP did not run.
func clientIP(r *http.Request) string {
	if ip, ok := r.Context().Value(clientIPKey{}).(string); ok {
		return ip
	}
	return peerIP(r)
}

// peerIP is the host part of r.RemoteAddr.
func peerIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// secure reports whether the client reached us over TLS (directly or
// through a trusted proxy), which makes the session cookie Secure.
func (a *api) secure(r *http.Request) bool {
	if r.TLS != nil {
		return true
	}
	return r.Header.Get("X-Forwarded-Proto") == "https" && a.proxies.trusted(r.RemoteAddr)
}

type userLogKey struct{}

type userLog struct{ name string }

// logUser notes the authenticated user for the access log line.
func logUser(r *http.Request, name string) {
	if u, ok := r.Context().Value(userLogKey{}).(*userLog); ok {
		u.name = name
	}
}

// accessLog writes one line per request with its id, and gives handlers a
// request-scoped logger (zerolog.Ctx).
func (a *api) accessLog(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		reqID := middleware.GetReqID(r.Context())
		l := a.log.With().Str("request_id", reqID).Logger()
		ul := &userLog{}
		ctx := l.WithContext(r.Context())
		ctx = context.WithValue(ctx, userLogKey{}, ul)
		ww := middleware.NewWrapResponseWriter(w, r.ProtoMajor)
		next.ServeHTTP(ww, r.WithContext(ctx))
		status := ww.Status()
		if status == 0 {
			status = http.StatusSwitchingProtocols // hijacked by the WebSocket upgrade
		}
		ev := l.Info()
		switch {
		case r.URL.Path == "/healthz" || r.URL.Path == "/readyz":
			ev = l.Debug() // probes, every few seconds: 503 included
		case status == http.StatusServiceUnavailable:
			// An outage the store reports once; each refused request is
			// an ordinary line, not an error of its own.
		case status >= 500:
			ev = l.Error()
		}
		ev.Str("method", r.Method).Str("path", logPath(r.URL.Path)).Int("status", status).
			Int("bytes", ww.BytesWritten()).Dur("duration", time.Since(start)).
			Str("remote", clientIP(r)).Str("user", ul.name).Msg("request")
	})
}

// recoverer turns a panic into a logged 500 with a JSON body.
func (a *api) recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				zerolog.Ctx(r.Context()).Error().Interface("panic", v).Bytes("stack", debug.Stack()).Msg("handler panicked")
				writeError(w, r, protocol.Errorf(protocol.CodeInternal, "internal error"))
			}
		}()
		next.ServeHTTP(w, r)
	})
}
