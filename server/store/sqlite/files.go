package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"minichat/server/store"
)

const fileCols = `id, name, size, type, sha256, uploader_id, created_at`

func scanFile(r scanner) (store.File, error) {
	var (
		f  store.File
		ms int64
	)
	if err := r.Scan(&f.ID, &f.Name, &f.Size, &f.Type, &f.SHA256, &f.UploaderID, &ms); err != nil {
		return f, err
	}
	f.CreatedAt = time.UnixMilli(ms).UTC()
	return f, nil
}

// fileByID loads a file's record, whoever asks.
func fileByID(ctx context.Context, q *stmtCache, id string) (store.File, error) {
	f, err := scanFile(q.queryRow(ctx, `SELECT `+fileCols+` FROM files WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return f, fmt.Errorf("file %s: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return f, fmt.Errorf("load file %s: %w", id, err)
	}
	return f, nil
}

// CreateFile records an uploaded file.
func (s *Store) CreateFile(ctx context.Context, nf store.NewFile) (store.File, error) {
	now := s.opts.Now()
	f := store.File{
		ID: store.NewID("f_"), Name: nf.Name, Size: nf.Size, Type: nf.Type, SHA256: nf.SHA256,
		UploaderID: nf.UploaderID, CreatedAt: time.UnixMilli(now.UnixMilli()).UTC(),
	}
	err := s.writeAtomic(ctx, func(w *stmtCache) ([]store.Event, error) {
		// The uploader's existence is checked by the same statement.
		res, err := w.exec(ctx, `INSERT INTO files (`+fileCols+`)
			SELECT ?, ?, ?, ?, ?, id, ? FROM users WHERE id = ?`,
			f.ID, f.Name, f.Size, f.Type, f.SHA256, now.UnixMilli(), nf.UploaderID)
		if err != nil {
			return nil, err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil, fmt.Errorf("uploader %s: %w", nf.UploaderID, store.ErrNotFound)
		}
		return nil, nil
	})
	if err != nil {
		return store.File{}, fmt.Errorf("create file: %w", err)
	}
	return f, nil
}

// File returns a file's record if viewerID may read it: its uploader, or a
// member of a room where a message carrying it was posted.
func (s *Store) File(ctx context.Context, fileID, viewerID string) (store.File, error) {
	f, err := scanFile(s.reads.queryRow(ctx, `SELECT `+fileCols+` FROM files f WHERE f.id = ?1
		AND (f.uploader_id = ?2 OR EXISTS (SELECT 1 FROM message_files l
			JOIN members m ON m.room_id = l.room_id AND m.user_id = ?2 WHERE l.file_id = f.id))`, fileID, viewerID))
	if errors.Is(err, sql.ErrNoRows) {
		return f, fmt.Errorf("file %s: %w", fileID, store.ErrNotFound)
	}
	if err != nil {
		return f, fmt.Errorf("load file %s: %w", fileID, err)
	}
	return f, nil
}
