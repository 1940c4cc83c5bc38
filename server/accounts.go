package server

import (
	"context"
	"errors"
	"slices"
	"time"

	"minichat/server/hub"
	"minichat/server/protocol"
	"minichat/server/store"
)

// accountWatch closes the sockets of disabled accounts and of sessions that
// ended elsewhere. `minichat user disable` and `minichat user passwd` run in
// their own process: they revoke the account's sessions in the database,
// which stops new requests and reconnects, but cannot reach the sockets the
// account already has open on a running server (nor can a sign-out on
// another server of a cluster). The watch asks the store once per interval
// for the disabled accounts and for which of its sockets' sessions still
// exist, and closes the others with 4401, so they are cut off within one
// interval on every server sharing the database.
type accountWatch struct {
	stop chan struct{} // closed by Server.Close
	done chan struct{} // closed when the goroutine has returned
}

// liveSessionsChunk bounds the session ids asked about in one query.
const liveSessionsChunk = 1000

// watchAccounts starts the watch; Close stops it. The interval is the
// heartbeat: per interval, one scan of the disabled accounts,
// one lookup of the open sockets' sessions (a query per 1,000 of them) and
// two passes over the hub's connections.
func (s *Server) watchAccounts() {
	interval := s.cfg.Heartbeat
	w := &accountWatch{stop: make(chan struct{}), done: make(chan struct{})}
	s.accounts = w
	go func() {
		defer close(w.done)
		t := time.NewTicker(interval)
		defer t.Stop()
		warned := false
		for {
			select {
			case <-w.stop:
				return
			case <-t.C:
			}
			ctx, cancel := context.WithTimeout(context.Background(), interval)
			err := s.closeEndedSockets(ctx)
			cancel()
			if err != nil {
				// An unreachable database is the store's to report (once);
				// anything else once until it works again.
				if !warned && !errors.Is(err, store.ErrUnavailable) {
					s.log.Warn().Err(err).Msg("cannot check accounts and sessions of open sockets")
					warned = true
				}
				continue
			}
			warned = false
		}
	}()
}

// closeEndedSockets closes, with 4401, the sockets of disabled accounts and
// those whose session no longer exists. On a store error it closes nothing.
func (s *Server) closeEndedSockets(ctx context.Context) error {
	ids, err := s.store.DisabledUserIDs(ctx)
	if err != nil {
		return err
	}
	disabled := make(map[string]struct{}, len(ids))
	for _, id := range ids {
		disabled[id] = struct{}{}
	}
	open := make(map[string]struct{})
	s.hub.Conns(func(c *hub.Conn) {
		if c.SessionID != "" {
			open[c.SessionID] = struct{}{}
		}
	})
	asked := make([]string, 0, len(open))
	for id := range open {
		asked = append(asked, id)
	}
	live := make(map[string]struct{}, len(asked))
	for chunk := range slices.Chunk(asked, liveSessionsChunk) {
		found, err := s.store.LiveSessionIDs(ctx, chunk)
		if err != nil {
			return err
		}
		for _, id := range found {
			live[id] = struct{}{}
		}
	}
	s.hub.Conns(func(c *hub.Conn) {
		if _, ok := disabled[c.User.ID]; ok {
			c.Close(protocol.CloseUnauthenticated, "account disabled")
			return
		}
		_, asked := open[c.SessionID]
		if _, ok := live[c.SessionID]; asked && !ok {
			c.Close(protocol.CloseUnauthenticated, "session ended")
		}
	})
	return nil
}

// stopWatchingAccounts stops the watch and waits for it; safe when the watch
// never started.
func (s *Server) stopWatchingAccounts() {
	if s.accounts == nil {
		return
	}
	close(s.accounts.stop)
	<-s.accounts.done
}
