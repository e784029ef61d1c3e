package delivery

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"strconv"
	"time"
)

// Token is what a status callback needs to know about the send it reports,
// carried in the callback's own URL so that no store is needed and any
// instance can take the callback. It is signed (HMAC-SHA256) but not
// encrypted, except CallerToken, which is sealed (AES-256-GCM): everything
// else is visible to whoever sees the URL (Twilio, its console, a proxy's
// log), so it holds no phone number and no message text.
type Token struct {
	// Route is the route that sent the message (metrics, logs).
	Route string
	// AccountSID is the account the message was created on: its auth token
	// verifies the callback's X-Twilio-Signature.
	AccountSID string
	// Receipt is the caller's receipt target: Kannel's or Jasmin's dlr-url,
	// or a Twilio caller's own StatusCallback. "" for none.
	Receipt string
	// Dialect says how Receipt is spoken: DialectKannel, DialectJasmin or
	// DialectTwilio ("" without a Receipt).
	Dialect string
	// Mask is Kannel's dlr-mask (1 to 31) or Jasmin's dlr-level (1 to 3);
	// 0 for a Twilio receipt.
	Mask int
	// Method is the receipt's HTTP method: Jasmin's dlr-method or a Twilio
	// caller's StatusCallbackMethod, GET or POST ("" means POST; Kannel's
	// dlr-url is always fetched with GET).
	Method string
	// Expires is when the token stops being accepted (second precision).
	Expires time.Time
	// Sent is when the message was created (millisecond precision): the start
	// of the send-to-delivered latency and the Jasmin receipt's subdate.
	Sent time.Time
	// Tag names the send for dedup invalidation, e.g. the dedup key's digest
	// in hex (stored in half the room when it is lowercase hex).
	Tag string
	// CallerToken is the secret a passthrough caller's account signs with
	// (its auth token): it verifies the callback Twilio signs with it and
	// re-signs the forwarded StatusCallback. Sealed in the encoded token.
	// "" with stored credentials (the account's token is looked up).
	CallerToken string
}

// Receipt dialects.
const (
	// DialectKannel: Kannel's dlr-url (escape codes, fetched with GET) and
	// dlr-mask.
	DialectKannel = "kannel"
	// DialectJasmin: Jasmin's dlr-url, dlr-level and dlr-method, answered
	// with "ACK/Jasmin".
	DialectJasmin = "jasmin"
	// DialectTwilio: a Twilio caller's own StatusCallback, forwarded with
	// Twilio's parameters and re-signed.
	DialectTwilio = "twilio"
)

// Errors of Decode and ParseCallback, distinct for metrics (see Reason).
var (
	// ErrAltered: the token is not one this adapter made under a key of the
	// keyring (changed, truncated, made up, or made under a retired key).
	ErrAltered = errors.New("delivery: the status callback token is not valid")
	// ErrExpired: the token is genuine but past its expiry.
	ErrExpired = errors.New("delivery: the status callback token has expired")
	// ErrForged: X-Twilio-Signature is missing or does not match the
	// account's auth token, or the callback names another account.
	ErrForged = errors.New("delivery: the status callback is not signed by Twilio")
	// ErrBadRequest: not a form POST the adapter can read.
	ErrBadRequest = errors.New("delivery: the status callback is not a readable form POST")
	// ErrTooLong: Encode would make a token longer than MaxTokenLen.
	ErrTooLong = errors.New("delivery: the status callback token would be too long (shorten the receipt URL)")
)

// Reason is the metric label of an error of ParseCallback or Decode:
// "forged", "altered", "expired", "bad_request", "accepted" for nil, or
// "error" for anything else.
func Reason(err error) string {
	switch {
	case err == nil:
		return "accepted"
	case errors.Is(err, ErrForged):
		return "forged"
	case errors.Is(err, ErrAltered):
		return "altered"
	case errors.Is(err, ErrExpired):
		return "expired"
	case errors.Is(err, ErrBadRequest):
		return "bad_request"
	}
	return "error"
}

// MaxTokenLen bounds an encoded token, so that CallbackURL stays far below
// the 4000 characters Twilio accepts in StatusCallback (21609).
const MaxTokenLen = 2048

