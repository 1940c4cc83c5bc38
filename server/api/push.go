package api

import (
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"minichat/server/protocol"
	"minichat/server/push"
	"minichat/server/store"
)

// Web Push endpoints (docs/protocol.md, "Push notifications"). Without a
// Pusher (--push=false) the push endpoints answer 404; notification levels
// and the pause are kept all the same (they also shape what the client
// shows).

func (a *api) pushRoutes(r chi.Router) {
	r.Get("/push/key", a.handle(a.pushKey))
	r.Get("/push/subscriptions", a.handle(a.pushSubscriptions))
	r.With(a.PerUser(a.writes, "push subscriptions")).Post("/push/subscriptions", a.handle(a.addPushSubscription))
	r.Delete("/push/subscriptions/{id}", a.handle(a.deletePushSubscription))
	r.With(a.PerUser(a.writes, "test notifications")).Post("/push/test", a.handle(a.pushTest))
	r.Put("/rooms/{id}/notifications", a.handle(a.setNotify))
	r.Put("/me/notifications", a.handle(a.pauseNotifications))
}

func (a *api) pusher() (*push.Pusher, error) {
	if a.opts.Push == nil {
		return nil, protocol.Errorf(protocol.CodeNotFound, "push notifications are turned off on this server")
	}
	return a.opts.Push, nil
}

func (a *api) pushKey(w http.ResponseWriter, r *http.Request) error {
	p, err := a.pusher()
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]string{"public_key": p.PublicKey()})
	return nil
}

func subscriptionJSON(s store.PushSubscription) protocol.PushDevice {
	out := protocol.PushDevice{ID: s.ID, Label: s.Label, EndpointOrigin: push.Origin(s.Endpoint), CreatedAt: s.Created.UnixMilli()}
	if !s.LastSuccess.IsZero() {
		out.LastSuccessAt = s.LastSuccess.UnixMilli()
	}
	return out
}

func (a *api) addPushSubscription(w http.ResponseWriter, r *http.Request) error {
	if _, err := a.pusher(); err != nil {
		return err
	}
	var body struct {
		Endpoint string `json:"endpoint"`
		Keys     struct {
			P256DH string `json:"p256dh"`
			Auth   string `json:"auth"`
		} `json:"keys"`
		Label string `json:"label"`
	}
	if err := decode(w, r, &body); err != nil {
		return err
	}
	sub, created, err := a.opts.Chat.AddPushSubscription(r.Context(), sessionOf(r).User, store.PushSubscription{
		Endpoint: body.Endpoint, P256DH: body.Keys.P256DH, Auth: body.Keys.Auth, Label: body.Label,
	}, push.CheckKeys)
	if err != nil {
		return err
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	writeJSON(w, status, map[string]any{"subscription": subscriptionJSON(sub)})
	return nil
}

func (a *api) pushSubscriptions(w http.ResponseWriter, r *http.Request) error {
	if _, err := a.pusher(); err != nil {
		return err
	}
	subs, err := a.opts.Chat.PushSubscriptions(r.Context(), sessionOf(r).User)
	if err != nil {
		return err
	}
	out := make([]protocol.PushDevice, len(subs))
	for i, s := range subs {
		out[i] = subscriptionJSON(s)
	}
	writeJSON(w, http.StatusOK, map[string]any{"subscriptions": out})
	return nil
}

func (a *api) deletePushSubscription(w http.ResponseWriter, r *http.Request) error {
	if _, err := a.pusher(); err != nil {
		return err
	}
	if err := a.opts.Chat.DeletePushSubscription(r.Context(), sessionOf(r).User, chi.URLParam(r, "id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *api) pushTest(w http.ResponseWriter, r *http.Request) error {
	p, err := a.pusher()
	if err != nil {
		return err
	}
	n, err := p.Test(r.Context(), sessionOf(r).User)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, map[string]int{"queued": n})
	return nil
}

func (a *api) setNotify(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		Level string `json:"level"`
	}
	if err := decode(w, r, &body); err != nil {
		return err
	}
	room, err := a.opts.Chat.SetNotify(r.Context(), sessionOf(r).User, chi.URLParam(r, "id"), body.Level)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"room": room})
	return nil
}

func (a *api) pauseNotifications(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		PausedUntil *int64 `json:"paused_until"`
	}
	if err := decode(w, r, &body); err != nil {
		return err
	}
	var until time.Time
	if body.PausedUntil != nil && *body.PausedUntil > 0 {
		until = time.UnixMilli(*body.PausedUntil)
	}
	until, err := a.opts.Chat.PauseNotifications(r.Context(), sessionOf(r).User, until, time.Now())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"notifications_paused_until": pausedJSON(until)})
	return nil
}

// pausedJSON is a pause as the wire carries it: Unix ms, or null.
func pausedJSON(t time.Time) *int64 {
	if t.IsZero() {
		return nil
	}
	ms := t.UnixMilli()
	return &ms
}
