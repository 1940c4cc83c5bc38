package api

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"
	"github.com/rs/zerolog"

	"minichat/server/chat"
	"minichat/server/protocol"
	"minichat/server/slack"
)

// Defaults of the incoming webhooks' rate (Options.HookRate, HookBurst).
const (
	DefaultHookRate  = 1.0
	DefaultHookBurst = 10
)

// maxHookBody bounds the body of a post to a hook: Slack payloads with
// attachments and blocks are larger than chat sends.
const maxHookBody = 256 << 10

// hookRoutes adds the webhook endpoints: the management API under /api
// (r is the authenticated group) and the posting address.
func (a *api) hookRoutes(r chi.Router) {
	r.Get("/rooms/{id}/hooks", a.handle(a.listHooks))
	r.With(a.PerUser(a.writes, "changes")).Post("/rooms/{id}/hooks", a.handle(a.createHook))
	r.Get("/hooks", a.handle(a.allHooks))
	r.Delete("/hooks/{id}", a.handle(a.deleteHook))
	r.With(a.PerUser(a.writes, "changes")).Post("/hooks/{id}/secret", a.handle(a.regenerateHook))
	r.Delete("/rooms/{id}/messages/{msg}/preview", a.handle(a.removePreview))
	r.With(a.PerUser(a.previewImages, "preview images")).Get("/rooms/{id}/messages/{msg}/preview-image", a.handle(a.previewImage))
}

func (a *api) hookURL(r *http.Request, secret string) string {
	return a.baseURL(r) + "/hooks/" + secret
}

func (a *api) listHooks(w http.ResponseWriter, r *http.Request) error {
	hooks, err := a.opts.Chat.Hooks(r.Context(), sessionOf(r).User, chi.URLParam(r, "id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"hooks": hooks})
	return nil
}

func (a *api) allHooks(w http.ResponseWriter, r *http.Request) error {
	hooks, err := a.opts.Chat.AllHooks(r.Context(), sessionOf(r).User)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"hooks": hooks})
	return nil
}

func (a *api) createHook(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		Name string `json:"name"`
	}
	if err := decode(w, r, &body); err != nil {
		return err
	}
	h, secret, err := a.opts.Chat.CreateHook(r.Context(), sessionOf(r).User, chi.URLParam(r, "id"), body.Name)
	if err != nil {
		return err
	}
	h.URL = a.hookURL(r, secret)
	writeJSON(w, http.StatusCreated, map[string]any{"hook": h})
	return nil
}

func (a *api) regenerateHook(w http.ResponseWriter, r *http.Request) error {
	h, secret, err := a.opts.Chat.RegenerateHook(r.Context(), sessionOf(r).User, chi.URLParam(r, "id"))
	if err != nil {
		return err
	}
	h.URL = a.hookURL(r, secret)
	writeJSON(w, http.StatusOK, map[string]any{"hook": h})
	return nil
}

func (a *api) deleteHook(w http.ResponseWriter, r *http.Request) error {
	if err := a.opts.Chat.DeleteHook(r.Context(), sessionOf(r).User, chi.URLParam(r, "id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// postHook is POST /hooks/{secret}: a Slack-style incoming webhook. No
// session and no Origin check: the secret in the address is the
// credential. Each hook has its own rate (HookRate, HookBurst); a repeat
// with the same Idempotency-Key answers with the message the first stored.
func (a *api) postHook(w http.ResponseWriter, r *http.Request) error {
	// Wrong secrets are charged to the client's address: guessing one is
	// hopeless (256 bits), but each guess costs a database read.
	ip := clientIP(r)
	if ok, wait := a.hookMisses.Peek(ip); !ok {
		return errLimited("posts to unknown webhooks", wait)
	}
	h, err := a.opts.Chat.HookOf(r.Context(), chi.URLParam(r, "secret"))
	var ce *protocol.CodeError
	if errors.As(err, &ce) && ce.Code == protocol.CodeNotFound {
		a.hookMisses.Allow(ip)
	}
	if err != nil {
		return err
	}
	if a.hookLimit != nil {
		if ok, wait := a.hookLimit.Allow(h.ID); !ok {
			return errLimited("posts to this webhook", wait)
		}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxHookBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return protocol.Errorf(protocol.CodeTooLarge, "body larger than %d bytes", maxHookBody)
		}
		return protocol.Errorf(protocol.CodeBadRequest, "read body: %v", err)
	}
	if err := protocol.CheckDepth(body, protocol.MaxJSONDepth); err != nil {
		return err
	}
	m, err := slack.Parse(body, r.Header.Get("Content-Type"), protocol.MaxTextChars)
	var perr *slack.Error
	if errors.As(err, &perr) {
		return protocol.Errorf(protocol.CodeBadRequest, "%s", perr.Msg)
	}
	if err != nil {
		return err
	}
	key := r.Header.Get("Idempotency-Key")
	if len(key) > 255 {
		return protocol.Errorf(protocol.CodeBadRequest, "Idempotency-Key must be at most 255 bytes")
	}
	msg, err := a.opts.Chat.PostViaHook(r.Context(), h, chat.HookPost{
		Text: m.Text, Username: m.Username, IconURL: m.IconURL, IdempotencyKey: key,
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"ok": true, "message": msg})
	return nil
}

// Previews fetches the image of a link preview (package preview).
type Previews interface {
	ImageOf(ctx context.Context, url string) (contentType string, body []byte, err error)
}

func (a *api) removePreview(w http.ResponseWriter, r *http.Request) error {
	msg, err := a.opts.Chat.RemovePreview(r.Context(), sessionOf(r).User, chi.URLParam(r, "id"), chi.URLParam(r, "msg"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"message": msg})
	return nil
}

// previewImage serves the image of a message's link preview, fetched by the
// server (through netguard), so that a reader's browser never contacts the
// linked site and the page's CSP stays "images from this origin".
func (a *api) previewImage(w http.ResponseWriter, r *http.Request) error {
	if a.opts.Previews == nil {
		return protocol.Errorf(protocol.CodeNotFound, "link previews are off")
	}
	p, err := a.opts.Chat.PreviewOf(r.Context(), sessionOf(r).User, chi.URLParam(r, "id"), chi.URLParam(r, "msg"))
	if err != nil {
		return err
	}
	if p.Image == "" {
		return protocol.Errorf(protocol.CodeNotFound, "this preview has no image")
	}
	ctype, body, err := a.opts.Previews.ImageOf(r.Context(), p.Image)
	if err != nil {
		zerolog.Ctx(r.Context()).Debug().Err(err).Str("url", p.Image).Msg("preview image")
		return protocol.Errorf(protocol.CodeNotFound, "the preview's image cannot be shown")
	}
	h := w.Header()
	h.Set("Content-Type", ctype)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", fileCSP)
	h.Set("Cache-Control", "private, max-age=86400")
	_, _ = w.Write(body)
	return nil
}

// logPath is a request's path as the access log writes it: an incoming
// webhook's secret, which is its credential, is never written.
func logPath(p string) string {
	if strings.HasPrefix(p, "/hooks/") && len(p) > len("/hooks/") {
		return "/hooks/…"
	}
	return p
}