// MinKeyLen is the least length of a keyring key.
const MinKeyLen = 16

const (
	tokenVersion = 1
	macLen       = 16 // HMAC-SHA256 truncated to 128 bits

	flagHexTag     = 1 << 0 // Tag stored as bytes (it was lowercase hex)
	flagCompactSID = 1 << 1 // AccountSID stored as 16 bytes (it was AC + 32 lowercase hex)
	flagSealed     = 1 << 2 // CallerToken present, sealed
	flagGET        = 1 << 3 // Method GET
	flagMethodSet  = 1 << 4 // Method given explicitly as POST
)

// Keyring signs and checks tokens. The first key signs; every key is
// accepted, so a key can be rotated by putting the new one first and keeping
// the old one until its tokens have expired. A Keyring is immutable and safe
// for concurrent use.
type Keyring struct {
	keys []keyPair
}

type keyPair struct {
	mac  []byte // HMAC-SHA256 key
	seal cipher.AEAD
}

// DeriveKey derives a keyring key from a secret every instance knows (an
// account's auth token, a configured secret) and a purpose, so that the same
// secret used elsewhere never yields this key.
func DeriveKey(secret, purpose string) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte("caddy-twilio-sms delivery token v1\x00" + purpose))
	return m.Sum(nil)
}

// NewKeyring returns a keyring of keys (the first signs). Each key must be at
// least MinKeyLen bytes; DeriveKey gives 32.
func NewKeyring(keys ...[]byte) (*Keyring, error) {
	if len(keys) == 0 {
		return nil, errors.New("delivery: a keyring needs at least one key")
	}
	k := &Keyring{}
	for i, key := range keys {
		if len(key) < MinKeyLen {
			return nil, errors.New("delivery: keyring key " + strconv.Itoa(i) + " is shorter than " + strconv.Itoa(MinKeyLen) + " bytes")
		}
		sk := hmac.New(sha256.New, key)
		sk.Write([]byte("seal"))
		block, err := aes.NewCipher(sk.Sum(nil))
		if err != nil {
			return nil, err
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, err
		}
		mk := hmac.New(sha256.New, key)
		mk.Write([]byte("mac"))
		k.keys = append(k.keys, keyPair{mac: mk.Sum(nil), seal: aead})
	}
	return k, nil
}

// Encode returns the token as a compact base64url string (no padding) under
// the keyring's first key. It fails only with ErrTooLong.
func (k *Keyring) Encode(t Token) (string, error) {
	kp := k.keys[0]
	b := make([]byte, 0, 128+len(t.Receipt))
	b = append(b, tokenVersion, 0)
	flags := byte(0)
	b = binary.AppendUvarint(b, unixOrZero(t.Expires, time.Time.Unix))
	b = binary.AppendUvarint(b, unixOrZero(t.Sent, time.Time.UnixMilli))
	b = binary.AppendUvarint(b, uint64(max(0, t.Mask)))
	b = appendString(b, t.Route)
	if raw, ok := compactSID(t.AccountSID); ok {
		flags |= flagCompactSID
		b = appendBytes(b, raw)
	} else {
		b = appendString(b, t.AccountSID)
	}
	b = appendString(b, t.Receipt)
	b = appendString(b, t.Dialect)
	if raw, ok := lowerHex(t.Tag); ok {
		flags |= flagHexTag
		b = appendBytes(b, raw)
	} else {
		b = appendString(b, t.Tag)
	}
	switch t.Method {
	case "GET":
		flags |= flagGET
	case "POST":
		flags |= flagMethodSet
	}
	if t.CallerToken != "" {
		flags |= flagSealed
		nonce := make([]byte, kp.seal.NonceSize())
		_, _ = rand.Read(nonce) // never fails
		sealed := kp.seal.Seal(nonce, nonce, []byte(t.CallerToken), nil)
		b = appendBytes(b, sealed)
	}
	b[1] = flags
	m := hmac.New(sha256.New, kp.mac)
	m.Write(b)
	b = m.Sum(b)[:len(b)+macLen]
	s := base64.RawURLEncoding.EncodeToString(b)
	if len(s) > MaxTokenLen {
		return "", ErrTooLong
	}
	return s, nil
}

