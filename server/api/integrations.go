package api

import (
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"minichat/server/chat"
	"minichat/server/protocol"
	"minichat/server/store"
)

// The integrations endpoints: personal API tokens (/api/tokens) and bot
// accounts (/api/bots). Managing them takes a signed-in session: an API
// token cannot (chat.CheckSignedIn).

func (a *api) integrationRoutes(r chi.Router) {
	r.Group(func(r chi.Router) {
		r.Use(a.requireSignedIn)
		r.Get("/tokens", a.handle(a.tokens))
		r.Post("/tokens", a.handle(a.createToken))
		r.Delete("/tokens/{id}", a.handle(a.revokeToken))
		r.Get("/bots", a.handle(a.bots))
		r.Post("/bots", a.handle(a.createBot))
		r.Get("/bots/{id}", a.handle(a.bot))
		r.Patch("/bots/{id}", a.handle(a.updateBot))
		r.Delete("/bots/{id}", a.handle(a.deleteBot))
		r.Post("/bots/{id}/secret", a.handle(a.rotateSecret))
		r.Get("/bots/{id}/tokens", a.handle(a.tokens))
		r.Post("/bots/{id}/tokens", a.handle(a.createToken))
		r.Get("/bots/{id}/deliveries", a.handle(a.deliveries))
	})
}

// requireSignedIn refuses requests made with an API token.
func (a *api) requireSignedIn(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := chat.CheckSignedIn(sessionOf(r).Scope); err != nil {
			writeError(w, r, err)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func tokenInfo(t store.APIToken) protocol.APIToken {
	out := protocol.APIToken{ID: t.ID, Name: t.Name, Scope: t.Scope, Created: protocol.FormatTime(t.CreatedAt), UserID: t.UserID}
	if !t.LastUsed.IsZero() {
		out.LastUsed = protocol.FormatTime(t.LastUsed)
	}
	if !t.Expires.IsZero() {
		out.Expires = protocol.FormatTime(t.Expires)
	}
	return out
}

// tokens answers GET /api/tokens (the caller's) and GET
// /api/bots/{id}/tokens (a bot's).
func (a *api) tokens(w http.ResponseWriter, r *http.Request) error {
	ts, err := a.opts.Chat.Tokens(r.Context(), sessionOf(r).User, chi.URLParam(r, "id"))
	if err != nil {
		return err
	}
	out := make([]protocol.APIToken, 0, len(ts))
	for _, t := range ts {
		out = append(out, tokenInfo(t))
	}
	writeJSON(w, http.StatusOK, map[string]any{"tokens": out})
	return nil
}

// createToken answers POST /api/tokens and POST /api/bots/{id}/tokens:
// {"name","scope","expires"?} → 201 {"token","record"}; the token is shown
// this once.
func (a *api) createToken(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		Name    string  `json:"name"`
		Scope   string  `json:"scope"`
		Expires *string `json:"expires"`
	}
	if err := decode(w, r, &body); err != nil {
		return err
	}
	req := chat.TokenRequest{For: chi.URLParam(r, "id"), Name: body.Name, Scope: body.Scope}
	if body.Expires != nil && *body.Expires != "" {
		t, err := time.Parse(time.RFC3339, *body.Expires)
		if err != nil {
			return protocol.Errorf(protocol.CodeBadRequest, "expires must be an RFC 3339 time, such as 2030-01-31T00:00:00Z")
		}
		req.Expires = t
	}
	token, t, err := a.opts.Chat.CreateToken(r.Context(), sessionOf(r).User, req)
	if err != nil {
		return err
	}
	a.log.Info().Str("user", sessionOf(r).User.Name).Str("token_id", t.ID).Str("for", t.UserID).Str("scope", t.Scope).Msg("API token created")
	writeJSON(w, http.StatusCreated, protocol.NewAPIToken{Token: token, Record: tokenInfo(t)})
	return nil
}

// revokeToken answers DELETE /api/tokens/{id}: the token is refused from
// now on and its sockets are closed (4401), on every node.
func (a *api) revokeToken(w http.ResponseWriter, r *http.Request) error {
	id := chi.URLParam(r, "id")
	if err := a.opts.Chat.RevokeToken(r.Context(), sessionOf(r).User, id); err != nil {
		return err
	}
	a.opts.Hub.CloseSession(id, protocol.CloseUnauthenticated, "API token revoked")
	a.log.Info().Str("user", sessionOf(r).User.Name).Str("token_id", id).Msg("API token revoked")
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func botInfo(b store.Bot) protocol.Bot {
	return protocol.Bot{User: b.User, DisplayName: b.DisplayName, Avatar: b.Avatar, WebhookURL: b.WebhookURL,
		OwnerID: b.OwnerID, Created: protocol.FormatTime(b.CreatedAt), Secret: b.Secret}
}

type botBody struct {
	Name        string  `json:"name"`
	DisplayName *string `json:"display_name"`
	Avatar      *string `json:"avatar"`
	WebhookURL  *string `json:"webhook_url"`
}

func (b botBody) request() chat.BotRequest {
	return chat.BotRequest{Name: b.Name, DisplayName: b.DisplayName, Avatar: b.Avatar, WebhookURL: b.WebhookURL}
}

// bots answers GET /api/bots (admins).
func (a *api) bots(w http.ResponseWriter, r *http.Request) error {
	bs, err := a.opts.Chat.Bots(r.Context(), sessionOf(r).User)
	if err != nil {
		return err
	}
	out := make([]protocol.Bot, 0, len(bs))
	for _, b := range bs {
		out = append(out, botInfo(b))
	}
	writeJSON(w, http.StatusOK, map[string]any{"bots": out})
	return nil
}

// createBot answers POST /api/bots (admins): 201 {"bot"} with its secret,
// shown this once.
func (a *api) createBot(w http.ResponseWriter, r *http.Request) error {
	var body botBody
	if err := decode(w, r, &body); err != nil {
		return err
	}
	b, err := a.opts.Chat.CreateBot(r.Context(), sessionOf(r).User, body.request())
	if err != nil {
		return err
	}
	a.log.Info().Str("user", sessionOf(r).User.Name).Str("bot", b.User.Name).Msg("bot created")
	writeJSON(w, http.StatusCreated, map[string]any{"bot": botInfo(b)})
	return nil
}

func (a *api) bot(w http.ResponseWriter, r *http.Request) error {
	b, err := a.opts.Chat.Bot(r.Context(), sessionOf(r).User, chi.URLParam(r, "id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"bot": botInfo(b)})
	return nil
}

// updateBot answers PATCH /api/bots/{id}: display_name, avatar,
// webhook_url; absent fields stay.
func (a *api) updateBot(w http.ResponseWriter, r *http.Request) error {
	var body botBody
	if err := decode(w, r, &body); err != nil {
		return err
	}
	b, err := a.opts.Chat.UpdateBot(r.Context(), sessionOf(r).User, chi.URLParam(r, "id"), body.request(), false)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"bot": botInfo(b)})
	return nil
}

// rotateSecret answers POST /api/bots/{id}/secret: a new webhook secret,
// shown this once; the old one signs nothing from now on.
func (a *api) rotateSecret(w http.ResponseWriter, r *http.Request) error {
	b, err := a.opts.Chat.UpdateBot(r.Context(), sessionOf(r).User, chi.URLParam(r, "id"), chat.BotRequest{}, true)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"bot": botInfo(b)})
	return nil
}

