package storetest

import (
	"slices"
	"testing"
	"time"

	"minichat/server/protocol"
	"minichat/server/store"
)

// testIntegrations: API tokens (found by hash as sessions, live until
// deleted or expired, touched), bots beside their users, deliveries kept to
// the newest few.
func testIntegrations(t *testing.T, e *env) {
	owner := e.user("owner")
	var bot protocol.User
	e.write(func(tx store.Tx) (_ []store.Event, err error) {
		bot, err = tx.CreateUser(store.NewUser{Name: "echo", Role: protocol.RoleMember, Bot: true})
		if err == nil {
			err = tx.CreateBot(store.Bot{User: bot, OwnerID: owner.ID, DisplayName: "Echo", WebhookURL: "https://example.com/hook", Secret: "s3cret"})
		}
		return nil, err
	})
	if !bot.Bot {
		t.Fatalf("bot user %+v", bot)
	}
	b, err := e.s.Bot(e.ctx, bot.ID)
	must(t, "Bot", err)
	if b.User != bot || b.OwnerID != owner.ID || b.DisplayName != "Echo" || b.WebhookURL != "https://example.com/hook" || b.Secret != "s3cret" {
		t.Fatalf("Bot = %+v", b)
	}
	if u, err := e.s.UserByID(e.ctx, bot.ID); err != nil || !u.Bot {
		t.Fatalf("UserByID(bot) = %+v, %v", u, err)
	}
	if bs, err := e.s.Bots(e.ctx); err != nil || len(bs) != 1 || bs[0].User.ID != bot.ID {
		t.Fatalf("Bots = %+v, %v", bs, err)
	}
	_, err = e.s.Bot(e.ctx, owner.ID)
	wantErr(t, "Bot(a person)", err, store.ErrNotFound)
	var n int
	e.write(func(tx store.Tx) (_ []store.Event, err error) {
		b.WebhookURL, b.Secret = "", "new"
		if err = tx.UpdateBot(b); err == nil {
			n, err = tx.CountBots(owner.ID)
		}
		return nil, err
	})
	if b2, _ := e.s.Bot(e.ctx, bot.ID); b2.WebhookURL != "" || b2.Secret != "new" || n != 1 {
		t.Fatalf("after UpdateBot: %+v, CountBots %d", b2, n)
	}

	// Tokens.
	var tok, short store.APIToken
	expires := clockStart.Add(time.Hour)
	e.write(func(tx store.Tx) (_ []store.Event, err error) {
		if tok, err = tx.CreateAPIToken(store.NewAPIToken{UserID: bot.ID, Name: "runner", Scope: protocol.ScopeWrite, TokenHash: []byte("hash-1")}); err != nil {
			return nil, err
		}
		short, err = tx.CreateAPIToken(store.NewAPIToken{UserID: bot.ID, Name: "short", Scope: protocol.ScopeRead, TokenHash: []byte("hash-2"), Expires: expires})
		return nil, err
	})
	if len(tok.ID) < 3 || tok.ID[:2] != "t_" || tok.Scope != protocol.ScopeWrite || !tok.Expires.IsZero() || !short.Expires.Equal(expires) {
		t.Fatalf("tokens %+v %+v", tok, short)
	}
	err = e.s.Write(e.ctx, nil, func(tx store.Tx) ([]store.Event, error) {
		_, err := tx.CreateAPIToken(store.NewAPIToken{UserID: bot.ID, Name: "again", Scope: protocol.ScopeRead, TokenHash: []byte("hash-1")})
		return nil, err
	})
	wantErr(t, "CreateAPIToken(same hash)", err, store.ErrConflict)
	sess, got, err := e.s.APITokenByHash(e.ctx, []byte("hash-2"))
	must(t, "APITokenByHash", err)
	if sess.ID != short.ID || sess.User != bot || sess.Scope != protocol.ScopeRead || got.Name != "short" || !got.LastUsed.IsZero() {
		t.Fatalf("APITokenByHash = %+v, %+v", sess, got)
	}
	_, _, err = e.s.APITokenByHash(e.ctx, []byte("hash-x"))
	wantErr(t, "APITokenByHash(unknown)", err, store.ErrNotFound)

	// Touched like sessions; live until expired (the suite's clock is
	// before the expiry).
	used := clockStart.Add(time.Minute)
	e.write(func(tx store.Tx) ([]store.Event, error) { return nil, tx.TouchSessions([]string{tok.ID}, used) })
	ts, err := e.s.APITokens(e.ctx, bot.ID)
	must(t, "APITokens", err)
	if len(ts) != 2 || !slices.ContainsFunc(ts, func(x store.APIToken) bool { return x.ID == tok.ID && x.LastUsed.Equal(used) }) {
		t.Fatalf("APITokens = %+v", ts)
	}
	live, err := e.s.LiveSessionIDs(e.ctx, []string{tok.ID, short.ID, "t_gone"})
	slices.Sort(live)
	want := []string{tok.ID, short.ID}
	slices.Sort(want)
	if err != nil || !slices.Equal(live, want) {
		t.Fatalf("LiveSessionIDs = %v, %v; want %v", live, err, want)
	}

	// Deleted one by one, or all of a user's; a disabled account's tokens
	// are not found.
	e.write(func(tx store.Tx) (_ []store.Event, err error) {
		if err = tx.DeleteAPIToken(short.ID); err == nil {
			n, err = tx.CountAPITokens(bot.ID)
		}
		return nil, err
	})
	if n != 1 {
		t.Fatalf("CountAPITokens = %d", n)
	}
	e.write(func(tx store.Tx) ([]store.Event, error) { return nil, tx.SetDisabled(bot.ID, true) })
	_, _, err = e.s.APITokenByHash(e.ctx, []byte("hash-1"))
	wantErr(t, "APITokenByHash(disabled)", err, store.ErrNotFound)
	var ids []string
	e.write(func(tx store.Tx) (_ []store.Event, err error) { ids, err = tx.DeleteAPITokens(bot.ID); return nil, err })
	if !slices.Equal(ids, []string{tok.ID}) {
		t.Fatalf("DeleteAPITokens = %v", ids)
	}

	// Deliveries: the newest keep, newest first.
	for i := range 4 {
		e.write(func(tx store.Tx) ([]store.Event, error) {
			_, err := tx.RecordDelivery(store.Delivery{BotID: bot.ID, MessageID: "m_" + string(rune('a'+i)), RoomID: "r_1",
				At: clockStart.Add(time.Duration(i) * time.Second), OK: i%2 == 0, Status: 200, Attempts: i + 1}, 3)
			return nil, err
		})
	}
	ds, err := e.s.Deliveries(e.ctx, bot.ID)
	must(t, "Deliveries", err)
	if len(ds) != 3 || ds[0].MessageID != "m_d" || ds[2].MessageID != "m_b" || ds[0].Attempts != 4 || ds[0].OK || !ds[1].OK {
		t.Fatalf("Deliveries = %+v", ds)
	}

	// A deleted bot is gone with its deliveries; its user stays.
	e.write(func(tx store.Tx) ([]store.Event, error) { return nil, tx.DeleteBot(bot.ID) })
	_, err = e.s.Bot(e.ctx, bot.ID)
	wantErr(t, "Bot(deleted)", err, store.ErrNotFound)
	if ds, _ := e.s.Deliveries(e.ctx, bot.ID); len(ds) != 0 {
		t.Fatalf("deliveries of a deleted bot: %+v", ds)
	}
	if _, err := e.s.UserByID(e.ctx, bot.ID); err != nil {
		t.Fatalf("the deleted bot's user: %v", err)
	}
}
