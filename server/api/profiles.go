package api

import (
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"

	"minichat/server/avatar"
	"minichat/server/protocol"
	"minichat/server/store"
)

// Defaults of the avatar limits (Options).
const (
	DefaultAvatarMaxBytes  = 5 << 20
	DefaultAvatarMaxSide   = 4096
	DefaultAvatarPerMinute = 10
	// DefaultProfilePerMinute bounds the display name and status text
	// changes of one account: each is told to everyone who shares a room
	// with it.
	DefaultProfilePerMinute = 30
)

// avatarPath is where the avatars are served; a user's Avatar is this
// followed by the key of the picture.
const avatarPath = "/api/avatars/"

// avatarDecodes bounds how many avatars are decoded at once across the
// server: each may hold a picture of MaxSide² pixels in memory.
const avatarDecodes = 2

// initProfiles sets the defaults of the profile options and the limiter of
// avatar changes.
func (a *api) initProfiles() {
	o := &a.opts
	if o.AvatarMaxBytes <= 0 {
		o.AvatarMaxBytes = DefaultAvatarMaxBytes
	}
	if o.AvatarMaxSide <= 0 {
		o.AvatarMaxSide = DefaultAvatarMaxSide
	}
	a.avatarRate = perMinute(o.AvatarRate, DefaultAvatarPerMinute)
	a.profileRate = perMinute(o.ProfileRate, DefaultProfilePerMinute)
	a.decodes = make(chan struct{}, avatarDecodes)
}

// profileRoutes adds the profile endpoints to a group that requires a
// session.
func (a *api) profileRoutes(r chi.Router) {
	r.With(a.PerUser(a.profileRate, "profile changes")).Patch("/me", a.handle(a.updateProfile))
	r.With(a.PerUser(a.profileRate, "profile changes")).Put("/me/profile", a.handle(a.updateProfile))
	r.With(a.PerUser(a.avatarRate, "avatar changes"), allowSlowBody(uploadReadTimeout)).Put("/me/avatar", a.handle(a.putAvatar))
	r.With(a.PerUser(a.avatarRate, "avatar changes")).Delete("/me/avatar", a.handle(a.deleteAvatar))
	r.Get("/users", a.handle(a.searchUsers))
	r.Get("/avatars/{key}", a.handle(a.getAvatar))
	r.Head("/avatars/{key}", a.handle(a.getAvatar))
}

type userResponse struct {
	User protocol.User `json:"user"`
}

// updateProfile changes the caller's display name and status text.
func (a *api) updateProfile(w http.ResponseWriter, r *http.Request) error {
	var ch protocol.ProfileChange
	if err := decode(w, r, &ch); err != nil {
		return err
	}
	u, err := a.opts.Chat.UpdateProfile(r.Context(), sessionOf(r).User, ch)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, userResponse{User: u})
	return nil
}

