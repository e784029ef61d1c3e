package delivery_test

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/delivery"
)

const (
	acct      = "AC0123456789abcdef0123456789abcdef"
	acctToken = "0123456789abcdef0123456789abcdef"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func keyring(t testing.TB, secrets ...string) *delivery.Keyring {
	t.Helper()
	var keys [][]byte
	for _, s := range secrets {
		keys = append(keys, delivery.DeriveKey(s, "status-callback"))
	}
	k, err := delivery.NewKeyring(keys...)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func sampleToken() delivery.Token {
	return delivery.Token{
		Route:      "otp",
		AccountSID: acct,
		Receipt:    "https://dlr.example.com/k?id=42&s=%d&to=%p",
		Dialect:    delivery.DialectKannel,
		Mask:       3,
		Expires:    t0.Add(24 * time.Hour),
		Sent:       t0.Add(1234 * time.Millisecond),
		Tag:        "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
	}
}

func encode(t testing.TB, k *delivery.Keyring, tok delivery.Token) string {
	t.Helper()
	s, err := k.Encode(tok)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestTokenRoundTrip(t *testing.T) {
	t.Parallel()
	k := keyring(t, "secret-one")
	tests := []struct {
		name string
		tok  delivery.Token
	}{
		{"kannel", sampleToken()},
		{"no receipt, odd SID and tag", delivery.Token{Route: "r", AccountSID: "ACnotHex", Expires: t0.Add(time.Hour), Tag: "ABC"}},
		{"jasmin GET", delivery.Token{Route: "jasmin", AccountSID: acct, Receipt: "http://10.0.0.5:1401/dlr", Dialect: delivery.DialectJasmin, Mask: 3, Method: "GET", Expires: t0.Add(time.Hour), Sent: t0}},
		{"twilio POST, sealed caller token", delivery.Token{Route: "tw", AccountSID: acct, Receipt: "https://app.example.com/status?x=1", Dialect: delivery.DialectTwilio, Method: "POST", Expires: t0.Add(time.Hour), Sent: t0, CallerToken: acctToken}},
		{"upper-case hex tag kept as text", delivery.Token{Route: "r", AccountSID: acct, Expires: t0.Add(time.Hour), Tag: "ABCDEF"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := encode(t, k, tc.tok)
			if strings.ContainsAny(s, "+/=%") {
				t.Errorf("token %q is not base64url without padding", s)
			}
			got, err := k.Decode(s, t0)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			want := tc.tok
			want.Expires = want.Expires.Truncate(time.Second)
			want.Sent = want.Sent.Truncate(time.Millisecond)
			if !got.Expires.Equal(want.Expires) || !got.Sent.Equal(want.Sent) {
				t.Errorf("times = %v, %v; want %v, %v", got.Expires, got.Sent, want.Expires, want.Sent)
			}
			got.Expires, got.Sent, want.Expires, want.Sent = time.Time{}, time.Time{}, time.Time{}, time.Time{}
			if got != want {
				t.Errorf("Decode = %+v\nwant     %+v", got, want)
			}
			if tc.tok.CallerToken != "" && strings.Contains(s, base64.RawURLEncoding.EncodeToString([]byte(tc.tok.CallerToken))[:8]) {
				t.Error("the caller token is readable in the encoded token")
			}
		})
	}
}

func TestTokenCompact(t *testing.T) {
	t.Parallel()
	s := encode(t, keyring(t, "k"), sampleToken())
	// route, 16-byte SID, 45-byte receipt, dialect, 32-byte tag, times, MAC.
	if len(s) > 200 {
		t.Errorf("token is %d characters, want a compact one: %s", len(s), s)
	}
	long := sampleToken()
	long.Receipt = "https://dlr.example.com/" + strings.Repeat("x", delivery.MaxTokenLen)
	if _, err := keyring(t, "k").Encode(long); !errors.Is(err, delivery.ErrTooLong) {
		t.Errorf("Encode of a too long receipt = %v, want ErrTooLong", err)
	}
}

func TestTokenRejected(t *testing.T) {
	t.Parallel()
	k := keyring(t, "secret-one")
	good := encode(t, k, sampleToken())
	raw, _ := base64.RawURLEncoding.DecodeString(good)
	flip := func(i int) string {
		b := append([]byte(nil), raw...)
		b[i] ^= 0x01
		return base64.RawURLEncoding.EncodeToString(b)
	}
	tests := []struct {
		name  string
		token string
		keys  *delivery.Keyring
		now   time.Time
		want  error
	}{
		{"genuine", good, k, t0, nil},
		{"wrong key", good, keyring(t, "secret-two"), t0, delivery.ErrAltered},
		{"first byte changed", flip(0), k, t0, delivery.ErrAltered},
		{"expiry changed", flip(3), k, t0, delivery.ErrAltered},
		{"receipt changed", flip(40), k, t0, delivery.ErrAltered},
		{"MAC changed", flip(len(raw) - 1), k, t0, delivery.ErrAltered},
		{"truncated", good[:len(good)-4], k, t0, delivery.ErrAltered},
		{"extended", good + "AA", k, t0, delivery.ErrAltered},
		{"not base64", good[:10] + "*" + good[11:], k, t0, delivery.ErrAltered},
		{"empty", "", k, t0, delivery.ErrAltered},
		{"at expiry", good, k, t0.Add(24 * time.Hour), delivery.ErrExpired},
		{"after expiry", good, k, t0.Add(25 * time.Hour), delivery.ErrExpired},
		{"just before expiry", good, k, t0.Add(24*time.Hour - time.Second), nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.keys.Decode(tc.token, tc.now)
			if !errors.Is(err, tc.want) && !(err == nil && tc.want == nil) {
				t.Fatalf("Decode = %v, want %v", err, tc.want)
			}
			switch {
			case errors.Is(err, delivery.ErrExpired) && got.Route != "otp":
				t.Errorf("an expired token should still say its route, got %+v", got)
			case errors.Is(err, delivery.ErrAltered) && got != (delivery.Token{}):
				t.Errorf("an altered token gave %+v", got)
			}
		})
	}
}

func TestKeyringRotation(t *testing.T) {
	t.Parallel()
	old, next := keyring(t, "old"), keyring(t, "new", "old")
	tok := sampleToken()
	tok.CallerToken = acctToken
	if got, err := next.Decode(encode(t, old, tok), t0); err != nil || got.CallerToken != acctToken {
		t.Fatalf("a token of the retiring key: %+v, %v", got, err)
	}
	if _, err := old.Decode(encode(t, next, tok), t0); !errors.Is(err, delivery.ErrAltered) {
		t.Errorf("the new key's token under the old keyring alone = %v, want ErrAltered", err)
	}
	if _, err := delivery.NewKeyring([]byte("short")); err == nil {
		t.Error("NewKeyring accepted a 5-byte key")
	}
	if _, err := delivery.NewKeyring(); err == nil {
		t.Error("NewKeyring accepted no key")
	}
}

func TestReason(t *testing.T) {
	t.Parallel()
	for err, want := range map[error]string{
		nil: "accepted", delivery.ErrForged: "forged", delivery.ErrAltered: "altered",
		delivery.ErrExpired: "expired", delivery.ErrBadRequest: "bad_request", errors.New("x"): "error",
	} {
		if got := delivery.Reason(err); got != want {
			t.Errorf("Reason(%v) = %q, want %q", err, got, want)
		}
	}
}
