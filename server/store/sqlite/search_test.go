package sqlite_test

import (
	"errors"
	"testing"

	"minichat/server/chat"
	"minichat/server/protocol"
	"minichat/server/store"
)

// FuzzSearchQuery feeds any query a user may type, as the chat service
// parses it, to the FTS5 index: the result is either a bad_request from the
// parser or an answer, never an error from the index.
func FuzzSearchQuery(f *testing.F) {
	for _, q := range []string{
		"fox", `"quick brown" fox`, `"unclosed`, `AND OR NOT`, `fox*`, `^fox`, `NEAR(a b, 2)`, `col:fox`,
		`a + b`, `"a""b"`, `{text}: x`, `(((`, "\x00", "e-mail", "日本語", "cafe\u0301", `-fox`, `fox AND`,
	} {
		f.Add(q)
	}
	s := openAt(f, f.TempDir(), store.Options{})
	f.Cleanup(func() { s.Close() })
	ctx := f.Context()
	u, err := s.CreateUser(ctx, store.NewUser{Name: "alice", PasswordHash: "h"})
	if err != nil {
		f.Fatal(err)
	}
	rooms, err := s.Rooms(ctx, u.ID)
	if err != nil {
		f.Fatal(err)
	}
	for _, text := range []string{"the quick brown fox", "an e-mail about NEAR and AND", "日本語 text"} {
		if _, _, err := s.Send(ctx, store.SendRequest{RoomID: rooms[0].ID, SenderID: u.ID, Text: text}); err != nil {
			f.Fatal(err)
		}
	}
	f.Fuzz(func(t *testing.T, q string) {
		terms, err := chat.ParseQuery(q)
		if err != nil {
			var ce *protocol.CodeError
			if !errors.As(err, &ce) || ce.Code != protocol.CodeBadRequest {
				t.Fatalf("ParseQuery(%q): %v", q, err)
			}
			return
		}
		if _, err := s.Search(t.Context(), store.SearchRequest{UserID: u.ID, Terms: terms}); err != nil {
			t.Fatalf("Search(%q) = %v", terms, err)
		}
	})
}
