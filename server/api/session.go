package api

import (
	"net/http"

	"minichat/server/protocol"
)

// whoami answers GET /api/session: 200 {"user":User} when the request
// carries a live session, 200 {"user":null} when it carries none or an
// ended one. A page asks it on load: "not signed in" is an answer there,
// not an error (GET /api/me answers 401, which a browser logs as one).
// A store that cannot answer is still an error.
func (a *api) whoami(w http.ResponseWriter, r *http.Request) error {
	sess, err := authenticate(a.opts.Store, r, a.opts.SessionIdle, a.opts.SessionMax)
	if err != nil {
		if protocol.ErrorCode(err) == protocol.CodeUnauthorized {
			writeJSON(w, http.StatusOK, map[string]any{"user": nil})
			return nil
		}
		return err
	}
	logUser(r, sess.User.Name)
	a.writeUser(w, r, sess.User)
	return nil
}
