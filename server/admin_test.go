package server_test

import (
	"fmt"
	"testing"
	"time"

	"minichat/server"
)

// TestAdminAuthorization: every /api/admin endpoint answers 401 without a
// session, 403 forbidden to a member and to a demoted administrator, and
// serves an administrator.
func TestAdminAuthorization(t *testing.T) {
	e := newEnv(t)
	root := e.register("root") // the first account: admin
	bob := e.register("bob")
	carol := e.register("carol")
	endpoints := []struct {
		method, path string
		body         any
		ok           int
	}{
		{"GET", "/api/admin/users", nil, 200},
		{"POST", "/api/admin/users", map[string]any{"username": "dave", "password": "correct horse"}, 201},
		{"POST", "/api/admin/users/" + carol.ID + "/disable", nil, 200},
		{"POST", "/api/admin/users/" + carol.ID + "/enable", nil, 200},
		{"PUT", "/api/admin/users/" + carol.ID + "/role", map[string]string{"role": "member"}, 200},
		{"PUT", "/api/admin/users/" + carol.ID + "/password", map[string]string{"password": "another horse"}, 204},
		{"POST", "/api/admin/users/" + carol.ID + "/signout", nil, 200},
		{"GET", "/api/admin/settings", nil, 200},
		{"PATCH", "/api/admin/settings", map[string]string{"name": "Team chat"}, 200},
	}
	for _, ep := range endpoints {
		if st, _ := e.call(ep.method, ep.path, "", ep.body); st != 401 {
			t.Errorf("%s %s anonymously: %d, want 401", ep.method, ep.path, st)
		}
		if st, out := e.call(ep.method, ep.path, bob.Token, ep.body); st != 403 || errCodeOf(out) != "forbidden" {
			t.Errorf("%s %s as a member: %d %v, want 403 forbidden", ep.method, ep.path, st, out)
		}
		if st, out := e.call(ep.method, ep.path, root.Token, ep.body); st != ep.ok {
			t.Errorf("%s %s as the admin: %d %v, want %d", ep.method, ep.path, st, out, ep.ok)
		}
	}
	// Promoted, bob may; demoted again, he may not, at once (his session
	// stays, his role is read afresh).
	if st, out := e.call("PUT", "/api/admin/users/"+bob.ID+"/role", root.Token, map[string]string{"role": "admin"}); st != 200 || out["user"].(map[string]any)["user"].(map[string]any)["role"] != "admin" {
		t.Fatalf("promote bob: %d %v", st, out)
	}
	if st, _ := e.call("GET", "/api/admin/users", bob.Token, nil); st != 200 {
		t.Fatalf("bob as an admin: %d", st)
	}
	if st, _ := e.call("PUT", "/api/admin/users/"+bob.ID+"/role", root.Token, map[string]string{"role": "member"}); st != 200 {
		t.Fatalf("demote bob: %d", st)
	}
	if st, _ := e.call("GET", "/api/admin/users", bob.Token, nil); st != 403 {
		t.Fatalf("bob demoted: %d, want 403", st)
	}
	// Bad input: a clear error and nothing changes.
	for _, c := range []struct {
		method, path string
		body         any
		st           int
		code         string
	}{
		{"PUT", "/api/admin/users/" + bob.ID + "/role", map[string]string{"role": "owner"}, 400, "bad_request"},
		{"PUT", "/api/admin/users/u_nobody/role", map[string]string{"role": "admin"}, 404, "not_found"},
		{"POST", "/api/admin/users/u_nobody/disable", nil, 404, "not_found"},
		{"PATCH", "/api/admin/settings", map[string]string{"registration": "sometimes"}, 400, "bad_request"},
		{"PATCH", "/api/admin/settings", map[string]string{"name": "  "}, 400, "bad_request"},
		{"GET", "/api/admin/users?limit=0", nil, 400, "bad_request"},
		{"POST", "/api/admin/users", map[string]any{"username": "bob", "password": "correct horse"}, 409, "conflict"},
	} {
		if st, out := e.call(c.method, c.path, root.Token, c.body); st != c.st || errCodeOf(out) != c.code {
			t.Errorf("%s %s %v: %d %v, want %d %s", c.method, c.path, c.body, st, out, c.st, c.code)
		}
	}
}

