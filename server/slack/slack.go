// Package slack reads the payloads of Slack's incoming webhooks (and
// minichat's own {"text": …}) into plain text, as an incoming webhook of
// minichat posts them: attachments and blocks are reduced to their text,
// Slack's <url|label> links and <!here>-style mentions to readable text.
// It has no state and is safe for concurrent use.
package slack

import (
	"encoding/json"
	"fmt"
	"mime"
	"net/url"
	"strings"
	"unicode/utf8"
)

// Message is a payload reduced to what minichat shows.
type Message struct {
	Text     string
	Username string
	IconURL  string
}

// Error is a payload that cannot be read; its text says why.
type Error struct{ Msg string }

func (e *Error) Error() string { return e.Msg }

func errorf(format string, args ...any) error { return &Error{Msg: fmt.Sprintf(format, args...)} }

// payload is the part of Slack's incoming-webhook JSON that is read.
type payload struct {
	Text        *string      `json:"text"`
	Username    string       `json:"username"`
	IconURL     string       `json:"icon_url"`
	Attachments []attachment `json:"attachments"`
	Blocks      []block      `json:"blocks"`
}

type attachment struct {
	Fallback   string  `json:"fallback"`
	Pretext    string  `json:"pretext"`
	AuthorName string  `json:"author_name"`
	Title      string  `json:"title"`
	TitleLink  string  `json:"title_link"`
	Text       string  `json:"text"`
	Fields     []field `json:"fields"`
	Footer     string  `json:"footer"`
	Blocks     []block `json:"blocks"`
}

type field struct {
	Title string `json:"title"`
	Value string `json:"value"`
}

type textObject struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

type block struct {
	Type     string       `json:"type"`
	Text     *textObject  `json:"text"`
	Fields   []textObject `json:"fields"`
	Elements []textObject `json:"elements"`
}

// Parse reads a request body of contentType: JSON, or a form
// (application/x-www-form-urlencoded) whose payload field holds the JSON, as
// Slack accepts. The text is at most maxChars characters (longer is cut,
// ending in "…"). An *Error says what is wrong with a payload.
func Parse(body []byte, contentType string, maxChars int) (Message, error) {
	mt, _, _ := mime.ParseMediaType(contentType)
	if mt == "application/x-www-form-urlencoded" {
		form, err := url.ParseQuery(string(body))
		if err != nil {
			return Message{}, errorf("form body: %v", err)
		}
		p := form.Get("payload")
		if p == "" {
			return Message{}, errorf(`a form body needs a "payload" field holding the JSON message`)
		}
		body = []byte(p)
	}
	if !utf8.Valid(body) {
		return Message{}, errorf("the body must be UTF-8 JSON")
	}
	var p payload
	if err := json.Unmarshal(body, &p); err != nil {
		return Message{}, errorf(`the body must be a JSON object such as {"text": "hello"}: %v`, err)
	}
	var parts []string
	if p.Text != nil {
		parts = append(parts, *p.Text)
	}
	if t := blocksText(p.Blocks); t != "" && p.Text == nil {
		// Slack shows blocks instead of text when both are given (text is
		// then the notification's fallback).
		parts = append(parts, t)
	} else if t != "" && strings.TrimSpace(*p.Text) == "" {
		parts = append(parts, t)
	}
	for _, a := range p.Attachments {
		if t := attachmentText(a); t != "" {
			parts = append(parts, t)
		}
	}
	text := strings.TrimSpace(Links(strings.Join(nonEmpty(parts), "\n")))
	if text == "" {
		return Message{}, errorf(`the message has no text: give "text", or "attachments" or "blocks" with text in them`)
	}
	if maxChars > 0 && utf8.RuneCountInString(text) > maxChars {
		text = string([]rune(text)[:maxChars-1]) + "…"
	}
	return Message{Text: text, Username: p.Username, IconURL: p.IconURL}, nil
}

func nonEmpty(ss []string) []string {
	out := ss[:0]
	for _, s := range ss {
		if strings.TrimSpace(s) != "" {
			out = append(out, s)
		}
	}
	return out
}

// attachmentText is a legacy attachment as lines: pretext, author, title
// (with its link), text, "title: value" per field, footer; its blocks when
// it has them; the fallback when it has nothing else.
func attachmentText(a attachment) string {
	var lines []string
	add := func(s string) {
		if s = strings.TrimSpace(s); s != "" {
			lines = append(lines, s)
		}
	}
	add(a.Pretext)
	add(a.AuthorName)
	if a.Title != "" && a.TitleLink != "" {
		add("<" + a.TitleLink + "|" + a.Title + ">")
	} else {
		add(a.Title)
	}
	add(a.Text)
	for _, f := range a.Fields {
		switch {
		case f.Title != "" && f.Value != "":
			add(f.Title + ": " + f.Value)
		default:
			add(f.Title + f.Value)
		}
	}
	add(blocksText(a.Blocks))
	add(a.Footer)
	if len(lines) == 0 {
		add(a.Fallback)
	}
	return strings.Join(lines, "\n")
}

// blocksText is the text of section, header, context and rich text-like
// blocks, a line each; dividers, images and actions show nothing.
func blocksText(bs []block) string {
	var lines []string
	for _, b := range bs {
		switch b.Type {
		case "section", "header":
			if b.Text != nil && strings.TrimSpace(b.Text.Text) != "" {
				lines = append(lines, b.Text.Text)
			}
			for _, f := range b.Fields {
				if strings.TrimSpace(f.Text) != "" {
					lines = append(lines, f.Text)
				}
			}
		case "context":
			var ts []string
			for _, e := range b.Elements {
				if (e.Type == "mrkdwn" || e.Type == "plain_text") && strings.TrimSpace(e.Text) != "" {
					ts = append(ts, e.Text)
				}
			}
			if len(ts) > 0 {
				lines = append(lines, strings.Join(ts, " · "))
			}
		}
	}
	return strings.Join(lines, "\n")
}

// Links rewrites Slack's angle-bracket markup: <url|label> becomes
// "label (url)" (or "label" alone when it is the url), <url> the url,
// <!here> and <!channel> "@here" and "@channel", <@U123> "@U123" and
// <#C123|name> "#name"; "&lt;", "&gt;" and "&amp;", which Slack requires
// in text, become the characters.
func Links(s string) string {
	var b strings.Builder
	for {
		i := strings.IndexByte(s, '<')
		if i < 0 {
			break
		}
		j := strings.IndexByte(s[i:], '>')
		if j < 0 {
			break
		}
		b.WriteString(s[:i])
		b.WriteString(link(s[i+1 : i+j]))
		s = s[i+j+1:]
	}
	b.WriteString(s)
	return strings.NewReplacer("&lt;", "<", "&gt;", ">", "&amp;", "&").Replace(b.String())
}

func link(inner string) string {
	target, label, hasLabel := strings.Cut(inner, "|")
	switch {
	case strings.HasPrefix(target, "!"):
		if hasLabel {
			return label
		}
		name, _, _ := strings.Cut(target[1:], "^")
		return "@" + name
	case strings.HasPrefix(target, "@"):
		if hasLabel {
			return "@" + strings.TrimPrefix(label, "@")
		}
		return target
	case strings.HasPrefix(target, "#"):
		if hasLabel {
			return "#" + strings.TrimPrefix(label, "#")
		}
		return target
	}
	if !hasLabel || label == "" || label == target {
		return target
	}
	if strings.TrimPrefix(target, "mailto:") == label {
		return label
	}
	return label + " (" + target + ")"
}
