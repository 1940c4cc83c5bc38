package chat

import (
	"context"
	"errors"

	"minichat/server/protocol"
	"minichat/server/store"
)

// RecordFile records a file user uploaded (its content already kept,
// named by its SHA256).
func (s *Service) RecordFile(ctx context.Context, user protocol.User, f store.NewFile) (store.File, error) {
	f.UploaderID = user.ID
	var rec store.File
	err := s.write(ctx, "user", nil, func(tx store.Tx) ([]store.Event, error) {
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
