package api

import (
	"net/http"

	"github.com/go-chi/chi/v5"

	"minichat/server/protocol"
)

// members answers GET /api/rooms/{id}/members?after=NAME&limit=N.
func (a *api) members(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	limit, err := intParam(q.Get("limit"), protocol.DefaultMembersPage)
	if err != nil || limit < 1 || limit > protocol.MaxMembersPage {
		return protocol.Errorf(protocol.CodeBadRequest, "limit must be 1-%d", protocol.MaxMembersPage)
	}
	users, next, err := a.opts.Chat.Members(r.Context(), sessionOf(r).User, chi.URLParam(r, "id"), q.Get("after"), int(limit))
	if err != nil {
		return err
	}
	out := protocol.Members{Members: users}
	if next != "" {
		out.Next = &next
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// setTopic answers PUT /api/rooms/{id}/topic {"topic"}.
func (a *api) setTopic(w http.ResponseWriter, r *http.Request) error {
	var body protocol.TopicBody
	if err := decode(w, r, &body); err != nil {
		return err
	}
	room, err := a.opts.Chat.SetTopic(r.Context(), sessionOf(r).User, chi.URLParam(r, "id"), body.Topic)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"room": room})
	return nil
}

// rename answers PUT /api/rooms/{id}/name {"name"}.
func (a *api) rename(w http.ResponseWriter, r *http.Request) error {
	var body protocol.RenameBody
	if err := decode(w, r, &body); err != nil {
		return err
	}
	room, err := a.opts.Chat.Rename(r.Context(), sessionOf(r).User, chi.URLParam(r, "id"), body.Name)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"room": room})
	return nil
}

// archive answers PUT /api/rooms/{id}/archived {"archived"}.
func (a *api) archive(w http.ResponseWriter, r *http.Request) error {
	var body protocol.ArchiveBody
	if err := decode(w, r, &body); err != nil {
		return err
	}
	room, err := a.opts.Chat.Archive(r.Context(), sessionOf(r).User, chi.URLParam(r, "id"), body.Archived)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"room": room})
	return nil
}
