package delivery_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/delivery"
	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/twilioapi"
)

// Twilio's worked example (twilio.com/docs/usage/security): auth token
// 12345, this URL and these parameters are signed GvWf1cFY/Q7PnoempGyD5oXAezc=.
var (
	docURL    = "https://mycompany.com/myapp.php?foo=1&bar=2"
	docParams = url.Values{
		"CallSid": {"CA1234567890ABCDE"},
		"Caller":  {"+14158675310"},
		"Digits":  {"1234"},
		"From":    {"+14158675310"},
		"To":      {"+18005551212"},
	}
	docSignature = "GvWf1cFY/Q7PnoempGyD5oXAezc="
)

func TestTwilioDocumentedSignature(t *testing.T) {
	t.Parallel()
	if got := twilioapi.Signature("12345", docURL, docParams); got != docSignature {
		t.Fatalf("Signature = %q, want Twilio's %q", got, docSignature)
	}
	withExtra := url.Values{"Unknown": {"x"}}
	for k, v := range docParams {
		withExtra[k] = v
	}
	tests := []struct {
		name   string
		url    string
		params url.Values
		sig    string
		valid  bool
	}{
		{"as documented", docURL, docParams, docSignature, true},
		{"received with the default port", "https://mycompany.com:443/myapp.php?foo=1&bar=2", docParams, docSignature, true},
		{"signed with the port, received without", docURL, docParams, twilioapi.Signature("12345", "https://mycompany.com:443/myapp.php?foo=1&bar=2", docParams), true},
		{"a parameter added on the way", docURL, withExtra, docSignature, false},
		{"a value changed", docURL, url.Values{"CallSid": {"CA1234567890ABCDE"}, "Caller": {"+14158675310"}, "Digits": {"9999"}, "From": {"+14158675310"}, "To": {"+18005551212"}}, docSignature, false},
		{"query reordered", "https://mycompany.com/myapp.php?bar=2&foo=1", docParams, docSignature, false},
		{"http instead of https", "http://mycompany.com/myapp.php?foo=1&bar=2", docParams, docSignature, false},
		{"truncated signature", docURL, docParams, docSignature[:len(docSignature)-1], false},
		{"no signature", docURL, docParams, "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := twilioapi.ValidSignature("12345", tc.url, tc.params, tc.sig); got != tc.valid {
				t.Errorf("ValidSignature = %v, want %v", got, tc.valid)
			}
		})
	}
}

// callbackParams are a message status callback's parameters, as the
// simulator and Twilio post them.
func callbackParams(status string) url.Values {
	p := url.Values{
		"MessageSid":    {"SM0123456789abcdef0123456789abcdef"},
		"SmsSid":        {"SM0123456789abcdef0123456789abcdef"},
		"MessageStatus": {status},
		"SmsStatus":     {status},
		"AccountSid":    {acct},
		"From":          {"+15005550006"},
		"To":            {"+4915112345678"},
		"ApiVersion":    {"2010-04-01"},
	}
	if status == "undelivered" {
		p.Set("ErrorCode", "30003")
		p.Set("RawDlrDoneDate", "2603011201")
	}
	return p
}

