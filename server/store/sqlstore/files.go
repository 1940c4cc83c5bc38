package sqlstore

import (
	"context"
	"fmt"
	"time"

	"minichat/server/store"
)

const fileCols = `f.id, f.name, f.size, f.type, f.sha256, f.uploader_id, f.created_at`

func scanFile(r row, extra ...any) (store.File, error) {
	var (
		f  store.File
		ms int64
	)
	if err := r.Scan(append([]any{&f.ID, &f.Name, &f.Size, &f.Type, &f.SHA256, &f.UploaderID, &ms}, extra...)...); err != nil {
		return f, err
	}
	f.CreatedAt = time.UnixMilli(ms).UTC()
	return f, nil
}

// filesByID loads the records of files by id (ids made by dialect.list),
// whoever asks; unknown ids are missing from the map.
func filesByID(ctx context.Context, q db, ids any) (map[string]store.File, error) {
	files, err := queryRows(ctx, q, `SELECT `+fileCols+` FROM files f WHERE f.id {{in $1}}`, noExtra(scanFile), ids)
	if err != nil {
		return nil, fmt.Errorf("load files: %w", err)
	}
	out := make(map[string]store.File, len(files))
	for _, f := range files {
		out[f.ID] = f
	}
	return out, nil
}

// File returns a file's record and whether it is posted in a room viewerID
// belongs to.
func (s *Store) File(ctx context.Context, fileID, viewerID string) (store.File, bool, error) {
	q, err := s.reads()
	if err != nil {
		return store.File{}, false, fmt.Errorf("file: %w", err)
	}
	var posted bool
	f, err := scanFile(q.queryRow(ctx, `SELECT `+fileCols+`, EXISTS (SELECT 1 FROM message_files l
			JOIN members m ON m.room_id = l.room_id AND m.user_id = $2 WHERE l.file_id = f.id) AS posted
		FROM files f WHERE f.id = $1`, fileID, viewerID), &posted)
	if err != nil {
		return store.File{}, false, fmt.Errorf("load file: %w", notFound(err, "file %s", fileID))
	}
	return f, posted, nil
}

// CreateFile records an uploaded file.
func (w *wtx) CreateFile(nf store.NewFile) (store.File, error) {
	now := w.s.opts.Now().UnixMilli()
	f := store.File{
		ID: store.NewID("f_"), Name: nf.Name, Size: nf.Size, Type: nf.Type, SHA256: nf.SHA256,
		UploaderID: nf.UploaderID, CreatedAt: time.UnixMilli(now).UTC(),
	}
	// The uploader's existence is checked by the same statement.
	if err := w.execOne("record file of uploader "+nf.UploaderID, `INSERT INTO files (id, name, size, type, sha256, uploader_id, created_at)
		SELECT $1, $2, $3, $4, $5, id, $6 FROM users WHERE id = $7`,
		f.ID, f.Name, f.Size, f.Type, f.SHA256, now, nf.UploaderID); err != nil {
		return store.File{}, err
	}
	return f, nil
}
