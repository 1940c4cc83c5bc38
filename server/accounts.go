package server

import (
	"context"
	"time"

	"minichat/server/hub"
	"minichat/server/protocol"
)

// accountWatch closes the sockets of disabled accounts. `minichat user
// disable` runs in its own process: it revokes the account's sessions in
// the database, which stops new requests and reconnects, but cannot reach
// the sockets the account already has open on a running server. The watch
// asks the store for the disabled accounts once per interval and closes
// their sockets with 4401, so a disabled account is cut off within one
// interval on every server sharing the database.
type accountWatch struct {
	stop chan struct{} // closed by Server.Close
	done chan struct{} // closed when the goroutine has returned
}

// watchAccounts starts the watch; Close stops it. The interval is the
// heartbeat (default 25 s): one scan of the users table per
// interval, and a pass over the hub's connections only when some account
// is disabled.
func (s *Server) watchAccounts() {
	interval := s.cfg.Heartbeat
	if interval <= 0 {
		interval = 25 * time.Second
	}
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
			ids, err := s.store.DisabledUserIDs(ctx)
			cancel()
			if err != nil {
				if !warned { // once until it works again: the store's own trouble is logged elsewhere
					s.log.Warn().Err(err).Msg("cannot list disabled accounts")
					warned = true
				}
				continue
			}
			warned = false
			if len(ids) == 0 {
				continue
			}
			disabled := make(map[string]struct{}, len(ids))
			for _, id := range ids {
				disabled[id] = struct{}{}
			}
			s.hub.Conns(func(c *hub.Conn) {
				if _, ok := disabled[c.User.ID]; ok {
					c.Close(protocol.CloseUnauthenticated, "account disabled")
				}
			})
		}
	}()
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
