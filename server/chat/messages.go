package chat

import (
	"context"
	"errors"

	"minichat/server/protocol"
	"minichat/server/store"
)

// target reads, inside a write, a message of a room that user is about to
// change: the user must be allowed to write to the room (mayWrite) and the
// message must exist.
func target(tx store.Tx, user protocol.User, roomID, msgID, what string) (protocol.Message, error) {
	r, err := roomOf(tx, roomID, user.ID)
	if err != nil {
		return protocol.Message{}, err
	}
	if err := mayWrite(r, what); err != nil {
		return protocol.Message{}, err
	}
	if !protocol.ValidID(msgID) {
		return protocol.Message{}, errMessageNotFound()
	}
	m, err := tx.Message(msgID)
	if errors.Is(err, store.ErrNotFound) {
		return m, errMessageNotFound()
	}
	return m, err
}

// changed appends the update of a changed message to its room's log and
// returns the event that follows: the message's whole current state at the
// update's seq.
func changed(tx store.Tx, roomID, msgID string) (store.Event, error) {
	seq, err := tx.AppendUpdate(roomID, msgID)
	if err != nil {
		return store.Event{}, err
	}
	m, err := tx.Message(msgID)
	return store.Event{Kind: store.EventUpdate, RoomID: roomID, Seq: seq, Message: m}, err
}

// Edit replaces a message's text (mayChange). Event: the update.
func (s *Service) Edit(ctx context.Context, user protocol.User, roomID, msgID, text string) (protocol.Message, error) {
	text, err := protocol.NormalizeText(text, false)
	if err != nil {
		return protocol.Message{}, err
	}
	return s.changeMessage(ctx, user, roomID, msgID, true, func(tx store.Tx, _ protocol.Message) (bool, error) {
		return true, tx.SetText(msgID, text)
	})
}

// Delete turns a message into a tombstone: deleted, text empty, no
// reactions, no attachments (its files are no longer readable through it)
// (mayChange). Deleting twice changes nothing. Event: the update.
func (s *Service) Delete(ctx context.Context, user protocol.User, roomID, msgID string) (protocol.Message, error) {
	return s.changeMessage(ctx, user, roomID, msgID, false, func(tx store.Tx, m protocol.Message) (bool, error) {
		if m.Deleted {
			return false, nil
		}
		return true, tx.Tombstone(msgID)
	})
}

// changeMessage is alterMessage under mayChange (for an edit of the text
// when edit): the path of edits, deletions and preview removals.
func (s *Service) changeMessage(ctx context.Context, user protocol.User, roomID, msgID string, edit bool, change func(tx store.Tx, m protocol.Message) (bool, error)) (protocol.Message, error) {
	return s.alterMessage(ctx, user, roomID, msgID, "change its messages", func(m protocol.Message) error { return mayChange(m, roomID, user, edit) }, change)
}

// alterMessage is the path of every change to a message: in the write
// transaction, the message must be one the user may reach (target, what
// naming the act) and may alter (may); change then makes the change, or
// reports that there is none to make (the message is returned as it is,
// no event). Event: the update.
func (s *Service) alterMessage(ctx context.Context, user protocol.User, roomID, msgID, what string, may func(protocol.Message) error, change func(tx store.Tx, m protocol.Message) (bool, error)) (protocol.Message, error) {
	if err := checkRoomID(roomID); err != nil {
		return protocol.Message{}, err
	}
	var msg protocol.Message
	err := s.write(ctx, "message", []string{roomID}, func(tx store.Tx) ([]store.Event, error) {
		m, err := target(tx, user, roomID, msgID, what)
		if err != nil {
			return nil, err
		}
		if err := may(m); err != nil {
			return nil, err
		}
		if did, err := change(tx, m); err != nil || !did {
			msg = m
			return nil, err
		}
		ev, err := changed(tx, roomID, msgID)
		msg = ev.Message
		return []store.Event{ev}, err
	})
	return msg, err
}

// React adds (on) or removes the user's reaction (mayReact). A change that
// changes nothing produces no event. Event: the update.
func (s *Service) React(ctx context.Context, user protocol.User, roomID, msgID, emoji string, on bool) (protocol.Message, error) {
	return s.alterMessage(ctx, user, roomID, msgID, "react to its messages", func(m protocol.Message) error { return mayReact(m, roomID) },
		func(tx store.Tx, _ protocol.Message) (bool, error) { return tx.React(msgID, user.ID, emoji, on) })
}
