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
	"fmt"
	"io"
	"io/fs"
	"math"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"github.com/rs/zerolog"

	"minichat/server/avatar"
	"minichat/server/chat"
	"minichat/server/files"
	"minichat/server/hub"
	"minichat/server/protocol"
	"minichat/server/push"
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
	// Registration is who may sign up over HTTP: chat.RegistrationOpen,
	// RegistrationInvite (the default, "") or RegistrationClosed.
	Registration string
	// PublicURL is the server's address as users reach it (such as
	// https://chat.example.com), for the invitation link; "" derives it
	// from each request.
	PublicURL string
	// SessionIdle and SessionMax end a session unused for that long, and
	// that long after its sign-in; 0: the defaults (720h, 2160h), negative:
	// no bound.
	SessionIdle, SessionMax time.Duration
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
	// UploadQuota bounds the bytes of files of one account (0: 1 GiB,
	// negative: none); UploadTTL is how long an upload no message carries
	// counts and is kept (0: 24h). MinFreeDisk refuses uploads while the
	// files' disk has less free (0: 1 GiB, negative: no floor).
	UploadQuota int64
	UploadTTL   time.Duration
	MinFreeDisk int64
	// RoomRates are per-account limits, per minute, on creating rooms,
	// joining, inviting and opening direct messages; 0 takes
	// DefaultRoomRates, negative: no limit.
	RoomRates RoomRates
	// Avatars keeps the users' pictures (nil: avatars are refused).
	// AvatarMaxBytes bounds an uploaded picture (default 5 MiB),
	// AvatarMaxSide its width and height in pixels (default 4096), and
	// AvatarRate the avatar changes of one account (default 10,
	// negative: no limit).
	Avatars        *avatar.Dir
	AvatarMaxBytes int64
	AvatarMaxSide  int
	AvatarRate     float64
	// ProfileRate limits the display name and status text changes of
	// one account (default 30, negative: no limit).
	ProfileRate float64
	// HookRate and HookBurst limit the posts to one incoming webhook
	// (per second); default DefaultHookRate and DefaultHookBurst,
	// negative HookRate: no limit.
	HookRate  float64
	HookBurst int
	// Previews serves the images of link previews; nil when they are off.
	Previews Previews
	// Degraded, if set, reports the store's commits as slow (their p99);
	// /readyz then answers 200 with status "degraded".
	Degraded func() (p99 time.Duration, slow bool)
	// Push sends Web Push notifications; nil: push is off (its endpoints
	// answer 404).
	Push *push.Pusher
	Log  zerolog.Logger
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
	// creates, joins, invites and dms are the per-user buckets of RoomRates.
	creates, joins, invites, dms *Limiter
	// avatarRate charges avatar changes per user; decodes bounds the
	// avatars decoded at once (profiles.go).
	avatarRate, profileRate *Limiter
	decodes                 chan struct{}
	// hookLimit is the per-hook bucket of posts to incoming webhooks.
	hookLimit *Limiter
	// hookMisses charges posts to unknown webhooks to the client address.
	hookMisses *Limiter
	// previewImages is the per-user bucket of preview images fetched.
	previewImages *Limiter
	// hasUsers is set once an account exists (GET /api/instance).
	hasUsers atomic.Bool
}

// RoomRates are per-account limits, per minute (bursts of as many), on the
// room operations a script could repeat to fill every user's room list.
type RoomRates struct {
	Create, Join, Invite, DM float64
}

// DefaultRoomRates are limits a person never meets and a script meets at
// once.
var DefaultRoomRates = RoomRates{Create: 10, Join: 30, Invite: 30, DM: 30}

// Defaults of the sign-in and REST write limits (Options).
const (
	DefaultLoginPerMinute = 10
	DefaultWriteRate      = 5 // REST writes per second per user
	DefaultWriteBurst     = 20
)

// Defaults of the access limits (Options).
const (
	DefaultSessionIdle = 720 * time.Hour
	DefaultSessionMax  = 2160 * time.Hour
	DefaultUploadQuota = 1 << 30
	DefaultUploadTTL   = 24 * time.Hour
	DefaultMinFreeDisk = 1 << 30
)

// perMinute is a Limiter of n per minute with bursts of n; 0 takes def,
// negative: no limit (nil).
func perMinute(n, def float64) *Limiter {
	if n == 0 {
		n = def
	}
	if n < 0 {
		return nil
	}
	return NewLimiter(n/60, int(math.Ceil(n)))
}

