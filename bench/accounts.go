package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sync"

	"minichat/server/protocol"
)

// accountName is the name of account u.
func accountName(cfg *config, u int) string { return fmt.Sprintf("%s%d", cfg.UserPrefix, u) }

// cachedToken returns the token of account name in the token file, or "".
func cachedToken(file, name string) string {
	if file == "" {
		return ""
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return ""
	}
	var cached map[string]string
	if json.Unmarshal(b, &cached) != nil {
		return ""
	}
	return cached[name]
}

// signIn returns a token for each of the cfg.Users accounts, all members of
// its bench room (account u joins room u % cfg.Rooms). Tokens found in cfg.TokenFile are reused (no password hash on the
// server at all, which keeps its memory baseline clean); the others are
// signed in — registered when missing — at most cfg.LoginConcurrency at a
// time, and the file is rewritten with every token.
//
// It also returns each account's room list when it read one (the team
// scenario's setup reads the rest from them).
func signIn(ctx context.Context, cfg *config, a *api, roomIDs []string, log io.Writer) ([]string, [][]protocol.Room, error) {
	tokens := make([]string, cfg.Users)
	lists := make([][]protocol.Room, cfg.Users)
	cached := map[string]string{}
	if cfg.TokenFile != "" {
		if b, err := os.ReadFile(cfg.TokenFile); err == nil {
			if err := json.Unmarshal(b, &cached); err != nil {
				return nil, nil, fmt.Errorf("token file %s: %w", cfg.TokenFile, err)
			}
		}
	}
	var (
		mu    sync.Mutex
		first error
		wg    sync.WaitGroup
		sem   = make(chan struct{}, cfg.LoginConcurrency)
		fresh int
	)
	for u := range tokens {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			name := accountName(cfg, u)
			token, ok := cached[name]
			var err error
			var list []protocol.Room
			if ok {
				// A cached token may have expired or belong to another server.
				if list, err = a.rooms(ctx, token); statusOf(err) == 401 {
					ok = false
				}
			}
			if !ok {
				var s session
				s, _, err = a.account(ctx, name, cfg.Password, cfg.registerFirst)
				token = s.Token
				list = nil
			}
			if err == nil && !memberOf(list, roomIDs[u%cfg.Rooms]) {
				err = a.join(ctx, token, roomIDs[u%cfg.Rooms])
				if err == nil && cfg.team != nil {
					list, err = a.rooms(ctx, token)
				}
			}
			if err == nil && cfg.teamOf != nil {
				err = a.join(ctx, token, cfg.teamIDs[cfg.teamOf[u]])
			}
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if first == nil {
					first = fmt.Errorf("account %s: %w", name, err)
				}
				return
			}
			if !ok {
				fresh++
			}
			tokens[u] = token
			lists[u] = list
		}()
	}
	wg.Wait()
	if first != nil {
		return nil, nil, first
	}
	if fresh > 0 {
		fmt.Fprintf(log, "bench: signed in %d account(s), %d from the token file\n", fresh, cfg.Users-fresh)
	}
	if cfg.TokenFile != "" && fresh > 0 {
		for u, t := range tokens {
			cached[accountName(cfg, u)] = t
		}
		b, _ := json.Marshal(cached)
		if err := os.WriteFile(cfg.TokenFile, b, 0o600); err != nil {
			return nil, nil, fmt.Errorf("token file: %w", err)
		}
	}
	return tokens, lists, nil
}

// memberOf reports whether list has room id as a room its user is in.
func memberOf(list []protocol.Room, id string) bool {
	for _, r := range list {
		if r.ID == id && r.Member {
			return true
		}
	}
	return false
}
