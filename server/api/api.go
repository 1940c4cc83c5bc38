// Package api is minichat's HTTP surface: the chi router with the REST
// endpoints of the protocol, /healthz and /readyz, the /ws endpoint mounted from the ws
// package, and the embedded web client with its SPA fallback. Handlers
// return errors and one function renders them as {"error":{code,message}},
// so every failure, including unknown /api paths and panics, is JSON.
package api

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"math"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"github.com/rs/zerolog"

	"minichat/server/chat"
	"minichat/server/files"
	"minichat/server/hub"
	"minichat/server/protocol"
	"minichat/server/store"
)

// Options configure the API.
type Options struct {
	Store store.Store
	Chat  *chat.Service
	Hub   *hub.Hub
	// WS serves /ws.
	WS http.Handler
	// Web is the built client (the contents of frontend/dist); nil or
	// without index.html serves a placeholder page.
	Web fs.FS
	// RegistrationClosed refuses sign-up over HTTP (403).
	RegistrationClosed bool
	// TrustedProxies are the networks whose X-Forwarded-For and
	// X-Forwarded-Proto are believed.
	TrustedProxies []string
	// AllowedOrigins are the origins besides the server's own whose pages
	// may make cookie-authenticated writes (the /ws allow-list).
	AllowedOrigins []string
	// LoginPerMinute limits sign-in and sign-up attempts per client address,
	// and failed sign-ins per account name, per minute (bursts of as many);
	// default 10, negative: no limit.
	LoginPerMinute float64
	// WriteRate and WriteBurst limit the REST writes of one user (sends
	// over HTTP, and routes that add PerUser with Writes); default 5/s and
	// 20, a negative WriteRate: no limit.
	WriteRate  float64
	WriteBurst int
	// Blobs keeps the content of uploaded files.
	Blobs *files.Blobs
	// MaxUploadBytes is the largest file POST /api/uploads accepts;
	// default DefaultMaxUploadBytes.
	MaxUploadBytes int64
	Log            zerolog.Logger
}

type api struct {
	opts    Options
	log     zerolog.Logger
	proxies *proxies

	// loginIP charges every sign-in and sign-up of a client address;
	// loginName the failed sign-ins of an account name.
	loginIP, loginName *Limiter
	// writes and uploads are the per-user buckets of REST sends and of
	// uploads (PerUser): the same rate, separate buckets.
	writes, uploads *Limiter
}

// New returns the HTTP handler of the whole server.
func New(opts Options) (http.Handler, error) {
	p, err := parseProxies(opts.TrustedProxies)
	if err != nil {
		return nil, err
	}
	a := &api{opts: opts, log: opts.Log, proxies: p}
	if opts.LoginPerMinute == 0 {
		opts.LoginPerMinute = 10
	}
	if opts.LoginPerMinute > 0 {
		burst := int(math.Ceil(opts.LoginPerMinute))
		a.loginIP = NewLimiter(opts.LoginPerMinute/60, burst)
		a.loginName = NewLimiter(opts.LoginPerMinute/60, burst)
	}
	if opts.WriteRate == 0 {
		opts.WriteRate = 5
	}
	if opts.WriteBurst <= 0 {
		opts.WriteBurst = 20
	}
	a.writes = NewLimiter(opts.WriteRate, opts.WriteBurst)
	a.uploads = NewLimiter(opts.WriteRate, opts.WriteBurst)

	r := chi.NewRouter()
	r.Use(middleware.RequestID)
	r.Use(a.realIP)
	r.Use(a.accessLog)
	r.Use(a.recoverer)
	r.Use(securityHeaders)

	r.Get("/healthz", a.healthz)
	r.Get("/readyz", a.readyz)
	r.Handle("/ws", opts.WS)
	r.Route("/api", func(r chi.Router) {
		r.Use(a.refuseCrossSite)
		r.Use(compressJSON)
		r.NotFound(func(w http.ResponseWriter, r *http.Request) {
			writeError(w, r, protocol.Errorf(protocol.CodeNotFound, "no such endpoint: %s %s", r.Method, r.URL.Path))
		})
		r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, http.StatusMethodNotAllowed, protocol.ErrorBody{Error: protocol.ErrorDetail{Code: protocol.CodeBadRequest, Message: "method " + r.Method + " not allowed here"}})
		})
		r.Post("/users", a.handle(a.register))
		r.Post("/session", a.handle(a.login))
		r.Group(func(r chi.Router) {
			r.Use(a.requireAuth)
			r.Delete("/session", a.handle(a.logout))
			r.Get("/me", a.handle(a.me))
			r.Get("/rooms", a.handle(a.rooms))
			r.Post("/rooms", a.handle(a.createRoom))
			r.Post("/rooms/{id}/join", a.handle(a.join))
			r.Post("/rooms/{id}/leave", a.handle(a.leave))
			r.Post("/rooms/{id}/invite", a.handle(a.invite))
			r.Get("/rooms/{id}/messages", a.handle(a.history))
			r.With(a.PerUser(a.writes, "messages")).Post("/rooms/{id}/messages", a.handle(a.send))
			r.Post("/dms", a.handle(a.dm))
			r.Get("/search", a.handle(a.search))
			r.With(a.PerUser(a.uploads, "uploads"), allowSlowBody(uploadReadTimeout)).Post("/uploads", a.handle(a.upload))
		})
	})
	r.With(a.requireAuth).Get("/files/{id}", a.handle(a.file))
	r.With(a.requireAuth).Head("/files/{id}", a.handle(a.file))
	// Any other /files/ path is a JSON 404, not the client's HTML page.
	r.Get("/files/*", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, r, protocol.Errorf(protocol.CodeNotFound, "no such file: %s", r.URL.Path))
	})
	static := newStatic(opts.Web)
	r.NotFound(static.ServeHTTP)
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, r, protocol.Errorf(protocol.CodeNotFound, "not found"))
	})
	return r, nil
}