// Decode checks s under every key of the keyring and returns its token. A
// token that no key signed, or that cannot be read, is ErrAltered; a genuine
// token past its expiry is returned with ErrExpired (for metrics by route).
// Every comparison is constant time.
func (k *Keyring) Decode(s string, now time.Time) (Token, error) {
	t, err := k.decode(s)
	if err != nil {
		return Token{}, err
	}
	if !now.Before(t.Expires) {
		return t, ErrExpired
	}
	return t, nil
}

// decode is Decode without the expiry check.
func (k *Keyring) decode(s string) (Token, error) {
	if len(s) > MaxTokenLen || len(s) == 0 {
		return Token{}, ErrAltered
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) < 2+macLen {
		return Token{}, ErrAltered
	}
	payload, sum := b[:len(b)-macLen], b[len(b)-macLen:]
	var signer *keyPair
	for i := range k.keys {
		m := hmac.New(sha256.New, k.keys[i].mac)
		m.Write(payload)
		if subtle.ConstantTimeCompare(m.Sum(nil)[:macLen], sum) == 1 && signer == nil {
			signer = &k.keys[i]
		}
	}
	if signer == nil || payload[0] != tokenVersion {
		return Token{}, ErrAltered
	}
	t, ok := parsePayload(payload, signer)
	if !ok {
		return Token{}, ErrAltered
	}
	return t, nil
}

func parsePayload(b []byte, kp *keyPair) (Token, bool) {
	flags := b[1]
	r := reader{b: b[2:]}
	var t Token
	exp, sent, mask := r.uvarint(), r.uvarint(), r.uvarint()
	if exp != 0 {
		t.Expires = time.Unix(int64(exp), 0)
	}
	if sent != 0 {
		t.Sent = time.UnixMilli(int64(sent))
	}
	t.Mask = int(mask)
	t.Route = string(r.bytes())
	if flags&flagCompactSID != 0 {
		t.AccountSID = "AC" + hex.EncodeToString(r.bytes())
	} else {
		t.AccountSID = string(r.bytes())
	}
	t.Receipt = string(r.bytes())
	t.Dialect = string(r.bytes())
	if flags&flagHexTag != 0 {
		t.Tag = hex.EncodeToString(r.bytes())
	} else {
		t.Tag = string(r.bytes())
	}
	switch {
	case flags&flagGET != 0:
		t.Method = "GET"
	case flags&flagMethodSet != 0:
		t.Method = "POST"
	}
	if flags&flagSealed != 0 {
		sealed := r.bytes()
		ns := kp.seal.NonceSize()
		if r.bad || len(sealed) < ns {
			return Token{}, false
		}
		plain, err := kp.seal.Open(nil, sealed[:ns], sealed[ns:], nil)
		if err != nil {
			return Token{}, false
		}
		t.CallerToken = string(plain)
	}
	if r.bad || len(r.b) != 0 || mask > 255 {
		return Token{}, false
	}
	return t, true
}

// unixOrZero is unix(t), 0 for the zero time or a time before 1970.
func unixOrZero(t time.Time, unix func(time.Time) int64) uint64 {
	if t.IsZero() {
		return 0
	}
	return uint64(max(0, unix(t)))
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendBytes(b, s []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// reader reads a payload; bad is set at the first thing that does not fit.
type reader struct {
	b   []byte
	bad bool
}

func (r *reader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.bad = true
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) bytes() []byte {
	n := r.uvarint()
	if r.bad || n > uint64(len(r.b)) {
		r.bad = true
		return nil
	}
	s := r.b[:n]
	r.b = r.b[n:]
	return s
}

// lowerHex decodes s when it is non-empty, even-length lowercase hex (so that
// encoding it again gives s back).
func lowerHex(s string) ([]byte, bool) {
	if s == "" || len(s)%2 != 0 {
		return nil, false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return nil, false
		}
	}
	raw, err := hex.DecodeString(s)
	return raw, err == nil
}

// compactSID returns the 16 bytes of "AC" + 32 lowercase hex digits.
func compactSID(sid string) ([]byte, bool) {
	if len(sid) != 34 || sid[:2] != "AC" {
		return nil, false
	}
	raw, ok := lowerHex(sid[2:])
	return raw, ok && len(raw) == 16
}
