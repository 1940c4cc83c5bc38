package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
)

// tokenBytes is the entropy of a session token: 256 bits.
const tokenBytes = 32

// NewToken returns a new random session token and its digest. The token, 43
// characters of unpadded URL-safe base64, goes to the client; only the hash,
// HashToken(token), should be stored, so a leaked database does not yield
// usable sessions.
func NewToken() (token string, hash []byte, err error) {
	b := make([]byte, tokenBytes)
	if _, err := rand.Read(b); err != nil {
		return "", nil, fmt.Errorf("new token: %w", err)
	}
	token = base64.RawURLEncoding.EncodeToString(b)
	return token, HashToken(token), nil
}

// HashToken returns the SHA-256 digest of token, the form in which tokens
// are stored and looked up. A fast hash is enough here because tokens carry
// 256 bits of entropy, unlike passwords.
func HashToken(token string) []byte {
	sum := sha256.Sum256([]byte(token))
	return sum[:]
}

// NewAPIToken returns a new personal API token and its digest: "mct_"
// (protocol.TokenPrefix) then 256 random bits, so that the server, and
// secret scanners, tell it from a session token. Only the hash is stored.
func NewAPIToken() (token string, hash []byte, err error) {
	t, _, err := NewToken()
	if err != nil {
		return "", nil, err
	}
	token = "mct_" + t
	return token, HashToken(token), nil
}
