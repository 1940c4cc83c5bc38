package api

import (
	"errors"
	"io"
	"mime"
	"net/http"
	"os"
	"time"

	"github.com/go-chi/chi/v5"

	"minichat/server/files"
	"minichat/server/protocol"
	"minichat/server/store"
)

// DefaultMaxUploadBytes is the upload limit when Options.MaxUploadBytes is 0.
const DefaultMaxUploadBytes = 25 << 20

// multipartSlack is what a multipart body may carry besides the file: the
// boundaries, the part headers and other small fields.
const multipartSlack = 64 << 10

// fileCSP is the Content-Security-Policy of every file that is not an image
// shown inline: nothing in it may run or load, even if a browser were to
// render it as a document.
const fileCSP = "default-src 'none'; sandbox"

// upload stores the multipart field "file" and records it for the caller.
func (a *api) upload(w http.ResponseWriter, r *http.Request) error {
	limit := a.maxUpload()
	if r.ContentLength > limit+multipartSlack {
		return tooLarge(limit)
	}
	if floor := a.opts.MinFreeDisk; floor > 0 {
		if free := a.opts.Blobs.FreeBytes(); free >= 0 && free-max(r.ContentLength, 0) < floor {
			a.log.Warn().Int64("free_bytes", free).Int64("min_free_disk", floor).Msg("upload refused: the disk is nearly full")
			return protocol.Errorf(protocol.CodeInsufficientStorage, "the server is short of disk space; uploads are paused")
		}
	}
	user := sessionOf(r).User
	since := time.Now().Add(-a.opts.UploadTTL)
	// What is left of the quota bounds what is read: a file that would
	// pass it is refused as soon as it does, not after it is all on disk.
	putLimit, quotaBound := limit, false
	if quota := a.opts.UploadQuota; quota > 0 {
		used, err := a.opts.Store.UploadedBytes(r.Context(), user.ID, since)
		if err != nil {
			return err
		}
		if left := quota - used; left < putLimit {
			if left <= 0 {
				return a.opts.Chat.CheckQuota(r.Context(), user, 1, quota, since)
			}
			putLimit, quotaBound = left, true
		}
	}
	r.Body = http.MaxBytesReader(w, r.Body, limit+multipartSlack)
	mr, err := r.MultipartReader()
	if err != nil {
		return protocol.Errorf(protocol.CodeBadRequest, "body must be multipart/form-data with a field named file")
	}
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			return protocol.Errorf(protocol.CodeBadRequest, "no field named file in the form")
		}
		if err != nil {
			return uploadReadErr(err, limit)
		}
		if part.FormName() != "file" {
			// Other fields are skipped, bounded by the body limit.
			if _, err := io.Copy(io.Discard, part); err != nil {
				return uploadReadErr(err, limit)
			}
			continue
		}
		name := files.CleanName(part.FileName())
		blob, err := a.opts.Blobs.Put(part, putLimit)
		if errors.Is(err, files.ErrTooLarge) && quotaBound {
			return a.opts.Chat.CheckQuota(r.Context(), user, putLimit+1, a.opts.UploadQuota, since)
		}
		if err != nil {
			return uploadReadErr(err, limit)
		}
		f, err := a.opts.Chat.RecordFile(r.Context(), user, store.NewFile{
			Name: name, Size: blob.Size, Type: files.ContentType(name, blob.Head), SHA256: blob.SHA256,
		}, a.opts.UploadQuota, since)
		if err != nil {
			a.dropContent(r, blob.SHA256)
			return err
		}
		writeJSON(w, http.StatusCreated, map[string]any{"attachment": f.Attachment()})
		return nil
	}
}

// dropContent removes the content of an upload that was refused, unless a
// file record names it.
func (a *api) dropContent(r *http.Request, sha string) {
	if used, err := a.opts.Store.ContentUsed(r.Context(), sha); err == nil && !used {
		if err := a.opts.Blobs.Remove(sha); err != nil {
			a.log.Warn().Err(err).Msg("cannot remove the content of a refused upload")
		}
	}
}

func (a *api) maxUpload() int64 {
	if a.opts.MaxUploadBytes > 0 {
		return a.opts.MaxUploadBytes
	}
	return DefaultMaxUploadBytes
}

func tooLarge(limit int64) error {
	return protocol.Errorf(protocol.CodeTooLarge, "files may be at most %d bytes", limit)
}

// uploadReadErr maps an error of reading or storing an upload.
func uploadReadErr(err error, limit int64) error {
	var mbe *http.MaxBytesError
	if errors.Is(err, files.ErrTooLarge) || errors.As(err, &mbe) {
		return tooLarge(limit)
	}
	var ce *protocol.CodeError
	if errors.As(err, &ce) {
		return err
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return protocol.Errorf(protocol.CodeBadRequest, "the upload ended early")
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		// The client's fault, not the server's: it sent too slowly.
		return protocol.Errorf(protocol.CodeBadRequest, "the upload took longer than the server allows")
	}
	return err
}

// file serves an uploaded file to those who may read it. Raster images are
// shown inline; everything else is a download, under a CSP that forbids
// scripts and loads, and never sniffed.
func (a *api) file(w http.ResponseWriter, r *http.Request) error {
	f, err := a.opts.Chat.File(r.Context(), sessionOf(r).User, chi.URLParam(r, "id"))
	if err != nil {
		return err
	}
	content, err := a.opts.Blobs.Open(f.SHA256)
	if errors.Is(err, os.ErrNotExist) {
		return protocol.Errorf(protocol.CodeNotFound, "the content of this file is missing")
	}
	if err != nil {
		return err
	}
	defer content.Close()
	h := w.Header()
	h.Set("Content-Type", f.Type)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "private, max-age=3600")
	h.Set("ETag", `"`+f.SHA256+`"`)
	disposition := "attachment"
	if files.Inline(f.Type) {
		disposition = "inline"
	} else {
		h.Set("Content-Security-Policy", fileCSP)
	}
	if v := mime.FormatMediaType(disposition, map[string]string{"filename": f.Name}); v != "" {
		disposition = v
	}
	h.Set("Content-Disposition", disposition)
	http.ServeContent(w, r, "", f.CreatedAt, content)
	return nil
}

// search answers GET /api/search?q=…&room=….
func (a *api) search(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	msgs, err := a.opts.Chat.Search(r.Context(), sessionOf(r).User, q.Get("q"), q.Get("room"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"messages": msgs})
	return nil
}
