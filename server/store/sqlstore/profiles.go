package sqlstore

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"minichat/server/protocol"
	"minichat/server/store"
)

// schemaProfiles (step 8) gives users a profile: a display name, a status
// text and an avatar (the path it is served at, "" for none). display_key
// is the display name lowered (by Go, so that both databases search it
// alike whatever the script), which the people search matches.
const schemaProfiles = `
ALTER TABLE users ADD COLUMN display_name TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN display_key TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN status_text TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN avatar TEXT NOT NULL DEFAULT '';
`

// searchUsersSQL lists the users that are not disabled, by lowered name
// after a cursor ($1), whose lowered name or display name, or a word of
// the display name, matches a LIKE prefix pattern ($2 for the start, $3
// for a word).
const searchUsersSQL = `SELECT id, name, role, display_name, status_text, avatar FROM users
	WHERE NOT disabled AND {{lower}}(name){{bytes}} > $1
		AND ({{lower}}(name) LIKE $2 ESCAPE '\' OR display_key LIKE $2 ESCAPE '\' OR display_key LIKE $3 ESCAPE '\')
	ORDER BY {{lower}}(name){{bytes}} LIMIT $4`

// SearchUsers lists the accounts that are not disabled, by lowered name.
func (s *Store) SearchUsers(ctx context.Context, prefix, after string, limit int) ([]protocol.User, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("search users: limit %d: %w", limit, store.ErrInvalid)
	}
	q, err := s.reads()
	if err != nil {
		return nil, fmt.Errorf("search users: %w", err)
	}
	p := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(strings.ToLower(prefix))
	out, err := queryRows(ctx, q, searchUsersSQL, func(r row) (u protocol.User, err error) {
		err = r.Scan(&u.ID, &u.Name, &u.Role, &u.DisplayName, &u.StatusText, &u.Avatar)
		return u, err
	}, strings.ToLower(after), p+"%", "% "+p+"%", limit)
	if err != nil {
		return nil, fmt.Errorf("search users: %w", err)
	}
	return orEmpty(out), nil
}

// SetProfile replaces a user's display name and status text.
func (w *wtx) SetProfile(userID, displayName, statusText string) error {
	return w.execOne("set profile of user "+userID, `UPDATE users SET display_name = $1, display_key = $2, status_text = $3 WHERE id = $4`,
		displayName, strings.ToLower(displayName), statusText, userID)
}

// SetAvatar replaces a user's avatar path and returns the old one.
func (w *wtx) SetAvatar(userID, avatar string) (string, error) {
	var old string
	err := w.scan(`SELECT avatar FROM users WHERE id = $1`, []any{userID}, &old)
	if err != nil {
		return "", fmt.Errorf("set avatar: %w", notFound(err, "user %s", userID))
	}
	if err := w.execOne("set avatar of user "+userID, `UPDATE users SET avatar = $1 WHERE id = $2`, avatar, userID); err != nil {
		return "", err
	}
	return old, nil
}

// MemberRoomIDs lists the ids of the rooms a user belongs to.
func (w *wtx) MemberRoomIDs(userID string) ([]string, error) {
	ids, err := queryStrings(w.ctx, w.db, `SELECT room_id FROM members WHERE user_id = $1`, userID)
	if err != nil {
		return nil, fmt.Errorf("member rooms: %w", w.saw(err))
	}
	slices.Sort(ids)
	return ids, nil
}
