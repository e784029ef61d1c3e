package caddymodule

// Benchmarks of the adapter's own cost per request, with no sockets: a fake
// RoundTripper answers as Twilio does. Run with
//
//	go test -bench . -benchmem -run '^$' ./caddymodule/
//
// Target (measured, not asserted; see BENCHMARKS.md): at most 50 allocations
// per request for BenchmarkServeHTTP/no_dedup, the fake transport's own 3
// included. Allocation counts do not depend on the machine's load; ns/op
// does, so compare with -count 6 or more and benchstat.

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/mapping"
	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/phone"
	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/twilio"
)

// twilioCreated is a Message resource as Twilio returns it (201).
var twilioCreated = []byte(`{"account_sid":"AC00000000000000000000000000000001","api_version":"2010-04-01","body":"Your code is 123456","date_created":"Thu, 24 Aug 2023 05:01:45 +0000","date_sent":null,"date_updated":"Thu, 24 Aug 2023 05:01:45 +0000","direction":"outbound-api","error_code":null,"error_message":null,"from":"+15005550006","messaging_service_sid":null,"num_media":"0","num_segments":"1","price":null,"price_unit":"USD","sid":"SM3f1b2c4d5e6f708192a3b4c5d6e7f809","status":"queued","subresource_uris":{"media":"/2010-04-01/Accounts/AC00000000000000000000000000000001/Messages/SM3f1b2c4d5e6f708192a3b4c5d6e7f809/Media.json"},"to":"+15005550006","uri":"/2010-04-01/Accounts/AC00000000000000000000000000000001/Messages/SM3f1b2c4d5e6f708192a3b4c5d6e7f809.json"}`)

// fakeTwilio answers every request with twilioCreated, in process.
type fakeTwilio struct {
	header http.Header
}

func newFakeTwilio() *fakeTwilio {
	return &fakeTwilio{header: http.Header{"Content-Type": {"application/json; charset=utf-8"}}}
}

func (f *fakeTwilio) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		_, _ = io.Copy(io.Discard, r.Body)
		r.Body.Close()
	}
	return &http.Response{
		StatusCode:    http.StatusCreated,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        f.header,
		Body:          io.NopCloser(bytes.NewReader(twilioCreated)),
		ContentLength: int64(len(twilioCreated)),
		Request:       r,
	}, nil
}

// benchHandler provisions a generic-mapping handler whose client talks to the fake.
func benchHandler(b *testing.B, dedup bool, logger *zap.Logger) *Handler {
	b.Helper()
	h := &Handler{
		Mapping: MappingConfig{Use: "generic"},
		Account: AccountConfig{AccountSID: testAccount, AuthToken: testToken, From: "+15005550006", APIURL: "https://api.twilio.com"},
		Dedup:   DedupConfig{Off: !dedup},
		// Every benchmark request goes to the same number: the default
		// destination limit would refuse all but five.
		Guard: GuardConfig{RateLimit: []RateLimitConfig{{Key: "destination", Off: true}}},
	}
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	b.Cleanup(cancel)
	if err := h.Provision(ctx); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = h.Cleanup() })
	h.logger = logger
	h.client = twilio.NewClient(twilio.ClientOptions{Transport: newFakeTwilio()})
	h.gw.Dispatcher.Client = h.client
	return h
}

// reusableBody is a request body that can be rewound without allocating.
type reusableBody struct{ bytes.Reader }

func (*reusableBody) Close() error { return nil }

// discardWriter is a ResponseWriter that keeps only the status. Like Caddy's
// own writer over a connection, it supports read deadlines (for
// http.ResponseController).
type discardWriter struct {
	header http.Header
	status int
}

func (*discardWriter) SetReadDeadline(time.Time) error { return nil }

func (w *discardWriter) Header() http.Header         { return w.header }
func (w *discardWriter) WriteHeader(status int)      { w.status = status }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }

// benchRequest is a generic-mapping form request whose code changes per
// iteration (so duplicate suppression sees distinct messages), built without
// allocating in the loop.
type benchRequest struct {
	r    *http.Request
	body reusableBody
	buf  []byte
}

func newBenchRequest() *benchRequest {
	br := &benchRequest{buf: make([]byte, 0, 128)}
	r, _ := http.NewRequest(http.MethodPost, "http://localhost/sms", nil)
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	repl := caddy.NewReplacer()
	br.r = r.WithContext(context.WithValue(r.Context(), caddy.ReplacerCtxKey, repl))
	return br
}

func (br *benchRequest) next(i int) *http.Request {
	br.buf = append(br.buf[:0], "to=%2B14155552671&message=Your+code+is+"...)
	br.buf = strconv.AppendInt(br.buf, int64(100000+i%900000), 10)
	br.body.Reset(br.buf)
	br.r.Body = &br.body
	br.r.ContentLength = int64(len(br.buf))
	return br.r
}

var nextNoop = caddyhttp.HandlerFunc(func(http.ResponseWriter, *http.Request) error { return nil })

func serveLoop(b *testing.B, h *Handler) {
	br := newBenchRequest()
	w := &discardWriter{header: http.Header{}}
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		clear(w.header)
		if err := h.ServeHTTP(w, br.next(i), nextNoop); err != nil {
			b.Fatal(err)
		}
		if w.status != http.StatusOK {
			b.Fatalf("status %d", w.status)
		}
		i++
	}
}

