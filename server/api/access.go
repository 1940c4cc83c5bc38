package api

import (
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"

	"minichat/server/chat"
	"minichat/server/protocol"
)

// getInvite answers GET /api/invite (admins): the invitation code and the
// sign-up link that carries it.
func (a *api) getInvite(w http.ResponseWriter, r *http.Request) error {
	return a.writeInvite(w, r, false)
}

// resetInvite answers POST /api/invite/reset (admins): a new code; the old
// one is refused from now on.
func (a *api) resetInvite(w http.ResponseWriter, r *http.Request) error {
	return a.writeInvite(w, r, true)
}

func (a *api) writeInvite(w http.ResponseWriter, r *http.Request, reset bool) error {
	code, err := a.opts.Chat.InviteCode(r.Context(), sessionOf(r).User, reset)
	if err != nil {
		return err
	}
	if reset {
		a.log.Info().Str("user", sessionOf(r).User.Name).Msg("invitation link reset")
	}
	writeJSON(w, http.StatusOK, protocol.Invite{Code: code, URL: a.baseURL(r) + "/join/" + code})
	return nil
}

// baseURL is the server's address as its users reach it: PublicURL, or the
// scheme and host of the request.
func (a *api) baseURL(r *http.Request) string {
	if a.opts.PublicURL != "" {
		return strings.TrimRight(a.opts.PublicURL, "/")
	}
	scheme := "http"
	if a.secure(r) {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// instance answers GET /api/instance, before any sign-in: the registration
// mode (as an administrator set it, or --registration), the instance's name
// and whether the server still waits for its first account.
func (a *api) instance(w http.ResponseWriter, r *http.Request) error {
	setup := false
	if !a.hasUsers.Load() {
		some, err := a.opts.Store.HasUsers(r.Context())
		if err != nil {
			return err
		}
		// Accounts are never deleted: once there is one, there always is.
		if some {
			a.hasUsers.Store(true)
		}
		setup = !some
	}
	settings, err := a.opts.Chat.Settings(r.Context(), a.opts.Registration)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, protocol.Instance{Registration: settings.Registration, Setup: setup, Name: settings.Name})
	return nil
}

// sessions answers GET /api/sessions: the caller's own sessions.
func (a *api) sessions(w http.ResponseWriter, r *http.Request) error {
	cur := sessionOf(r)
	ss, err := a.opts.Chat.Sessions(r.Context(), cur.User)
	if err != nil {
		return err
	}
	out := make([]protocol.SessionInfo, 0, len(ss))
	for _, s := range ss {
		out = append(out, protocol.SessionInfo{
			ID: s.ID, Created: protocol.FormatTime(s.CreatedAt), LastSeen: protocol.FormatTime(s.LastSeen),
			UserAgent: s.UserAgent, Current: s.ID == cur.ID,
		})
	}
	writeJSON(w, http.StatusOK, map[string]any{"sessions": out})
	return nil
}

// endSession answers DELETE /api/sessions/{id}: ends one of the caller's
// sessions and closes its sockets.
func (a *api) endSession(w http.ResponseWriter, r *http.Request) error {
	id := chi.URLParam(r, "id")
	if err := a.opts.Chat.EndSessionOf(r.Context(), sessionOf(r).User, id); err != nil {
		return err
	}
	a.opts.Hub.CloseSession(id, protocol.CloseUnauthenticated, "signed out")
	if id == sessionOf(r).ID {
		a.clearCookie(w, r)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// endAllSessions answers DELETE /api/sessions: signs the caller out
// everywhere, this session included.
func (a *api) endAllSessions(w http.ResponseWriter, r *http.Request) error {
	ids, err := a.opts.Chat.EndSessions(r.Context(), sessionOf(r).User, "")
	if err != nil {
		return err
	}
	a.closeSessions(ids, "signed out everywhere")
	a.clearCookie(w, r)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// changePassword answers PUT /api/me/password: the caller's own password,
// after the current one; every other session of the caller ends.
func (a *api) changePassword(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		Current string `json:"current"`
		New     string `json:"new"`
	}
	if err := decode(w, r, &body); err != nil {
		return err
	}
	sess := sessionOf(r)
	if err := protocol.CheckPassword(body.New); err != nil {
		return err
	}
	if _, err := a.checkPassword(r, sess.User.Name, body.Current); err != nil {
		if protocol.ErrorCode(err) == protocol.CodeUnauthorized {
			return protocol.Errorf(protocol.CodeUnauthorized, "the current password is wrong")
		}
		return err
	}
	ids, err := a.opts.Chat.ChangePassword(r.Context(), sess.User, sess.ID, body.New)
	if err != nil {
		return err
	}
	a.closeSessions(ids, "password changed")
	a.log.Info().Str("user", sess.User.Name).Int("sessions_ended", len(ids)).Msg("password changed")
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// closeSessions closes the sockets of ended sessions (4401), on this node
// and, through the hub, on the others.
func (a *api) closeSessions(ids []string, reason string) {
	for _, id := range ids {
		a.opts.Hub.CloseSession(id, protocol.CloseUnauthenticated, reason)
	}
}

func (a *api) clearCookie(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: CookieName, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: a.secure(r)})
}

// directory answers GET /api/rooms/directory?q=&cursor=&limit=: public
// rooms by name, a page at a time.
func (a *api) directory(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	limit, err := intParam(q.Get("limit"), chat.DefaultDirectory)
	if err != nil || limit < 1 || limit > chat.MaxDirectory {
		return protocol.Errorf(protocol.CodeBadRequest, "limit must be 1-%d", chat.MaxDirectory)
	}
	rooms, next, err := a.opts.Chat.Directory(r.Context(), sessionOf(r).User, q.Get("q"), q.Get("cursor"), int(limit))
	if err != nil {
		return err
	}
	d := protocol.Directory{Rooms: rooms}
	if next != "" {
		d.Next = &next
	}
	writeJSON(w, http.StatusOK, d)
	return nil
}