// New returns the HTTP handler of the whole server.
func New(opts Options) (http.Handler, error) {
	p, err := parseProxies(opts.TrustedProxies)
	if err != nil {
		return nil, err
	}
	switch opts.Registration {
	case "":
		opts.Registration = chat.RegistrationInvite
	case chat.RegistrationOpen, chat.RegistrationInvite, chat.RegistrationClosed:
	default:
		return nil, fmt.Errorf("registration must be open, invite or closed, not %q", opts.Registration)
	}
	opts.SessionIdle = orDefault(opts.SessionIdle, DefaultSessionIdle)
	opts.SessionMax = orDefault(opts.SessionMax, DefaultSessionMax)
	opts.UploadTTL = orDefault(opts.UploadTTL, DefaultUploadTTL)
	opts.UploadQuota = orDefault(opts.UploadQuota, DefaultUploadQuota)
	opts.MinFreeDisk = orDefault(opts.MinFreeDisk, DefaultMinFreeDisk)
	a := &api{opts: opts, log: opts.Log, proxies: p}
	a.creates = perMinute(opts.RoomRates.Create, DefaultRoomRates.Create)
	a.joins = perMinute(opts.RoomRates.Join, DefaultRoomRates.Join)
	a.invites = perMinute(opts.RoomRates.Invite, DefaultRoomRates.Invite)
	a.dms = perMinute(opts.RoomRates.DM, DefaultRoomRates.DM)
	if opts.LoginPerMinute == 0 {
		opts.LoginPerMinute = DefaultLoginPerMinute
	}
	if opts.LoginPerMinute > 0 {
		burst := int(math.Ceil(opts.LoginPerMinute))
		a.loginIP = NewLimiter(opts.LoginPerMinute/60, burst)
		a.loginName = NewLimiter(opts.LoginPerMinute/60, burst)
	}
	a.opts = opts
	if opts.WriteRate == 0 {
		opts.WriteRate = DefaultWriteRate
	}
	if opts.WriteBurst <= 0 {
		opts.WriteBurst = DefaultWriteBurst
	}
	a.writes = NewLimiter(opts.WriteRate, opts.WriteBurst)
	a.uploads = NewLimiter(opts.WriteRate, opts.WriteBurst)
	a.initProfiles()
	if opts.HookRate == 0 {
		opts.HookRate = DefaultHookRate
	}
	if opts.HookBurst <= 0 {
		opts.HookBurst = DefaultHookBurst
	}
	if opts.HookRate > 0 {
		a.hookLimit = NewLimiter(opts.HookRate, opts.HookBurst)
	}
	// A page of previews shows a few dozen images; a script asking for
	// more makes the server fetch for it.
	a.previewImages = NewLimiter(2, 60)
	a.hookMisses = perMinute(60, 60)

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
		r.Get("/instance", a.handle(a.instance))
		r.Post("/users", a.handle(a.register))
		r.Post("/session", a.handle(a.login))
		r.Get("/session", a.handle(a.whoami))
		r.Group(func(r chi.Router) {
			r.Use(a.requireAuth)
			r.Delete("/session", a.handle(a.logout))
			r.Get("/me", a.handle(a.me))
			r.Put("/me/password", a.handle(a.changePassword))
			r.Get("/sessions", a.handle(a.sessions))
			r.Delete("/sessions", a.handle(a.endAllSessions))
			r.Delete("/sessions/{id}", a.handle(a.endSession))
			r.Get("/invite", a.handle(a.getInvite))
			r.Post("/invite/reset", a.handle(a.resetInvite))
			r.Route("/admin", a.adminRoutes)
			r.Get("/rooms", a.handle(a.rooms))
			r.Get("/rooms/directory", a.handle(a.directory))
			r.With(a.PerUser(a.creates, "new rooms")).Post("/rooms", a.handle(a.createRoom))
			r.With(a.PerUser(a.joins, "joins")).Post("/rooms/{id}/join", a.handle(a.join))
			r.Post("/rooms/{id}/leave", a.handle(a.leave))
			r.With(a.PerUser(a.invites, "invitations")).Post("/rooms/{id}/invite", a.handle(a.invite))
			r.Get("/rooms/{id}/messages", a.handle(a.history))
			r.With(a.PerUser(a.writes, "messages")).Post("/rooms/{id}/messages", a.handle(a.send))
			r.With(a.PerUser(a.dms, "new direct messages")).Post("/dms", a.handle(a.dm))
			r.Get("/rooms/{id}/members", a.handle(a.members))
			r.With(a.PerUser(a.writes, "room changes")).Put("/rooms/{id}/topic", a.handle(a.setTopic))
			r.With(a.PerUser(a.writes, "room changes")).Put("/rooms/{id}/name", a.handle(a.rename))
			r.With(a.PerUser(a.writes, "room changes")).Put("/rooms/{id}/archived", a.handle(a.archive))
			r.Get("/search", a.handle(a.search))
			r.With(a.PerUser(a.uploads, "uploads"), allowSlowBody(uploadReadTimeout)).Post("/uploads", a.handle(a.upload))
			a.profileRoutes(r)
			a.pushRoutes(r)
			a.integrationRoutes(r)
			a.hookRoutes(r)
		})
	})
	r.Post("/hooks/{secret}", a.handle(a.postHook))
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

// orDefault is v, or def when v is zero.
func orDefault[T int64 | time.Duration](v, def T) T {
	if v == 0 {
		return def
	}
	return v
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
// 2 s, 503 otherwise (and after the store is closed at shutdown). A store
// that answers but commits slowly (Options.Degraded) is still ready: 200
// with status "degraded", so that a load balancer keeps the node while an
// operator sees why acks are slow.
func (a *api) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := a.opts.Store.Ping(ctx); err != nil {
		// The store logs the database going away and coming back once
		// each; a probe every few seconds adds nothing to that.
		a.log.Debug().Err(err).Msg("readiness check: store does not answer")
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "reason": "the database does not answer"})
		return
	}
	if a.opts.Degraded != nil {
		if p99, slow := a.opts.Degraded(); slow {
			writeJSON(w, http.StatusOK, map[string]string{"status": "degraded",
				"reason": "store commits are slow: p99 " + p99.Round(time.Millisecond).String()})
			return
		}
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
