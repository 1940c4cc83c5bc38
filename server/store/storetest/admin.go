package storetest

import (
	"testing"

	"minichat/server/protocol"
	"minichat/server/store"
)

// testAdminPrimitives: Store.Setting reads what a write stored (ErrNotFound
// before); SetRole changes a role (ErrNotFound for no such user);
// ActiveAdmins counts the administrators who are not disabled.
func testAdminPrimitives(t *testing.T, e *env) {
	if _, err := e.s.Setting(e.ctx, "registration"); err == nil {
		t.Fatal("Setting(unset) found a value")
	} else {
		wantErr(t, "Setting(unset)", err, store.ErrNotFound)
	}
	e.write(func(tx store.Tx) ([]store.Event, error) { return nil, tx.SetSetting("registration", "closed") })
	e.reopen()
	if v, err := e.s.Setting(e.ctx, "registration"); err != nil || v != "closed" {
		t.Fatalf("Setting = %q, %v; want closed", v, err)
	}

	a, b := e.user("alice"), e.user("bob")
	admins := func() int {
		var n int
		e.write(func(tx store.Tx) (_ []store.Event, err error) { n, err = tx.ActiveAdmins(); return nil, err })
		return n
	}
	if n := admins(); n != 0 {
		t.Fatalf("ActiveAdmins = %d, want 0", n)
	}
	e.write(func(tx store.Tx) ([]store.Event, error) { return nil, tx.SetRole(a.ID, protocol.RoleAdmin) })
	e.write(func(tx store.Tx) ([]store.Event, error) { return nil, tx.SetRole(b.ID, protocol.RoleAdmin) })
	if n := admins(); n != 2 {
		t.Fatalf("ActiveAdmins = %d, want 2", n)
	}
	e.write(func(tx store.Tx) ([]store.Event, error) { return nil, tx.SetDisabled(b.ID, true) })
	if n := admins(); n != 1 {
		t.Fatalf("ActiveAdmins with one disabled = %d, want 1", n)
	}
	e.write(func(tx store.Tx) ([]store.Event, error) { return nil, tx.SetRole(a.ID, protocol.RoleMember) })
	if n := admins(); n != 0 {
		t.Fatalf("ActiveAdmins after a demotion = %d, want 0", n)
	}
	if u, err := e.s.UserByName(e.ctx, "alice"); err != nil || u.Role != protocol.RoleMember {
		t.Fatalf("alice = %+v, %v; want a member", u, err)
	}
	err := e.s.Write(e.ctx, nil, func(tx store.Tx) ([]store.Event, error) { return nil, tx.SetRole("u_nobody", protocol.RoleAdmin) })
	wantErr(t, "SetRole(unknown)", err, store.ErrNotFound)
}
