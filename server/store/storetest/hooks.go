package storetest

import (
	"errors"
	"reflect"
	"testing"

	"minichat/server/protocol"
	"minichat/server/store"
)

// testHooks: incoming webhooks are kept by the hash of their secret, listed
// by room, counted by creator, deleted one at a time or by creator and room.
func testHooks(t *testing.T, e *env) {
	alice := e.user("alice")
	bob := e.user("bob")
	pub := e.room(alice, "pub", protocol.RoomPublic)
	var h, h2 store.Hook
	e.write(func(tx store.Tx) (_ []store.Event, err error) {
		if h, err = tx.CreateHook(store.NewHook{RoomID: pub.ID, CreatorID: alice.ID, Name: "CI", SecretHash: []byte("hash-1")}); err != nil {
			return nil, err
		}
		h2, err = tx.CreateHook(store.NewHook{RoomID: pub.ID, CreatorID: bob.ID, Name: "Alerts", SecretHash: []byte("hash-2")})
		return nil, err
	})
	if h.ID == "" || h.RoomID != pub.ID || h.Name != "CI" || h.Creator != alice || h.CreatedAt.IsZero() {
		t.Fatalf("created %+v", h)
	}
	got, err := e.s.HookBySecret(e.ctx, []byte("hash-1"))
	if err != nil || got.ID != h.ID || got.Creator != alice {
		t.Fatalf("HookBySecret = %+v, %v", got, err)
	}
	if _, err := e.s.HookBySecret(e.ctx, []byte("nope")); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown secret: %v", err)
	}
	list, err := e.s.Hooks(e.ctx, pub.ID)
	if err != nil || len(list) != 2 || list[0].ID != h.ID || list[1].ID != h2.ID {
		t.Fatalf("Hooks = %+v, %v", list, err)
	}
	if all, _ := e.s.Hooks(e.ctx, ""); len(all) != 2 {
		t.Fatalf("every hook: %+v", all)
	}
	e.write(func(tx store.Tx) ([]store.Event, error) {
		if n, err := tx.CountHooks(alice.ID); err != nil || n != 1 {
			t.Errorf("CountHooks = %d, %v", n, err)
		}
		if err := tx.SetHookSecret(h.ID, []byte("hash-3")); err != nil {
			return nil, err
		}
		if err := tx.DeleteHooksOf(pub.ID, bob.ID); err != nil {
			return nil, err
		}
		if err := tx.DeleteHook("h_unknown"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("delete unknown: %v", err)
		}
		return nil, nil
	})
	if _, err := e.s.HookBySecret(e.ctx, []byte("hash-1")); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("old secret still works: %v", err)
	}
	if list, _ := e.s.Hooks(e.ctx, pub.ID); len(list) != 1 || list[0].ID != h.ID {
		t.Fatalf("after DeleteHooksOf: %+v", list)
	}
	e.write(func(tx store.Tx) ([]store.Event, error) { return nil, tx.DeleteHook(h.ID) })
	if list, _ := e.s.Hooks(e.ctx, pub.ID); len(list) != 0 {
		t.Fatalf("after DeleteHook: %+v", list)
	}
}

// testMessageExtras: a send's kind (me) and via are stored and read back
// everywhere; a preview is set and removed, and the link-preview cache
// keeps fetches with and without a preview.
func testMessageExtras(t *testing.T, e *env) {
	alice := e.user("alice")
	pub := e.room(alice, "pub", protocol.RoomPublic)
	via := &protocol.Via{Hook: "CI", Name: "bot"}
	me, _, err := e.sendReq(store.SendRequest{RoomID: pub.ID, SenderID: alice.ID, Text: "waves", Kind: protocol.KindMe, ClientID: "c1"})
	must(t, "send me", err)
	hooked, _, err := e.sendReq(store.SendRequest{RoomID: pub.ID, SenderID: alice.ID, Text: "built", Via: via})
	must(t, "send via", err)
	if me.Kind != protocol.KindMe || hooked.Kind != protocol.KindChat || !reflect.DeepEqual(hooked.Via, via) {
		t.Fatalf("sent %+v and %+v", me, hooked)
	}
	page, _, err := e.s.History(e.ctx, pub.ID, 0, 2)
	if err != nil || len(page) != 2 || !reflect.DeepEqual(page[0], me) || !reflect.DeepEqual(page[1], hooked) {
		t.Fatalf("History = %+v, %v", page, err)
	}
	// A duplicate answers with the stored kind.
	if dup, isDup, err := e.sendReq(store.SendRequest{RoomID: pub.ID, SenderID: alice.ID, Text: "waves", Kind: protocol.KindMe, ClientID: "c1"}); err != nil || !isDup || dup.Kind != protocol.KindMe {
		t.Fatalf("duplicate: %+v %v %v", dup, isDup, err)
	}

	p := &protocol.Preview{URL: "https://example.com/", Title: "Example"}
	e.rec.take()
	e.write(func(tx store.Tx) ([]store.Event, error) { return nil, tx.SetPreview(hooked.ID, p) })
	page, _, _ = e.s.History(e.ctx, pub.ID, 0, 1)
	if !reflect.DeepEqual(page[0].Preview, p) {
		t.Fatalf("preview %+v, want %+v", page[0].Preview, p)
	}
	e.write(func(tx store.Tx) ([]store.Event, error) { return nil, tx.SetPreview(hooked.ID, nil) })
	if page, _, _ = e.s.History(e.ctx, pub.ID, 0, 1); page[0].Preview != nil {
		t.Fatalf("removed preview: %+v", page[0].Preview)
	}

	if _, err := e.s.LinkPreview(e.ctx, "https://example.com/"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("empty cache: %v", err)
	}
	e.write(func(tx store.Tx) ([]store.Event, error) {
		if err := tx.PutLinkPreview("https://example.com/", &protocol.Preview{Title: "old"}); err != nil {
			return nil, err
		}
		if err := tx.PutLinkPreview("https://example.com/", p); err != nil {
			return nil, err
		}
		return nil, tx.PutLinkPreview("https://example.com/none", nil)
	})
	lp, err := e.s.LinkPreview(e.ctx, "https://example.com/")
	if err != nil || !reflect.DeepEqual(lp.Preview, p) || lp.FetchedAt.IsZero() {
		t.Fatalf("cached %+v, %v", lp, err)
	}
	if lp, err := e.s.LinkPreview(e.ctx, "https://example.com/none"); err != nil || lp.Preview != nil {
		t.Fatalf("cached nothing: %+v, %v", lp, err)
	}
}
