package push_test

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"minichat/server/push"
	"minichat/server/push/pushtest"
)

func TestEncryptDecrypts(t *testing.T) {
	d := pushtest.New(t).NewDevice("phone")
	for _, msg := range []string{"", "hello", strings.Repeat("x", 3000)} {
		body, err := push.Encrypt([]byte(msg), d.P256DH, d.Auth)
		if err != nil {
			t.Fatal(err)
		}
		got, err := d.Decrypt(body)
		if err != nil || string(got) != msg {
			t.Fatalf("decrypted %q, %v; want %q", got, err, msg)
		}
	}
	if _, err := push.Encrypt(make([]byte, 4000), d.P256DH, d.Auth); err == nil {
		t.Error("a payload larger than one record was encrypted")
	}
	if err := push.CheckKeys(d.P256DH, d.Auth); err != nil {
		t.Error(err)
	}
	for _, bad := range [][2]string{{"AAAA", d.Auth}, {d.P256DH, "AAAA"}, {"not base64!", d.Auth}} {
		if push.CheckKeys(bad[0], bad[1]) == nil {
			t.Errorf("CheckKeys(%q, %q) accepted", bad[0], bad[1])
		}
	}
}

func TestKeysRoundTrip(t *testing.T) {
	priv, err := push.NewPrivateKey()
	if err != nil {
		t.Fatal(err)
	}
	k1, err := push.ParseKeys(priv)
	if err != nil {
		t.Fatal(err)
	}
	k2, _ := push.ParseKeys(priv)
	if k1.Public != k2.Public || len(k1.Public) != 87 {
		t.Fatalf("public keys %q, %q", k1.Public, k2.Public)
	}
	h, err := k1.Authorization("https://push.example.com/a/b?c", "mailto:ops@example.com", time.Now().Add(time.Hour))
	if err != nil || !strings.HasPrefix(h, "vapid t=") || !strings.HasSuffix(h, ", k="+k1.Public) {
		t.Fatalf("authorization %q, %v", h, err)
	}
	if _, err := push.ParseKeys("garbage"); err == nil {
		t.Error("a garbage key parsed")
	}
}

func TestExcerpt(t *testing.T) {
	if got := push.Excerpt("  two\n\nlines  "); got != "two lines" {
		t.Errorf("%q", got)
	}
	long := push.Excerpt(strings.Repeat("ü", 500))
	if utf8.RuneCountInString(long) != push.MaxExcerpt || !strings.HasSuffix(long, "…") {
		t.Errorf("%d characters: %q", utf8.RuneCountInString(long), long)
	}
}