// putAvatar replaces the caller's avatar with the picture of the body: the
// image itself (Content-Type image/png, image/jpeg or image/gif) or a
// multipart form with the picture in the field "file".
func (a *api) putAvatar(w http.ResponseWriter, r *http.Request) error {
	if a.opts.Avatars == nil {
		return protocol.Errorf(protocol.CodeNotFound, "avatars are not kept by this server")
	}
	limit := a.opts.AvatarMaxBytes
	if r.ContentLength > limit+multipartSlack {
		return avatarTooLarge(limit)
	}
	r.Body = http.MaxBytesReader(w, r.Body, limit+multipartSlack)
	var body io.Reader = r.Body
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct == "multipart/form-data" {
		mr, err := r.MultipartReader()
		if err != nil {
			return protocol.Errorf(protocol.CodeBadRequest, "a multipart body must have a field named file")
		}
		for {
			part, err := mr.NextPart()
			if err == io.EOF {
				return protocol.Errorf(protocol.CodeBadRequest, "no field named file in the form")
			}
			if err != nil {
				return avatarReadErr(err, limit)
			}
			if part.FormName() == "file" {
				body = part
				break
			}
			if _, err := io.Copy(io.Discard, part); err != nil {
				return avatarReadErr(err, limit)
			}
		}
	}
	data, err := io.ReadAll(io.LimitReader(body, limit+1))
	if err != nil {
		return avatarReadErr(err, limit)
	}
	if int64(len(data)) > limit {
		return avatarTooLarge(limit)
	}
	if len(data) == 0 {
		return protocol.Errorf(protocol.CodeBadRequest, "the body holds no picture")
	}
	select {
	case a.decodes <- struct{}{}:
	case <-r.Context().Done():
		return r.Context().Err()
	}
	images, err := avatar.Make(data, a.opts.AvatarMaxSide)
	<-a.decodes
	switch {
	case errors.Is(err, avatar.ErrTooWide):
		return protocol.Errorf(protocol.CodeTooLarge, "%s", err.Error())
	case errors.Is(err, avatar.ErrFormat):
		return protocol.Errorf(protocol.CodeBadRequest, "the picture must be a PNG, JPEG or GIF image")
	case err != nil:
		return err
	}
	key := store.NewID("a_")
	if err := a.opts.Avatars.Save(key, images); err != nil {
		return err
	}
	u, old, err := a.opts.Chat.SetAvatar(r.Context(), sessionOf(r).User, avatarPath+key)
	if err != nil {
		a.opts.Avatars.Remove(key)
		return err
	}
	a.removeAvatar(old)
	writeJSON(w, http.StatusOK, userResponse{User: u})
	return nil
}

// deleteAvatar removes the caller's avatar.
func (a *api) deleteAvatar(w http.ResponseWriter, r *http.Request) error {
	u, old, err := a.opts.Chat.SetAvatar(r.Context(), sessionOf(r).User, "")
	if err != nil {
		return err
	}
	a.removeAvatar(old)
	writeJSON(w, http.StatusOK, userResponse{User: u})
	return nil
}

// removeAvatar deletes the files of a replaced avatar. Pages that still
// show it have it cached; no one is sent the old path again.
func (a *api) removeAvatar(path string) {
	if key, ok := strings.CutPrefix(path, avatarPath); ok && a.opts.Avatars != nil {
		a.opts.Avatars.Remove(key)
	}
}

// getAvatar serves an avatar: a square PNG of 256 pixels, or of 64 with
// ?size=64. A key's picture never changes, so it is cached for a year.
func (a *api) getAvatar(w http.ResponseWriter, r *http.Request) error {
	key := chi.URLParam(r, "key")
	size, _ := strconv.Atoi(r.URL.Query().Get("size"))
	if a.opts.Avatars == nil || !avatar.ValidKey(key) {
		return protocol.Errorf(protocol.CodeNotFound, "no such avatar")
	}
	f, err := a.opts.Avatars.Open(key, size)
	if err != nil {
		return protocol.Errorf(protocol.CodeNotFound, "no such avatar")
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	h := w.Header()
	h.Set("Content-Type", "image/png")
	h.Set("Cache-Control", "private, max-age=31536000, immutable")
	h.Set("Content-Security-Policy", fileCSP)
	http.ServeContent(w, r, "", st.ModTime(), f)
	return nil
}

// searchUsers answers GET /api/users?q=&limit=&cursor=: a page of people.
func (a *api) searchUsers(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	limit := 0
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			return protocol.Errorf(protocol.CodeBadRequest, "limit must be a positive number")
		}
		limit = n
	}
	page, err := a.opts.Chat.SearchUsers(r.Context(), sessionOf(r).User, q.Get("q"), q.Get("cursor"), limit)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, page)
	return nil
}

func avatarTooLarge(limit int64) error {
	return protocol.Errorf(protocol.CodeTooLarge, "an avatar picture may be at most %d bytes", limit)
}

func avatarReadErr(err error, limit int64) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return avatarTooLarge(limit)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return protocol.Errorf(protocol.CodeBadRequest, "the upload ended early")
	}
	return err
}