// handler is an HTTP handler that returns its error for writeError.
type handler func(w http.ResponseWriter, r *http.Request) error

func (a *api) handle(h handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			writeError(w, r, err)
		}
	}
}

// healthz is the liveness check: the process serves HTTP. It does not
// touch the store, so a slow disk does not get a live server restarted.
func (a *api) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readyz is the readiness check: 200 while the store answers a read within
// 2 s, 503 otherwise (and after the store is closed at shutdown).
func (a *api) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := a.opts.Store.Ping(ctx); err != nil {
		a.log.Warn().Err(err).Msg("readiness check: store does not answer")
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// writeJSON writes v with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// writeError renders err as {"error":{code,message}} with the matching
// status. Errors without a protocol code are logged and shown as internal.
func writeError(w http.ResponseWriter, r *http.Request, err error) {
	var ce *protocol.CodeError
	if !errors.As(err, &ce) {
		if !errors.Is(err, context.Canceled) {
			zerolog.Ctx(r.Context()).Error().Err(err).Msg("request failed")
		}
		ce = protocol.Errorf(protocol.CodeInternal, "internal error")
	}
	if ce.RetryAfter > 0 {
		w.Header().Set("Retry-After", itoa(int64((ce.RetryAfter+time.Second-1)/time.Second)))
	}
	writeJSON(w, protocol.HTTPStatus(ce.Code), protocol.ErrorBody{Error: protocol.ErrorDetail{Code: ce.Code, Message: ce.Msg}})
}

// maxBody bounds JSON request bodies.
const maxBody = 64 << 10

// decode reads a JSON body into v: at most maxBody bytes (413 too_large
// beyond), nested at most protocol.MaxJSONDepth deep, one JSON value with
// nothing after it (400 bad_request otherwise).
func decode(w http.ResponseWriter, r *http.Request, v any) error {
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return protocol.Errorf(protocol.CodeTooLarge, "body larger than %d bytes", maxBody)
		}
		return protocol.Errorf(protocol.CodeBadRequest, "read body: %v", err)
	}
	return decodeBody(body, v)
}

// decodeBody is decode of a body already read.
func decodeBody(body []byte, v any) error {
	if err := protocol.CheckDepth(body, protocol.MaxJSONDepth); err != nil {
		return err
	}
	if err := json.Unmarshal(body, v); err != nil {
		return protocol.Errorf(protocol.CodeBadRequest, "body must be a JSON object: %v", err)
	}
	return nil
}
