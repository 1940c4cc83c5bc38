package protocol

import (
	"strings"
	"testing"
)

// TestText checks what text the server keeps: valid UTF-8 without control
// characters but tab, line feed and carriage return, so that no store ever
// sees a character it would keep differently from the other.
func TestText(t *testing.T) {
	for _, c := range []struct {
		in, out string
		code    string
	}{
		{"  hello\tworld\r\nbye  ", "hello\tworld\r\nbye", ""},
		{"emoji 👍 and ünïcödé", "emoji 👍 and ünïcödé", ""},
		{"nul \x00 inside", "", CodeBadRequest},
		{"bell \a", "", CodeBadRequest},
		{"escape \x1b[31m", "", CodeBadRequest},
		{"delete \x7f", "", CodeBadRequest},
		{"next line \u0085", "", CodeBadRequest},
		{"c1 \u009f", "", CodeBadRequest},
		{"bad \xff utf-8", "", CodeBadRequest},
		{"   ", "", CodeBadRequest},
		{strings.Repeat("é", MaxTextChars+1), "", CodeTooLarge},
	} {
		out, err := NormalizeText(c.in, false)
		got := ""
		if err != nil {
			got = ErrorCode(err)
		}
		if got != c.code || out != c.out {
			t.Errorf("NormalizeText(%q) = %q, %v; want %q, %q", c.in, out, err, c.out, c.code)
		}
	}
	if _, err := NormalizeText(" ", true); err != nil {
		t.Errorf("empty text with attachments: %v", err)
	}
	for _, id := range []string{"", "with\x00nul", "bad\xff", strings.Repeat("c", MaxClientIDLen+1)} {
		if CheckClientID(id) == nil && id != "" {
			t.Errorf("CheckClientID(%q) accepted", id)
		}
	}
	if err := CheckClientID("c-1 ✓"); err != nil {
		t.Errorf("CheckClientID: %v", err)
	}
}

func TestValidID(t *testing.T) {
	for id, want := range map[string]bool{
		"r_abcdefghijklmnopqrst": true,
		"anything-printable~!":   true,
		"":                       false,
		"r_ with space":          false,
		"r_\x00":                 false,
		"r_é":                    false,
		strings.Repeat("r", 64):  true,
		strings.Repeat("r", 65):  false,
		"r_\x7f":                 false,
	} {
		if ValidID(id) != want {
			t.Errorf("ValidID(%q) = %v, want %v", id, !want, want)
		}
	}
}

// TestFramesRefuseControlCharacters checks the frames whose text is
// relayed or stored.
func TestFramesRefuseControlCharacters(t *testing.T) {
	for _, raw := range []string{
		`{"type":"status","status":"away","text":"away\u0000"}`,
		`{"type":"react","room":"r_1","id":"m_1","emoji":"👍\u001b","on":true}`,
		`{"type":"send","room":"r_1","text":"hi","client_id":"c\u0000"}`,
	} {
		if _, _, err := DecodeClient([]byte(raw)); err == nil || ErrorCode(err) != CodeBadRequest {
			t.Errorf("%s: %v", raw, err)
		}
	}
}
