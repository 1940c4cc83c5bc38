package preview

import (
	"net/url"
	"testing"

	"minichat/server/chat"
)

func TestParse(t *testing.T) {
	base, _ := url.Parse("https://example.com/a/b")
	p := Parse([]byte(`<html><head><meta name="og:title" content="A"><meta property="og:image" content="javascript:alert(1)">
		<meta name="twitter:image" content="//cdn.example.com/i.png"></head><body><meta property="og:description" content="late"></body></html>`), base)
	if p == nil || p.Title != "A" || p.Image != "" || p.Description != "" {
		t.Errorf("og and unsafe image: %+v", p)
	}
	p = Parse([]byte(`<title>T</title><meta name="twitter:image" content="//cdn.example.com/i.png">`), base)
	if p == nil || p.Title != "T" || p.Image != "https://cdn.example.com/i.png" {
		t.Errorf("title and relative image: %+v", p)
	}
	if p := Parse([]byte(`<html><body><h1>nothing</h1></body></html>`), base); p != nil {
		t.Errorf("empty page: %+v", p)
	}
}

func TestFirstLink(t *testing.T) {
	for text, want := range map[string]string{
		"see https://example.com/x.":                  "https://example.com/x",
		"(https://en.wikipedia.org/wiki/Go_(lang))":   "https://en.wikipedia.org/wiki/Go_(lang)",
		"(at https://example.com/a) and http://b.org": "https://example.com/a",
		"no link, ftp://example.com":                  "",
	} {
		if got := chat.FirstLink(text); got != want {
			t.Errorf("FirstLink(%q) = %q, want %q", text, got, want)
		}
	}
}
