// Package pushtest is a loopback Web Push service for tests: it receives
// the server's pushes as a browser's push service would, checks their
// VAPID signature (RFC 8292) and headers, and decrypts their payloads
// (RFC 8291) with the keys of the devices it made. Its decryption is
// written here from the RFCs, apart from package push's encryption, so a
// test checks one against the other.
package pushtest

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

var b64 = base64.RawURLEncoding

// Device is a browser's push subscription: its key pair and auth secret,
// and its endpoint on a Service.
type Device struct {
	Name     string
	Endpoint string
	P256DH   string // base64url public key, as a browser hands it out
	Auth     string // base64url auth secret
	priv     *ecdh.PrivateKey
	secret   []byte
}

// Push is one push a Service accepted (or answered with an error status).
type Push struct {
	Device  string
	Status  int // what the service answered
	TTL     string
	Urgency string
	Topic   string
	Payload []byte // decrypted
}

// Service is the loopback push service. Make it with New.
type Service struct {
	t   testing.TB
	srv *httptest.Server
	// PublicKey, when set, is the VAPID key every push must be signed with.
	mu        sync.Mutex
	publicKey string
	devices   map[string]*Device
	script    map[string][]Answer
	pushes    chan Push
}

// Answer is a scripted answer of the service.
type Answer struct {
	Status     int
	RetryAfter string
}

// New starts a Service; it stops when the test ends.
func New(t testing.TB) *Service {
	s := &Service{t: t, devices: map[string]*Device{}, script: map[string][]Answer{}, pushes: make(chan Push, 1000)}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.srv.Close)
	return s
}

// ExpectKey makes the service refuse (and fail the test for) pushes not
// signed with this VAPID public key.
func (s *Service) ExpectKey(publicKey string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.publicKey = publicKey
}

// NewDevice makes a device subscribed to this service.
func (s *Service) NewDevice(name string) *Device {
	priv, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		s.t.Fatal(err)
	}
	secret := make([]byte, 16)
	_, _ = rand.Read(secret)
	d := &Device{Name: name, Endpoint: s.srv.URL + "/push/" + name + "-" + strconv.FormatInt(time.Now().UnixNano(), 36),
		P256DH: b64.EncodeToString(priv.PublicKey().Bytes()), Auth: b64.EncodeToString(secret), priv: priv, secret: secret}
	s.mu.Lock()
	s.devices[strings.TrimPrefix(d.Endpoint, s.srv.URL)] = d
	s.mu.Unlock()
	return d
}

// Script makes the service answer the next pushes to d with these
// answers, in order, then 201 again.
func (s *Service) Script(d *Device, answers ...Answer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	path := strings.TrimPrefix(d.Endpoint, s.srv.URL)
	s.script[path] = append(s.script[path], answers...)
}

// Next returns the next push the service received, failing the test
// after within.
func (s *Service) Next(within time.Duration) Push {
	s.t.Helper()
	select {
	case p := <-s.pushes:
		return p
	case <-time.After(within):
		s.t.Fatalf("no push within %v", within)
		return Push{}
	}
}

// None fails the test if a push arrives within d.
func (s *Service) None(d time.Duration) {
	s.t.Helper()
	select {
	case p := <-s.pushes:
		s.t.Fatalf("unexpected push to %s: %s", p.Device, p.Payload)
	case <-time.After(d):
	}
}

func (s *Service) serve(w http.ResponseWriter, r *http.Request) {
	fail := func(format string, args ...any) {
		s.t.Errorf("push service: "+format, args...)
		http.Error(w, fmt.Sprintf(format, args...), http.StatusBadRequest)
	}
	s.mu.Lock()
	d := s.devices[r.URL.Path]
	var ans Answer
	if q := s.script[r.URL.Path]; len(q) > 0 {
		ans, s.script[r.URL.Path] = q[0], q[1:]
	}
	want := s.publicKey
	s.mu.Unlock()
	if r.Method != http.MethodPost || d == nil {
		fail("%s %s: no such subscription", r.Method, r.URL.Path)
		return
	}
	if err := s.checkVAPID(r.Header.Get("Authorization"), want); err != nil {
		fail("vapid: %v", err)
		return
	}
	if ce := r.Header.Get("Content-Encoding"); ce != "aes128gcm" {
		fail("Content-Encoding %q", ce)
		return
	}
	if r.Header.Get("TTL") == "" {
		fail("no TTL")
		return
	}
	body, _ := io.ReadAll(r.Body)
	plain, err := d.Decrypt(body)
	if err != nil {
		fail("decrypt: %v", err)
		return
	}
	status := ans.Status
	if status == 0 {
		status = http.StatusCreated
	}
	s.pushes <- Push{Device: d.Name, Status: status, TTL: r.Header.Get("TTL"), Urgency: r.Header.Get("Urgency"), Topic: r.Header.Get("Topic"), Payload: plain}
	if ans.RetryAfter != "" {
		w.Header().Set("Retry-After", ans.RetryAfter)
	}
	w.WriteHeader(status)
}

