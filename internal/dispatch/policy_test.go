package dispatch

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/twilio"
)

func TestClassify(t *testing.T) {
	p := DefaultPolicy()
	p.FallbackCodes = []int{21606, 21611, 20500}
	opt5xx := p
	opt5xx.FallbackOn5xx = true
	reply := func(status, code int) *twilio.Outcome {
		return &twilio.Outcome{HTTPStatus: status, Accepted: status >= 200 && status < 300, ErrorCode: code}
	}
	edge := func(status int) *twilio.Outcome { // an HTML or empty body from a proxy or load balancer
		return &twilio.Outcome{HTTPStatus: status, Malformed: true}
	}
	refused := &twilio.SendError{Err: syscall.ECONNREFUSED}
	tests := []struct {
		name      string
		policy    Policy
		o         *twilio.Outcome
		err       error
		want      Decision
		maybeSent bool
	}{
		{name: "201", policy: p, o: reply(201, 0), want: Accepted, maybeSent: true},
		{name: "200 studio", policy: p, o: reply(200, 0), want: Accepted, maybeSent: true},
		{name: "malformed 2xx is still accepted", policy: p, o: &twilio.Outcome{HTTPStatus: 201, Accepted: true, Malformed: true}, want: Accepted, maybeSent: true},
		{name: "429", policy: p, o: reply(429, 20429), want: Retryable},
		{name: "429 without a code", policy: p, o: reply(429, 0), want: Retryable},
		{name: "20429 with another status", policy: p, o: reply(503, 20429), want: Retryable},
		{name: "refused connection", policy: p, err: refused, want: Retryable},
		{name: "dial timeout before connecting", policy: p, err: &twilio.SendError{Timeout: true, Err: context.DeadlineExceeded}, want: Retryable},
		{name: "wrapped send error", policy: p, err: fmt.Errorf("wrapped: %w", refused), want: Retryable},
		{name: "401 20003", policy: p, o: reply(401, 20003), want: FallbackOK},
		{name: "20003 alone", policy: p, o: reply(400, 20003), want: FallbackOK},
		{name: "403", policy: p, o: reply(403, 20403), want: FallbackOK},
		{name: "503 20503 is Twilio's not processed", policy: p, o: reply(503, 20503), want: FallbackOK},
		{name: "503 from an edge proves nothing", policy: p, o: edge(503), want: Final, maybeSent: true},
		{name: "503 with another code", policy: p, o: reply(503, 20500), want: Final, maybeSent: true},
		{name: "500 20500 may have sent", policy: p, o: reply(500, 20500), want: Final, maybeSent: true},
		{name: "502 may have sent", policy: p, o: edge(502), want: Final, maybeSent: true},
		{name: "504 may have sent", policy: p, o: edge(504), want: Final, maybeSent: true},
		{name: "500 with FallbackOn5xx opted in", policy: opt5xx, o: reply(500, 20500), want: FallbackOK, maybeSent: true},
		{name: "502 with FallbackOn5xx opted in", policy: opt5xx, o: edge(502), want: FallbackOK, maybeSent: true},
		{name: "a 5xx code in FallbackCodes has no effect", policy: p, o: reply(500, 20500), want: Final, maybeSent: true},
		{name: "21606 configured", policy: p, o: reply(400, 21606), want: FallbackOK},
		{name: "21611 configured", policy: p, o: reply(400, 21611), want: FallbackOK},
		{name: "21606 not configured", policy: DefaultPolicy(), o: reply(400, 21606), want: Final},
		{name: "21211 invalid to", policy: p, o: reply(400, 21211), want: Final},
		{name: "21610 unsubscribed", policy: p, o: reply(400, 21610), want: Final},
		{name: "21614 not mobile", policy: p, o: reply(400, 21614), want: Final},
		{name: "404 20404", policy: p, o: reply(404, 20404), want: Final},
		{name: "4xx without Twilio's error body", policy: p, o: edge(400), want: Final, maybeSent: true},
		{name: "3xx", policy: p, o: edge(302), want: Final, maybeSent: true},
		{name: "breaker open", policy: p, err: ErrBreakerOpen, want: FallbackOK},
		{name: "queue full", policy: p, err: ErrQueueFull, want: FallbackOK},
		{name: "reset after connecting", policy: p, err: &twilio.SendError{Reached: true, Err: syscall.ECONNRESET}, want: Final, maybeSent: true},
		{name: "timeout after connecting", policy: p, err: &twilio.SendError{Reached: true, Timeout: true, Err: context.DeadlineExceeded}, want: Final, maybeSent: true},
		{name: "unknown error", policy: p, err: errors.New("boom"), want: Final, maybeSent: true},
		{name: "bare context error", policy: p, err: context.DeadlineExceeded, want: Final, maybeSent: true},
		{name: "nothing at all", policy: p, want: Final, maybeSent: true},
		{name: "zero policy never falls back on 5xx", policy: Policy{}, o: reply(502, 0), want: Final, maybeSent: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.policy.Classify(tt.o, tt.err); got != tt.want {
				t.Fatalf("Classify = %v, want %v", got, tt.want)
			}
			if got := mayHaveCreated(tt.o, tt.err); got != tt.maybeSent {
				t.Fatalf("mayHaveCreated = %t, want %t", got, tt.maybeSent)
			}
		})
	}
}

func TestClassifyDefault(t *testing.T) {
	if DefaultPolicy().FallbackOn5xx {
		t.Fatal("DefaultPolicy falls back on a 5xx")
	}
	if Classify(&twilio.Outcome{HTTPStatus: 400, ErrorCode: 21606}, nil) != Final ||
		Classify(&twilio.Outcome{HTTPStatus: 502}, nil) != Final ||
		Classify(&twilio.Outcome{HTTPStatus: 503, ErrorCode: 20503}, nil) != FallbackOK {
		t.Fatal("package Classify is not DefaultPolicy's")
	}
}

func TestBackoffCap(t *testing.T) {
	tests := []struct {
		name      string
		base, max time.Duration
		n         int
		want      time.Duration
	}{
		{"defaults first", 0, 0, 0, 100 * time.Millisecond},
		{"defaults second", 0, 0, 1, 200 * time.Millisecond},
		{"defaults capped", 0, 0, 5, time.Second},
		{"huge n does not overflow", 0, 0, 200, time.Second},
		{"custom", 25 * time.Millisecond, 150 * time.Millisecond, 2, 100 * time.Millisecond},
		{"custom capped", 25 * time.Millisecond, 150 * time.Millisecond, 3, 150 * time.Millisecond},
		{"max below base", time.Second, time.Millisecond, 0, time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := Policy{BackoffBase: tt.base, BackoffMax: tt.max}
			if got := p.backoffCap(tt.n); got != tt.want {
				t.Fatalf("backoffCap(%d) = %v, want %v", tt.n, got, tt.want)
			}
		})
	}
}

func TestDecisionString(t *testing.T) {
	for d, want := range map[Decision]string{Final: "final", Accepted: "accepted", Retryable: "retryable", FallbackOK: "fallback", 99: "final"} {
		if d.String() != want {
			t.Errorf("%d.String() = %q, want %q", d, d.String(), want)
		}
	}
	var zero Decision
	if zero != Final {
		t.Error("the zero Decision must be Final")
	}
}
