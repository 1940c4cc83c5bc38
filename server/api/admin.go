package api

import (
	"net/http"

	"github.com/go-chi/chi/v5"

	"minichat/server/chat"
	"minichat/server/protocol"
)

// The administration endpoints (/api/admin/...): accounts and the runtime
// settings. chat decides who may (enabled administrators; 403 otherwise)
// and what (the last administrator stays); these handlers translate, and
// close the sockets of the sessions a change ended.

func (a *api) adminRoutes(r chi.Router) {
	r.Get("/users", a.handle(a.adminUsers))
	r.Post("/users", a.handle(a.adminAddUser))
	r.Post("/users/{id}/disable", a.handle(a.adminDisable(true)))
	r.Post("/users/{id}/enable", a.handle(a.adminDisable(false)))
	r.Put("/users/{id}/role", a.handle(a.adminRole))
	r.Put("/users/{id}/password", a.handle(a.adminPassword))
	r.Post("/users/{id}/signout", a.handle(a.adminSignOut))
	r.Get("/settings", a.handle(a.adminSettings))
	r.Patch("/settings", a.handle(a.adminSetSettings))
}

// adminUsers answers GET /api/admin/users?q=&cursor=&limit=: the accounts,
// by name, a page at a time.
func (a *api) adminUsers(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	limit, err := intParam(q.Get("limit"), chat.DefaultPeople)
	if err != nil || limit < 1 || limit > chat.MaxPeople {
		return protocol.Errorf(protocol.CodeBadRequest, "limit must be 1-%d", chat.MaxPeople)
	}
	users, next, err := a.opts.Chat.AdminUsers(r.Context(), sessionOf(r).User, q.Get("q"), q.Get("cursor"), int(limit))
	if err != nil {
		return err
	}
	out := protocol.AdminUsers{Users: users}
	if next != "" {
		out.Next = &next
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// adminAddUser answers POST /api/admin/users {"username","password","admin"}:
// 201 {"user"}, as `minichat user add`.
func (a *api) adminAddUser(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		Username string `json:"username"`
		Password string `json:"password"`
		Admin    bool   `json:"admin"`
	}
	if err := decode(w, r, &body); err != nil {
		return err
	}
	u, err := a.opts.Chat.AddUser(r.Context(), sessionOf(r).User, body.Username, body.Password, body.Admin)
	if err != nil {
		return err
	}
	a.log.Info().Str("admin", sessionOf(r).User.Name).Str("user", u.Name).Str("role", u.Role).Msg("user added")
	writeJSON(w, http.StatusCreated, map[string]any{"user": u})
	return nil
}

// adminDisable answers POST /api/admin/users/{id}/disable and .../enable:
// 200 {"user":AdminUser}; disabling closes the account's sockets (4401).
func (a *api) adminDisable(disabled bool) handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		u, ids, err := a.opts.Chat.DisableUser(r.Context(), sessionOf(r).User, chi.URLParam(r, "id"), disabled)
		if err != nil {
			return err
		}
		if disabled {
			a.closeSessions(ids, "account disabled")
			// Sockets opened by sessions that ended between the write and
			// now still carry the user: close by user too.
			a.opts.Hub.CloseUser(u.User.ID, protocol.CloseUnauthenticated, "account disabled")
		}
		a.log.Info().Str("admin", sessionOf(r).User.Name).Str("user", u.User.Name).Bool("disabled", disabled).Msg("account changed")
		writeJSON(w, http.StatusOK, map[string]any{"user": u})
		return nil
	}
}

// adminRole answers PUT /api/admin/users/{id}/role {"role"}: 200
// {"user":AdminUser}. The account's open sockets are closed with 1001, so
// that its clients reconnect and learn the new role from welcome.
func (a *api) adminRole(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		Role string `json:"role"`
	}
	if err := decode(w, r, &body); err != nil {
		return err
	}
	before := sessionOf(r).User
	u, err := a.opts.Chat.SetRole(r.Context(), before, chi.URLParam(r, "id"), body.Role)
	if err != nil {
		return err
	}
	a.opts.Hub.CloseUser(u.User.ID, protocol.CloseGoingAway, "role changed")
	a.log.Info().Str("admin", before.Name).Str("user", u.User.Name).Str("role", u.User.Role).Msg("role changed")
	writeJSON(w, http.StatusOK, map[string]any{"user": u})
	return nil
}

// adminPassword answers PUT /api/admin/users/{id}/password {"password"}:
// 204; every session of the account ends, as `minichat user passwd`.
func (a *api) adminPassword(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		Password string `json:"password"`
	}
	if err := decode(w, r, &body); err != nil {
		return err
	}
	ids, err := a.opts.Chat.ResetPassword(r.Context(), sessionOf(r).User, chi.URLParam(r, "id"), body.Password)
	if err != nil {
		return err
	}
	a.closeSessions(ids, "password changed")
	a.log.Info().Str("admin", sessionOf(r).User.Name).Str("user_id", chi.URLParam(r, "id")).Int("sessions_ended", len(ids)).Msg("password reset")
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// adminSignOut answers POST /api/admin/users/{id}/signout: 200
// {"sessions_ended":N}; the account's sockets close with 4401.
func (a *api) adminSignOut(w http.ResponseWriter, r *http.Request) error {
	id := chi.URLParam(r, "id")
	ids, err := a.opts.Chat.SignOutUser(r.Context(), sessionOf(r).User, id)
	if err != nil {
		return err
	}
	a.closeSessions(ids, "signed out by an administrator")
	a.log.Info().Str("admin", sessionOf(r).User.Name).Str("user_id", id).Int("sessions_ended", len(ids)).Msg("signed out everywhere")
	writeJSON(w, http.StatusOK, map[string]int{"sessions_ended": len(ids)})
	return nil
}

// adminSettings answers GET /api/admin/settings: 200 Settings.
func (a *api) adminSettings(w http.ResponseWriter, r *http.Request) error {
	s, err := a.opts.Chat.AdminSettings(r.Context(), sessionOf(r).User, a.opts.Registration)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s)
	return nil
}

// adminSetSettings answers PATCH /api/admin/settings with a SettingsPatch:
// 200 Settings, stored.
func (a *api) adminSetSettings(w http.ResponseWriter, r *http.Request) error {
	var p protocol.SettingsPatch
	if err := decode(w, r, &p); err != nil {
		return err
	}
	s, err := a.opts.Chat.SetSettings(r.Context(), sessionOf(r).User, a.opts.Registration, p)
	if err != nil {
		return err
	}
	a.log.Info().Str("admin", sessionOf(r).User.Name).Str("registration", s.Registration).Str("name", s.Name).Msg("settings changed")
	writeJSON(w, http.StatusOK, s)
	return nil
}
