package api

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"minichat/server/auth"
	"minichat/server/chat"
	"minichat/server/protocol"
	"minichat/server/store"
)

// CookieName is the session cookie of browsers.
const CookieName = "minichat_session"

type ctxKey int

const sessionKey ctxKey = 1

type credentials struct {
	Username string `json:"username"`
	Password string `json:"password"`
	// Invite is the invitation code of a sign-up (registration "invite").
	Invite string `json:"invite"`
}

type sessionResponse struct {
	User  protocol.User `json:"user"`
	Token string        `json:"token"`
}

func (a *api) register(w http.ResponseWriter, r *http.Request) error {
	if ok, wait := a.loginIP.Allow(clientIP(r)); !ok {
		return errLimited("sign-up attempts from this address", wait)
	}
	var c credentials
	if err := decode(w, r, &c); err != nil {
		return err
	}
	u, err := a.opts.Chat.SignUp(r.Context(), a.opts.Registration, c.Username, c.Password, c.Invite)
	if err != nil {
		return err
	}
	a.log.Info().Str("user", u.Name).Str("role", u.Role).Msg("user registered")
	return a.startSession(w, r, u, http.StatusCreated)
}

func (a *api) login(w http.ResponseWriter, r *http.Request) error {
	var c credentials
	if err := decode(w, r, &c); err != nil {
		return err
	}
	if ok, wait := a.loginIP.Allow(clientIP(r)); !ok {
		return errLimited("sign-in attempts from this address", wait)
	}
	u, err := a.checkPassword(r, c.Username, c.Password)
	if err != nil {
		return err
	}
	return a.startSession(w, r, u, http.StatusOK)
}

// checkPassword signs in with a name and password. Failed sign-ins are
// charged to the account name and the client address together: guesses
// from one address soon stop, for that account, while the owner signing
// in from another address is never locked out by them. The bucket is
// checked before the hash, so a locked pair costs the server nothing; the
// answer is the same whether or not the account exists.
func (a *api) checkPassword(r *http.Request, name, password string) (protocol.User, error) {
	key := strings.ToLower(name) + "\x00" + clientIP(r)
	if ok, wait := a.loginName.Peek(key); !ok {
		return protocol.User{}, errLimited("failed sign-ins for this account from this address", wait)
	}
	u, ok, err := a.opts.Chat.SignIn(r.Context(), name, password)
	if err != nil {
		return protocol.User{}, err
	}
	if !ok {
		a.loginName.Allow(key)
		return protocol.User{}, protocol.Errorf(protocol.CodeUnauthorized, "wrong username or password")
	}
	return u, nil
}

func (a *api) startSession(w http.ResponseWriter, r *http.Request, u protocol.User, status int) error {
	token, hash, err := auth.NewToken()
	if err != nil {
		return err
	}
	if _, err := a.opts.Chat.StartSession(r.Context(), u, hash, r.UserAgent()); err != nil {
		return err
	}
	http.SetCookie(w, &http.Cookie{
		Name:     CookieName,
		Value:    token,
		Path:     "/",
		MaxAge:   a.cookieMaxAge(),
		HttpOnly: true,
		SameSite: http.SameSiteLaxMode,
		Secure:   a.secure(r),
	})
	writeJSON(w, status, sessionResponse{User: u, Token: token})
	return nil
}

func (a *api) logout(w http.ResponseWriter, r *http.Request) error {
	sess := sessionOf(r)
	if err := a.opts.Chat.EndSession(r.Context(), sess.ID); err != nil {
		return err
	}
	a.opts.Hub.CloseSession(sess.ID, protocol.CloseUnauthenticated, "signed out")
	a.clearCookie(w, r)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *api) me(w http.ResponseWriter, r *http.Request) error {
	a.writeUser(w, r, sessionOf(r).User)
	return nil
}

// writeUser answers 200 {"user":User}, with "notifications_paused_until"
// (Unix ms) while the user's notifications are paused: GET /api/me and
// GET /api/session.
func (a *api) writeUser(w http.ResponseWriter, r *http.Request, u protocol.User) {
	out := map[string]any{"user": u}
	if until, err := a.opts.Chat.NotificationsPausedUntil(r.Context(), u, time.Now()); err == nil && !until.IsZero() {
		out["notifications_paused_until"] = until.UnixMilli()
	}
	writeJSON(w, http.StatusOK, out)
}

