package sqlstore

import "context"

// ExecRead runs a statement on the store's read connections, for tests
// that tune the database (ANALYZE) behind the store's back.
func ExecRead(ctx context.Context, s *Store, q string) error {
	_, err := s.d.reader().exec(ctx, q)
	return err
}
