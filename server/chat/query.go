package chat

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"minichat/server/protocol"
)

// ParseQuery turns a search query typed by a user into store search terms.
//
// A query is words and "quoted phrases". A word is a run of letters, digits
// and combining marks; everything else separates words. A quoted phrase
// becomes one term of its words in order; outside quotes every
// white-space-separated chunk is a term, so "e-mail" or "don't" — several
// words joined by punctuation — is the phrase of those words, as the text
// holds them. An unclosed quote runs to the end of the query. Terms are
// lower-cased. Any input gives either terms or a bad_request error (empty,
// longer than protocol.MaxSearchQuery bytes, not UTF-8, or more than
// protocol.MaxSearchTerms terms); never anything the index cannot parse,
// since terms carry no punctuation at all.
func ParseQuery(q string) ([]string, error) {
	if len(q) > protocol.MaxSearchQuery {
		return nil, protocol.Errorf(protocol.CodeBadRequest, "q must be at most %d bytes", protocol.MaxSearchQuery)
	}
	if !utf8.ValidString(q) {
		return nil, protocol.Errorf(protocol.CodeBadRequest, "q must be valid UTF-8")
	}
	var terms []string
	add := func(chunk string) {
		if t := strings.Join(words(chunk), " "); t != "" {
			terms = append(terms, t)
		}
	}
	for i, part := range strings.Split(q, `"`) {
		if i%2 == 1 { // inside quotes
			add(part)
			continue
		}
		for _, chunk := range strings.Fields(part) {
			add(chunk)
		}
	}
	if len(terms) == 0 {
		return nil, protocol.Errorf(protocol.CodeBadRequest, "q must contain a word to search for")
	}
	if len(terms) > protocol.MaxSearchTerms {
		return nil, protocol.Errorf(protocol.CodeBadRequest, "q may hold at most %d words and phrases", protocol.MaxSearchTerms)
	}
	return terms, nil
}

// words splits s into lower-case words.
func words(s string) []string {
	return strings.FieldsFunc(strings.ToLower(s), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsNumber(r) && !unicode.Is(unicode.Mn, r) && !unicode.Is(unicode.Mc, r)
	})
}
