package protocol

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Limits of room topics and group direct messages (additions to the
// contract).
const (
	// MaxTopicChars bounds a room's topic, in code points.
	MaxTopicChars = 250
	// MinGroupOthers and MaxGroupOthers bound how many other people a
	// group direct message names besides its creator: 3 to 8 people in all.
	MinGroupOthers = 2
	MaxGroupOthers = 7
	// MaxMembersPage is the largest page of GET /api/rooms/{id}/members,
	// DefaultMembersPage its size when none is asked for.
	MaxMembersPage     = 500
	DefaultMembersPage = 200
)

// TopicBody is the body of PUT /api/rooms/{id}/topic: the new topic, ""
// to clear it.
type TopicBody struct {
	Topic string `json:"topic"`
}

// RenameBody is the body of PUT /api/rooms/{id}/name.
type RenameBody struct {
	Name string `json:"name"`
}

// ArchiveBody is the body of PUT /api/rooms/{id}/archived.
type ArchiveBody struct {
	Archived bool `json:"archived"`
}

// NormalizeTopic cleans a topic someone typed: control characters (line
// breaks and tabs included) become spaces, runs of white space one space,
// outer white space goes, and the result is at most MaxTopicChars code
// points (too_large otherwise). Invalid UTF-8 is bad_request; a topic of
// only invisible characters is "" (no topic).
func NormalizeTopic(s string) (string, error) {
	if !utf8.ValidString(s) {
		return "", Errorf(CodeBadRequest, "topic must be valid UTF-8")
	}
	var b strings.Builder
	space := false
	for _, r := range s {
		if unicode.IsControl(r) || unicode.IsSpace(r) {
			space = true
			continue
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		space = false
		b.WriteRune(r)
	}
	t := b.String()
	if Invisible(t) {
		return "", nil
	}
	if n := utf8.RuneCountInString(t); n > MaxTopicChars {
		return "", Errorf(CodeTooLarge, "the topic is %d characters, at most %d allowed", n, MaxTopicChars)
	}
	return t, nil
}
