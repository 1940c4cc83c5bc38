package storetest

import (
	"slices"
	"testing"

	"minichat/server/protocol"
	"minichat/server/store"
)

// search returns the texts of what a search finds, failing on error.
func (e *env) search(sc store.Scope, roomID string, limit int, terms ...string) []string {
	e.t.Helper()
	msgs, err := e.s.Search(e.ctx, store.SearchRequest{Scope: sc, RoomID: roomID, Terms: terms, Limit: limit})
	if err != nil {
		e.t.Fatalf("Search(%+v, %q): %v", sc, terms, err)
	}
	out := []string{}
	for _, m := range msgs {
		out = append(out, m.Text)
	}
	return out
}

func wantFound(t *testing.T, what string, got []string, want ...string) {
	t.Helper()
	if want == nil {
		want = []string{}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("%s found\n %q\nwant %q", what, got, want)
	}
}

func testSearch(t *testing.T, e *env) {
	alice := e.user("alice")
	bob := e.user("bob")
	g := e.general(alice)
	priv := e.room(alice, "priv", protocol.RoomPrivate)
	pub := e.room(alice, "pub", protocol.RoomPublic) // bob is not a member
	m1 := e.send(alice, g.ID, "The quick brown fox")
	m2 := e.send(bob, g.ID, "lazy dog sleeps; the FOX watches")
	e.send(alice, priv.ID, "secret fox plans")
	m4 := e.send(alice, g.ID, "brown, quick fox!")
	e.send(alice, pub.ID, "a fox in pub")
	e.send(bob, g.ID, "Ünïcödé café")
	bobs := store.Scope{UserID: bob.ID, Public: true}
	alices := store.Scope{UserID: alice.ID, Public: true}

	// Newest first, whole words regardless of case, the rooms of the scope
	// only.
	wantFound(t, "bob: fox", e.search(bobs, "", 0, "fox"),
		"a fox in pub", "brown, quick fox!", "lazy dog sleeps; the FOX watches", "The quick brown fox")
	wantFound(t, "bob's own rooms: fox", e.search(store.Scope{UserID: bob.ID}, "", 0, "fox"),
		"brown, quick fox!", "lazy dog sleeps; the FOX watches", "The quick brown fox")
	wantFound(t, "alice: Fox", e.search(alices, "", 0, "Fox"),
		"a fox in pub", "brown, quick fox!", "secret fox plans", "lazy dog sleeps; the FOX watches", "The quick brown fox")
	wantFound(t, "a word's prefix", e.search(alices, "", 0, "fo"))
	wantFound(t, "nothing", e.search(alices, "", 0, "elephant"))
	// Every term must match; a phrase matches consecutive words only.
	wantFound(t, "quick brown", e.search(bobs, "", 0, "quick", "brown"), "brown, quick fox!", "The quick brown fox")
	wantFound(t, `"quick brown"`, e.search(bobs, "", 0, "quick brown"), "The quick brown fox")
	wantFound(t, `"brown quick"`, e.search(bobs, "", 0, "brown quick"), "brown, quick fox!")
	wantFound(t, "fox dog", e.search(bobs, "", 0, "fox", "dog"), "lazy dog sleeps; the FOX watches")
	wantFound(t, "case of non-ASCII words", e.search(bobs, "", 0, "ÜNÏCÖDÉ"), "Ünïcödé café")
	// One room, whoever asks.
	wantFound(t, "fox in priv", e.search(bobs, priv.ID, 0, "fox"), "secret fox plans")
	wantFound(t, "fox in general", e.search(bobs, g.ID, 0, "fox"),
		"brown, quick fox!", "lazy dog sleeps; the FOX watches", "The quick brown fox")
	wantFound(t, "unknown room", e.search(alices, "r_nothing", 0, "fox"))
	// Limit keeps the newest.
	wantFound(t, "limit 2", e.search(alices, "", 2, "fox"), "a fox in pub", "brown, quick fox!")
	// System messages are not found.
	wantFound(t, "created", e.search(alices, "", 0, "created"))

	// Results are messages in their current state.
	e.react(g.ID, m4.ID, bob, "👍", true)
	got, err := e.s.Search(e.ctx, store.SearchRequest{Scope: bobs, Terms: []string{"quick", "brown"}})
	if err != nil || len(got) != 2 || got[0].ID != m4.ID || got[0].Seq != m4.Seq || got[0].Room != g.ID || got[0].Sender == nil ||
		*got[0].Sender != alice || len(got[0].Reactions) != 1 || got[1].ID != m1.ID {
		t.Fatalf("search results %+v, %v", got, err)
	}
	// An edit is found by its new text only, in its old place; a deleted
	// message is not found at all.
	e.edit(g.ID, m1.ID, "slow green turtle")
	wantFound(t, "fox after edit", e.search(bobs, g.ID, 0, "fox"), "brown, quick fox!", "lazy dog sleeps; the FOX watches")
	wantFound(t, "turtle", e.search(bobs, "", 0, "turtle"), "slow green turtle")
	e.del(g.ID, m2.ID)
	wantFound(t, "dog after delete", e.search(bobs, "", 0, "dog"))
	// A message with attachments and no text is not found, until an edit
	// gives it text.
	f := e.file(alice, "x.png", "ab")
	att, _, err := e.sendReq(store.SendRequest{RoomID: g.ID, SenderID: alice.ID, Attachments: []string{f.ID}})
	must(t, "send(attachment)", err)
	e.send(alice, g.ID, "newer turtle")
	e.edit(g.ID, att.ID, "caption turtle")
	wantFound(t, "turtle after caption", e.search(bobs, "", 0, "turtle"), "newer turtle", "caption turtle", "slow green turtle")
	got, err = e.s.Search(e.ctx, store.SearchRequest{Scope: bobs, Terms: []string{"caption"}})
	if err != nil || len(got) != 1 || len(got[0].Attachments) != 1 || got[0].Attachments[0] != f.Attachment() {
		t.Fatalf("search result attachments %+v, %v", got, err)
	}
	// The scope follows membership.
	e.join(priv.ID, bob)
	wantFound(t, "bob: secret after joining", e.search(bobs, "", 0, "secret"), "secret fox plans")
	e.leave(priv.ID, bob)
	wantFound(t, "bob: secret after leaving", e.search(bobs, "", 0, "secret"))

	_, err = e.s.Search(e.ctx, store.SearchRequest{Scope: alices})
	wantErr(t, "Search(no terms)", err, store.ErrInvalid)
	_, err = e.s.Search(e.ctx, store.SearchRequest{Scope: alices, Terms: []string{"fox", ""}})
	wantErr(t, "Search(empty term)", err, store.ErrInvalid)

	e.reopen()
	wantFound(t, "turtle after reopen", e.search(bobs, "", 0, "turtle"), "newer turtle", "caption turtle", "slow green turtle")
}
