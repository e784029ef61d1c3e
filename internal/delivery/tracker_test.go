package delivery_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/delivery"
)

func TestTracker(t *testing.T) {
	t.Parallel()
	obs := &countingObserver{}
	var events []delivery.Event
	var calls []string
	fail := false
	tr := &delivery.Tracker{Observer: obs, Log: func(e delivery.Event) { events = append(events, e) },
		Invalidate: func(_ context.Context, route, tag, sid string) (bool, error) {
			calls = append(calls, sid)
			if fail {
				return false, errors.New("redis down")
			}
			return sid == "SM2", nil
		}}
	tok := delivery.Token{Route: "otp", AccountSID: acct, Sent: t0, Tag: "beef"}
	st := func(sid, s string, code int, to, from string) *delivery.Status {
		x := status(s, tok)
		x.MessageSid, x.ErrorCode, x.To, x.From = sid, code, to, from
		x.At = t0.Add(4 * time.Second)
		return x
	}
	ctx := context.Background()
	steps := []struct {
		st  *delivery.Status
		new bool
	}{
		{st("SM1", "sent", 0, "+4915112345678", "+15005550006"), true},
		{st("SM1", "delivered", 0, "+4915112345678", "+15005550006"), true},
		{st("SM1", "delivered", 0, "+4915112345678", "+15005550006"), false}, // a repeat
		{st("SM1", "sent", 0, "+4915112345678", "+15005550006"), false},      // late, after the final one
		{st("SM2", "undelivered", 30003, "whatsapp:+447400123456", "whatsapp:+15005550006"), true},
		{st("SM3", "failed", 30008, "+33612345678", "ACME"), true},
		{st("SM4", "queued", 0, "+33612345678", "12345"), true},
		{nil, false},
	}
	for i, s := range steps[:6] {
		if got := tr.Handle(ctx, s.st); got != s.new {
			t.Errorf("step %d: Handle = %v, want %v", i, got, s.new)
		}
	}
	fail = true
	tr.Handle(ctx, st("SM5", "undelivered", 30005, "+15005550012", ""))
	if tr.Handle(ctx, steps[6].st) != true || tr.Handle(ctx, nil) {
		t.Error("Handle of a queued status or nil")
	}

	got := obs.snapshot()
	if len(got.deliveries) != 4 {
		t.Fatalf("deliveries = %+v", got.deliveries)
	}
	want := []delivery.Delivery{
		{Route: "otp", Status: "delivered", Country: "DE", Sender: "long_code", Latency: 4 * time.Second, Source: "callback"},
		{Route: "otp", Status: "undelivered", ErrorCode: "30003", Country: "GB", Sender: "whatsapp", Latency: 4 * time.Second, Source: "callback"},
		{Route: "otp", Status: "failed", ErrorCode: "30008", Country: "FR", Sender: "alphanumeric", Latency: 4 * time.Second, Source: "callback"},
		{Route: "otp", Status: "undelivered", ErrorCode: "30005", Country: "US", Sender: "unknown", Latency: 4 * time.Second, Source: "callback"},
	}
	for i := range want {
		if got.deliveries[i] != want[i] {
			t.Errorf("delivery %d = %+v\nwant %+v", i, got.deliveries[i], want[i])
		}
	}
	if strings.Join(calls, ",") != "SM2,SM3,SM5" {
		t.Errorf("Invalidate called for %v, want the undelivered and failed ones", calls)
	}
	if strings.Join(got.invalid, ",") != "dropped,absent,error" {
		t.Errorf("invalidations = %v", got.invalid)
	}
	if len(events) != 4 {
		t.Fatalf("events = %+v", events)
	}
	for _, e := range events {
		if strings.Contains(e.To, "12345678") || strings.Contains(e.To, "400123456") || strings.Contains(e.To, "612345678") || !strings.Contains(e.To, "••••") {
			t.Errorf("event To %q is not masked", e.To)
		}
	}
	if e := events[1]; e.MessageSid != "SM2" || e.Invalidated != "dropped" || e.ErrorCode != 30003 || e.Latency != 4*time.Second {
		t.Errorf("event = %+v", e)
	}
	if events[0].Invalidated != "" {
		t.Errorf("a delivered message was invalidated: %+v", events[0])
	}
}

func TestTrackerForgetsOldest(t *testing.T) {
	t.Parallel()
	tr := &delivery.Tracker{Seen: 4}
	s := func(sid string) *delivery.Status { return &delivery.Status{MessageSid: sid, Status: "sent"} }
	for _, sid := range []string{"A", "B", "C", "D"} {
		tr.Handle(context.Background(), s(sid))
	}
	if tr.Handle(context.Background(), s("D")) {
		t.Error("a remembered repeat was taken")
	}
	tr.Handle(context.Background(), s("E"))
	if !tr.Handle(context.Background(), s("A")) {
		t.Error("the oldest pair was not forgotten at the bound")
	}
}

func TestSenderKind(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ from, mss, want string }{
		{"+14155550100", "", "long_code"}, {"12345", "", "short_code"}, {"ACME Bank", "", "alphanumeric"},
		{"whatsapp:+14155550100", "", "whatsapp"}, {"", "MG0123", "messaging_service"}, {"", "", "unknown"},
		{"+1", "", "unknown"}, {"ACME-BANK", "", "unknown"}, {"123456789012", "", "unknown"},
	} {
		if got := delivery.SenderKind(tc.from, tc.mss); got != tc.want {
			t.Errorf("SenderKind(%q, %q) = %q, want %q", tc.from, tc.mss, got, tc.want)
		}
	}
}

func TestParseMessage(t *testing.T) {
	t.Parallel()
	body := `{"sid":"SM1","account_sid":"` + acct + `","status":"undelivered","error_code":30003,"to":"+4915112345678","from":null,
	  "messaging_service_sid":"MG1","date_updated":"Sun, 01 Mar 2026 12:00:07 +0000","body":"Your code is 123456"}`
	st, err := delivery.ParseMessage([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if st.MessageSid != "SM1" || st.Status != "undelivered" || st.ErrorCode != 30003 || st.From != "" || st.MessagingServiceSid != "MG1" ||
		!st.At.Equal(t0.Add(7*time.Second)) || st.Source != delivery.SourcePoll || !st.IsFinal() {
		t.Errorf("ParseMessage = %+v", st)
	}
	for _, bad := range []string{`{`, `{"sid":"SM1"}`, `[]`} {
		if _, err := delivery.ParseMessage([]byte(bad)); err == nil {
			t.Errorf("ParseMessage(%s) accepted", bad)
		}
	}
}
