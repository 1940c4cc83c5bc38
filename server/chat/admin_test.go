package chat

import (
	"strings"
	"testing"

	"minichat/server/protocol"
	"minichat/server/store"
)

// TestAdminRules is the table of the administration rules: "" for allowed,
// else the error code.
func TestAdminRules(t *testing.T) {
	acct := func(role string, disabled bool) store.Account {
		return store.Account{User: protocol.User{ID: "u_x", Name: "x", Role: role}, Disabled: disabled}
	}
	admin, member := protocol.RoleAdmin, protocol.RoleMember
	cases := []struct {
		name string
		err  error
		want string
	}{
		{"an admin administers", mayAdminister(acct(admin, false)), ""},
		{"a member does not", mayAdminister(acct(member, false)), protocol.CodeForbidden},
		{"a disabled admin does not", mayAdminister(acct(admin, true)), protocol.CodeForbidden},
		{"the last admin stays", mayDropAdmin(acct(admin, false), 1), protocol.CodeConflict},
		{"one of two admins may go", mayDropAdmin(acct(admin, false), 2), ""},
		{"a member may be disabled beside one admin", mayDropAdmin(acct(member, false), 1), ""},
		{"a disabled admin does not count", mayDropAdmin(acct(admin, true), 1), ""},
		{"registration open", checkRegistration(RegistrationOpen), ""},
		{"registration invite", checkRegistration(RegistrationInvite), ""},
		{"registration closed", checkRegistration(RegistrationClosed), ""},
		{"registration unknown", checkRegistration("sometimes"), protocol.CodeBadRequest},
	}
	for _, c := range cases {
		if got := protocol.ErrorCode(c.err); c.err == nil && c.want != "" || c.err != nil && got != c.want {
			t.Errorf("%s: %v, want %q", c.name, c.err, c.want)
		}
	}
}

func TestInstanceNames(t *testing.T) {
	for in, want := range map[string]string{
		"Acme chat":  "Acme chat",
		"  padded\t": "padded",
		"Ünïcødé 💬":  "Ünïcødé 💬",
		strings.Repeat("x", protocol.MaxInstanceName): strings.Repeat("x", protocol.MaxInstanceName),
	} {
		if got, err := checkInstanceName(in); err != nil || got != want {
			t.Errorf("checkInstanceName(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "   ", "a\nb", "zero\u200bwidth", "\xff", strings.Repeat("x", protocol.MaxInstanceName+1)} {
		if _, err := checkInstanceName(bad); protocol.ErrorCode(err) != protocol.CodeBadRequest {
			t.Errorf("checkInstanceName(%q) = %v, want bad_request", bad, err)
		}
	}
}
