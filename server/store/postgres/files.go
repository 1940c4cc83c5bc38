package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"minichat/server/store"
)

const fileCols = `f.id, f.name, f.size, f.type, f.sha256, f.uploader_id, f.created_at`

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

// filesByID loads the records of files by id, whoever asks; unknown ids are
// missing from the map.
func filesByID(ctx context.Context, q querier, ids []string) (map[string]store.File, error) {
	rows, err := q.Query(ctx, `SELECT `+fileCols+` FROM files f WHERE f.id = ANY($1)`, ids)
	if err != nil {
		return nil, fmt.Errorf("load files: %w", err)
	}
	defer rows.Close()
	out := make(map[string]store.File, len(ids))
	for rows.Next() {
		f, err := scanFile(rows)
		if err != nil {
			return nil, fmt.Errorf("load files: %w", err)
		}
		out[f.ID] = f
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("load files: %w", err)
	}
	return out, nil
}

// CreateFile records an uploaded file.
func (s *Store) CreateFile(ctx context.Context, nf store.NewFile) (store.File, error) {
	now := s.opts.Now()
	f := store.File{
		ID: store.NewID("f_"), Name: nf.Name, Size: nf.Size, Type: nf.Type, SHA256: nf.SHA256,
		UploaderID: nf.UploaderID, CreatedAt: time.UnixMilli(now.UnixMilli()).UTC(),
	}
	for _, v := range []string{nf.Name, nf.Type, nf.SHA256} {
		if err := checkText(v); err != nil {
			return store.File{}, fmt.Errorf("create file: %w", err)
		}
	}
	err := s.write(ctx, nil, func(ctx context.Context, tx pgx.Tx) ([]store.Event, error) {
		// The uploader's existence is checked by the same statement.
		tag, err := tx.Exec(ctx, `INSERT INTO files (id, name, size, type, sha256, uploader_id, created_at)
			SELECT $1, $2, $3, $4, $5, id, $6 FROM users WHERE id = $7`,
			f.ID, f.Name, f.Size, f.Type, f.SHA256, now.UnixMilli(), nf.UploaderID)
		if err != nil {
			return nil, err
		}
		if tag.RowsAffected() == 0 {
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
	q, err := s.reads()
	if err != nil {
		return store.File{}, fmt.Errorf("file: %w", err)
	}
	f, err := scanFile(q.QueryRow(ctx, `SELECT `+fileCols+` FROM files f WHERE f.id = $1
		AND (f.uploader_id = $2 OR EXISTS (SELECT 1 FROM message_files l
			JOIN members m ON m.room_id = l.room_id AND m.user_id = $2 WHERE l.file_id = f.id))`, fileID, viewerID))
	if isNoRows(err) {
		return f, fmt.Errorf("file %s: %w", fileID, store.ErrNotFound)
	}
	if err != nil {
		return f, fmt.Errorf("load file %s: %w", fileID, err)
	}
	return f, nil
}
