package ws

import (
	"time"

	"minichat/server/chat"
	"minichat/server/protocol"
)

// handle decodes, validates and carries out one client frame, handing it
// to the handler of its type. Every refusal is answered with an error
// frame; the connection stays usable.
func (c *conn) handle(data []byte) {
	f, ref, err := protocol.DecodeClient(data)
	if err != nil {
		c.sendError(ref, err)
		return
	}
	if isWrite(f) {
		if err := chat.CheckScope(c.scope, true); err != nil {
			c.sendError(ref, err)
			return
		}
		if r := c.writes.Reserve(); r.Delay() > 0 {
			wait := r.Delay()
			r.Cancel()
			c.sendError(ref, &protocol.CodeError{Code: protocol.CodeRateLimited, Msg: "slow down", RetryAfter: max(wait, time.Millisecond)})
			return
		}
	}
	switch f := f.(type) {
	case *protocol.ClientPong:
	case *protocol.ClientHello:
		c.hello(f)
	case *protocol.ClientSend:
		c.send(f)
	case *protocol.ClientHistory:
		err = c.history(f)
	case *protocol.ClientTyping:
		if !c.h.opts.Hub.Typing(c.hc, f.Room, f.Active) {
			err = protocol.Errorf(protocol.CodeNotFound, "room %s not found among your rooms", f.Room)
		}
	case *protocol.ClientRead:
		err = c.h.opts.Chat.Read(c.ctx, c.user, f.Room, f.Seq)
	case *protocol.ClientStatus:
		c.h.opts.Hub.SetStatus(c.hc, f.Status, f.Text)
	case *protocol.ClientEdit:
		_, err = c.h.opts.Chat.Edit(c.ctx, c.user, f.Room, f.ID, f.Text)
	case *protocol.ClientDelete:
		_, err = c.h.opts.Chat.Delete(c.ctx, c.user, f.Room, f.ID)
	case *protocol.ClientReact:
		_, err = c.h.opts.Chat.React(c.ctx, c.user, f.Room, f.ID, f.Emoji, f.On)
	}
	if err != nil {
		c.sendError(ref, err)
	}
}

// isWrite reports whether a frame changes a room's log and so counts
// against the message rate limit.
func isWrite(f protocol.ClientFrame) bool {
	switch f.(type) {
	case *protocol.ClientSend, *protocol.ClientEdit, *protocol.ClientDelete, *protocol.ClientReact:
		return true
	}
	return false
}

// send hands the message to the store without waiting for its commit, so
// a client may have many sends in flight (and a commit carries more of
// them); the ack is queued from the store's writer once it is durable, in
// the order the sends were made.
func (c *conn) send(f *protocol.ClientSend) {
	ref := f.Ref
	c.h.opts.Chat.SendAsync(c.ctx, c.user, chat.SendParams{
		Room: f.Room, Text: f.Text, ClientID: f.ClientID, ReplyTo: f.ReplyTo, Attachments: f.Attachments, Kind: f.Kind,
	}, func(msg protocol.Message, err error) {
		if err != nil {
			c.sendError(ref, err)
			return
		}
		c.hc.Send(protocol.Encode(protocol.Ack{Type: protocol.TypeAck, Ref: ref, Message: msg}))
	})
}

func (c *conn) history(f *protocol.ClientHistory) error {
	p, err := c.h.opts.Chat.Page(c.ctx, c.user, f.Room, chat.HistoryQuery{
		Before: f.Before, After: f.After, Around: f.Around, AroundID: f.AroundID, Limit: f.Limit,
	})
	if err != nil {
		return err
	}
	c.hc.Send(protocol.Encode(protocol.History{
		Type: protocol.TypeHistory, Ref: f.Ref, Room: f.Room, Messages: p.Messages, HasMore: p.HasOlder, HasNewer: p.HasNewer,
	}))
	return nil
}