// signedRequest is Twilio's POST of params to target, signed with secret over
// signedURL (target when "").
func signedRequest(target, signedURL, secret string, params url.Values) *http.Request {
	if signedURL == "" {
		signedURL = target
	}
	r := httptest.NewRequest(http.MethodPost, target, strings.NewReader(params.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	r.Header.Set(twilioapi.SignatureHeader, twilioapi.Signature(secret, signedURL, params))
	r.Header.Set("I-Twilio-Idempotency-Token", "idem-1")
	return r
}

func tokens(sid string) string {
	if sid == acct {
		return acctToken
	}
	return ""
}

func TestParseCallback(t *testing.T) {
	t.Parallel()
	const base = "https://sms.example.com/twilio/status"
	k := keyring(t, acctToken)
	tok := encode(t, k, sampleToken())
	target := delivery.CallbackURL(base, tok)
	if target != base+"/"+tok {
		t.Fatalf("CallbackURL = %q", target)
	}
	passthrough := sampleToken()
	passthrough.AccountSID = "ACffffffffffffffffffffffffffffffff"
	passthrough.CallerToken = "caller-secret"
	ptTarget := delivery.CallbackURL(base, encode(t, k, passthrough))
	ptParams := callbackParams("delivered")
	ptParams.Set("AccountSid", passthrough.AccountSID)
	withUnknown := callbackParams("delivered")
	withUnknown.Set("SomethingNew", "1")
	otherAccount := callbackParams("delivered")
	otherAccount.Set("AccountSid", "AC99999999999999999999999999999999")
	raw := tok[:20] + strings.Map(func(r rune) rune {
		if r == 'A' {
			return 'B'
		}
		return 'A'
	}, tok[20:21]) + tok[21:]

	tests := []struct {
		name string
		req  func() *http.Request
		base string
		now  time.Time
		want error
	}{
		{"genuine", func() *http.Request { return signedRequest(target, "", acctToken, callbackParams("delivered")) }, base, t0, nil},
		{"signed with the port", func() *http.Request {
			return signedRequest(target, strings.Replace(target, "sms.example.com", "sms.example.com:443", 1), acctToken, callbackParams("delivered"))
		}, base, t0, nil},
		{"base configured with the port", func() *http.Request { return signedRequest(target, "", acctToken, callbackParams("delivered")) }, "https://sms.example.com:443/twilio/status", t0, nil},
		{"unknown parameters Twilio signed", func() *http.Request { return signedRequest(target, "", acctToken, withUnknown) }, base, t0, nil},
		{"passthrough caller's token", func() *http.Request { return signedRequest(ptTarget, "", "caller-secret", ptParams) }, base, t0, nil},
		{"passthrough signed with the operator's token", func() *http.Request { return signedRequest(ptTarget, "", acctToken, ptParams) }, base, t0, delivery.ErrForged},
		{"wrong auth token", func() *http.Request { return signedRequest(target, "", "not-the-token", callbackParams("delivered")) }, base, t0, delivery.ErrForged},
		{"no signature", func() *http.Request {
			r := signedRequest(target, "", acctToken, callbackParams("delivered"))
			r.Header.Del(twilioapi.SignatureHeader)
			return r
		}, base, t0, delivery.ErrForged},
		{"status changed after signing", func() *http.Request {
			r := signedRequest(target, "", acctToken, callbackParams("delivered"))
			r.Header.Set(twilioapi.SignatureHeader, twilioapi.Signature(acctToken, target, callbackParams("undelivered")))
			return r
		}, base, t0, delivery.ErrForged},
		{"another account's callback", func() *http.Request { return signedRequest(target, "", acctToken, otherAccount) }, base, t0, delivery.ErrForged},
		{"token altered", func() *http.Request {
			alt := delivery.CallbackURL(base, raw)
			return signedRequest(alt, "", acctToken, callbackParams("delivered"))
		}, base, t0, delivery.ErrAltered},
		{"token of another keyring", func() *http.Request {
			other := delivery.CallbackURL(base, encode(t, keyring(t, "other"), sampleToken()))
			return signedRequest(other, "", acctToken, callbackParams("delivered"))
		}, base, t0, delivery.ErrAltered},
		{"another path", func() *http.Request {
			return signedRequest("https://sms.example.com/elsewhere/"+tok, "", acctToken, callbackParams("delivered"))
		}, base, t0, delivery.ErrAltered},
		{"expired", func() *http.Request { return signedRequest(target, "", acctToken, callbackParams("delivered")) }, base, t0.Add(48 * time.Hour), delivery.ErrExpired},
		{"GET", func() *http.Request { return httptest.NewRequest(http.MethodGet, target, nil) }, base, t0, delivery.ErrBadRequest},
		{"JSON body", func() *http.Request {
			r := signedRequest(target, "", acctToken, callbackParams("delivered"))
			r.Header.Set("Content-Type", "application/json")
			return r
		}, base, t0, delivery.ErrBadRequest},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st, err := delivery.ParseCallback(tc.req(), tc.base, tokens, k, tc.now)
			if !errors.Is(err, tc.want) && !(err == nil && tc.want == nil) {
				t.Fatalf("ParseCallback = %v, want %v", err, tc.want)
			}
			if err != nil {
				if st != nil {
					t.Errorf("a refused callback gave a status: %+v", st)
				}
				return
			}
			if st.MessageSid != "SM0123456789abcdef0123456789abcdef" || st.Status != "delivered" || st.Token.Route != "otp" ||
				st.To != "+4915112345678" || st.IdempotencyToken != "idem-1" || !st.At.Equal(tc.now) || st.Source != delivery.SourceCallback {
				t.Errorf("status = %+v", st)
			}
		})
	}
}

func TestParseCallbackUndelivered(t *testing.T) {
	t.Parallel()
	const base = "https://sms.example.com/cb/"
	k := keyring(t, acctToken)
	target := delivery.CallbackURL(base, encode(t, k, sampleToken()))
	if strings.Contains(target, "cb//") {
		t.Fatalf("CallbackURL kept a double slash: %s", target)
	}
	st, err := delivery.ParseCallback(signedRequest(target, "", acctToken, callbackParams("undelivered")), base, tokens, k, t0)
	if err != nil {
		t.Fatal(err)
	}
	if st.ErrorCode != 30003 || st.RawDlrDoneDate != "2603011201" || st.AccountSid != acct || st.From != "+15005550006" {
		t.Errorf("status = %+v", st)
	}
}

// countingObserver records what it is told.
type countingObserver struct {
	delivery.NopObserver
	mu         sync.Mutex
	callbacks  []string
	deliveries []delivery.Delivery
	polls      []string
	receipts   []string
	invalid    []string
}

