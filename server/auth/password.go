package auth

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Params are the argon2id cost parameters. They are encoded into every hash,
// so changing DefaultParams never invalidates existing hashes.
type Params struct {
	Time      uint32 // passes over memory, at least 1
	MemoryKiB uint32 // memory in KiB, at least 8*Threads
	Threads   uint8  // lanes, at least 1
	KeyLen    uint32 // derived key length in bytes, at least 16
	SaltLen   uint32 // random salt length in bytes, at least 8
}

// DefaultParams cost about 47 ms per hash (44-54 ms across runs of
// BenchmarkHashPassword, Go 1.26, amd64, 2 cores) and 36 MiB, above OWASP's
// 19 MiB minimum for argon2id. One thread per hash, so a Limiter sized to
// runtime.NumCPU runs that many hashes in parallel, one core each, peaking
// at n*36 MiB. Re-measure before changing them; raise memory before time.
var DefaultParams = Params{
	Time:      2,
	MemoryKiB: 36 * 1024,
	Threads:   1,
	KeyLen:    32,
	SaltLen:   16,
}

// maxMemoryKiB caps the memory an encoded hash may ask for, so a corrupt or
// hostile row cannot make VerifyPassword allocate without bound.
const maxMemoryKiB = 1 << 20 // 1 GiB

// ErrMalformedHash is returned (wrapped) by VerifyPassword when the encoded
// string is not an argon2id PHC string this package can verify.
var ErrMalformedHash = errors.New("auth: malformed password hash")

var b64 = base64.RawStdEncoding.Strict()

func (p Params) validate() error {
	switch {
	case p.Time < 1:
		return errors.New("time must be at least 1")
	case p.Threads < 1:
		return errors.New("threads must be at least 1")
	case p.MemoryKiB < 8*uint32(p.Threads):
		return errors.New("memory must be at least 8 KiB per thread")
	case p.MemoryKiB > maxMemoryKiB:
		return fmt.Errorf("memory must be at most %d KiB", maxMemoryKiB)
	case p.KeyLen < 16:
		return errors.New("key length must be at least 16 bytes")
	case p.SaltLen < 8:
		return errors.New("salt length must be at least 8 bytes")
	}
	return nil
}

// HashPassword hashes password with argon2id under p and a fresh random salt,
// and returns the PHC string
//
//	$argon2id$v=19$m=<MemoryKiB>,t=<Time>,p=<Threads>$<salt>$<hash>
//
// with salt and hash in unpadded standard base64. It returns an error only
// if p is invalid. The call takes as long as p costs; callers serving
// requests should hold a Limiter slot around it.
func HashPassword(password string, p Params) (string, error) {
	if err := p.validate(); err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	salt := make([]byte, p.SaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("hash password: read salt: %w", err)
	}
	key := argon2.IDKey([]byte(password), salt, p.Time, p.MemoryKiB, p.Threads, p.KeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.MemoryKiB, p.Time, p.Threads,
		b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// VerifyPassword reports whether password matches encoded, a string produced
// by HashPassword. The cost parameters are read from encoded, not from
// DefaultParams, so hashes made under older parameters keep verifying.
// The key comparison is constant-time. A wrong password is (false, nil);
// the error is non-nil, wrapping ErrMalformedHash, only when encoded cannot
// be parsed.
func VerifyPassword(encoded, password string) (bool, error) {
	p, salt, key, err := decodeHash(encoded)
	if err != nil {
		return false, err
	}
	got := argon2.IDKey([]byte(password), salt, p.Time, p.MemoryKiB, p.Threads, p.KeyLen)
	return subtle.ConstantTimeCompare(got, key) == 1, nil
}

// decodeHash parses a PHC argon2id string into its parameters, salt and key.
func decodeHash(encoded string) (Params, []byte, []byte, error) {
	var p Params
	fail := func(why string) (Params, []byte, []byte, error) {
		return Params{}, nil, nil, fmt.Errorf("%w: %s", ErrMalformedHash, why)
	}

	// "$argon2id$v=19$m=..,t=..,p=..$salt$hash" splits into 6 fields, the first empty.
	fields := strings.Split(encoded, "$")
	if len(fields) != 6 || fields[0] != "" {
		return fail("want 5 $-separated fields")
	}
	if fields[1] != "argon2id" {
		return fail("algorithm is not argon2id")
	}
	if fields[2] != "v="+strconv.Itoa(argon2.Version) {
		return fail("unsupported version")
	}

	kv := strings.Split(fields[3], ",")
	if len(kv) != 3 {
		return fail("want parameters m, t, p")
	}
	m, err1 := parseParam(kv[0], "m=", 32)
	t, err2 := parseParam(kv[1], "t=", 32)
	th, err3 := parseParam(kv[2], "p=", 8)
	if err := errors.Join(err1, err2, err3); err != nil {
		return fail(err.Error())
	}
	p.MemoryKiB, p.Time, p.Threads = uint32(m), uint32(t), uint8(th)

	salt, ok := decodeB64(fields[4])
	if !ok {
		return fail("salt is not unpadded base64")
	}
	key, ok := decodeB64(fields[5])
	if !ok {
		return fail("hash is not unpadded base64")
	}
	p.SaltLen, p.KeyLen = uint32(len(salt)), uint32(len(key))
	if err := p.validate(); err != nil {
		return fail(err.Error())
	}
	return p, salt, key, nil
}

// decodeB64 decodes unpadded standard base64, accepting only the canonical
// encoding. The re-encode check matters because the decoder silently skips
// '\r' and '\n'.
func decodeB64(s string) ([]byte, bool) {
	b, err := b64.DecodeString(s)
	if err != nil || b64.EncodeToString(b) != s {
		return nil, false
	}
	return b, true
}

// parseParam parses "<prefix><decimal>" into an unsigned integer of the given
// bit size. Signs, spaces and leading zeros are rejected so that every hash
// has exactly one encoding.
func parseParam(s, prefix string, bits int) (uint64, error) {
	v, ok := strings.CutPrefix(s, prefix)
	if !ok {
		return 0, fmt.Errorf("want %q parameter", strings.TrimSuffix(prefix, "="))
	}
	if v == "" || v[0] < '1' || v[0] > '9' {
		return 0, fmt.Errorf("bad %q value", strings.TrimSuffix(prefix, "="))
	}
	n, err := strconv.ParseUint(v, 10, bits)
	if err != nil {
		return 0, fmt.Errorf("bad %q value", strings.TrimSuffix(prefix, "="))
	}
	return n, nil
}
