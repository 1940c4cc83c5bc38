package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"minichat/server/protocol"
)

// api calls the server's HTTP API (PROTOCOL.md §1).
type api struct {
	base   string // http(s)://host:port, no trailing slash
	client *http.Client
}

// apiError is an HTTP error answer of the server.
type apiError struct {
	Status int
	Code   string
	Msg    string
}

func (e *apiError) Error() string {
	return fmt.Sprintf("HTTP %d %s: %s", e.Status, e.Code, e.Msg)
}

func statusOf(err error) int {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae.Status
	}
	return 0
}

func (a *api) do(ctx context.Context, method, path, token string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.base+path, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := a.client.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	if resp.StatusCode >= 300 {
		var eb protocol.ErrorBody
		_ = json.Unmarshal(data, &eb)
		return fmt.Errorf("%s %s: %w", method, path,
			&apiError{Status: resp.StatusCode, Code: eb.Error.Code, Msg: eb.Error.Message})
	}
	if out != nil && len(data) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("%s %s: decode: %w", method, path, err)
		}
	}
	return nil
}

type credentials struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

type session struct {
	User  protocol.User `json:"user"`
	Token string        `json:"token"`
}

// account signs in as name, registering it if it does not exist, and tells
// whether it registered it. Each try costs the server a password hash, so
// the caller says which is likelier to succeed: registerFirst on a fresh
// deployment, login first on a reused one.
func (a *api) account(ctx context.Context, name, password string, registerFirst bool) (session, bool, error) {
	var s session
	cred := credentials{name, password}
	register := func() error { return a.do(ctx, http.MethodPost, "/api/users", "", cred, &s) }
	login := func() error { return a.do(ctx, http.MethodPost, "/api/session", "", cred, &s) }
	if registerFirst {
		err := register()
		switch statusOf(err) {
		case http.StatusConflict, http.StatusForbidden: // taken, or registration closed
			if lerr := login(); lerr != nil {
				return s, false, fmt.Errorf("%w (after %v)", lerr, err)
			}
			return s, false, nil
		}
		return s, err == nil, err
	}
	err := login()
	if statusOf(err) != 0 { // refused (401 is the rule; be lenient with a server that answers otherwise)
		if rerr := register(); rerr != nil {
			if statusOf(rerr) == http.StatusConflict {
				return s, false, err // it exists: the login's answer is the one that matters
			}
			return s, false, fmt.Errorf("%w (after %v)", rerr, err)
		}
		return s, true, nil
	}
	return s, false, err
}

// rooms lists the rooms the token's user may see.
func (a *api) rooms(ctx context.Context, token string) ([]protocol.Room, error) {
	var out struct {
		Rooms []protocol.Room `json:"rooms"`
	}
	err := a.do(ctx, http.MethodGet, "/api/rooms", token, nil, &out)
	return out.Rooms, err
}

// findRoom returns the room named name (case-insensitive) among the rooms
// the token's user may see.
func (a *api) findRoom(ctx context.Context, token, name string) (protocol.Room, bool, error) {
	rooms, err := a.rooms(ctx, token)
	if err != nil {
		return protocol.Room{}, false, err
	}
	for _, r := range rooms {
		if strings.EqualFold(r.Name, name) {
			return r, true, nil
		}
	}
	return protocol.Room{}, false, nil
}

// ensureRoom returns the public room named name, creating it if needed.
func (a *api) ensureRoom(ctx context.Context, token, name string) (protocol.Room, error) {
	r, ok, err := a.findRoom(ctx, token, name)
	if err != nil || ok {
		return r, err
	}
	var out struct {
		Room protocol.Room `json:"room"`
	}
	err = a.do(ctx, http.MethodPost, "/api/rooms", token, map[string]any{"name": name, "private": false}, &out)
	if statusOf(err) == http.StatusConflict { // created meanwhile by someone else
		r, ok, err = a.findRoom(ctx, token, name)
		if err == nil && !ok {
			err = fmt.Errorf("room %s exists but is not visible (private?)", name)
		}
		return r, err
	}
	return out.Room, err
}

// join makes the token's user a member of room (a no-op for a member).
func (a *api) join(ctx context.Context, token, roomID string) error {
	return a.do(ctx, http.MethodPost, "/api/rooms/"+roomID+"/join", token, nil, nil)
}

// lastSeq returns the room's last seq as the server sees it now.
func (a *api) lastSeq(ctx context.Context, token, roomID string) (int64, error) {
	rooms, err := a.rooms(ctx, token)
	if err != nil {
		return 0, err
	}
	for _, r := range rooms {
		if r.ID == roomID {
			return r.LastSeq, nil
		}
	}
	return 0, fmt.Errorf("room %s is not listed", roomID)
}
