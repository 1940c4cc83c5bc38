package auth

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// fastParams keep tests quick; they are far too weak for production.
var fastParams = Params{Time: 1, MemoryKiB: 64, Threads: 1, KeyLen: 16, SaltLen: 8}

func TestHashPasswordRoundTrip(t *testing.T) {
	for _, pw := range []string{"correct horse battery staple", "", "pässwörd ✓", strings.Repeat("x", 1000)} {
		enc, err := HashPassword(pw, fastParams)
		if err != nil {
			t.Fatalf("HashPassword(%q): %v", pw, err)
		}
		ok, err := VerifyPassword(enc, pw)
		if err != nil || !ok {
			t.Errorf("VerifyPassword(%q, %q) = %v, %v; want true, nil", enc, pw, ok, err)
		}
	}
}

func TestVerifyPasswordWrong(t *testing.T) {
	enc, err := HashPassword("secret", fastParams)
	if err != nil {
		t.Fatal(err)
	}
	for _, pw := range []string{"Secret", "secret ", "", "secre"} {
		ok, err := VerifyPassword(enc, pw)
		if err != nil || ok {
			t.Errorf("VerifyPassword(%q) = %v, %v; want false, nil", pw, ok, err)
		}
	}
}

func TestHashPasswordFormat(t *testing.T) {
	p := Params{Time: 2, MemoryKiB: 96, Threads: 2, KeyLen: 24, SaltLen: 12}
	enc, err := HashPassword("pw", p)
	if err != nil {
		t.Fatal(err)
	}
	prefix := "$argon2id$v=19$m=96,t=2,p=2$"
	if !strings.HasPrefix(enc, prefix) {
		t.Fatalf("HashPassword = %q, want prefix %q", enc, prefix)
	}
	fields := strings.Split(enc, "$")
	// Unpadded base64: 12 bytes -> 16 chars, 24 bytes -> 32 chars.
	if len(fields[4]) != 16 || len(fields[5]) != 32 {
		t.Errorf("salt/hash lengths = %d/%d chars, want 16/32", len(fields[4]), len(fields[5]))
	}
	enc2, err := HashPassword("pw", p)
	if err != nil {
		t.Fatal(err)
	}
	if enc == enc2 {
		t.Error("two hashes of the same password are equal; salt is not random")
	}
}

// TestVerifyPasswordReadsParams checks that parameters come from the encoded
// string: hashes made under other parameters verify while DefaultParams
// stay as they are.
func TestVerifyPasswordReadsParams(t *testing.T) {
	for _, p := range []Params{
		fastParams,
		{Time: 3, MemoryKiB: 128, Threads: 2, KeyLen: 32, SaltLen: 16},
		{Time: 1, MemoryKiB: 32, Threads: 4, KeyLen: 64, SaltLen: 32},
	} {
		t.Run(fmt.Sprintf("%+v", p), func(t *testing.T) {
			enc, err := HashPassword("pw", p)
			if err != nil {
				t.Fatal(err)
			}
			if ok, err := VerifyPassword(enc, "pw"); err != nil || !ok {
				t.Errorf("VerifyPassword = %v, %v; want true, nil", ok, err)
			}
			if ok, err := VerifyPassword(enc, "other"); err != nil || ok {
				t.Errorf("VerifyPassword(wrong) = %v, %v; want false, nil", ok, err)
			}
		})
	}
}

// TestVerifyPasswordKnownVector checks interoperability with the argon2
// reference implementation: these encoded hashes are from its test suite
// (password "password", salt "somesalt").
func TestVerifyPasswordKnownVector(t *testing.T) {
	for _, enc := range []string{
		"$argon2id$v=19$m=256,t=2,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4",
		"$argon2id$v=19$m=256,t=2,p=2$c29tZXNhbHQ$bQk8UB/VmZZF4Oo79iDXuL5/0ttZwg2f/5U52iv1cDc",
	} {
		if ok, err := VerifyPassword(enc, "password"); err != nil || !ok {
			t.Errorf("VerifyPassword(%q, password) = %v, %v; want true, nil", enc, ok, err)
		}
		if ok, err := VerifyPassword(enc, "passwore"); err != nil || ok {
			t.Errorf("VerifyPassword(%q, passwore) = %v, %v; want false, nil", enc, ok, err)
		}
	}
}

func TestHashPasswordInvalidParams(t *testing.T) {
	for _, p := range []Params{
		{},
		{Time: 0, MemoryKiB: 64, Threads: 1, KeyLen: 16, SaltLen: 8},
		{Time: 1, MemoryKiB: 64, Threads: 0, KeyLen: 16, SaltLen: 8},
		{Time: 1, MemoryKiB: 15, Threads: 2, KeyLen: 16, SaltLen: 8},
		{Time: 1, MemoryKiB: 64, Threads: 1, KeyLen: 4, SaltLen: 8},
		{Time: 1, MemoryKiB: 64, Threads: 1, KeyLen: 16, SaltLen: 4},
		{Time: 1, MemoryKiB: maxMemoryKiB + 1, Threads: 1, KeyLen: 16, SaltLen: 8},
	} {
		if enc, err := HashPassword("pw", p); err == nil {
			t.Errorf("HashPassword(%+v) = %q, nil; want error", p, enc)
		}
	}
}

