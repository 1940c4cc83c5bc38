package sqlstore

import (
	"context"
	"fmt"
	"time"
	"unicode/utf8"

	"minichat/server/store"
)

// schemaCerts is step 7: the files of automatic HTTPS (certificates, their
// keys, the ACME account) by name, and the named locks with which the nodes
// sharing a database agree which of them orders a certificate.
//
// cert_files.name is a slash-separated path such as
// "certificates/acme-v02.api.letsencrypt.org-directory/chat.example.com/chat.example.com.crt";
// modified is Unix milliseconds. A lock is held by owner until expires
// (Unix milliseconds), which its holder keeps pushing forward while it
// works; a holder that dies leaves a lock that others take once it has
// expired.
const schemaCerts = `
CREATE TABLE cert_files (
	name     TEXT PRIMARY KEY,
	value    {{blob}} NOT NULL,
	modified {{int}} NOT NULL
){{without_rowid}};

CREATE TABLE cert_locks (
	name    TEXT PRIMARY KEY,
	owner   TEXT NOT NULL,
	expires {{int}} NOT NULL
){{without_rowid}};
`

// CertFile is one stored file of automatic HTTPS.
type CertFile struct {
	Name     string
	Size     int64
	Modified time.Time
}

// certWrite runs fn on the write transaction, as a write of no room.
func (s *Store) certWrite(ctx context.Context, fn func(w *wtx) error) error {
	return s.Write(ctx, nil, func(tx store.Tx) ([]store.Event, error) {
		return nil, fn(tx.(*wtx))
	})
}

// PutCertFile stores value under name, replacing what was there.
func (s *Store) PutCertFile(ctx context.Context, name string, value []byte) error {
	now := s.opts.Now().UnixMilli()
	if value == nil {
		value = []byte{}
	}
	err := s.certWrite(ctx, func(w *wtx) error {
		_, err := w.exec(`INSERT INTO cert_files (name, value, modified) VALUES ($1, $2, $3)
			ON CONFLICT (name) DO UPDATE SET value = excluded.value, modified = excluded.modified`, name, value, now)
		return err
	})
	if err != nil {
		return fmt.Errorf("store cert file %s: %w", name, err)
	}
	return nil
}

// CertFile returns the value stored under name, and when it was stored;
// store.ErrNotFound when there is none.
func (s *Store) CertFile(ctx context.Context, name string) ([]byte, time.Time, error) {
	q, err := s.reads()
	if err != nil {
		return nil, time.Time{}, err
	}
	var v []byte
	var ms int64
	if err := q.queryRow(ctx, `SELECT value, modified FROM cert_files WHERE name = $1`, name).Scan(&v, &ms); err != nil {
		return nil, time.Time{}, fmt.Errorf("load cert file: %w", notFound(err, "cert file %s", name))
	}
	return v, time.UnixMilli(ms), nil
}

// underPrefix is the condition of the names at or under prefix ($1: the
// name itself, $2 and $3: its length in characters plus one and itself
// with a slash), or of every name when prefix is empty.
const underPrefix = `($1 = '' OR name = $1 OR substr(name, 1, $2) = $3)`

func prefixArgs(prefix string) []any {
	return []any{prefix, utf8.RuneCountInString(prefix) + 1, prefix + "/"}
}

// CertFiles lists the files whose name is prefix or begins with prefix and
// a slash (every file when prefix is empty), by name.
func (s *Store) CertFiles(ctx context.Context, prefix string) ([]CertFile, error) {
	q, err := s.reads()
	if err != nil {
		return nil, err
	}
	out, err := queryRows(ctx, q, `SELECT name, length(value), modified FROM cert_files WHERE `+underPrefix+` ORDER BY name`, scanCertFile, prefixArgs(prefix)...)
	if err != nil {
		return nil, fmt.Errorf("list cert files: %w", err)
	}
	return out, nil
}

func scanCertFile(r row) (f CertFile, err error) {
	var ms int64
	err = r.Scan(&f.Name, &f.Size, &ms)
	f.Modified = time.UnixMilli(ms)
	return f, err
}

// DeleteCertFiles deletes the file name and every file under name and a
// slash; deleting nothing is no error.
func (s *Store) DeleteCertFiles(ctx context.Context, name string) error {
	if name == "" {
		return fmt.Errorf("delete cert files: empty name")
	}
	err := s.certWrite(ctx, func(w *wtx) error {
		_, err := w.exec(`DELETE FROM cert_files WHERE `+underPrefix, prefixArgs(name)...)
		return err
	})
	if err != nil {
		return fmt.Errorf("delete cert files %s: %w", name, err)
	}
	return nil
}

// TryCertLock takes the lock name for owner until ttl from now, if nobody
// holds it or its holder let it expire, and reports whether it did. A lock
// already held by owner is not taken again: owners are meant to be unique
// to one holding.
func (s *Store) TryCertLock(ctx context.Context, name, owner string, ttl time.Duration) (bool, error) {
	now := s.opts.Now()
	var n int64
	err := s.certWrite(ctx, func(w *wtx) error {
		var err error
		n, err = w.exec(`INSERT INTO cert_locks (name, owner, expires) VALUES ($1, $2, $3)
			ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, expires = excluded.expires
			WHERE cert_locks.expires < $4`, name, owner, now.Add(ttl).UnixMilli(), now.UnixMilli())
		return err
	})
	if err != nil {
		return false, fmt.Errorf("take cert lock %s: %w", name, err)
	}
	return n == 1, nil
}

// RefreshCertLock moves the expiry of owner's lock name to ttl from now;
// it reports false when owner no longer holds it.
func (s *Store) RefreshCertLock(ctx context.Context, name, owner string, ttl time.Duration) (bool, error) {
	expires := s.opts.Now().Add(ttl).UnixMilli()
	var n int64
	err := s.certWrite(ctx, func(w *wtx) error {
		var err error
		n, err = w.exec(`UPDATE cert_locks SET expires = $3 WHERE name = $1 AND owner = $2`, name, owner, expires)
		return err
	})
	if err != nil {
		return false, fmt.Errorf("refresh cert lock %s: %w", name, err)
	}
	return n == 1, nil
}

// CertUnlock releases owner's lock name; a lock owner does not hold (it
// expired and another took it) is left alone.
func (s *Store) CertUnlock(ctx context.Context, name, owner string) error {
	err := s.certWrite(ctx, func(w *wtx) error {
		_, err := w.exec(`DELETE FROM cert_locks WHERE name = $1 AND owner = $2`, name, owner)
		return err
	})
	if err != nil {
		return fmt.Errorf("release cert lock %s: %w", name, err)
	}
	return nil
}
