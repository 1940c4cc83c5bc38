package storetest

import (
	"slices"
	"testing"

	"minichat/server/protocol"
	"minichat/server/store"
)

// search returns the texts of what u finds, failing on error.
func (e *env) search(u protocol.User, roomID string, limit int, terms ...string) []string {
	e.t.Helper()
	msgs, err := e.s.Search(e.ctx, store.SearchRequest{UserID: u.ID, RoomID: roomID, Terms: terms, Limit: limit})
	if err != nil {
		e.t.Fatalf("Search(%s, %q): %v", u.Name, terms, err)
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

	// Newest first, whole words regardless of case, rooms the searcher may
	// read only (public rooms, joined or not, and their own).
	wantFound(t, "bob: fox", e.search(bob, "", 0, "fox"),
		"a fox in pub", "brown, quick fox!", "lazy dog sleeps; the FOX watches", "The quick brown fox")
	wantFound(t, "alice: Fox", e.search(alice, "", 0, "Fox"),
		"a fox in pub", "brown, quick fox!", "secret fox plans", "lazy dog sleeps; the FOX watches", "The quick brown fox")
	wantFound(t, "a word's prefix", e.search(alice, "", 0, "fo"))
	wantFound(t, "nothing", e.search(alice, "", 0, "elephant"))
	// Every term must match; a phrase matches consecutive words only.
	wantFound(t, "quick brown", e.search(bob, "", 0, "quick", "brown"), "brown, quick fox!", "The quick brown fox")
	wantFound(t, `"quick brown"`, e.search(bob, "", 0, "quick brown"), "The quick brown fox")
	wantFound(t, `"brown quick"`, e.search(bob, "", 0, "brown quick"), "brown, quick fox!")
	wantFound(t, "fox dog", e.search(bob, "", 0, "fox", "dog"), "lazy dog sleeps; the FOX watches")
	wantFound(t, "case of non-ASCII words", e.search(bob, "", 0, "ÜNÏCÖDÉ"), "Ünïcödé café")
	// One room; a room the searcher may not read finds nothing.
	wantFound(t, "alice: fox in priv", e.search(alice, priv.ID, 0, "fox"), "secret fox plans")
	wantFound(t, "bob: fox in priv", e.search(bob, priv.ID, 0, "fox"))
	wantFound(t, "bob: fox in general", e.search(bob, g.ID, 0, "fox"),
		"brown, quick fox!", "lazy dog sleeps; the FOX watches", "The quick brown fox")
	wantFound(t, "unknown room", e.search(alice, "r_nothing", 0, "fox"))
	// Limit keeps the newest.
	wantFound(t, "limit 2", e.search(alice, "", 2, "fox"), "a fox in pub", "brown, quick fox!")
	// System messages are not found.
	wantFound(t, "joined", e.search(alice, "", 0, "joined"))

	// Results are messages in their current state.
	_, err := e.s.React(e.ctx, g.ID, m4.ID, bob.ID, "👍", true)
	must(t, "React", err)
	got, err := e.s.Search(e.ctx, store.SearchRequest{UserID: bob.ID, Terms: []string{"quick", "brown"}})
	must(t, "Search", err)
	if len(got) != 2 || got[0].ID != m4.ID || got[0].Seq != m4.Seq || got[0].Room != g.ID || got[0].Sender == nil ||
		*got[0].Sender != alice || len(got[0].Reactions) != 1 || got[1].ID != m1.ID {
		t.Fatalf("search results %+v", got)
	}
	// An edit is found by its new text only, in its old place; a deleted
	// message is not found at all.
	_, err = e.s.Edit(e.ctx, g.ID, m1.ID, alice.ID, false, "slow green turtle")
	must(t, "Edit", err)
	wantFound(t, "fox after edit", e.search(bob, g.ID, 0, "fox"), "brown, quick fox!", "lazy dog sleeps; the FOX watches")
	wantFound(t, "turtle", e.search(bob, "", 0, "turtle"), "slow green turtle")
	_, err = e.s.Delete(e.ctx, g.ID, m2.ID, bob.ID, false)
	must(t, "Delete", err)
	wantFound(t, "dog after delete", e.search(bob, "", 0, "dog"))
	// A message with attachments and no text is not found, until an edit
	// gives it text.
	f := e.file(alice, "x.png", "ab")
	att, _, err := e.s.Send(e.ctx, store.SendRequest{RoomID: g.ID, SenderID: alice.ID, Attachments: []string{f.ID}})
	must(t, "Send(attachment)", err)
	e.send(alice, g.ID, "newer turtle")
	_, err = e.s.Edit(e.ctx, g.ID, att.ID, alice.ID, false, "caption turtle")
	must(t, "Edit(caption)", err)
	wantFound(t, "turtle after caption", e.search(bob, "", 0, "turtle"), "newer turtle", "caption turtle", "slow green turtle")
	got, err = e.s.Search(e.ctx, store.SearchRequest{UserID: bob.ID, Terms: []string{"caption"}})
	must(t, "Search", err)
	if len(got) != 1 || len(got[0].Attachments) != 1 || got[0].Attachments[0] != f.Attachment() {
		t.Fatalf("search result attachments %+v", got)
	}
	// Leaving a private room hides it from search.
	must(t, "Invite", e.s.Invite(e.ctx, priv.ID, alice.ID, bob.ID))
	wantFound(t, "bob: secret after invite", e.search(bob, "", 0, "secret"), "secret fox plans")
	must(t, "Leave", e.s.Leave(e.ctx, priv.ID, bob.ID))
	wantFound(t, "bob: secret after leave", e.search(bob, "", 0, "secret"))

	_, err = e.s.Search(e.ctx, store.SearchRequest{UserID: alice.ID})
	wantErr(t, "Search(no terms)", err, store.ErrInvalid)
	_, err = e.s.Search(e.ctx, store.SearchRequest{UserID: alice.ID, Terms: []string{"fox", ""}})
	wantErr(t, "Search(empty term)", err, store.ErrInvalid)

	e.reopen()
	wantFound(t, "turtle after reopen", e.search(bob, "", 0, "turtle"), "newer turtle", "caption turtle", "slow green turtle")
}