func TestVerifyPasswordMalformed(t *testing.T) {
	const (
		salt = "c29tZXNhbHQ"            // "somesalt", 8 bytes
		key  = "AAAAAAAAAAAAAAAAAAAAAA" // 16 zero bytes
	)
	valid := "$argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + key
	if _, err := VerifyPassword(valid, "pw"); err != nil {
		t.Fatalf("baseline %q: %v", valid, err)
	}
	for _, enc := range []string{
		"",
		"$",
		"password",
		"argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + key,
		"$argon2id$v=19$m=64,t=1,p=1$" + salt,
		"$argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + key + "$",
		"$argon2i$v=19$m=64,t=1,p=1$" + salt + "$" + key,
		"$argon2d$v=19$m=64,t=1,p=1$" + salt + "$" + key,
		"$bcrypt$v=19$m=64,t=1,p=1$" + salt + "$" + key,
		"$argon2id$v=16$m=64,t=1,p=1$" + salt + "$" + key,
		"$argon2id$v=$m=64,t=1,p=1$" + salt + "$" + key,
		"$argon2id$m=64,t=1,p=1$" + salt + "$" + key + "$x",
		"$argon2id$v=19$m=64,t=1$" + salt + "$" + key,
		"$argon2id$v=19$m=64,t=1,p=1,x=2$" + salt + "$" + key,
		"$argon2id$v=19$t=1,m=64,p=1$" + salt + "$" + key,
		"$argon2id$v=19$m=,t=1,p=1$" + salt + "$" + key,
		"$argon2id$v=19$m=x,t=1,p=1$" + salt + "$" + key,
		"$argon2id$v=19$m=-64,t=1,p=1$" + salt + "$" + key,
		"$argon2id$v=19$m=+64,t=1,p=1$" + salt + "$" + key,
		"$argon2id$v=19$m=064,t=1,p=1$" + salt + "$" + key,
		"$argon2id$v=19$m= 64,t=1,p=1$" + salt + "$" + key,
		"$argon2id$v=19$m=64,t=0,p=1$" + salt + "$" + key,
		"$argon2id$v=19$m=64,t=1,p=0$" + salt + "$" + key,
		"$argon2id$v=19$m=64,t=1,p=256$" + salt + "$" + key,
		"$argon2id$v=19$m=4294967296,t=1,p=1$" + salt + "$" + key,
		"$argon2id$v=19$m=4294967295,t=1,p=1$" + salt + "$" + key, // over maxMemoryKiB
		"$argon2id$v=19$m=64,t=99999999999,p=1$" + salt + "$" + key,
		"$argon2id$v=19$m=7,t=1,p=1$" + salt + "$" + key,
		"$argon2id$v=19$m=64,t=1,p=1$$" + key,
		"$argon2id$v=19$m=64,t=1,p=1$" + salt + "$",
		"$argon2id$v=19$m=64,t=1,p=1$c29tZQ$" + key,                  // 4-byte salt
		"$argon2id$v=19$m=64,t=1,p=1$" + salt + "$AAAA",              // 3-byte key
		"$argon2id$v=19$m=64,t=1,p=1$" + salt + "=$" + key,           // padded
		"$argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + key + "==",     // padded
		"$argon2id$v=19$m=64,t=1,p=1$c29tZXNhbHQ-$" + key,            // URL alphabet
		"$argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + key[:21] + "B", // non-canonical trailing bits
		"$argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + key[:21] + "!", // not base64
		"$argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + key + "\n",     // trailing newline
	} {
		ok, err := VerifyPassword(enc, "pw")
		if err == nil || ok {
			t.Errorf("VerifyPassword(%q) = %v, %v; want false, error", enc, ok, err)
			continue
		}
		if !errors.Is(err, ErrMalformedHash) {
			t.Errorf("VerifyPassword(%q) error %v does not wrap ErrMalformedHash", enc, err)
		}
	}
}

// TestPasswords checks that Passwords hashes and verifies, and that a
// verification without an account answers false after the same work.
func TestPasswords(t *testing.T) {
	p := NewPasswords(fastParams, 1)
	ctx := t.Context()
	enc, err := p.Hash(ctx, "correct horse")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		encoded, password string
		want              bool
	}{{enc, "correct horse", true}, {enc, "wrong horse", false}, {"", "correct horse", false}, {"", "", false}} {
		if ok, err := p.Verify(ctx, c.encoded, c.password); err != nil || ok != c.want {
			t.Errorf("Verify(%q, %q) = %v, %v; want %v", c.encoded, c.password, ok, err, c.want)
		}
	}
	if first := p.dummyHash(); first == "" || p.dummyHash() != first {
		t.Fatal("no dummy hash, or a new one per call")
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := p.Hash(cancelled, "x"); !errors.Is(err, context.Canceled) {
		t.Fatalf("Hash with a cancelled context: %v", err)
	}
}

func TestDefaultParamsValid(t *testing.T) {
	if err := DefaultParams.validate(); err != nil {
		t.Fatalf("DefaultParams invalid: %v", err)
	}
	if DefaultParams.MemoryKiB < 19*1024 {
		t.Errorf("DefaultParams.MemoryKiB = %d, below OWASP's 19 MiB minimum", DefaultParams.MemoryKiB)
	}
}

func BenchmarkHashPassword(b *testing.B) {
	for b.Loop() {
		if _, err := HashPassword("correct horse battery staple", DefaultParams); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyPassword(b *testing.B) {
	enc, err := HashPassword("correct horse battery staple", DefaultParams)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := VerifyPassword(enc, "correct horse battery staple"); err != nil {
			b.Fatal(err)
		}
	}
}
