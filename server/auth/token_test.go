package auth

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"testing"
)

func TestNewToken(t *testing.T) {
	const n = 1000
	seen := make(map[string]bool, n)
	for range n {
		tok, hash, err := NewToken()
		if err != nil {
			t.Fatal(err)
		}
		if seen[tok] {
			t.Fatalf("NewToken returned %q twice", tok)
		}
		seen[tok] = true

		raw, err := base64.RawURLEncoding.DecodeString(tok)
		if err != nil || len(raw) != 32 {
			t.Fatalf("token %q: decoded %d bytes, err %v; want 32 bytes of raw URL base64", tok, len(raw), err)
		}
		if !bytes.Equal(hash, HashToken(tok)) {
			t.Fatalf("NewToken hash %x != HashToken(token) %x", hash, HashToken(tok))
		}
	}
}

func TestHashToken(t *testing.T) {
	const tok = "abc"
	want := sha256.Sum256([]byte(tok))
	got := HashToken(tok)
	if !bytes.Equal(got, want[:]) {
		t.Errorf("HashToken(%q) = %x, want %x", tok, got, want)
	}
	if !bytes.Equal(got, HashToken(tok)) {
		t.Error("HashToken is not stable")
	}
	if bytes.Equal(got, HashToken("abd")) {
		t.Error("different tokens hash equal")
	}
}