func (o *countingObserver) Callback(route, result string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.callbacks = append(o.callbacks, route+":"+result)
}

func (o *countingObserver) Delivery(d delivery.Delivery) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.deliveries = append(o.deliveries, d)
}

func (o *countingObserver) Poll(route, result string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.polls = append(o.polls, result)
}

func (o *countingObserver) Receipt(route, dialect, result string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.receipts = append(o.receipts, dialect+":"+result)
}

func (o *countingObserver) Invalidated(route, result string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.invalid = append(o.invalid, result)
}

func (o *countingObserver) snapshot() countingObserver {
	o.mu.Lock()
	defer o.mu.Unlock()
	return countingObserver{callbacks: append([]string(nil), o.callbacks...), deliveries: append([]delivery.Delivery(nil), o.deliveries...),
		polls: append([]string(nil), o.polls...), receipts: append([]string(nil), o.receipts...), invalid: append([]string(nil), o.invalid...)}
}

func TestCallbackHandler(t *testing.T) {
	t.Parallel()
	const base = "https://sms.example.com/twilio/status"
	k := keyring(t, acctToken)
	obs := &countingObserver{}
	var invalidated []string
	tr := &delivery.Tracker{Observer: obs, Invalidate: func(_ context.Context, route, tag, sid string) (bool, error) {
		invalidated = append(invalidated, route+"/"+tag+"/"+sid)
		return true, nil
	}}
	h := &delivery.CallbackHandler{Base: base, Keyring: k, AuthToken: tokens, Route: "otp", Tracker: tr, Now: func() time.Time { return t0 }}
	target := delivery.CallbackURL(base, encode(t, k, sampleToken()))
	other := sampleToken()
	other.Route = "another-route"
	otherTarget := delivery.CallbackURL(base, encode(t, k, other))

	if !h.Matches(httptest.NewRequest(http.MethodPost, target, nil)) || h.Matches(httptest.NewRequest(http.MethodPost, "https://sms.example.com/twilio/statusx/a", nil)) {
		t.Error("Matches does not tell the callback path")
	}
	steps := []struct {
		name string
		req  *http.Request
		code int
	}{
		{"forged", signedRequest(target, "", "wrong", callbackParams("undelivered")), http.StatusForbidden},
		{"another route's token", signedRequest(otherTarget, "", acctToken, callbackParams("undelivered")), http.StatusForbidden},
		{"GET", httptest.NewRequest(http.MethodGet, target, nil), http.StatusMethodNotAllowed},
		{"sent", signedRequest(target, "", acctToken, callbackParams("sent")), http.StatusNoContent},
		{"undelivered", signedRequest(target, "", acctToken, callbackParams("undelivered")), http.StatusNoContent},
		{"undelivered again", signedRequest(target, "", acctToken, callbackParams("undelivered")), http.StatusNoContent},
	}
	for _, s := range steps {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, s.req)
		if w.Code != s.code {
			t.Errorf("%s: answered %d, want %d", s.name, w.Code, s.code)
		}
	}
	got := obs.snapshot()
	wantCallbacks := []string{":forged", ":altered", ":bad_request", "otp:accepted", "otp:accepted", "otp:accepted"}
	if strings.Join(got.callbacks, ",") != strings.Join(wantCallbacks, ",") {
		t.Errorf("callbacks = %v, want %v", got.callbacks, wantCallbacks)
	}
	if len(got.deliveries) != 1 {
		t.Fatalf("deliveries = %+v, want the undelivered one once (the forged ones recorded nothing)", got.deliveries)
	}
	d := got.deliveries[0]
	if d.Status != "undelivered" || d.ErrorCode != "30003" || d.Country != "DE" || d.Sender != delivery.SenderLongCode || d.Route != "otp" || d.Source != "callback" {
		t.Errorf("delivery = %+v", d)
	}
	if d.Latency != t0.Sub(sampleToken().Sent) && d.Latency != 0 {
		t.Errorf("latency = %v", d.Latency)
	}
	if want := "otp/" + sampleToken().Tag + "/SM0123456789abcdef0123456789abcdef"; len(invalidated) != 1 || invalidated[0] != want {
		t.Errorf("invalidated = %v, want [%s]", invalidated, want)
	}
}

func TestValidateBase(t *testing.T) {
	t.Parallel()
	for base, ok := range map[string]bool{
		"https://sms.example.com/twilio/status": true,
		"http://10.0.0.1:8080/cb":               true,
		"https://sms.example.com":               true,
		"sms.example.com/cb":                    false,
		"ftp://sms.example.com/cb":              false,
		"https://my_host.example.com/cb":        false,
		"https://sms.example.com/cb?x=1":        false,
		"https://sms.example.com/cb#frag":       false,
		"https://user:pw@sms.example.com/cb":    false,
		"https:///cb":                           false,
	} {
		if err := delivery.ValidateBase(base); (err == nil) != ok {
			t.Errorf("ValidateBase(%q) = %v, want ok %v", base, err, ok)
		}
	}
}
