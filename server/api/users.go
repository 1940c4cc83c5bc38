package api

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"minichat/server/auth"
	"minichat/server/protocol"
	"minichat/server/store"
)

// CookieName is the session cookie of browsers.
const CookieName = "minichat_session"

const sessionMaxAge = 30 * 24 * time.Hour

type ctxKey int

const sessionKey ctxKey = 1

type credentials struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

type sessionResponse struct {
	User  protocol.User `json:"user"`
	Token string        `json:"token"`
}

func (a *api) register(w http.ResponseWriter, r *http.Request) error {
	if a.opts.RegistrationClosed {
		return protocol.Errorf(protocol.CodeForbidden, "registration is closed; ask an administrator for an account")
	}
	if ok, wait := a.loginIP.Allow(clientIP(r)); !ok {
		return errLimited("sign-up attempts from this address", wait)
	}
	var c credentials
	if err := decode(w, r, &c); err != nil {
		return err
	}
	u, err := a.opts.Chat.CreateAccount(r.Context(), c.Username, c.Password, false)
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
	// Failed sign-ins are charged to the account name too, so guesses
	// spread over many addresses still slow down; the bucket is checked
	// before the hash, so a locked name costs the server nothing. The
	// answer is the same whether or not the account exists.
	name := strings.ToLower(c.Username)
	if ok, wait := a.loginName.Peek(name); !ok {
		return errLimited("failed sign-ins for this account", wait)
	}
	u, ok, err := a.opts.Chat.SignIn(r.Context(), c.Username, c.Password)
	if err != nil {
		return err
	}
	if !ok {
		a.loginName.Allow(name)
		return protocol.Errorf(protocol.CodeUnauthorized, "wrong username or password")
	}
	return a.startSession(w, r, u, http.StatusOK)
}

func (a *api) startSession(w http.ResponseWriter, r *http.Request, u protocol.User, status int) error {
	token, hash, err := auth.NewToken()
	if err != nil {
		return err
	}
	if _, err := a.opts.Chat.StartSession(r.Context(), u, hash); err != nil {
		return err
	}
	http.SetCookie(w, &http.Cookie{
		Name:     CookieName,
		Value:    token,
		Path:     "/",
		MaxAge:   int(sessionMaxAge.Seconds()),
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
	http.SetCookie(w, &http.Cookie{Name: CookieName, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: a.secure(r)})
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *api) me(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, map[string]any{"user": sessionOf(r).User})
	return nil
}

// Authenticator returns a function that finds the session of a request: by
// the bearer token if there is an Authorization header, by the session
// cookie otherwise. The /ws endpoint uses it too.
func Authenticator(st store.Store) func(r *http.Request) (store.Session, error) {
	return func(r *http.Request) (store.Session, error) { return authenticate(st, r) }
}

func authenticate(st store.Store, r *http.Request) (store.Session, error) {
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
	sess, err := st.SessionByToken(r.Context(), auth.HashToken(token))
	if errors.Is(err, store.ErrNotFound) {
		return store.Session{}, protocol.Errorf(protocol.CodeUnauthorized, "session ended; sign in again")
	}
	return sess, err
}

func (a *api) requireAuth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sess, err := authenticate(a.opts.Store, r)
		if err != nil {
			writeError(w, r, err)
			return
		}
		logUser(r, sess.User.Name)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), sessionKey, sess)))
	})
}

func sessionOf(r *http.Request) store.Session {
	s, _ := r.Context().Value(sessionKey).(store.Session)
	return s
}
