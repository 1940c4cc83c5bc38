package api

import (
	"net/http"
	"strconv"

	"github.com/go-chi/chi/v5"

	"minichat/server/chat"
	"minichat/server/protocol"
)

func (a *api) rooms(w http.ResponseWriter, r *http.Request) error {
	rooms, err := a.opts.Chat.Rooms(r.Context(), sessionOf(r).User)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"rooms": rooms})
	return nil
}

func (a *api) createRoom(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		Name    string `json:"name"`
		Private bool   `json:"private"`
	}
	if err := decode(w, r, &body); err != nil {
		return err
	}
	room, err := a.opts.Chat.CreateRoom(r.Context(), sessionOf(r).User, body.Name, body.Private)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, map[string]any{"room": room})
	return nil
}

func (a *api) join(w http.ResponseWriter, r *http.Request) error {
	room, err := a.opts.Chat.Join(r.Context(), sessionOf(r).User, chi.URLParam(r, "id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"room": room})
	return nil
}

func (a *api) leave(w http.ResponseWriter, r *http.Request) error {
	if err := a.opts.Chat.Leave(r.Context(), sessionOf(r).User, chi.URLParam(r, "id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

type usernameBody struct {
	Username string `json:"username"`
}

func (a *api) invite(w http.ResponseWriter, r *http.Request) error {
	var body usernameBody
	if err := decode(w, r, &body); err != nil {
		return err
	}
	if err := a.opts.Chat.Invite(r.Context(), sessionOf(r).User, chi.URLParam(r, "id"), body.Username); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *api) dm(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		Username string `json:"username"`
		// UserIDs, instead of Username, opens a group conversation with
		// them (an addition to the contract).
		UserIDs []string `json:"user_ids"`
		// Usernames is user_ids by name.
		Usernames []string `json:"usernames"`
	}
	if err := decode(w, r, &body); err != nil {
		return err
	}
	var (
		room protocol.Room
		err  error
	)
	given := 0
	for _, g := range []bool{body.Username != "", body.UserIDs != nil, body.Usernames != nil} {
		if g {
			given++
		}
	}
	switch {
	case given > 1:
		err = protocol.Errorf(protocol.CodeBadRequest, "give one of username, user_ids and usernames")
	case body.UserIDs != nil:
		room, err = a.opts.Chat.GroupDM(r.Context(), sessionOf(r).User, body.UserIDs)
	case body.Usernames != nil:
		room, err = a.opts.Chat.GroupDMNamed(r.Context(), sessionOf(r).User, body.Usernames)
	default:
		room, err = a.opts.Chat.DM(r.Context(), sessionOf(r).User, body.Username)
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"room": room})
	return nil
}

func (a *api) history(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	before, err := intParam(q.Get("before"), 0)
	if err != nil || (q.Get("before") != "" && before < 1) {
		return protocol.Errorf(protocol.CodeBadRequest, "before must be a seq >= 1")
	}
	after, err := intParam(q.Get("after"), 0)
	if err != nil || (q.Get("after") != "" && after < 1) {
		return protocol.Errorf(protocol.CodeBadRequest, "after must be a seq >= 1")
	}
	around, err := intParam(q.Get("around"), 0)
	if err != nil || (q.Get("around") != "" && around < 1) {
		return protocol.Errorf(protocol.CodeBadRequest, "around must be a seq >= 1")
	}
	limit, err := intParam(q.Get("limit"), protocol.DefaultHistory)
	if err != nil || limit < 1 || limit > protocol.MaxHistory {
		return protocol.Errorf(protocol.CodeBadRequest, "limit must be 1-%d", protocol.MaxHistory)
	}
	p, err := a.opts.Chat.Page(r.Context(), sessionOf(r).User, chi.URLParam(r, "id"), chat.HistoryQuery{
		Before: before, After: after, Around: around, AroundID: q.Get("around_id"), Limit: int(limit),
	})
	if err != nil {
		return err
	}
	out := map[string]any{"messages": p.Messages, "has_more": p.HasOlder}
	if p.HasNewer {
		out["has_newer"] = true
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (a *api) send(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		Text        *string  `json:"text"`
		ClientID    string   `json:"client_id"`
		ReplyTo     string   `json:"reply_to"`
		Attachments []string `json:"attachments"`
		Kind        string   `json:"kind"`
	}
	if err := decode(w, r, &body); err != nil {
		return err
	}
	if body.Text == nil && len(body.Attachments) == 0 {
		return protocol.Errorf(protocol.CodeBadRequest, "text is required")
	}
	text := ""
	if body.Text != nil {
		text = *body.Text
	}
	msg, err := a.opts.Chat.Send(r.Context(), sessionOf(r).User, chat.SendParams{
		Room: chi.URLParam(r, "id"), Text: text, ClientID: body.ClientID, ReplyTo: body.ReplyTo, Attachments: body.Attachments, Kind: body.Kind,
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, map[string]any{"message": msg})
	return nil
}

func intParam(s string, def int64) (int64, error) {
	if s == "" {
		return def, nil
	}
	return strconv.ParseInt(s, 10, 64)
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
