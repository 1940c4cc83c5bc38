package chat

import (
	"testing"
	"time"

	"minichat/server/protocol"
	"minichat/server/store"
	"minichat/server/store/storetest"
)

func TestIntegrationRules(t *testing.T) {
	admin := protocol.User{ID: "u_admin", Role: protocol.RoleAdmin}
	owner := protocol.User{ID: "u_owner", Role: protocol.RoleAdmin}
	member := protocol.User{ID: "u_member", Role: protocol.RoleMember}
	bot := store.Bot{User: protocol.User{ID: "u_bot", Bot: true}, OwnerID: owner.ID}
	now := time.Now()
	for _, c := range []struct {
		name string
		err  error
		want string // "" allowed, else the code
	}{
		{"a read token reads", CheckScope(protocol.ScopeRead, false), ""},
		{"a read token cannot write", CheckScope(protocol.ScopeRead, true), protocol.CodeForbidden},
		{"a write token writes", CheckScope(protocol.ScopeWrite, true), ""},
		{"a session writes", CheckScope("", true), ""},
		{"a token cannot manage tokens", CheckSignedIn(protocol.ScopeWrite), protocol.CodeForbidden},
		{"a session manages tokens", CheckSignedIn(""), ""},
		{"the owner manages the bot", mayManageBot(bot, owner), ""},
		{"another admin manages the bot", mayManageBot(bot, admin), ""},
		{"a member does not see the bot", mayManageBot(bot, member), protocol.CodeNotFound},
		{"admins create bots", mayCreateBot(admin), ""},
		{"members do not", mayCreateBot(member), protocol.CodeForbidden},
		{"bots do not sign in", maySignIn(store.Account{User: bot.User}), protocol.CodeForbidden},
		{"a webhook over https", checkWebhookURL("https://bots.example.com/hook"), ""},
		{"no webhook", checkWebhookURL(""), ""},
		{"a webhook over ftp", checkWebhookURL("ftp://example.com/"), protocol.CodeBadRequest},
		{"a webhook with credentials", checkWebhookURL("https://u:p@example.com/"), protocol.CodeBadRequest},
		{"a relative webhook", checkWebhookURL("/hook"), protocol.CodeBadRequest},
	} {
		if got := protocol.ErrorCode(c.err); (c.want == "" && c.err != nil) || (c.want != "" && got != c.want) {
			t.Errorf("%s: %v, want %q", c.name, c.err, c.want)
		}
	}
	if TokenExpired(store.APIToken{}, now) || !TokenExpired(store.APIToken{Expires: now}, now) || TokenExpired(store.APIToken{Expires: now.Add(time.Second)}, now) {
		t.Error("TokenExpired")
	}
}

// TestMentions checks Mentions against the one table of what a mention
// is, which the store's mentions count answers to as well (storetest).
func TestMentions(t *testing.T) {
	for _, c := range storetest.MentionCases {
		if got := Mentions(c.Text, c.Name); got != c.Mention {
			t.Errorf("Mentions(%q, %q) = %v, want %v", c.Text, c.Name, got, c.Mention)
		}
		if c.Mention && !c.Counted {
			t.Errorf("%q for %s: a mention the store's count would miss", c.Text, c.Name)
		}
	}
}
