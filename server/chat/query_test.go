package chat

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"minichat/server/protocol"
)

func TestParseQuery(t *testing.T) {
	cases := []struct {
		q    string
		want []string
	}{
		{"hello", []string{"hello"}},
		{"  Hello   World ", []string{"hello", "world"}},
		{`"quick brown" fox`, []string{"quick brown", "fox"}},
		{`"  quick,  brown! "`, []string{"quick brown"}},
		{`"unclosed phrase here`, []string{"unclosed phrase here"}},
		{"e-mail don't", []string{"e mail", "don t"}},
		{`fox* AND (dog) OR NOT x:y ^z`, []string{"fox", "and", "dog", "or", "not", "x y", "z"}},
		{`"" "fox"`, []string{"fox"}},
		{"Ünïcödé 日本語 ٣", []string{"ünïcödé", "日本語", "٣"}},
		{"cafe\u0301", []string{"cafe\u0301"}},
	}
	for _, tc := range cases {
		got, err := ParseQuery(tc.q)
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("ParseQuery(%q) = %q, %v; want %q", tc.q, got, err, tc.want)
		}
	}
	for _, q := range []string{"", "   ", `""`, `"*" ( ) - :`, "\xff\xfe", strings.Repeat("a", protocol.MaxSearchQuery+1),
		strings.Repeat("w ", protocol.MaxSearchTerms+1)} {
		_, err := ParseQuery(q)
		var ce *protocol.CodeError
		if !errors.As(err, &ce) || ce.Code != protocol.CodeBadRequest {
			t.Errorf("ParseQuery(%q) error %v, want bad_request", q, err)
		}
	}
	if _, err := ParseQuery(strings.Repeat("w ", protocol.MaxSearchTerms)); err != nil {
		t.Errorf("%d terms refused: %v", protocol.MaxSearchTerms, err)
	}
}
