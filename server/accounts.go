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
		// The writes (expiring sessions, recording the use of open ones)
		// go through the store's group commit, where a batch that is not
		// only sends takes the slower, locked path: at most every
		// sessionWriteEvery, not every heartbeat.
		every := sessionWriteEvery(interval, s.cfg.SessionIdle, s.cfg.SessionMax)
		var wrote time.Time
		for {
			select {
			case <-w.stop:
				return
			case <-t.C:
			}
			ctx, cancel := context.WithTimeout(context.Background(), interval)
			now := time.Now()
			writes := now.Sub(wrote) >= every
			err := s.closeEndedSockets(ctx, now, writes)
			cancel()
			if err == nil && writes {
				wrote = now
			}
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

// sessionWriteEvery is how often the watch expires sessions and records
// the use of open ones: a minute, or a quarter of a session limit shorter
// than four minutes, and never more often than the watch runs.
func sessionWriteEvery(interval, idle, limit time.Duration) time.Duration {
	every := time.Minute
	for _, d := range []time.Duration{idle, limit} {
		if d > 0 && d/4 < every {
			every = d / 4
		}
	}
	return max(every, interval)
}

// closeEndedSockets ends the sessions that expired (--session-idle,
// --session-max) and records that the sessions of open sockets are in use
// when writes is set, and closes, with 4401, the sockets of disabled
// accounts and those whose session no longer exists. On a store error it
// closes nothing.
func (s *Server) closeEndedSockets(ctx context.Context, now time.Time, writes bool) error {
	if writes {
		if _, err := s.chat.ExpireSessions(ctx, now, s.cfg.SessionIdle, s.cfg.SessionMax); err != nil {
			return err
		}
	}
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
		if writes {
			if err := s.chat.TouchSessions(ctx, chunk, now); err != nil {
				return err
			}
		}
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

// watchUploads deletes, every while, the uploads no message carried within
// --upload-unattached-ttl, records and content (content another record
// still names stays). The interval is a tenth of the TTL, between a second
// and ten minutes.
func (s *Server) watchUploads() {
	ttl := s.cfg.UploadTTL
	interval := min(max(ttl/10, time.Second), 10*time.Minute)
	w := &accountWatch{stop: make(chan struct{}), done: make(chan struct{})}
	s.uploads = w
	go func() {
		defer close(w.done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-w.stop:
				return
			case <-t.C:
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			n, err := s.CleanUploads(ctx, time.Now().Add(-ttl))
			cancel()
			if err != nil {
				s.log.Warn().Err(err).Msg("cannot delete unattached uploads")
			} else if n > 0 {
				s.log.Info().Int("files", n).Msg("deleted uploads never attached to a message")
			}
		}
	}()
}

// CleanUploads deletes the uploads made before before that no message
// carries, and the content no other upload names; it returns how many
// contents it removed from disk.
func (s *Server) CleanUploads(ctx context.Context, before time.Time) (int, error) {
	shas, err := s.chat.CleanUploads(ctx, before)
	if err != nil {
		return 0, err
	}
	for _, sha := range shas {
		// An upload of the same content may have come in since the records
		// went: its content stays.
		if used, err := s.store.ContentUsed(ctx, sha); err != nil || used {
			continue
		}
		if err := s.blobs.Remove(sha); err != nil {
			return 0, err
		}
	}
	return len(shas), nil
}

// stopWatchingUploads stops the upload clean-up and waits for it.
func (s *Server) stopWatchingUploads() {
	if s.uploads == nil {
		return
	}
	close(s.uploads.stop)
	<-s.uploads.done
}
