package autotls

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/caddyserver/certmagic"

	"minichat/server/store"
	"minichat/server/store/sqlstore"
)

// SQLStorage keeps certmagic's files (certificates, keys, the ACME account,
// challenge tokens) in the database, and its locks there too, so that every
// node sharing the database serves the same certificate and one node at a
// time orders or renews it while the others wait and then load what it
// stored.
//
// A lock is a row of cert_locks held until an expiry that the holder pushes
// forward every LockTTL/3 while it works: a node that dies holding a lock
// blocks the others for at most LockTTL.
type SQLStorage struct {
	db      *sqlstore.Store
	LockTTL time.Duration // default 2 minutes
	// Poll is how often Lock tries again for a held lock; default 1 s.
	Poll time.Duration

	mu    sync.Mutex
	held  map[string]*heldLock // lock name → this process's holding
	owner string               // this storage's id, the prefix of its holdings
}

type heldLock struct {
	owner string
	stop  context.CancelFunc
	done  chan struct{}
}

var (
	_ certmagic.Storage   = (*SQLStorage)(nil)
	_ certmagic.TryLocker = (*SQLStorage)(nil)
)

// NewSQLStorage is the storage of automatic HTTPS in st.
func NewSQLStorage(st *sqlstore.Store) *SQLStorage {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return &SQLStorage{db: st, held: map[string]*heldLock{}, owner: hex.EncodeToString(b[:])}
}

func (s *SQLStorage) ttl() time.Duration {
	if s.LockTTL > 0 {
		return s.LockTTL
	}
	return 2 * time.Minute
}

func (s *SQLStorage) poll() time.Duration {
	if s.Poll > 0 {
		return s.Poll
	}
	return time.Second
}

// clean is key without surrounding slashes, as certmagic's keys are
// relative paths.
func clean(key string) string { return strings.Trim(path.Clean("/"+key), "/") }

// Store puts value at key.
func (s *SQLStorage) Store(ctx context.Context, key string, value []byte) error {
	return s.db.PutCertFile(ctx, clean(key), value)
}

// Load returns the value at key, or an error wrapping fs.ErrNotExist.
func (s *SQLStorage) Load(ctx context.Context, key string) ([]byte, error) {
	v, _, err := s.db.CertFile(ctx, clean(key))
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("%s: %w", key, fs.ErrNotExist)
	}
	return v, err
}

// Delete deletes key and, as a directory, everything under it.
func (s *SQLStorage) Delete(ctx context.Context, key string) error {
	return s.db.DeleteCertFiles(ctx, clean(key))
}

// Exists reports whether key is a file or a directory of files.
func (s *SQLStorage) Exists(ctx context.Context, key string) bool {
	files, err := s.db.CertFiles(ctx, clean(key))
	return err == nil && len(files) > 0
}

// List returns the keys under dir: its files and directories, and with
// recursive everything below them too (as certmagic's FileStorage does).
func (s *SQLStorage) List(ctx context.Context, dir string, recursive bool) ([]string, error) {
	dir = clean(dir)
	files, err := s.db.CertFiles(ctx, dir)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var out []string
	for _, f := range files {
		if f.Name == dir {
			continue // a file, not a directory
		}
		rest := f.Name
		if dir != "" {
			rest = strings.TrimPrefix(f.Name, dir+"/")
		}
		parts := strings.Split(rest, "/")
		if !recursive {
			parts = parts[:1]
		}
		for i := range parts {
			k := strings.Join(parts[:i+1], "/")
			if dir != "" {
				k = dir + "/" + k
			}
			if !seen[k] {
				seen[k] = true
				out = append(out, k)
			}
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: %w", dir, fs.ErrNotExist)
	}
	return out, nil
}

// Stat describes key: a file, a directory of files, or fs.ErrNotExist.
func (s *SQLStorage) Stat(ctx context.Context, key string) (certmagic.KeyInfo, error) {
	key = clean(key)
	files, err := s.db.CertFiles(ctx, key)
	if err != nil {
		return certmagic.KeyInfo{}, err
	}
	if len(files) == 0 {
		return certmagic.KeyInfo{}, fmt.Errorf("%s: %w", key, fs.ErrNotExist)
	}
	if f := files[0]; f.Name == key {
		return certmagic.KeyInfo{Key: key, Modified: f.Modified, Size: f.Size, IsTerminal: true}, nil
	}
	info := certmagic.KeyInfo{Key: key}
	for _, f := range files {
		if f.Modified.After(info.Modified) {
			info.Modified = f.Modified
		}
	}
	return info, nil
}

// Lock takes the lock name, waiting while another holds it (until it is
// released or expires) or until ctx ends.
func (s *SQLStorage) Lock(ctx context.Context, name string) error {
	for {
		ok, err := s.TryLock(ctx, name)
		if err != nil || ok {
			return err
		}
		t := time.NewTimer(s.poll())
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// TryLock takes the lock name if nobody holds it, without waiting.
func (s *SQLStorage) TryLock(ctx context.Context, name string) (bool, error) {
	var b [8]byte
	_, _ = rand.Read(b[:])
	owner := s.owner + "-" + hex.EncodeToString(b[:])
	ok, err := s.db.TryCertLock(ctx, name, owner, s.ttl())
	if err != nil || !ok {
		return false, err
	}
	kctx, stop := context.WithCancel(context.Background())
	h := &heldLock{owner: owner, stop: stop, done: make(chan struct{})}
	go s.keepAlive(kctx, name, h)
	s.mu.Lock()
	s.held[name] = h
	s.mu.Unlock()
	return true, nil
}

// keepAlive pushes the expiry of a held lock forward until stopped.
func (s *SQLStorage) keepAlive(ctx context.Context, name string, h *heldLock) {
	defer close(h.done)
	tick := time.NewTicker(s.ttl() / 3)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			if ok, err := s.db.RefreshCertLock(ctx, name, h.owner, s.ttl()); err == nil && !ok {
				return // lost (expired and taken): nothing to keep
			}
		}
	}
}

// Unlock releases the lock name that Lock took.
func (s *SQLStorage) Unlock(ctx context.Context, name string) error {
	s.mu.Lock()
	h := s.held[name]
	delete(s.held, name)
	s.mu.Unlock()
	if h == nil {
		return fmt.Errorf("unlock %s: not held", name)
	}
	h.stop()
	<-h.done
	return s.db.CertUnlock(ctx, name, h.owner)
}
