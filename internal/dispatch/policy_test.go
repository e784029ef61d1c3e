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
	p.FallbackCodes = []int{21606, 21611}
	no5xx := p
	no5xx.FallbackOn5xx = false
	reply := func(status, code int) *twilio.Outcome {
		return &twilio.Outcome{HTTPStatus: status, Accepted: status >= 200 && status < 300, ErrorCode: code}
	}
	refused := &twilio.SendError{Err: syscall.ECONNREFUSED}
	tests := []struct {
		name   string
		policy Policy
		o      *twilio.Outcome
		err    error
		want   Decision
	}{
		{name: "201", policy: p, o: reply(201, 0), want: Accepted},
		{name: "200 studio", policy: p, o: reply(200, 0), want: Accepted},
		{name: "malformed 2xx is still accepted", policy: p, o: &twilio.Outcome{HTTPStatus: 201, Accepted: true, Malformed: true}, want: Accepted},
		{name: "429", policy: p, o: reply(429, 20429), want: Retryable},
		{name: "429 without a code", policy: p, o: reply(429, 0), want: Retryable},
		{name: "20429 with another status", policy: p, o: reply(503, 20429), want: Retryable},
		{name: "refused connection", policy: p, err: refused, want: Retryable},
		{name: "dial timeout before connecting", policy: p, err: &twilio.SendError{Timeout: true, Err: context.DeadlineExceeded}, want: Retryable},
		{name: "wrapped send error", policy: p, err: fmt.Errorf("wrapped: %w", refused), want: Retryable},
		{name: "401 20003", policy: p, o: reply(401, 20003), want: FallbackOK},
		{name: "20003 alone", policy: p, o: reply(400, 20003), want: FallbackOK},
		{name: "403", policy: p, o: reply(403, 20403), want: FallbackOK},
		{name: "500", policy: p, o: reply(500, 20500), want: FallbackOK},
		{name: "503", policy: p, o: reply(503, 0), want: FallbackOK},
		{name: "500 without fallback on 5xx", policy: no5xx, o: reply(500, 20500), want: Final},
		{name: "21606 configured", policy: p, o: reply(400, 21606), want: FallbackOK},
		{name: "21611 configured", policy: p, o: reply(400, 21611), want: FallbackOK},
		{name: "21606 not configured", policy: DefaultPolicy(), o: reply(400, 21606), want: Final},
		{name: "21211 invalid to", policy: p, o: reply(400, 21211), want: Final},
		{name: "21610 unsubscribed", policy: p, o: reply(400, 21610), want: Final},
		{name: "21614 not mobile", policy: p, o: reply(400, 21614), want: Final},
		{name: "404 20404", policy: p, o: reply(404, 20404), want: Final},
		{name: "breaker open", policy: p, err: ErrBreakerOpen, want: FallbackOK},
		{name: "queue full", policy: p, err: ErrQueueFull, want: FallbackOK},
		{name: "reset after connecting", policy: p, err: &twilio.SendError{Reached: true, Err: syscall.ECONNRESET}, want: Final},
		{name: "timeout after connecting", policy: p, err: &twilio.SendError{Reached: true, Timeout: true, Err: context.DeadlineExceeded}, want: Final},
		{name: "unknown error", policy: p, err: errors.New("boom"), want: Final},
		{name: "bare context error", policy: p, err: context.DeadlineExceeded, want: Final},
		{name: "nothing at all", policy: p, want: Final},
		{name: "zero policy never falls back on 5xx", policy: Policy{}, o: reply(502, 0), want: Final},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.policy.Classify(tt.o, tt.err); got != tt.want {
				t.Fatalf("Classify = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestClassifyDefault(t *testing.T) {
	if Classify(&twilio.Outcome{HTTPStatus: 400, ErrorCode: 21606}, nil) != Final || Classify(&twilio.Outcome{HTTPStatus: 502}, nil) != FallbackOK {
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
