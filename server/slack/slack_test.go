package slack

import (
	"errors"
	"strings"
	"testing"
)

func TestLinks(t *testing.T) {
	for in, want := range map[string]string{
		"see <https://a.example/x|the docs>":    "see the docs (https://a.example/x)",
		"<https://a.example>":                   "https://a.example",
		"<https://a.example|https://a.example>": "https://a.example",
		"<mailto:a@b.example|a@b.example>":      "a@b.example",
		"<!here> and <!channel>":                "@here and @channel",
		"<!subteam^S123|@ops>":                  "@ops",
		"<@U123> in <#C1|general>":              "@U123 in #general",
		"1 &lt; 2 &amp;&amp; 3 &gt; 2":          "1 < 2 && 3 > 2",
		"no links < here":                       "no links < here",
	} {
		if got := Links(in); got != want {
			t.Errorf("Links(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParse(t *testing.T) {
	m, err := Parse([]byte(`{"attachments":[{"fallback":"[FIRING:1] HighCPU","color":"danger"}]}`), "application/json", 0)
	if err != nil || m.Text != "[FIRING:1] HighCPU" {
		t.Errorf("fallback only: %q %v", m.Text, err)
	}
	m, err = Parse([]byte(`{"text":"`+strings.Repeat("a", 50)+`"}`), "application/json; charset=utf-8", 10)
	if err != nil || m.Text != strings.Repeat("a", 9)+"…" {
		t.Errorf("cut: %q %v", m.Text, err)
	}
	var perr *Error
	if _, err := Parse([]byte(`[]`), "application/json", 0); !errors.As(err, &perr) {
		t.Errorf("array: %v", err)
	}
}
