package gateway

import (
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/delivery"
	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/mapping"
	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/twilio"
)

// Prepared is a request that passed validation: what would be sent.
type Prepared struct {
	// Values are the mapping's fields.
	Values *mapping.Values
	// API is messages, calls or studio; Params its Twilio parameters
	// (without the sender, which is chosen per account).
	API    twilio.API
	Params url.Values
	// To is the destination in E.164.
	To string
	// User and Password are the caller's Basic credentials (passthrough only).
	User, Password string
	// Number is To without a channel prefix ("whatsapp:"): what the number
	// rules, limits and sender choice look at.
	Number string
	// Authorization is the caller's header, kept for a Twilio-compatible
	// route to fetch a duplicate's resource with the caller's credentials.
	Authorization string
	// Receipt is where the caller wants its delivery receipt (delivery
	// tracking), and DedupTag the send's dedup key, for the callback token.
	Receipt  delivery.Token
	DedupTag string
	// UserAgent is a passthrough Twilio caller's own, passed on to Twilio.
	UserAgent string
}

// ReadBody reads the body within the mapping's cap and, when rc is given,
// before deadline. Its errors are *mapping.InputError.
func (g *Gateway) ReadBody(r *http.Request, rc *http.ResponseController, deadline time.Time) ([]byte, error) {
	limit := g.Mapping.MaxBodyBytes()
	body, err := readWithin(r.Body, limit+1, rc, deadline)
	if err != nil {
		var ne net.Error
		if errors.Is(err, os.ErrDeadlineExceeded) || errors.As(err, &ne) && ne.Timeout() {
			return nil, &mapping.InputError{Field: "body", Reason: "did not arrive within the time budget", Status: http.StatusRequestTimeout}
		}
		return nil, &mapping.InputError{Field: "body", Reason: "could not be read"}
	}
	if int64(len(body)) > limit {
		return nil, &mapping.InputError{Field: "body", Reason: "is larger than " + strconv.FormatInt(limit, 10) + " bytes", Status: http.StatusRequestEntityTooLarge}
	}
	return body, nil
}

// readWithin reads at most n bytes of body, giving up at deadline: a caller
// that stalls its body must not hold the request past its budget. The
// connection's read deadline does it where the server supports one (Caddy's
// does); elsewhere the read runs aside and is abandoned at the deadline (the
// server closes the body when the handler returns, which ends it).
func readWithin(body io.Reader, n int64, rc *http.ResponseController, deadline time.Time) ([]byte, error) {
	if deadline.IsZero() {
		return io.ReadAll(io.LimitReader(body, n))
	}
	if rc != nil && rc.SetReadDeadline(deadline) == nil {
		b, err := io.ReadAll(io.LimitReader(body, n))
		if err == nil {
			_ = rc.SetReadDeadline(time.Time{})
		}
		// After a stalled body the deadline stays passed: the server's
		// drain of the unread rest then fails at once and the answer goes
		// out, instead of waiting on a caller that sends nothing.
		return b, err
	}
	type result struct {
		b   []byte
		err error
	}
	done := make(chan result, 1)
	go func() {
		b, err := io.ReadAll(io.LimitReader(body, n))
		done <- result{b, err}
	}()
	t := time.NewTimer(time.Until(deadline))
	defer t.Stop()
	select {
	case res := <-done:
		return res.b, res.err
	case <-t.C:
		return nil, os.ErrDeadlineExceeded
	}
}

// Prepare extracts and validates the fields of a request whose body was read
// and computes Twilio's parameters. Any *mapping.InputError means nothing
// will be sent; p is returned with whatever fields were read, for the answer.
func (g *Gateway) Prepare(r *http.Request, body []byte) (*Prepared, error) {
	in, err := g.Mapping.ParseRequest(r, body)
	if err != nil {
		return nil, err
	}
	v, err := g.Mapping.Extract(in, g.Route)
	p := &Prepared{Values: v}
	if err != nil {
		return p, err
	}
	if p.API, err = g.Mapping.API(v); err != nil {
		return p, err
	}
	if p.Params, err = g.Mapping.Params(v, p.API); err != nil {
		return p, err
	}
	p.To = p.Params.Get("To")
	p.Number = StripChannel(p.To)
	if err := g.checkParams(p); err != nil {
		return p, err
	}
	if g.Twilio != nil {
		if err := g.twilioParams(r, body, p); err != nil {
			return p, err
		}
		p.Authorization = r.Header.Get("Authorization")
		if _, passthrough := g.Credentials.(Passthrough); passthrough {
			p.UserAgent = r.Header.Get("User-Agent")
		}
	}
	if g.tracking() {
		if err := g.takeReceipt(p); err != nil {
			return p, err
		}
	}
	if err := g.Credentials.Take(r, p); err != nil {
		return p, err
	}
	return p, nil
}

// checkParams applies the route's rules on what a caller may ask Twilio for:
// a status callback URL only where the caller owns the account or the route
// allows it, and a call no longer than the route's time limit.
func (g *Gateway) checkParams(p *Prepared) error {
	_, passthrough := g.Credentials.(Passthrough)
	if p.Params.Get("StatusCallback") != "" && !passthrough && !g.AllowCallerStatusCallback {
		return &mapping.InputError{Field: "status_callback", Reason: "is not accepted on this route: a caller-chosen URL would receive the operator's delivery data (allow_caller_status_callback opens it)"}
	}
	if p.API != twilio.Calls || g.TimeLimit <= 0 {
		return nil
	}
	limit := int(g.TimeLimit.Seconds())
	if v := p.Params.Get("TimeLimit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return &mapping.InputError{Field: "time_limit", Reason: "must be a whole number of seconds"}
		}
		if n > limit {
			return &mapping.InputError{Field: "time_limit", Reason: "is longer than this route allows (" + strconv.Itoa(limit) + " s)"}
		}
		return nil
	}
	p.Params.Set("TimeLimit", strconv.Itoa(limit))
	return nil
}

// StripChannel removes a Twilio channel prefix ("whatsapp:") from an
// address, leaving the number.
func StripChannel(to string) string {
	if i := strings.IndexByte(to, ':'); i > 0 && i < len(to)-1 && to[i+1] == '+' {
		return to[i+1:]
	}
	return to
}
