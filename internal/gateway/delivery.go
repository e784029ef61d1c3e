package gateway

import (
	"context"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/dedup"
	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/delivery"
	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/dispatch"
	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/mapping"
	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/twilio"
)

// DeliveryTracking learns what became of each message: Twilio's status
// callbacks (StatusCallback carries a signed, expiring token, so any
// instance can take the callback and no store is needed) or, where Twilio
// cannot reach the adapter, polling. Final statuses feed the metrics and the
// log; an undelivered or failed one drops the first send's dedup entry (a
// resend is not a retry), and callers that asked for a receipt get one.
type DeliveryTracking struct {
	// CallbackBase is the public base URL status callbacks are sent to
	// ("" with polling only).
	CallbackBase string
	// Keyring signs and checks the callback tokens.
	Keyring *delivery.Keyring
	// TokenTTL is how long a callback token is accepted.
	TokenTTL time.Duration
	// Poller fetches statuses after a delay (nil: callbacks only).
	Poller *delivery.Poller
	// Receipts forwards receipts to callers that asked for one (nil: none).
	Receipts *delivery.Forwarder
	// Client fetches statuses for the poller.
	Client *twilio.Client
}

// tracking reports whether the route tracks deliveries.
func (g *Gateway) tracking() bool { return g.Delivery != nil }

// takeReceipt moves a Twilio-speaking caller's own StatusCallback out of the
// parameters: the adapter's own callback takes its place, and the caller gets
// the receipt forwarded (re-signed with its own token in passthrough). The
// caller's URL must be allowed by receipt_hosts.
//
// A Kannel or Jasmin caller's dlr-url (the mapping's dlr_url field, with
// dlr_mask or dlr_level and dlr_method) is taken the same way, spoken in its
// own dialect.
func (g *Gateway) takeReceipt(p *Prepared) error {
	if url := p.Values.Field("dlr_url"); url != "" && g.Delivery.CallbackBase != "" {
		dialect := g.Mapping.Name()
		if dialect != delivery.DialectKannel && dialect != delivery.DialectJasmin {
			return nil
		}
		if g.Delivery.Receipts == nil || !g.Delivery.Receipts.Allowed(url) {
			return &mapping.InputError{Field: "dlr_url", Reason: "is not on a host this route forwards receipts to (receipt_hosts)", Problem: mapping.ProblemInvalid}
		}
		mask := p.Values.Field("dlr_mask")
		if dialect == delivery.DialectJasmin {
			if p.Values.Field("dlr") != "yes" {
				return nil // Jasmin sends receipts only with dlr=yes
			}
			mask = p.Values.Field("dlr_level")
		}
		n, _ := strconv.Atoi(mask)
		p.Receipt = delivery.Token{Receipt: url, Dialect: dialect, Mask: n, Method: strings.ToUpper(p.Values.Field("dlr_method"))}
		return nil
	}
	cb := p.Params.Get("StatusCallback")
	if cb == "" || g.Delivery.CallbackBase == "" {
		return nil
	}
	if g.Delivery.Receipts == nil || !g.Delivery.Receipts.Allowed(cb) {
		return &mapping.InputError{Field: "status_callback", Reason: "is not on a host this route forwards receipts to (receipt_hosts)", Problem: mapping.ProblemInvalid}
	}
	p.Receipt = delivery.Token{Receipt: cb, Dialect: delivery.DialectTwilio, Method: p.Params.Get("StatusCallbackMethod")}
	p.Params.Del("StatusCallback")
	p.Params.Del("StatusCallbackMethod")
	return nil
}

// callbackParam is the StatusCallback the adapter asks Twilio for.
func (g *Gateway) callbackParam(a *dispatch.Account, p *Prepared) string {
	d := g.Delivery
	if d == nil || d.CallbackBase == "" || d.Keyring == nil || p.API != twilio.Messages {
		return ""
	}
	tok := g.token(p, a.AccountSID)
	if _, passthrough := g.Credentials.(Passthrough); passthrough {
		if a.Username != a.AccountSID {
			return "" // an API key: the callback could not be verified
		}
		tok.CallerToken = a.Password
	}
	s, err := d.Keyring.Encode(tok)
	if err != nil {
		return ""
	}
	return delivery.CallbackURL(d.CallbackBase, s)
}

