package chat

import (
	"context"
	"errors"
	"time"

	"minichat/server/protocol"
	"minichat/server/store"
)

// RecordFile records a file user uploaded (its content already kept,
// named by its SHA256), within the user's quota (mayUpload; quota <= 0:
// none), counting the uploads since since that no message carries.
func (s *Service) RecordFile(ctx context.Context, user protocol.User, f store.NewFile, quota int64, since time.Time) (store.File, error) {
	f.UploaderID = user.ID
	var rec store.File
	err := s.write(ctx, "user", nil, func(tx store.Tx) ([]store.Event, error) {
		if quota > 0 {
			used, err := tx.UploadedBytes(user.ID, since)
			if err != nil {
				return nil, err
			}
			if err := mayUpload(used, f.Size, quota); err != nil {
				return nil, err
			}
		}
		var err error
		rec, err = tx.CreateFile(f)
		return nil, err
	})
	return rec, err
}

// File returns the record of a file user may read (mayReadFile); one they
// may not read is not found, exactly like an unknown id.
func (s *Service) File(ctx context.Context, user protocol.User, fileID string) (store.File, error) {
	noSuch := protocol.Errorf(protocol.CodeNotFound, "no such file")
	if !protocol.ValidID(fileID) {
		return store.File{}, noSuch
	}
	f, posted, err := s.Store.File(ctx, fileID, user.ID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && !mayReadFile(f, user.ID, posted)) {
		return store.File{}, noSuch
	}
	return f, codeErr(err, "file")
}