// BenchmarkServeHTTP is the whole hot path of one accepted request: read the
// body, parse, extract and validate fields, evaluate the Twilio parameters,
// encode and "send" (fake transport), read Twilio's reply, render the caller's
// answer, set placeholders and metrics.
func BenchmarkServeHTTP(b *testing.B) {
	// Provision first: Provision logs a line, which must not split the
	// sub-benchmarks' result lines.
	plain := benchHandler(b, false, zap.NewNop())
	withDedup := benchHandler(b, true, zap.NewNop())
	// The per-request INFO line, encoded as Caddy's default JSON logger would.
	core := zapcore.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()), zapcore.AddSync(io.Discard), zap.InfoLevel)
	withLog := benchHandler(b, false, zap.New(core))

	b.Run("no_dedup", func(b *testing.B) { serveLoop(b, plain) })
	b.Run("dedup", func(b *testing.B) { serveLoop(b, withDedup) })
	b.Run("no_dedup_json_log", func(b *testing.B) { serveLoop(b, withLog) })
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			br := newBenchRequest()
			w := &discardWriter{header: http.Header{}}
			i := 0
			for pb.Next() {
				clear(w.header)
				if err := plain.ServeHTTP(w, br.next(i), nextNoop); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	})
}

// BenchmarkStages measures each step of the hot path through the mapping and
// Twilio client APIs, so a regression can be located.
func BenchmarkStages(b *testing.B) {
	spec, file, err := mapping.Load("generic")
	if err != nil {
		b.Fatal(err)
	}
	m, err := mapping.Compile(spec, file, mapping.Config{Phone: phone.Normalizer{}})
	if err != nil {
		b.Fatal(err)
	}
	route := mapping.Route{Channel: "sms", Account: "main", AccountSID: testAccount}
	body := []byte("to=%2B15005550006&message=Your+code+is+123456")
	r, _ := http.NewRequest(http.MethodPost, "http://localhost/sms", nil)
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")

	in, err := m.ParseRequest(r, body)
	if err != nil {
		b.Fatal(err)
	}
	v, err := m.Extract(in, route)
	if err != nil {
		b.Fatal(err)
	}
	api, err := m.API(v)
	if err != nil {
		b.Fatal(err)
	}
	params, err := m.Params(v, api)
	if err != nil {
		b.Fatal(err)
	}
	accepted := &mapping.Result{OK: true, Outcome: mapping.OutcomeAccepted, API: "messages", Sid: "SM3f1b2c4d5e6f708192a3b4c5d6e7f809", Status: "queued", HTTPStatus: 201, Account: "main"}

	b.Run("parse", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := m.ParseRequest(r, body); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("extract", func(b *testing.B) {
		// Includes phone normalization of "to" (memoized by package phone).
		b.ReportAllocs()
		for b.Loop() {
			if _, err := m.Extract(in, route); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("params", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			api, err := m.API(v)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := m.Params(v, api); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encode", func(b *testing.B) {
		// url.Values.Encode of the Twilio form: what the gateway's dedup key
		// costs (twilio.Client.Send encodes the form itself, without it).
		p := url.Values{}
		for k, vs := range params {
			p[k] = vs
		}
		p.Set("From", "+15005550006")
		b.ReportAllocs()
		for b.Loop() {
			_ = p.Encode()
		}
	})
	b.Run("send_fake", func(b *testing.B) {
		// twilio.Client.Send: build the HTTP request, Basic auth, trace, and
		// read Twilio's reply (gjson) through the in-process transport. The
		// credentials are a request's own (as a passthrough caller's are):
		// the Authorization header and the URL are computed per request.
		c := twilio.NewClient(twilio.ClientOptions{Transport: newFakeTwilio()})
		req := &twilio.Request{API: twilio.Messages, BaseURL: "https://api.twilio.com", AccountSID: testAccount, Username: testAccount, Password: testToken, Params: params}
		ctx := context.Background()
		b.ReportAllocs()
		for b.Loop() {
			if _, err := c.Send(ctx, req); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("send_fake_account", func(b *testing.B) {
		// The same for a configured account: its header set and URL are
		// built once (dispatch.NewRouter gives its accounts a BasicAuth).
		c := twilio.NewClient(twilio.ClientOptions{Transport: newFakeTwilio()})
		req := &twilio.Request{API: twilio.Messages, BaseURL: "https://api.twilio.com", AccountSID: testAccount, Username: testAccount, Password: testToken, Params: params}
		req.Auth = twilio.NewBasicAuth(req.Username, req.Password)
		ctx := context.Background()
		b.ReportAllocs()
		for b.Loop() {
			if _, err := c.Send(ctx, req); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("reply", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			res := *accepted
			if _, err := m.Reply(v, &res); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("metrics", func(b *testing.B) {
		mt, err := provisionMetrics(newTestContext(b))
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			mt.request("generic", "generic", "messages", "accepted", 0)
			mt.Upstream("main", "messages", 201, 120*time.Millisecond)
			mt.AccountState("main", breakerClosed, 1, 0)
		}
	})
}
