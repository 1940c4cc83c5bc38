package ws

import (
	"time"

	"minichat/server/chat"
	"minichat/server/hub"
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
		Room: f.Room, Text: f.Text, ClientID: f.ClientID, ReplyTo: f.ReplyTo, Attachments: f.Attachments,
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

// Replay pacing: a replay is read and queued in pages of replayPage entries,
// each once the connection's queue is below replayBacklog bytes, so that
// thousands of connections resuming at once do not each hold a whole replay
// in memory. A client that does not read replayBacklog bytes within
// replayStall is too slow (4429).
const (
	replayPage    = 100
	replayBacklog = 64 << 10
	replayStall   = 10 * time.Second
)

// hello replays each named room after its seq, then sends synced. The
// connection is registered with the hub before the store is read, and live
// frames of the room are held meanwhile and merged by seq (hub.Conn's
// BeginReplay/EndReplay), so nothing committed in between is missed or
// delivered out of order.
func (c *conn) hello(f *protocol.ClientHello) {
	ref := f.Ref
	for room, seq := range f.Since {
		if !c.h.opts.Hub.IsMember(c.hc, room) {
			c.sendError(ref, protocol.Errorf(protocol.CodeNotFound, "room %s not found among your rooms", room))
			continue
		}
		c.hc.BeginReplay(room, seq)
		last, err := c.replay(room, seq)
		// When the replay was capped, last is older than the room's last
		// seq: that is how the client learns to fetch the rest.
		c.hc.EndReplay(room, nil, protocol.Encode(protocol.Synced{Type: protocol.TypeSynced, Room: room, LastSeq: last}))
		if err != nil {
			c.sendError(ref, err)
		}
	}
}

// replay queues the room's log after since, at most protocol.MaxReplay
// entries, page by page; it returns the last seq queued.
func (c *conn) replay(room string, since int64) (int64, error) {
	// The hub keeps the latest frames of active rooms: a connection that
	// was away for a short while is replayed from memory.
	if frames, _, ok := c.h.opts.Hub.Recent(room, since, protocol.MaxReplay); ok {
		// Membership was checked by the caller (hub.IsMember).
		c.hc.ReplayFrames(room, frames)
		if len(frames) > 0 {
			return frames[len(frames)-1].Seq, nil
		}
		return since, nil
	}
	last, total := since, 0
	for total < protocol.MaxReplay {
		evs, more, err := c.h.opts.Chat.Replay(c.ctx, c.user, room, last, min(replayPage, protocol.MaxReplay-total))
		if err != nil {
			return last, err
		}
		frames := make([]hub.LogFrame, len(evs))
		for i, ev := range evs {
			frames[i] = hub.LogFrame{Seq: ev.Seq, Frame: hub.EncodeLog(ev)}
			last = ev.Seq
		}
		c.hc.ReplayFrames(room, frames)
		total += len(evs)
		if !more || !c.waitDrained() {
			break
		}
	}
	return last, nil
}

// waitDrained waits until the queue is below replayBacklog. It reports
// false when the connection closed meanwhile, or was closed for stalling.
func (c *conn) waitDrained() bool {
	deadline := time.Now().Add(replayStall)
	for c.hc.Queued() > replayBacklog {
		if c.hc.Closed() {
			return false
		}
		if time.Now().After(deadline) {
			c.hc.Close(protocol.CloseTooSlow, hub.ReasonTooSlow)
			return false
		}
		time.Sleep(2 * time.Millisecond)
	}
	return !c.hc.Closed()
}
