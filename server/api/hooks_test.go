package api

import "testing"

func TestLogPathHidesHookSecrets(t *testing.T) {
	for in, want := range map[string]string{"/hooks/abc": "/hooks/…", "/hooks/": "/hooks/", "/api/hooks/h_1": "/api/hooks/h_1"} {
		if got := logPath(in); got != want {
			t.Errorf("logPath(%q) = %q, want %q", in, got, want)
		}
	}
}
