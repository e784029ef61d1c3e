package dispatch

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/twilio"
)

// cannedClient answers every request from a map of account SID to outcome,
// without any I/O: it measures the dispatcher alone.
type cannedClient struct{ bySID map[string]*twilio.Outcome }

func (c *cannedClient) Send(_ context.Context, r *twilio.Request) (*twilio.Outcome, error) {
	return c.bySID[r.AccountSID], nil
}

// cannedTransport is an in-process Twilio for *twilio.Client: every request
// gets a 201 with a Message body, without a socket.
type cannedTransport struct{}

const benchReply = `{"sid":"SM29f4f980778e4621b72df75ac82f5000","status":"queued","to":"+14155550100","from":"+15005550006","body":"Your login code is 493817","num_segments":"1","error_code":null,"error_message":null}`

func (cannedTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		_, _ = io.Copy(io.Discard, r.Body)
		r.Body.Close()
	}
	return &http.Response{
		StatusCode:    201,
		Header:        http.Header{"Content-Type": {"application/json"}, "Twilio-Concurrent-Requests": {"1"}},
		Body:          io.NopCloser(strings.NewReader(benchReply)),
		ContentLength: int64(len(benchReply)),
		Request:       r,
	}, nil
}

func BenchmarkDispatcherSend(b *testing.B) {
	main, backup := acct("main", 1), acct("backup", 2)
	prebuilt := map[string]*twilio.Request{}
	for _, a := range []*Account{&main, &backup} {
		prebuilt[a.Name] = a.NewRequest(twilio.Messages, url.Values{"To": {"+14155550100"}, "From": {"+15005550006"}, "Body": {testBody}})
	}
	reuse := func(a *Account) (*twilio.Request, error) { return prebuilt[a.Name], nil }
	plan := []*Account{&main, &backup}
	ctx := context.Background()

	b.Run("dispatcher only, accepted", func(b *testing.B) {
		d := &Dispatcher{Policy: DefaultPolicy(), State: NewState(StateConfig{}), Client: &cannedClient{bySID: map[string]*twilio.Outcome{
			main.AccountSID: {HTTPStatus: 201, Accepted: true, Sid: "SM1"},
		}}}
		b.ReportAllocs()
		for b.Loop() {
			if res := d.Send(ctx, plan, reuse); res.Decision != Accepted {
				b.Fatal(res)
			}
		}
	})
	b.Run("dispatcher only, 503 then backup", func(b *testing.B) {
		d := &Dispatcher{Policy: DefaultPolicy(), State: NewState(StateConfig{BreakerFailures: 1 << 30}), Client: &cannedClient{bySID: map[string]*twilio.Outcome{
			main.AccountSID:   {HTTPStatus: 503, ErrorCode: 20503},
			backup.AccountSID: {HTTPStatus: 201, Accepted: true, Sid: "SM1"},
		}}}
		b.ReportAllocs()
		for b.Loop() {
			if res := d.Send(ctx, plan, reuse); res.Decision != Accepted || res.Fallbacks != 1 {
				b.Fatal(res)
			}
		}
	})
	b.Run("hot path with twilio.Client, in-process transport", func(b *testing.B) {
		// Router.Plan + SelectSender + building the form + Dispatcher.Send +
		// twilio.Client (request, basic auth, reply parsing), no socket.
		main := main
		main.Senders = []Sender{{Number: "+14155550199", Type: Standard, SMS: true}, {Number: "894546", Type: ShortCode, SMS: true, Countries: []string{"US"}}}
		r, err := NewRouter(main, []CountryRule{{Prefix: "91", Account: acct("india", 3)}}, []Account{backup})
		if err != nil {
			b.Fatal(err)
		}
		d := &Dispatcher{Policy: DefaultPolicy(), State: NewState(StateConfig{}),
			Client: twilio.NewClient(twilio.ClientOptions{Transport: cannedTransport{}})}
		build := func(a *Account) (*twilio.Request, error) {
			from, mg, err := SelectSender(a, SMS, "US", "")
			if err != nil {
				return nil, err
			}
			v := url.Values{"To": {"+14155550100"}, "Body": {testBody}}
			if mg != "" {
				v["MessagingServiceSid"] = []string{mg}
			} else {
				v["From"] = []string{from}
			}
			return a.NewRequest(twilio.Messages, v), nil
		}
		b.ReportAllocs()
		for b.Loop() {
			if res := d.Send(ctx, r.Plan("+14155550100"), build); res.Decision != Accepted {
				b.Fatal(res)
			}
		}
	})
}

// BenchmarkTwilioClientAlone is the share of the hot path that package twilio
// and net/http take (plus cannedTransport's own 7 allocations), for comparison.
func BenchmarkTwilioClientAlone(b *testing.B) {
	main := acct("main", 1)
	c := twilio.NewClient(twilio.ClientOptions{Transport: cannedTransport{}})
	req := main.NewRequest(twilio.Messages, url.Values{"To": {"+14155550100"}, "From": {"+15005550006"}, "Body": {testBody}})
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if o, err := c.Send(ctx, req); err != nil || !o.Accepted {
			b.Fatal(o, err)
		}
	}
}

func BenchmarkLimiterUncontended(b *testing.B) {
	l := NewLimiter(64, 64)
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := l.acquire(ctx, time.Time{}); err != nil {
				b.Fatal(err)
			}
			l.release()
		}
	})
}
