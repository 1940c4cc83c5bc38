package chat

import (
	"strings"
	"testing"

	"minichat/server/protocol"
)

func TestInstanceNames(t *testing.T) {
	for in, want := range map[string]string{
		"Acme chat":  "Acme chat",
		"  padded\t": "padded",
		"Ünïcødé 💬":  "Ünïcødé 💬",
		strings.Repeat("x", protocol.MaxInstanceName): strings.Repeat("x", protocol.MaxInstanceName),
	} {
		if got, err := checkInstanceName(in); err != nil || got != want {
			t.Errorf("checkInstanceName(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "   ", "a\nb", "zero\u200bwidth", "\xff", strings.Repeat("x", protocol.MaxInstanceName+1)} {
		if _, err := checkInstanceName(bad); protocol.ErrorCode(err) != protocol.CodeBadRequest {
			t.Errorf("checkInstanceName(%q) = %v, want bad_request", bad, err)
		}
	}
}
