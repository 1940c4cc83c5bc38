package protocol

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Limits of a profile.
const (
	// MaxDisplayName is the most characters (code points) of a display name.
	MaxDisplayName = 64
	// MaxProfileStatus is the most characters of a profile's status text.
	MaxProfileStatus = 100
	// MaxUserSearch is the most users one page of GET /api/users holds;
	// DefaultUserSearch is the page size when the request names none.
	MaxUserSearch     = 50
	DefaultUserSearch = 20
	// MaxUserQuery bounds the query of a people search, in bytes.
	MaxUserQuery = 64
)

// ProfileChange is the body of PATCH /api/me (and PUT /api/me/profile): the
// fields present are changed, the others kept. An empty display name or
// status text clears it.
type ProfileChange struct {
	DisplayName *string `json:"display_name,omitempty"`
	StatusText  *string `json:"status_text,omitempty"`
}

// invisibleKept are the format characters a name keeps: the zero-width
// non-joiner and joiner shape the letters of several scripts (Persian,
// the Indic scripts) and join emoji sequences.
func invisibleKept(r rune) bool { return r == '\u200c' || r == '\u200d' }

// cleanLine strips what a one-line text shown beside other people's names
// must not hold — control characters, and format characters (unicode.Cf:
// bidi overrides and isolates, zero-width spaces, the byte-order mark, tag
// characters) but the joiners — turns every run of white space into one
// space and trims the ends. A bidi override in a name would turn the text
// after it around; a zero-width space would let two names look the same.
func cleanLine(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	space := false
	for _, r := range s {
		switch {
		case unicode.IsSpace(r):
			space = b.Len() > 0
			continue
		case unicode.IsControl(r), unicode.Is(unicode.Cf, r) && !invisibleKept(r),
			r == utf8.RuneError, unicode.In(r, unicode.Co, unicode.Cs):
			continue
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		b.WriteRune(r)
	}
	return b.String()
}

// NormalizeDisplayName returns the display name to keep for s: invalid
// UTF-8 refused; control and invisible characters stripped, white space
// collapsed and trimmed (see cleanLine); then at most MaxDisplayName
// characters. "" (or only invisible characters) clears the display name.
func NormalizeDisplayName(s string) (string, error) {
	if !utf8.ValidString(s) {
		return "", Errorf(CodeBadRequest, "display_name must be valid UTF-8")
	}
	t := cleanLine(s)
	if Invisible(t) {
		return "", nil
	}
	if n := utf8.RuneCountInString(t); n > MaxDisplayName {
		return "", Errorf(CodeBadRequest, "display_name is %d characters, at most %d allowed", n, MaxDisplayName)
	}
	return t, nil
}

// NormalizeStatusText is NormalizeDisplayName for a profile's status text,
// of at most MaxProfileStatus characters.
func NormalizeStatusText(s string) (string, error) {
	if !utf8.ValidString(s) {
		return "", Errorf(CodeBadRequest, "status_text must be valid UTF-8")
	}
	t := cleanLine(s)
	if Invisible(t) {
		return "", nil
	}
	if n := utf8.RuneCountInString(t); n > MaxProfileStatus {
		return "", Errorf(CodeBadRequest, "status_text is %d characters, at most %d allowed", n, MaxProfileStatus)
	}
	return t, nil
}