// TestAdminPeopleListPagesAndSearches: the people list pages by name and
// filters by a part of the name.
func TestAdminPeopleListPagesAndSearches(t *testing.T) {
	e := newEnv(t)
	root := e.register("root")
	for i := range 5 {
		e.register(fmt.Sprintf("user%d", i))
	}
	var names []string
	cursor := ""
	for pages := 0; ; pages++ {
		if pages > 5 {
			t.Fatal("the pages never end")
		}
		st, out := e.call("GET", "/api/admin/users?limit=2&cursor="+cursor, root.Token, nil)
		if st != 200 {
			t.Fatalf("page: %d %v", st, out)
		}
		for _, u := range out["users"].([]any) {
			names = append(names, u.(map[string]any)["user"].(map[string]any)["name"].(string))
		}
		next, _ := out["next"].(string)
		if next == "" {
			break
		}
		cursor = next
	}
	if fmt.Sprint(names) != "[root user0 user1 user2 user3 user4]" {
		t.Fatalf("pages: %v", names)
	}
	_, out := e.call("GET", "/api/admin/users?q=ER3", root.Token, nil)
	if us := out["users"].([]any); len(us) != 1 || us[0].(map[string]any)["user"].(map[string]any)["name"] != "user3" {
		t.Fatalf("search: %v", out)
	}
}

// TestLastAdminStays: the last enabled administrator can be neither
// demoted nor disabled, by themselves or anyone; with a second one, both
// work.
func TestLastAdminStays(t *testing.T) {
	e := newEnv(t)
	root := e.register("root")
	bob := e.register("bob")
	if st, out := e.call("PUT", "/api/admin/users/"+root.ID+"/role", root.Token, map[string]string{"role": "member"}); st != 409 || errCodeOf(out) != "conflict" {
		t.Fatalf("demote the last admin: %d %v", st, out)
	}
	if st, out := e.call("POST", "/api/admin/users/"+root.ID+"/disable", root.Token, nil); st != 409 || errCodeOf(out) != "conflict" {
		t.Fatalf("disable the last admin: %d %v", st, out)
	}
	if st, _ := e.call("GET", "/api/admin/users", root.Token, nil); st != 200 {
		t.Fatalf("root is still an admin: %d", st)
	}
	// A disabled admin does not count.
	e.call("PUT", "/api/admin/users/"+bob.ID+"/role", root.Token, map[string]string{"role": "admin"})
	e.call("POST", "/api/admin/users/"+bob.ID+"/disable", root.Token, nil)
	if st, _ := e.call("PUT", "/api/admin/users/"+root.ID+"/role", root.Token, map[string]string{"role": "member"}); st != 409 {
		t.Fatalf("demote root beside a disabled admin: %d, want 409", st)
	}
	e.call("POST", "/api/admin/users/"+bob.ID+"/enable", root.Token, nil)
	if st, out := e.call("PUT", "/api/admin/users/"+root.ID+"/role", root.Token, map[string]string{"role": "member"}); st != 200 {
		t.Fatalf("demote root beside bob: %d %v", st, out)
	}
}

// TestAdminDisableAndSignOutClose4401: disabling an account and signing it
// out everywhere close its open sockets with 4401 at once, and its tokens
// stop working; an enabled account signs in again.
func TestAdminDisableAndSignOutClose4401(t *testing.T) {
	e := newEnv(t) // the heartbeat is a minute: only the admin call closes
	root := e.register("root")
	bob := e.register("bob")
	carol := e.register("carol")
	b := e.dial(bob)
	c := e.dial(carol)
	if st, out := e.call("POST", "/api/admin/users/"+bob.ID+"/disable", root.Token, nil); st != 200 || out["user"].(map[string]any)["disabled"] != true {
		t.Fatalf("disable: %d %v", st, out)
	}
	if code := b.waitClose(5 * time.Second); code != 4401 {
		t.Fatalf("bob's socket closed with %d, want 4401", code)
	}
	if st, _ := e.call("GET", "/api/me", bob.Token, nil); st != 401 {
		t.Fatalf("bob's token after disable: %d", st)
	}
	if st, out := e.call("POST", "/api/session", "", map[string]string{"username": "bob", "password": "correct horse"}); st != 403 {
		t.Fatalf("sign-in while disabled: %d %v", st, out)
	}
	e.call("POST", "/api/admin/users/"+bob.ID+"/enable", root.Token, nil)
	if st, _ := e.call("POST", "/api/session", "", map[string]string{"username": "bob", "password": "correct horse"}); st != 200 {
		t.Fatalf("sign-in after enable: %d", st)
	}
	// Sign out everywhere: the socket closes, the token fails, the account
	// stays enabled.
	if st, out := e.call("POST", "/api/admin/users/"+carol.ID+"/signout", root.Token, nil); st != 200 || out["sessions_ended"] != float64(1) {
		t.Fatalf("sign out carol: %d %v", st, out)
	}
	if code := c.waitClose(5 * time.Second); code != 4401 {
		t.Fatalf("carol's socket closed with %d, want 4401", code)
	}
	if st, _ := e.call("GET", "/api/me", carol.Token, nil); st != 401 {
		t.Fatalf("carol's token after sign-out: %d", st)
	}
	if st, _ := e.call("POST", "/api/session", "", map[string]string{"username": "carol", "password": "correct horse"}); st != 200 {
		t.Fatalf("carol signs in again: %d", st)
	}
}

