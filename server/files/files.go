// Package files keeps the content of uploaded files on disk, named by its
// SHA-256 digest: <dir>/<first two hex digits>/<the 64 hex digits>. Equal
// content is kept once however often it is uploaded; the records that give
// uploads their ids, names and readers live in the store.
//
// Put streams an upload to a temporary file in <dir>/tmp while hashing it,
// never holding it whole in memory, syncs it, and renames it into place, so
// a blob is either absent or complete. A Blobs is safe for concurrent use.
package files

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// ErrTooLarge is returned by Put when the content exceeds the limit.
var ErrTooLarge = errors.New("file too large")

// SniffLen is how many leading bytes of a blob Put returns for content-type
// detection (what http.DetectContentType reads).
const SniffLen = 512

// Blobs is a directory of content-addressed files.
type Blobs struct {
	dir string
}

// Open makes sure dir and dir/tmp exist, removes temporary files left by an
// interrupted upload, and returns the Blobs kept there.
func Open(dir string) (*Blobs, error) {
	tmp := filepath.Join(dir, "tmp")
	if err := os.MkdirAll(tmp, 0o750); err != nil {
		return nil, fmt.Errorf("files dir: %w", err)
	}
	ents, err := os.ReadDir(tmp)
	if err != nil {
		return nil, fmt.Errorf("files dir: %w", err)
	}
	for _, e := range ents {
		_ = os.Remove(filepath.Join(tmp, e.Name()))
	}
	return &Blobs{dir: dir}, nil
}

// Dir is the directory the blobs live in.
func (b *Blobs) Dir() string { return b.dir }

// Blob describes stored content.
type Blob struct {
	SHA256 string // lower-case hex
	Size   int64
	Head   []byte // the first SniffLen bytes (fewer for a shorter file)
}

// Put stores the content read from r, at most max bytes (ErrTooLarge
// beyond, and nothing is kept), and returns its digest, size and head.
// Content already present is not written again.
func (b *Blobs) Put(r io.Reader, max int64) (Blob, error) {
	f, err := os.CreateTemp(filepath.Join(b.dir, "tmp"), "upload-*")
	if err != nil {
		return Blob{}, fmt.Errorf("store upload: %w", err)
	}
	tmp := f.Name()
	keep := false
	defer func() {
		if !keep {
			f.Close()
			os.Remove(tmp)
		}
	}()
	h := sha256.New()
	head := &headWriter{}
	// One byte more than allowed tells a file of exactly max bytes from a
	// larger one.
	n, err := io.Copy(io.MultiWriter(f, h, head), io.LimitReader(r, max+1))
	if err != nil {
		return Blob{}, fmt.Errorf("store upload: %w", err)
	}
	if n > max {
		return Blob{}, ErrTooLarge
	}
	blob := Blob{SHA256: hex.EncodeToString(h.Sum(nil)), Size: n, Head: head.b}
	dst := b.path(blob.SHA256)
	if _, err := os.Stat(dst); err == nil {
		// The same content is there already (and was synced when it
		// came): the deferred cleanup drops ours, which need not reach
		// the disk at all.
		return blob, nil
	}
	if err := f.Sync(); err != nil {
		return Blob{}, fmt.Errorf("store upload: %w", err)
	}
	if err := f.Close(); err != nil {
		return Blob{}, fmt.Errorf("store upload: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o750); err != nil {
		return Blob{}, fmt.Errorf("store upload: %w", err)
	}
	if err := os.Rename(tmp, dst); err != nil {
		return Blob{}, fmt.Errorf("store upload: %w", err)
	}
	keep = true
	// The rename must survive a crash before the record pointing at it is
	// committed: sync the directory entry.
	if d, err := os.Open(filepath.Dir(dst)); err == nil {
		err = d.Sync()
		d.Close()
		if err != nil {
			return Blob{}, fmt.Errorf("store upload: sync dir: %w", err)
		}
	}
	return blob, nil
}

// Open opens the content of a digest for reading.
func (b *Blobs) Open(sha string) (*os.File, error) {
	if !validSHA(sha) {
		return nil, fmt.Errorf("blob %q: %w", sha, os.ErrNotExist)
	}
	return os.Open(b.path(sha))
}

func (b *Blobs) path(sha string) string {
	return filepath.Join(b.dir, sha[:2], sha)
}

func validSHA(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// headWriter keeps the first SniffLen bytes written to it.
type headWriter struct{ b []byte }

func (w *headWriter) Write(p []byte) (int, error) {
	if room := SniffLen - len(w.b); room > 0 {
		w.b = append(w.b, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

// Remove deletes the content of a digest; content already gone is not an
// error. The caller has made sure no file record names it.
func (b *Blobs) Remove(sha string) error {
	if !validSHA(sha) {
		return nil
	}
	if err := os.Remove(b.path(sha)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove blob: %w", err)
	}
	return nil
}

// FreeBytes is the space left for unprivileged writers on the disk that
// holds the files (-1 when the system cannot tell).
func (b *Blobs) FreeBytes() int64 { return freeBytes(b.dir) }