// deleteBot answers DELETE /api/bots/{id}: its tokens are revoked (sockets
// closed), its account disabled.
func (a *api) deleteBot(w http.ResponseWriter, r *http.Request) error {
	id := chi.URLParam(r, "id")
	ids, err := a.opts.Chat.DeleteBot(r.Context(), sessionOf(r).User, id)
	if err != nil {
		return err
	}
	a.closeSessions(ids, "bot deleted")
	a.log.Info().Str("user", sessionOf(r).User.Name).Str("bot_id", id).Msg("bot deleted")
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// deliveries answers GET /api/bots/{id}/deliveries: the newest first.
func (a *api) deliveries(w http.ResponseWriter, r *http.Request) error {
	ds, err := a.opts.Chat.Deliveries(r.Context(), sessionOf(r).User, chi.URLParam(r, "id"))
	if err != nil {
		return err
	}
	out := make([]protocol.Delivery, 0, len(ds))
	for _, d := range ds {
		out = append(out, protocol.Delivery{ID: d.ID, At: protocol.FormatTime(d.At), MessageID: d.MessageID, RoomID: d.RoomID,
			OK: d.OK, Status: d.Status, Error: d.Error, Attempts: d.Attempts})
	}
	writeJSON(w, http.StatusOK, map[string]any{"deliveries": out})
	return nil
}
