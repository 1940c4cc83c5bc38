package protocol

import (
	"strings"
	"unicode/utf8"
)

// Limits of names, passwords and text.
const (
	MaxNameLen     = 32
	MinPasswordLen = 8
	MaxPasswordLen = 256
	MaxTextChars   = 4000
	MaxClientIDLen = 64
	MaxRefLen      = 64
	MaxStatusText  = 128
	MaxHistory     = 200
	DefaultHistory = 50
	MaxReplay      = 500
	MaxEmojiBytes  = 64
	MaxAttachments = 10
	// MaxSearch is the most messages one search returns.
	MaxSearch = 50
	// MaxSearchQuery bounds a search query (bytes) and MaxSearchTerms the
	// words and phrases in it.
	MaxSearchQuery = 256
	MaxSearchTerms = 16
)

// ValidName reports whether s is a valid user or room name: 1–32 characters
// of [A-Za-z0-9_.-].
func ValidName(s string) bool {
	if len(s) < 1 || len(s) > MaxNameLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_', c == '.', c == '-':
		default:
			return false
		}
	}
	return true
}

// CheckName returns a bad_request error naming what when s is not a valid name.
func CheckName(what, s string) error {
	if !ValidName(s) {
		return Errorf(CodeBadRequest, "%s must be 1-%d characters of letters, digits, '_', '.' or '-'", what, MaxNameLen)
	}
	return nil
}

// CheckPassword returns a bad_request error when p is not 8–256 bytes.
func CheckPassword(p string) error {
	if len(p) < MinPasswordLen || len(p) > MaxPasswordLen {
		return Errorf(CodeBadRequest, "password must be %d-%d bytes", MinPasswordLen, MaxPasswordLen)
	}
	return nil
}

// NormalizeText trims outer white space and checks the result is valid UTF-8
// without NUL characters, of at most MaxTextChars code points. Empty text
// is allowed only when allowEmpty (a message with attachments). NUL is
// refused because PostgreSQL cannot store it in text: with it allowed, the
// same message would be kept by one store and refused by the other.
func NormalizeText(s string, allowEmpty bool) (string, error) {
	if !utf8.ValidString(s) {
		return "", Errorf(CodeBadRequest, "text must be valid UTF-8")
	}
	if strings.IndexByte(s, 0) >= 0 {
		return "", Errorf(CodeBadRequest, "text must not contain NUL (U+0000) characters")
	}
	t := strings.TrimSpace(s)
	if t == "" && !allowEmpty {
		return "", Errorf(CodeBadRequest, "text must not be empty")
	}
	if n := utf8.RuneCountInString(t); n > MaxTextChars {
		return "", Errorf(CodeTooLarge, "text is %d characters, at most %d allowed", n, MaxTextChars)
	}
	return t, nil
}

// CheckClientID checks an optional client_id.
func CheckClientID(id string) error {
	if len(id) > MaxClientIDLen {
		return Errorf(CodeBadRequest, "client_id must be at most %d bytes", MaxClientIDLen)
	}
	return nil
}
