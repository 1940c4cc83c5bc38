package chat

import (
	"context"
	"regexp"
	"strings"

	"minichat/server/protocol"
	"minichat/server/store"
)

// Link previews. The server looks at the first http(s) link of a new
// message and, when the page offers a title, description or image, adds
// them to the message as its Preview: an update in the room's log, like an
// edit, so it reaches every member, replays after a reconnect and stays in
// the history. The sender (or an admin) may remove it, again an update.

var linkPattern = regexp.MustCompile(`\bhttps?://[^\s<>"` + "`" + `]+`)

// FirstLink is the first http(s) URL of a message's text, without the
// punctuation that usually ends a sentence after it; "" when none. Links
// inside `code` count too: the text is not parsed.
func FirstLink(text string) string {
	u := linkPattern.FindString(text)
	u = strings.TrimRight(u, ".,;:!?'\"")
	// A closing bracket belongs to the link only if it opened one.
	for strings.HasSuffix(u, ")") && strings.Count(u, "(") < strings.Count(u, ")") {
		u = strings.TrimSuffix(u, ")")
	}
	if len(u) > 2048 {
		return ""
	}
	return u
}

// SetPreview gives a message the preview of its link url: the server's own
// write after fetching it, not a user's. Nothing changes when the message
// was deleted, has a preview, or no longer starts with that link (edited
// meanwhile). Event: the update.
func (s *Service) SetPreview(ctx context.Context, roomID, msgID, url string, p protocol.Preview) error {
	p.URL = url
	return s.write(ctx, "message", []string{roomID}, func(tx store.Tx) ([]store.Event, error) {
		m, err := tx.Message(msgID)
		if err != nil {
			return nil, err
		}
		if m.Room != roomID || m.Deleted || m.Preview != nil || FirstLink(m.Text) != url {
			return nil, nil
		}
		if err := tx.SetPreview(msgID, &p); err != nil {
			return nil, err
		}
		ev, err := changed(tx, roomID, msgID)
		return []store.Event{ev}, err
	})
}

// RemovePreview removes a message's link preview (mayChange: its sender or
// an admin). Removing none changes nothing. Event: the update.
func (s *Service) RemovePreview(ctx context.Context, user protocol.User, roomID, msgID string) (protocol.Message, error) {
	return s.changeMessage(ctx, user, roomID, msgID, false, func(tx store.Tx, m protocol.Message) (bool, error) {
		if m.Preview == nil {
			return false, nil
		}
		return true, tx.SetPreview(msgID, nil)
	})
}

// PreviewOf returns the preview of a message of a room the user may read
// (mayView); not_found when it has none.
func (s *Service) PreviewOf(ctx context.Context, user protocol.User, roomID, msgID string) (protocol.Preview, error) {
	r, err := s.viewOf(ctx, user, roomID)
	if err == nil {
		err = mayView(r)
	}
	if err != nil {
		return protocol.Preview{}, err
	}
	if !protocol.ValidID(msgID) {
		return protocol.Preview{}, errMessageNotFound()
	}
	p, err := s.Store.Page(ctx, store.PageRequest{RoomID: roomID, AroundID: msgID, Limit: 1})
	if err != nil {
		return protocol.Preview{}, codeErr(err, "message")
	}
	for _, m := range p.Messages {
		if m.ID == msgID && m.Preview != nil && !m.Deleted {
			return *m.Preview, nil
		}
	}
	return protocol.Preview{}, protocol.Errorf(protocol.CodeNotFound, "this message has no link preview")
}
