package protocol

import (
	"strings"
	"unicode"
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

// control reports the first control character of s that text may not hold:
// any of C0 (U+0000–U+001F), DEL (U+007F) and C1 (U+0080–U+009F) but tab,
// line feed and carriage return. NUL is one: PostgreSQL cannot store it in
// text, so with it allowed the same message would be kept by one store and
// refused by the other; the others have no business in a chat message
// either (terminal escapes, invisible separators). ok is false when there is
// none.
func control(s string) (r rune, ok bool) {
	for _, r := range s {
		if unicode.IsControl(r) && r != '\t' && r != '\n' && r != '\r' {
			return r, true
		}
	}
	return 0, false
}

// CheckText returns a bad_request error naming what when s is not valid
// UTF-8 or holds a control character other than tab, line feed and carriage
// return (see control). Every text the server stores or relays passes it,
// so that no store ever sees a character it would keep differently from the
// other.
func CheckText(what, s string) error {
	if !utf8.ValidString(s) {
		return Errorf(CodeBadRequest, "%s must be valid UTF-8", what)
	}
	if r, ok := control(s); ok {
		return Errorf(CodeBadRequest, "%s must not contain control characters (U+%04X)", what, r)
	}
	return nil
}

// maxIDLen bounds the ids clients send.
const maxIDLen = 64

// ValidID reports whether s may be an id of the server's (a room, message,
// file or session): 1–64 bytes of printable ASCII. The server's own ids are
// a prefix and 20 base32 characters; anything else names nothing, and is
// answered as an unknown id would be without asking the store.
func ValidID(s string) bool {
	if len(s) < 1 || len(s) > maxIDLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}

// NormalizeText trims outer white space and checks the result (CheckText),
// of at most MaxTextChars code points. Empty text is allowed only when
// allowEmpty (a message with attachments).
func NormalizeText(s string, allowEmpty bool) (string, error) {
	if err := CheckText("text", s); err != nil {
		return "", err
	}
	t := strings.TrimSpace(s)
	if !allowEmpty && Invisible(t) {
		return "", Errorf(CodeBadRequest, "text must not be empty or only invisible characters")
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
	return CheckText("client_id", id)
}

// Invisible reports whether s shows nothing: it holds only white space and
// format characters (unicode.Cf: zero-width spaces and joiners, bidi
// marks and controls, the byte-order mark), or nothing at all. Such a text
// would show as an empty message.
func Invisible(s string) bool {
	for _, r := range s {
		if !unicode.IsSpace(r) && !unicode.Is(unicode.Cf, r) {
			return false
		}
	}
	return true
}

// CheckSendKind checks the kind a client asks a new message to have: ""
// or "chat" (a chat message) or "me" (an action).
func CheckSendKind(kind string) error {
	switch kind {
	case "", KindChat, KindMe:
		return nil
	}
	return Errorf(CodeBadRequest, "kind must be %q or %q", KindChat, KindMe)
}
