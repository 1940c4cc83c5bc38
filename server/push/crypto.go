package push

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
	"net/url"
	"time"
)

// b64 is the base64 of Web Push: URL-safe, without padding. Browsers hand
// out keys that way; decodeKey also takes padded or standard base64.
var b64 = base64.RawURLEncoding

func decodeKey(s string) ([]byte, error) {
	for _, enc := range []*base64.Encoding{base64.RawURLEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.StdEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return b, nil
		}
	}
	return nil, errors.New("not base64")
}

// Keys is the VAPID key pair (RFC 8292) the server signs its pushes with.
type Keys struct {
	priv *ecdsa.PrivateKey
	// Public is the public key, base64url of the uncompressed P-256 point:
	// what a browser's pushManager.subscribe takes as applicationServerKey.
	Public string
}

// NewPrivateKey makes a VAPID private key, encoded as ParseKeys reads it
// (base64url of the 32-byte P-256 scalar).
func NewPrivateKey() (string, error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", err
	}
	raw, err := k.Bytes()
	if err != nil {
		return "", err
	}
	return b64.EncodeToString(raw), nil
}

// ParseKeys reads a private key made by NewPrivateKey.
func ParseKeys(private string) (*Keys, error) {
	raw, err := decodeKey(private)
	if err != nil {
		return nil, fmt.Errorf("vapid key: %w", err)
	}
	k, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), raw)
	if err != nil {
		return nil, fmt.Errorf("vapid key: %w", err)
	}
	pub, err := k.PublicKey.Bytes()
	if err != nil {
		return nil, fmt.Errorf("vapid key: %w", err)
	}
	return &Keys{priv: k, Public: b64.EncodeToString(pub)}, nil
}

// Authorization is the Authorization header of a push to endpoint
// (RFC 8292): "vapid t=<JWT>, k=<public key>", the JWT signed ES256 with
// aud the endpoint's origin, exp expires, sub the contact.
func (k *Keys) Authorization(endpoint, contact string, expires time.Time) (string, error) {
	u, err := url.Parse(endpoint)
	if err != nil {
		return "", err
	}
	header := b64.EncodeToString([]byte(`{"typ":"JWT","alg":"ES256"}`))
	claims, err := json.Marshal(struct {
		Aud string `json:"aud"`
		Exp int64  `json:"exp"`
		Sub string `json:"sub"`
	}{u.Scheme + "://" + u.Host, expires.Unix(), contact})
	if err != nil {
		return "", err
	}
	signing := header + "." + b64.EncodeToString(claims)
	digest := sha256.Sum256([]byte(signing))
	r, s, err := ecdsa.Sign(rand.Reader, k.priv, digest[:])
	if err != nil {
		return "", err
	}
	// JWS ES256: r and s, 32 bytes each, big-endian.
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return "vapid t=" + signing + "." + b64.EncodeToString(sig) + ", k=" + k.Public, nil
}

// recordSize is the record size written in the aes128gcm header: the
// payload is one record, so only its upper bound matters.
const recordSize = 4096

// maxPlaintext bounds a payload so that it fits one record (and every push
// service's limit of 4 KiB bodies): record size, minus the tag and the
// delimiter.
const maxPlaintext = recordSize - 16 - 1 - 86 // 86: the header

// Encrypt encrypts plaintext for a subscription's keys as RFC 8291 says
// (aes128gcm content coding, RFC 8188): a fresh P-256 key pair and salt
// per message, one record. p256dh and auth are the subscription's keys,
// base64url.
func Encrypt(plaintext []byte, p256dh, auth string) ([]byte, error) {
	if len(plaintext) > maxPlaintext {
		return nil, fmt.Errorf("payload of %d bytes: at most %d", len(plaintext), maxPlaintext)
	}
	uaRaw, err := decodeKey(p256dh)
	if err != nil {
		return nil, fmt.Errorf("p256dh: %w", err)
	}
	ua, err := ecdh.P256().NewPublicKey(uaRaw)
	if err != nil {
		return nil, fmt.Errorf("p256dh: %w", err)
	}
	secret, err := decodeKey(auth)
	if err != nil || len(secret) == 0 {
		return nil, errors.New("auth: not a base64 secret")
	}
	as, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return nil, err
	}
	cek, nonce, err := deriveKeys(as, ua, ua.Bytes(), as.PublicKey().Bytes(), secret, salt)
	if err != nil {
		return nil, err
	}
	gcm, err := newGCM(cek)
	if err != nil {
		return nil, err
	}
	asPub := as.PublicKey().Bytes()
	out := make([]byte, 0, 16+4+1+len(asPub)+len(plaintext)+1+gcm.Overhead())
	out = append(out, salt...)
	out = binary.BigEndian.AppendUint32(out, recordSize)
	out = append(out, byte(len(asPub)))
	out = append(out, asPub...)
	record := append(append([]byte{}, plaintext...), 2) // 2: the last record, no padding
	return gcm.Seal(out, nonce, record, nil), nil
}

// deriveKeys is the key derivation of RFC 8291 section 3.4: priv and peer
// make the ECDH secret, which with the auth secret makes the input key,
// which with the salt makes the content key and the nonce. uaPub and asPub
// are the user agent's and the application server's public keys, in that
// order whichever side is computing.
func deriveKeys(priv *ecdh.PrivateKey, peer *ecdh.PublicKey, uaPub, asPub, auth, salt []byte) (cek, nonce []byte, err error) {
	shared, err := priv.ECDH(peer)
	if err != nil {
		return nil, nil, err
	}
	prkKey := hmacSHA256(auth, shared)
	keyInfo := append(append([]byte("WebPush: info\x00"), uaPub...), asPub...)
	ikm, err := hkdf.Expand(sha256.New, prkKey, string(keyInfo), 32)
	if err != nil {
		return nil, nil, err
	}
	prk := hmacSHA256(salt, ikm)
	if cek, err = hkdf.Expand(sha256.New, prk, "Content-Encoding: aes128gcm\x00", 16); err != nil {
		return nil, nil, err
	}
	if nonce, err = hkdf.Expand(sha256.New, prk, "Content-Encoding: nonce\x00", 12); err != nil {
		return nil, nil, err
	}
	return cek, nonce, nil
}

func hmacSHA256(key, data []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(data)
	return m.Sum(nil)
}

func newGCM(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// CheckKeys reports whether p256dh and auth are keys a payload can be
// encrypted for: an uncompressed P-256 point and a 16-byte secret.
func CheckKeys(p256dh, auth string) error {
	raw, err := decodeKey(p256dh)
	if err != nil {
		return errors.New("p256dh must be base64url")
	}
	if _, err := ecdh.P256().NewPublicKey(raw); err != nil {
		return errors.New("p256dh must be an uncompressed P-256 public key")
	}
	secret, err := decodeKey(auth)
	if err != nil || len(secret) != 16 {
		return errors.New("auth must be 16 bytes, base64url")
	}
	return nil
}

// Origin is the scheme and host of an endpoint: what a subscription's
// owner is shown of it (the rest is a secret of the device).
func Origin(endpoint string) string {
	u, err := url.Parse(endpoint)
	if err != nil {
		return ""
	}
	return u.Scheme + "://" + u.Host
}
