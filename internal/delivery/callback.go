package delivery

import (
	"context"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/twilioapi"
)

// MaxCallbackBody bounds a status callback's body (Twilio's are well under
// 2 KiB).
const MaxCallbackBody = 64 << 10

// ValidateBase checks a status_callback base URL: absolute http or https,
// a host Twilio accepts (no underscore), no user info, query or fragment.
func ValidateBase(base string) error {
	u, err := url.Parse(base)
	switch {
	case err != nil:
		return errors.New("status_callback: " + err.Error())
	case u.Scheme != "https" && u.Scheme != "http":
		return errors.New("status_callback: must be an absolute http or https URL")
	case u.Host == "" || u.Hostname() == "":
		return errors.New("status_callback: must name a host")
	case strings.Contains(u.Host, "_"):
		return errors.New("status_callback: Twilio refuses a host with an underscore (21609)")
	case u.User != nil, u.RawQuery != "", u.ForceQuery, u.Fragment != "":
		return errors.New("status_callback: must have no user info, query or fragment")
	case len(base) > 4000-MaxTokenLen-1:
		return errors.New("status_callback: is too long")
	}
	return nil
}

// CallbackURL is the StatusCallback of a create: base (the public URL the
// adapter's callback path is reached at, as Twilio will request it) and the
// encoded token as the last path segment.
func CallbackURL(base, token string) string {
	return strings.TrimRight(base, "/") + "/" + token
}

// basePath is the path of base without its trailing slash ("" for the root).
func basePath(base string) string {
	u, err := url.Parse(base)
	if err != nil {
		return "\x00" // matches nothing
	}
	return strings.TrimRight(u.EscapedPath(), "/")
}

// tokenOf returns the token segment of a request path under base, or "".
func tokenOf(base string, r *http.Request) string {
	p := r.URL.EscapedPath()
	prefix := basePath(base) + "/"
	if !strings.HasPrefix(p, prefix) {
		return ""
	}
	tok := p[len(prefix):]
	if tok == "" || strings.ContainsAny(tok, "/%") {
		return ""
	}
	return tok
}

// ParseCallback verifies and reads a Twilio message status callback posted
// to CallbackURL(base, token).
//
// In order: the request must be a form POST (else ErrBadRequest) to a path
// under base; the token must be one of the keyring's (else ErrAltered); the
// X-Twilio-Signature must be Twilio's signature, under the account's auth
// token, of the public URL the callback was sent to (base, the token, the
// query if any) and the POST parameters, accepting the URL with and without
// its port, in constant time, whatever parameters Twilio adds (else
// ErrForged); the callback's AccountSid must be the token's (else
// ErrForged); and the token must not have expired (ErrExpired). The token
// is read before the signature is checked because it says which account,
// and so which auth token, signed: the token's sealed CallerToken
// (passthrough) or authToken(AccountSID), "" when the account is unknown
// (ErrForged).
//
// Nothing is recorded here: the caller hands the Status to a Tracker only
// when err is nil, and answers 403 to ErrForged, ErrAltered and ErrExpired.
func ParseCallback(r *http.Request, base string, authToken func(accountSID string) string, k *Keyring, now time.Time) (*Status, error) {
	st, _, err := parseCallback(r, base, authToken, k, now)
	return st, err
}

// parseCallback is ParseCallback, also returning the route of a genuine
// token (for metrics of expired ones).
func parseCallback(r *http.Request, base string, authToken func(string) string, k *Keyring, now time.Time) (*Status, string, error) {
	if r.Method != http.MethodPost {
		return nil, "", ErrBadRequest
	}
	tok := tokenOf(base, r)
	if tok == "" {
		return nil, "", ErrAltered
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/x-www-form-urlencoded" {
		return nil, "", ErrBadRequest
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxCallbackBody+1))
	if err != nil || len(body) > MaxCallbackBody {
		return nil, "", ErrBadRequest
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, "", ErrBadRequest
	}
	t, err := k.decode(tok)
	if err != nil {
		return nil, "", err
	}
	secret := t.CallerToken
	if secret == "" && authToken != nil {
		secret = authToken(t.AccountSID)
	}
	public := CallbackURL(base, tok)
	if r.URL.RawQuery != "" {
		public += "?" + r.URL.RawQuery
	}
	if !twilioapi.ValidSignature(secret, public, form, r.Header.Get(twilioapi.SignatureHeader)) {
		return nil, "", ErrForged
	}
	if form.Get("AccountSid") != t.AccountSID {
		return nil, "", ErrForged
	}
	if !now.Before(t.Expires) {
		return nil, t.Route, ErrExpired
	}
	st := statusFromForm(form)
	if st.MessageSid == "" || st.Status == "" {
		return nil, t.Route, ErrBadRequest
	}
	st.Token = t
	st.At = now
	st.IdempotencyToken = r.Header.Get("I-Twilio-Idempotency-Token")
	return st, t.Route, nil
}

// CallbackHandler serves a route's status callback path: it verifies each
// callback (ParseCallback), answers 403 without recording anything to a
// forged, altered or expired one, 400 (405 for another method) to one it
// cannot read, and hands every verified status to the Tracker before
// answering 204. Receipts to callers are queued, never awaited.
type CallbackHandler struct {
	// Base is the route's status_callback URL as configured (public).
	Base string
	// Keyring checks the tokens.
	Keyring *Keyring
	// AuthToken gives the auth token of an account the route sends with
	// ("" when unknown); a passthrough token carries the caller's own.
	AuthToken func(accountSID string) string
	// Route, when set, refuses tokens made for another route (ErrAltered).
	Route string
	// Tracker receives every verified status.
	Tracker *Tracker
	// Observer counts the callbacks (nil: Tracker's, else none).
	Observer Observer
	// Now is the clock (nil: time.Now).
	Now func() time.Time
	// Timeout bounds the Tracker's work for one callback (the dedup
	// invalidation); 0 means 5 s.
	Timeout time.Duration
}

// Matches reports whether r is for this handler's path (under Base's path),
// so that the route can hand it over before its own pipeline.
func (h *CallbackHandler) Matches(r *http.Request) bool {
	return strings.HasPrefix(r.URL.EscapedPath(), basePath(h.Base)+"/")
}

func (h *CallbackHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	now := time.Now
	if h.Now != nil {
		now = h.Now
	}
	obs := h.Observer
	if obs == nil && h.Tracker != nil {
		obs = h.Tracker.observer()
	}
	if obs == nil {
		obs = NopObserver{}
	}
	st, route, err := parseCallback(r, h.Base, h.AuthToken, h.Keyring, now())
	if err == nil && h.Route != "" && st.Token.Route != h.Route {
		st, route, err = nil, "", ErrAltered
	}
	obs.Callback(route, Reason(err))
	switch {
	case err == nil:
	case errors.Is(err, ErrBadRequest) && r.Method != http.MethodPost:
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	case errors.Is(err, ErrBadRequest):
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	default:
		http.Error(w, "forbidden", http.StatusForbidden)
		return
	}
	if h.Tracker != nil {
		timeout := h.Timeout
		if timeout <= 0 {
			timeout = 5 * time.Second
		}
		ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), timeout)
		h.Tracker.Handle(ctx, st)
		cancel()
	}
	w.WriteHeader(http.StatusNoContent)
}