// token is the delivery token of a send through accountSID.
func (g *Gateway) token(p *Prepared, accountSID string) delivery.Token {
	now := time.Now()
	tok := p.Receipt
	tok.Route, tok.AccountSID, tok.Sent, tok.Tag = g.Name, accountSID, now, p.DedupTag
	ttl := g.Delivery.TokenTTL
	if ttl <= 0 {
		ttl = 24 * time.Hour
	}
	tok.Expires = now.Add(ttl)
	return tok
}

// trackSent hands an accepted message to the poller.
func (g *Gateway) trackSent(p *Prepared, r *mapping.Result) {
	d := g.Delivery
	if d == nil || d.Poller == nil || !r.OK || r.Sid == "" || p.API != twilio.Messages {
		return
	}
	tok := g.token(p, r.AccountSID)
	if _, passthrough := g.Credentials.(Passthrough); passthrough {
		tok.CallerToken = p.Password
	}
	d.Poller.Track(tok, r.Sid)
}

// InvalidateDelivery drops the dedup entry of a message known undelivered or
// failed, so that the product's next identical request is sent (a resend is
// not a retry). With shared state every instance learns it; otherwise only
// the instance that sent holds the entry (tag is its local key).
func (g *Gateway) InvalidateDelivery(ctx context.Context, route, tag, sid string) (bool, error) {
	if g.Shared != nil {
		dropped, err := g.Shared.Dedup.MarkFailedTag(ctx, sid)
		if err != nil {
			g.sharedFailed("dedup")
		}
		if err == nil || tag == "" {
			return dropped, err
		}
	}
	if g.Dedup == nil || tag == "" {
		return false, nil
	}
	b, err := hex.DecodeString(tag)
	if err != nil || len(b) != len(dedup.Key{}) {
		return false, nil
	}
	var k dedup.Key
	copy(k[:], b)
	g.Dedup.Forget(k)
	return true, nil
}

// FetchStatus is a delivery.FetchFunc: GET Messages/{sid}.json with the
// credentials of the account that sent it (the caller's in passthrough).
func (g *Gateway) FetchStatus(ctx context.Context, tok delivery.Token, sid string) (*delivery.Status, error) {
	user, pass := tok.AccountSID, tok.CallerToken
	base := g.Router.Main.APIURL()
	for _, a := range g.accounts() {
		if a.AccountSID == tok.AccountSID {
			user, pass, base = a.Username, a.Password, a.APIURL()
			break
		}
	}
	if pass == "" {
		return nil, delivery.ErrForged
	}
	req, err := http.NewRequest(http.MethodGet, "", nil)
	if err != nil {
		return nil, err
	}
	req.SetBasicAuth(user, pass)
	header := http.Header{"Authorization": {req.Header.Get("Authorization")}, "Accept": {"application/json"}}
	if g.Delivery == nil || g.Delivery.Client == nil {
		return nil, delivery.ErrBadRequest
	}
	fw, err := g.Delivery.Client.Forward(ctx, http.MethodGet,
		base+accountsPrefix+tok.AccountSID+"/Messages/"+sid+".json", header, nil)
	if err != nil {
		return nil, err
	}
	if fw.Status != http.StatusOK {
		return nil, delivery.ErrBadRequest
	}
	return delivery.ParseMessage(fw.Body)
}

// accounts are every account of the route's router.
func (g *Gateway) accounts() []*dispatch.Account {
	all := []*dispatch.Account{&g.Router.Main}
	for i := range g.Router.Countries {
		all = append(all, &g.Router.Countries[i].Account)
	}
	for i := range g.Router.Fallback {
		all = append(all, &g.Router.Fallback[i])
	}
	return all
}