// TestRuntimeSettingsPersist: the registration mode and instance name an
// administrator sets rule sign-ups at once, show in GET /api/instance and
// outlive a restart; --registration is only the default.
func TestRuntimeSettingsPersist(t *testing.T) {
	e := newEnv(t, func(c *server.Config) { c.Registration = "open" })
	root := e.register("root")
	if st, out := e.call("GET", "/api/instance", "", nil); st != 200 || out["registration"] != "open" || out["name"] != "minichat" {
		t.Fatalf("instance before: %d %v", st, out)
	}
	st, out := e.call("PATCH", "/api/admin/settings", root.Token, map[string]string{"registration": "closed", "name": " Team chat "})
	if st != 200 || out["registration"] != "closed" || out["name"] != "Team chat" {
		t.Fatalf("patch: %d %v", st, out)
	}
	if st, out := e.signUp("stranger", ""); st != 403 || errCodeOf(out) != "forbidden" {
		t.Fatalf("sign-up after closing: %d %v", st, out)
	}
	// A restart with the same flag keeps what the admin chose.
	e.stop()
	e = startEnv(t, e.cfg)
	if st, out := e.call("GET", "/api/instance", "", nil); st != 200 || out["registration"] != "closed" || out["name"] != "Team chat" {
		t.Fatalf("instance after a restart: %d %v", st, out)
	}
	if st, _ := e.signUp("stranger", ""); st != 403 {
		t.Fatalf("sign-up after a restart: %d", st)
	}
	// Changing only the name leaves the mode.
	if st, out := e.call("PATCH", "/api/admin/settings", root.Token, map[string]string{"name": "Other"}); st != 200 || out["registration"] != "closed" {
		t.Fatalf("patch name: %d %v", st, out)
	}
	if st, out := e.call("PATCH", "/api/admin/settings", root.Token, map[string]string{"registration": "open"}); st != 200 || out["name"] != "Other" {
		t.Fatalf("patch mode: %d %v", st, out)
	}
	if st, _ := e.signUp("stranger", ""); st != 201 {
		t.Fatalf("sign-up after opening: %d", st)
	}
}

// TestSessionProbe: GET /api/session answers 200 whether or not the request
// is signed in, so that a page load logs no error: the user, or null.
func TestSessionProbe(t *testing.T) {
	e := newEnv(t)
	alice := e.register("alice")
	if st, out := e.call("GET", "/api/session", "", nil); st != 200 || out["user"] != nil {
		t.Fatalf("signed out: %d %v", st, out)
	}
	if st, out := e.call("GET", "/api/session", alice.Token, nil); st != 200 || out["user"].(map[string]any)["name"] != "alice" {
		t.Fatalf("signed in: %d %v", st, out)
	}
	e.call("DELETE", "/api/session", alice.Token, nil)
	if st, out := e.call("GET", "/api/session", alice.Token, nil); st != 200 || out["user"] != nil {
		t.Fatalf("after sign-out: %d %v", st, out)
	}
	if st, out := e.call("GET", "/api/session", "not-a-token", nil); st != 200 || out["user"] != nil {
		t.Fatalf("a made-up token: %d %v", st, out)
	}
}