// Authenticator returns a function that finds the session of a request: by
// the bearer token if there is an Authorization header, by the session
// cookie otherwise. A session unused for idle or older than max (0: the
// defaults; negative: no bound) is refused as ended. The /ws endpoint uses
// it too.
func Authenticator(st store.Store, idle, max time.Duration) func(r *http.Request) (store.Session, error) {
	idle, max = orDefault(idle, DefaultSessionIdle), orDefault(max, DefaultSessionMax)
	return func(r *http.Request) (store.Session, error) { return authenticate(st, r, idle, max) }
}

func authenticate(st store.Store, r *http.Request, idle, max time.Duration) (store.Session, error) {
	token := ""
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, rest, _ := strings.Cut(h, " ")
		if !strings.EqualFold(scheme, "Bearer") {
			return store.Session{}, protocol.Errorf(protocol.CodeUnauthorized, "use a Bearer token")
		}
		token = strings.TrimSpace(rest)
	} else if c, err := r.Cookie(CookieName); err == nil {
		token = c.Value
	}
	if token == "" || len(token) > 256 {
		return store.Session{}, protocol.Errorf(protocol.CodeUnauthorized, "sign in first")
	}
	if strings.HasPrefix(token, protocol.TokenPrefix) {
		return authenticateToken(st, r, token)
	}
	sess, err := st.SessionByToken(r.Context(), auth.HashToken(token))
	if errors.Is(err, store.ErrNotFound) {
		return store.Session{}, protocol.Errorf(protocol.CodeUnauthorized, "session ended; sign in again")
	}
	if err == nil && chat.SessionExpired(sess, time.Now(), idle, max) {
		return store.Session{}, protocol.Errorf(protocol.CodeUnauthorized, "session expired; sign in again")
	}
	return sess, err
}

// authenticateToken finds the session of a personal API token: its ID is
// the token's, its Scope the token's scope. A revoked token is unknown; an
// expired one is refused.
func authenticateToken(st store.Store, r *http.Request, token string) (store.Session, error) {
	sess, t, err := st.APITokenByHash(r.Context(), auth.HashToken(token))
	if errors.Is(err, store.ErrNotFound) {
		return store.Session{}, protocol.Errorf(protocol.CodeUnauthorized, "unknown or revoked API token")
	}
	if err == nil && chat.TokenExpired(t, time.Now()) {
		return store.Session{}, protocol.Errorf(protocol.CodeUnauthorized, "API token expired")
	}
	return sess, err
}

// touchEvery is how stale a session's last use may be before a request
// records it again: one write per session per interval at most.
func touchEvery(idle time.Duration) time.Duration {
	if idle > 0 && idle/4 < time.Minute {
		return idle / 4
	}
	return time.Minute
}

func (a *api) requireAuth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sess, err := authenticate(a.opts.Store, r, a.opts.SessionIdle, a.opts.SessionMax)
		if err != nil {
			writeError(w, r, err)
			return
		}
		write := r.Method != http.MethodGet && r.Method != http.MethodHead
		if err := chat.CheckScope(sess.Scope, write); err != nil {
			writeError(w, r, err)
			return
		}
		if now := time.Now(); now.Sub(sess.LastSeen) > touchEvery(a.opts.SessionIdle) {
			// Recording the use is no reason to fail the request: reads
			// go on while the database refuses writes, and the next
			// request tries again.
			if err := a.opts.Chat.TouchSessions(r.Context(), []string{sess.ID}, now); err != nil {
				zerolog.Ctx(r.Context()).Warn().Err(err).Msg("cannot record the session's use")
			} else {
				sess.LastSeen = now
			}
		}
		logUser(r, sess.User.Name)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), sessionKey, sess)))
	})
}

// cookieMaxAge is the session cookie's lifetime: the session's own at most.
func (a *api) cookieMaxAge() int {
	if a.opts.SessionMax > 0 {
		return int(a.opts.SessionMax.Seconds())
	}
	return int((10 * 365 * 24 * time.Hour).Seconds())
}

func sessionOf(r *http.Request) store.Session {
	s, _ := r.Context().Value(sessionKey).(store.Session)
	return s
}