// checkVAPID checks "vapid t=<JWT>, k=<key>": the JWT's ES256 signature
// against k (and k against want, if set), its aud (this service's origin),
// exp (in the future, within 24 hours) and sub.
func (s *Service) checkVAPID(h, want string) error {
	rest, ok := strings.CutPrefix(h, "vapid ")
	if !ok {
		return fmt.Errorf("authorization %q", h)
	}
	var tok, key string
	for _, part := range strings.Split(rest, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "t":
			tok = v
		case "k":
			key = v
		}
	}
	if want != "" && key != want {
		return fmt.Errorf("signed with key %s, want %s", key, want)
	}
	raw, err := b64.DecodeString(key)
	if err != nil {
		return err
	}
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), raw)
	if err != nil {
		return err
	}
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return fmt.Errorf("jwt %q", tok)
	}
	sig, err := b64.DecodeString(parts[2])
	if err != nil || len(sig) != 64 {
		return fmt.Errorf("signature %q", parts[2])
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if !ecdsa.Verify(pub, digest[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])) {
		return errors.New("bad ES256 signature")
	}
	var hdr struct{ Alg, Typ string }
	if b, err := b64.DecodeString(parts[0]); err != nil || json.Unmarshal(b, &hdr) != nil || hdr.Alg != "ES256" {
		return fmt.Errorf("jwt header %q", parts[0])
	}
	var claims struct {
		Aud string `json:"aud"`
		Exp int64  `json:"exp"`
		Sub string `json:"sub"`
	}
	if b, err := b64.DecodeString(parts[1]); err != nil || json.Unmarshal(b, &claims) != nil {
		return fmt.Errorf("jwt claims %q", parts[1])
	}
	if claims.Aud != s.srv.URL {
		return fmt.Errorf("aud %q, want %q", claims.Aud, s.srv.URL)
	}
	exp := time.Unix(claims.Exp, 0)
	if now := time.Now(); !exp.After(now) || exp.After(now.Add(24*time.Hour)) {
		return fmt.Errorf("exp %v not within 24h from now", exp)
	}
	if !strings.HasPrefix(claims.Sub, "mailto:") && !strings.HasPrefix(claims.Sub, "https:") && !strings.HasPrefix(claims.Sub, "http:") {
		return fmt.Errorf("sub %q", claims.Sub)
	}
	return nil
}

// Decrypt decrypts an aes128gcm body for the device (RFC 8291 section 3,
// RFC 8188 section 2): header salt(16) rs(4) idlen(1) keyid(idlen) with
// keyid the sender's public key, then one record ending in the delimiter 2.
func (d *Device) Decrypt(body []byte) ([]byte, error) {
	if len(body) < 21 {
		return nil, errors.New("short body")
	}
	salt, rs, idlen := body[:16], binary.BigEndian.Uint32(body[16:20]), int(body[20])
	if len(body) < 21+idlen || rs < 18 {
		return nil, errors.New("bad header")
	}
	asRaw, ct := body[21:21+idlen], body[21+idlen:]
	if len(ct) > int(rs) {
		return nil, fmt.Errorf("record of %d bytes, more than rs %d", len(ct), rs)
	}
	as, err := ecdh.P256().NewPublicKey(asRaw)
	if err != nil {
		return nil, fmt.Errorf("sender key: %w", err)
	}
	shared, err := d.priv.ECDH(as)
	if err != nil {
		return nil, err
	}
	mac := func(key, data []byte) []byte { m := hmac.New(sha256.New, key); m.Write(data); return m.Sum(nil) }
	info := append(append([]byte("WebPush: info\x00"), d.priv.PublicKey().Bytes()...), asRaw...)
	ikm, err := hkdf.Expand(sha256.New, mac(d.secret, shared), string(info), 32)
	if err != nil {
		return nil, err
	}
	prk := mac(salt, ikm)
	cek, _ := hkdf.Expand(sha256.New, prk, "Content-Encoding: aes128gcm\x00", 16)
	nonce, _ := hkdf.Expand(sha256.New, prk, "Content-Encoding: nonce\x00", 12)
	block, err := aes.NewCipher(cek)
	if err != nil {
		return nil, err
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	plain, err := gcm.Open(nil, nonce, ct, nil)
	if err != nil {
		return nil, err
	}
	i := len(plain) - 1
	for i >= 0 && plain[i] == 0 {
		i--
	}
	if i < 0 || plain[i] != 2 {
		return nil, errors.New("no last-record delimiter")
	}
	return plain[:i], nil
}
