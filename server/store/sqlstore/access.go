package sqlstore

import (
	"context"
	"fmt"
	"strings"
	"time"

	"minichat/server/protocol"
	"minichat/server/store"
)

// HasUsers reports whether any account exists.
func (s *Store) HasUsers(ctx context.Context) (bool, error) {
	q, err := s.reads()
	if err != nil {
		return false, fmt.Errorf("has users: %w", err)
	}
	var some bool
	if err := q.queryRow(ctx, `SELECT EXISTS (SELECT 1 FROM users) AS found`).Scan(&some); err != nil {
		return false, fmt.Errorf("has users: %w", err)
	}
	return some, nil
}

// directorySQL lists public rooms by name (without regard to case) after a
// cursor, those whose name starts with a prefix ($3, a LIKE pattern).
const directorySQL = `SELECT ` + roomCols + ` FROM ` + roomFrom + `
	WHERE r.kind = 'public' AND NOT r.archived AND {{lower}}(r.name) > $2 AND {{lower}}(r.name) LIKE $3 ESCAPE '\'
	ORDER BY {{lower}}(r.name) LIMIT $4`

// Directory lists public rooms by name, paged.
func (s *Store) Directory(ctx context.Context, viewerID, prefix, after string, limit int) ([]protocol.Room, error) {
	q, err := s.reads()
	if err != nil {
		return nil, fmt.Errorf("directory: %w", err)
	}
	pattern := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(strings.ToLower(prefix)) + "%"
	out, err := queryRows(ctx, q, directorySQL, scanRoom, viewerID, strings.ToLower(after), pattern, limit)
	if err != nil {
		return nil, fmt.Errorf("directory: %w", err)
	}
	return orEmpty(out), nil
}

// uploadedSQL sums the sizes of a user's files that count against the
// quota: carried by a message, or uploaded since $2 and not released (by
// the deletion of the message that carried them).
const uploadedSQL = `SELECT CAST(COALESCE(SUM(f.size), 0) AS BIGINT) AS used FROM files f
	WHERE f.uploader_id = $1 AND ((f.created_at >= $2 AND NOT f.released)
		OR EXISTS (SELECT 1 FROM message_files mf WHERE mf.file_id = f.id))`

// UploadedBytes is the size of a user's files that count against the quota.
func (s *Store) UploadedBytes(ctx context.Context, userID string, since time.Time) (int64, error) {
	q, err := s.reads()
	if err != nil {
		return 0, fmt.Errorf("uploaded bytes: %w", err)
	}
	var n int64
	if err := q.queryRow(ctx, uploadedSQL, userID, since.UnixMilli()).Scan(&n); err != nil {
		return 0, fmt.Errorf("uploaded bytes: %w", err)
	}
	return n, nil
}

// ContentUsed reports whether a file record names the content.
func (s *Store) ContentUsed(ctx context.Context, sha256 string) (bool, error) {
	q, err := s.reads()
	if err != nil {
		return false, fmt.Errorf("content used: %w", err)
	}
	var used bool
	if err := q.queryRow(ctx, `SELECT EXISTS (SELECT 1 FROM files WHERE sha256 = $1) AS used`, sha256).Scan(&used); err != nil {
		return false, fmt.Errorf("content used: %w", err)
	}
	return used, nil
}

// UploadedBytes is Store.UploadedBytes inside the transaction.
func (w *wtx) UploadedBytes(userID string, since time.Time) (int64, error) {
	var n int64
	if err := w.scan(uploadedSQL, []any{userID, since.UnixMilli()}, &n); err != nil {
		return 0, fmt.Errorf("uploaded bytes: %w", err)
	}
	return n, nil
}

// DeleteUnattachedFiles deletes the records of files no message carries,
// created before before or released, and returns the contents no record names any more.
func (w *wtx) DeleteUnattachedFiles(before time.Time) ([]string, error) {
	shas, err := queryStrings(w.ctx, w.db, `DELETE FROM files WHERE (created_at < $1 OR released)
		AND NOT EXISTS (SELECT 1 FROM message_files mf WHERE mf.file_id = files.id) RETURNING sha256`, before.UnixMilli())
	if err != nil {
		return nil, fmt.Errorf("delete unattached files: %w", w.saw(err))
	}
	var gone []string
	seen := map[string]bool{}
	for _, sha := range shas {
		if seen[sha] {
			continue
		}
		seen[sha] = true
		var used bool
		if err := w.scan(`SELECT EXISTS (SELECT 1 FROM files WHERE sha256 = $1) AS used`, []any{sha}, &used); err != nil {
			return nil, fmt.Errorf("delete unattached files: %w", err)
		}
		if !used {
			gone = append(gone, sha)
		}
	}
	return gone, nil
}

// Setting returns a value of the instance's settings.
func (w *wtx) Setting(key string) (string, error) {
	var v string
	if err := w.scan(`SELECT value FROM settings WHERE key = $1`, []any{key}, &v); err != nil {
		return "", fmt.Errorf("setting %s: %w", key, notFound(err, "setting %s", key))
	}
	return v, nil
}

// SetSetting stores a value of the instance's settings.
func (w *wtx) SetSetting(key, value string) error {
	if _, err := w.exec(`INSERT INTO settings (key, value) VALUES ($1, $2)
		ON CONFLICT (key) DO UPDATE SET value = excluded.value`, key, value); err != nil {
		return fmt.Errorf("set setting %s: %w", key, err)
	}
	return nil
}

var _ store.Store = (*Store)(nil)
