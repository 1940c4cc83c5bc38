package sqlstore

import (
	"context"
	"fmt"

	"minichat/server/protocol"
)

// The administration primitives: reading a setting outside a write,
// changing a role, counting the administrators who can act.

// Setting returns a value of the instance's settings; ErrNotFound.
func (s *Store) Setting(ctx context.Context, key string) (string, error) {
	q, err := s.reads()
	if err != nil {
		return "", fmt.Errorf("setting %s: %w", key, err)
	}
	var v string
	if err := q.queryRow(ctx, `SELECT value FROM settings WHERE key = $1`, key).Scan(&v); err != nil {
		return "", fmt.Errorf("setting %s: %w", key, notFound(err, "setting %s", key))
	}
	return v, nil
}

// SetRole sets a user's role.
func (w *wtx) SetRole(userID, role string) error {
	return w.execOne("set role of user "+userID, `UPDATE users SET role = $1 WHERE id = $2`, role, userID)
}

// ActiveAdmins counts the administrators whose account is not disabled.
func (w *wtx) ActiveAdmins() (int, error) {
	var n int
	if err := w.scan(`SELECT COUNT(*) AS n FROM users WHERE role = $1 AND NOT disabled`, []any{protocol.RoleAdmin}, &n); err != nil {
		return 0, fmt.Errorf("count admins: %w", err)
	}
	return n, nil
}
