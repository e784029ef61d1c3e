package dispatch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/twilio"
)

const testCode = "493817"

var testBody = "Your login code is " + testCode

func buildMessage(to string) func(a *Account) (*twilio.Request, error) {
	return func(a *Account) (*twilio.Request, error) {
		return a.NewRequest(twilio.Messages, url.Values{"To": {to}, "From": {"+15005550006"}, "Body": {testBody}}), nil
	}
}

func noJitter(time.Duration) time.Duration { return 0 }

func newDispatcher(p Policy, cfg StateConfig) *Dispatcher {
	return &Dispatcher{
		Client:     twilio.NewClient(twilio.ClientOptions{}),
		Policy:     p,
		State:      NewState(cfg),
		MinAttempt: 50 * time.Millisecond,
		Jitter:     noJitter,
	}
}

func withBase(a Account, base string) *Account {
	a.APIBase = base
	return &a
}

func reasons(r *Result) []string {
	out := make([]string, len(r.Attempts))
	for i, a := range r.Attempts {
		out[i] = fmt.Sprintf("%s/%d/%d/%s", a.Account, a.HTTPStatus, a.Code, a.Decision)
		if a.Reason != "" {
			out[i] += "/" + a.Reason
		}
	}
	return out
}

// TestSendFallbacks is the core safety table: which failures of the main
// account lead to the backup, and which never do. Every case counts, at the
// fakes, the messages created: never more than one per Send.
func TestSendFallbacks(t *testing.T) {
	type handler = func(*fakeTwilio, http.ResponseWriter, *http.Request, int64)
	tests := []struct {
		name          string
		main          handler // nil: a closed loopback port (connection refused)
		backup        handler // nil: created
		policy        func(p *Policy)
		timeout       time.Duration
		want          Decision
		wantMain      int64 // requests that reached main
		wantBackup    int64
		wantCreated   int64 // across both fakes
		wantRetries   int
		wantFallbacks int
		wantMaybeSent bool
		wantAttempts  []string
	}{
		{name: "refused connection falls back after the retries", main: nil,
			want: Accepted, wantMain: 0, wantBackup: 1, wantCreated: 1, wantRetries: 2, wantFallbacks: 1, wantMaybeSent: true,
			wantAttempts: []string{"main/0/0/retryable/not_reached", "main/0/0/retryable/not_reached", "main/0/0/retryable/not_reached", "backup/201/0/accepted"}},
		{name: "401 20003 falls back", main: replyError(401, 20003),
			want: Accepted, wantMain: 1, wantBackup: 1, wantCreated: 1, wantFallbacks: 1, wantMaybeSent: true,
			wantAttempts: []string{"main/401/20003/fallback", "backup/201/0/accepted"}},
		{name: "403 falls back", main: replyError(403, 20403),
			want: Accepted, wantMain: 1, wantBackup: 1, wantCreated: 1, wantFallbacks: 1, wantMaybeSent: true},
		{name: "429 exhausted falls back", main: replyError(429, 20429),
			want: Accepted, wantMain: 3, wantBackup: 1, wantCreated: 1, wantRetries: 2, wantFallbacks: 1, wantMaybeSent: true,
			wantAttempts: []string{"main/429/20429/retryable", "main/429/20429/retryable", "main/429/20429/retryable", "backup/201/0/accepted"}},
		{name: "500 20500 may have sent: final", main: replyError(500, 20500),
			want: Final, wantMain: 1, wantBackup: 0, wantCreated: 0, wantMaybeSent: true,
			wantAttempts: []string{"main/500/20500/final"}},
		{name: "500 20500 that created the message is never sent twice", main: createdThen(replyError(500, 20500)),
			want: Final, wantMain: 1, wantBackup: 0, wantCreated: 1, wantMaybeSent: true},
		{name: "502 from an edge may have sent: final", main: replyPlain(502),
			want: Final, wantMain: 1, wantBackup: 0, wantCreated: 0, wantMaybeSent: true,
			wantAttempts: []string{"main/502/0/final/malformed"}},
		{name: "504 from an edge may have sent: final", main: replyPlain(504),
			want: Final, wantMain: 1, wantBackup: 0, wantCreated: 0, wantMaybeSent: true},
		{name: "503 from an edge may have sent: final", main: replyPlain(503),
			want: Final, wantMain: 1, wantBackup: 0, wantCreated: 0, wantMaybeSent: true},
		{name: "Twilio's 503 20503 falls back", main: replyError(503, 20503),
			want: Accepted, wantMain: 1, wantBackup: 1, wantCreated: 1, wantFallbacks: 1, wantMaybeSent: true,
			wantAttempts: []string{"main/503/20503/fallback", "backup/201/0/accepted"}},
		{name: "4xx without a Twilio body may have sent: final", main: replyPlain(400),
			want: Final, wantMain: 1, wantBackup: 0, wantCreated: 0, wantMaybeSent: true},
		{name: "500 falls back when FallbackOn5xx is opted in", main: replyError(500, 20500), policy: func(p *Policy) { p.FallbackOn5xx = true },
			want: Accepted, wantMain: 1, wantBackup: 1, wantCreated: 1, wantFallbacks: 1, wantMaybeSent: true},
		{name: "opted-in 5xx then a refusal stays may-have-sent", main: replyError(500, 20500), backup: replyError(400, 21211),
			policy: func(p *Policy) { p.FallbackOn5xx = true },
			want:   Final, wantMain: 1, wantBackup: 1, wantCreated: 0, wantFallbacks: 1, wantMaybeSent: true,
			wantAttempts: []string{"main/500/20500/fallback", "backup/400/21211/final"}},
		{name: "opted-in 5xx then 429s is final, not retryable", main: replyError(502, 0), backup: replyError(429, 20429),
			policy: func(p *Policy) { p.FallbackOn5xx = true },
			want:   Final, wantMain: 1, wantBackup: 3, wantCreated: 0, wantRetries: 2, wantFallbacks: 1, wantMaybeSent: true},
		{name: "configured 21606 falls back", main: replyError(400, 21606),
			want: Accepted, wantMain: 1, wantBackup: 1, wantCreated: 1, wantFallbacks: 1, wantMaybeSent: true},
		{name: "configured 21611 falls back", main: replyError(400, 21611),
			want: Accepted, wantMain: 1, wantBackup: 1, wantCreated: 1, wantFallbacks: 1, wantMaybeSent: true},
		{name: "21606 without configuration is final", main: replyError(400, 21606), policy: func(p *Policy) { p.FallbackCodes = nil },
			want: Final, wantMain: 1, wantBackup: 0, wantCreated: 0,
			wantAttempts: []string{"main/400/21606/final"}},
		{name: "21211 is final", main: replyError(400, 21211),
			want: Final, wantMain: 1, wantBackup: 0, wantCreated: 0},
		{name: "21610 is final", main: replyError(400, 21610),
			want: Final, wantMain: 1, wantBackup: 0, wantCreated: 0},
		{name: "429 recovered within the budget", main: firstThen(1, replyError(429, 20429), created),
			want: Accepted, wantMain: 2, wantBackup: 0, wantCreated: 1, wantRetries: 1, wantMaybeSent: true,
			wantAttempts: []string{"main/429/20429/retryable", "main/201/0/accepted"}},
		{name: "201 never falls back", main: created,
			want: Accepted, wantMain: 1, wantBackup: 0, wantCreated: 1, wantMaybeSent: true,
			wantAttempts: []string{"main/201/0/accepted"}},
		{name: "timeout after connecting never falls back", main: hang, timeout: 300 * time.Millisecond,
			want: Final, wantMain: 1, wantBackup: 0, wantCreated: 1, wantMaybeSent: true,
			wantAttempts: []string{"main/0/0/final/timeout"}},
		{name: "reset before the reply never falls back", main: resetBeforeReply,
			want: Final, wantMain: 1, wantBackup: 0, wantCreated: 1, wantMaybeSent: true,
			wantAttempts: []string{"main/0/0/final/transport"}},
		{name: "reset mid-response never falls back", main: resetMidResponse,
			want: Accepted, wantMain: 1, wantBackup: 0, wantCreated: 1, wantMaybeSent: true,
			wantAttempts: []string{"main/201/0/accepted/malformed"}},
		{name: "malformed 2xx never falls back", main: malformed2xx,
			want: Accepted, wantMain: 1, wantBackup: 0, wantCreated: 1, wantMaybeSent: true,
			wantAttempts: []string{"main/201/0/accepted/malformed"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var mainBase string
			var mainFake *fakeTwilio
			if tt.main == nil {
				mainBase = closedPort(t)
			} else {
				mainFake = newFake(t, tt.main)
				mainBase = mainFake.URL()
			}
			backupHandler := tt.backup
			if backupHandler == nil {
				backupHandler = created
			}
			backupFake := newFake(t, backupHandler)
			p := DefaultPolicy()
			p.FallbackCodes = []int{21606, 21611}
			if tt.policy != nil {
				tt.policy(&p)
			}
			d := newDispatcher(p, StateConfig{})
			timeout := tt.timeout
			if timeout == 0 {
				timeout = 10 * time.Second
			}
			ctx, cancel := context.WithTimeout(context.Background(), timeout)
			defer cancel()
			plan := []*Account{withBase(acct("main", 1), mainBase), withBase(acct("backup", 2), backupFake.URL())}

			res := d.Send(ctx, plan, buildMessage("+14155550100"))

			var gotMain int64
			var createdTotal = backupFake.created.Load()
			if mainFake != nil {
				gotMain = mainFake.requests.Load()
				createdTotal += mainFake.created.Load()
			}
			if res.Decision != tt.want {
				t.Errorf("Decision = %v, want %v (%v)", res.Decision, tt.want, res)
			}
			if gotMain != tt.wantMain || backupFake.requests.Load() != tt.wantBackup {
				t.Errorf("requests main=%d backup=%d, want %d and %d", gotMain, backupFake.requests.Load(), tt.wantMain, tt.wantBackup)
			}
			if createdTotal != tt.wantCreated {
				t.Errorf("%d messages created, want %d", createdTotal, tt.wantCreated)
			}
			if res.Retries != tt.wantRetries || res.Fallbacks != tt.wantFallbacks {
				t.Errorf("retries=%d fallbacks=%d, want %d and %d", res.Retries, res.Fallbacks, tt.wantRetries, tt.wantFallbacks)
			}
			if res.MayHaveSent() != tt.wantMaybeSent {
				t.Errorf("MayHaveSent = %t, want %t", res.MayHaveSent(), tt.wantMaybeSent)
			}
			if tt.wantAttempts != nil && !slices.Equal(reasons(res), tt.wantAttempts) {
				t.Errorf("attempts = %v, want %v", reasons(res), tt.wantAttempts)
			}
			if res.Decision == Accepted && res.Account.Name != res.Attempts[len(res.Attempts)-1].Account {
				t.Errorf("Account = %s, but the last attempt was on %s", res.Account.Name, res.Attempts[len(res.Attempts)-1].Account)
			}
		})
	}
}

func TestSendDeadlineWhileTwilioHangs(t *testing.T) {
	main := newFake(t, hang)
	backup := newFake(t, created)
	d := newDispatcher(DefaultPolicy(), StateConfig{})
	const timeout = 200 * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	start := time.Now()
	res := d.Send(ctx, []*Account{withBase(acct("main", 1), main.URL()), withBase(acct("backup", 2), backup.URL())}, buildMessage("+14155550100"))
	// main's handler only returns when the client gives up or at cleanup:
	// reaching this line at all shows Send honoured the deadline.
	if elapsed := time.Since(start); elapsed > timeout+2*time.Second {
		t.Fatalf("Send took %v with a %v deadline", elapsed, timeout)
	}
	if res.Decision != Final || !res.MayHaveSent() || backup.requests.Load() != 0 {
		t.Fatalf("result %v, backup requests %d", res, backup.requests.Load())
	}
	if !errors.Is(res.Err, context.DeadlineExceeded) {
		t.Fatalf("Err = %v, want a deadline error", res.Err)
	}
}

func TestSendNeverSleepsPastTheBudget(t *testing.T) {
	tests := []struct {
		name       string
		policy     Policy
		jitter     func(time.Duration) time.Duration
		timeout    time.Duration
		minAttempt time.Duration
	}{
		{name: "backoff longer than the whole budget", timeout: 2 * time.Second, minAttempt: 100 * time.Millisecond,
			policy: Policy{Retries: 10, BackoffBase: time.Hour, BackoffMax: time.Hour},
			jitter: func(max time.Duration) time.Duration { return max }},
		{name: "many short backoffs", timeout: 400 * time.Millisecond, minAttempt: 50 * time.Millisecond,
			policy: Policy{Retries: 1000, BackoffBase: 5 * time.Millisecond, BackoffMax: 40 * time.Millisecond}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			main := newFake(t, replyError(429, 20429))
			d := newDispatcher(tt.policy, StateConfig{})
			d.MinAttempt = tt.minAttempt
			d.Jitter = tt.jitter
			ctx, cancel := context.WithTimeout(context.Background(), tt.timeout)
			defer cancel()
			deadline, _ := ctx.Deadline()
			var mu sync.Mutex
			var violations []string
			d.Sleep = func(ctx context.Context, wait time.Duration) error {
				left := time.Until(deadline)
				if wait+tt.minAttempt > left {
					mu.Lock()
					violations = append(violations, fmt.Sprintf("slept %v with %v left", wait, left))
					mu.Unlock()
				}
				t := time.NewTimer(wait)
				defer t.Stop()
				select {
				case <-ctx.Done():
					return ctx.Err()
				case <-t.C:
					return nil
				}
			}
			res := d.Send(ctx, []*Account{withBase(acct("main", 1), main.URL())}, buildMessage("+14155550100"))
			if len(violations) > 0 {
				t.Fatalf("slept past the budget: %v", violations)
			}
			if time.Now().After(deadline.Add(time.Second)) {
				t.Fatalf("Send returned %v after the deadline", time.Since(deadline))
			}
			// Every attempt starts with at least MinAttempt left, also after a
			// late wake-up. On a very loaded machine a local request may still
			// take longer than that: the last attempt is then ambiguous (Final,
			// timeout) and must not be retried.
			last := res.Attempts[len(res.Attempts)-1]
			switch {
			case res.Decision == Retryable && !res.MayHaveSent():
			case res.Decision == Final && last.Reason == ReasonTimeout && res.MayHaveSent() && last.Duration >= tt.minAttempt:
				t.Logf("the last attempt outlived the deadline: %v", res)
			default:
				t.Fatalf("result %v, want retryable (or a final timeout after MinAttempt on a loaded machine)", res)
			}
			if int64(res.Retries)+1 != main.requests.Load() {
				t.Fatalf("retries=%d but main got %d requests", res.Retries, main.requests.Load())
			}
		})
	}
	t.Run("a backoff that does not fit returns before the deadline", func(t *testing.T) {
		main := newFake(t, replyError(429, 20429))
		d := newDispatcher(Policy{Retries: 3, BackoffBase: time.Hour, BackoffMax: time.Hour}, StateConfig{})
		d.Jitter = func(max time.Duration) time.Duration { return max }
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		res := d.Send(ctx, []*Account{withBase(acct("main", 1), main.URL())}, buildMessage("+14155550100"))
		if ctx.Err() != nil {
			t.Fatal("Send waited for the deadline instead of giving up at once")
		}
		if res.Decision != Retryable || res.Retries != 0 || main.requests.Load() != 1 {
			t.Fatalf("result %v", res)
		}
	})
}

func TestSendLimiterWaitStopsBeforeTheDeadline(t *testing.T) {
	main := newFake(t, created)
	d := newDispatcher(DefaultPolicy(), StateConfig{MaxConcurrent: 1, MaxQueue: 4})
	d.MinAttempt = 200 * time.Millisecond
	a := withBase(acct("main", 1), main.URL())
	release, err := d.State.For(a).Limiter.Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	ctx, cancel := context.WithTimeout(context.Background(), 600*time.Millisecond)
	defer cancel()
	res := d.Send(ctx, []*Account{a}, buildMessage("+14155550100"))
	if ctx.Err() != nil {
		t.Fatal("Send returned after the deadline: the wait should stop MinAttempt before it")
	}
	if res.Decision != Retryable || res.MayHaveSent() || main.requests.Load() != 0 {
		t.Fatalf("result %v, main requests %d", res, main.requests.Load())
	}
	if got := reasons(res); !slices.Equal(got, []string{"main/0/0/retryable/no_slot"}) {
		t.Fatalf("attempts = %v", got)
	}
}

func TestSendSkipsAndSheds(t *testing.T) {
	t.Run("open breaker is skipped", func(t *testing.T) {
		main := newFake(t, replyError(503, 20503))
		backup := newFake(t, created)
		d := newDispatcher(DefaultPolicy(), StateConfig{BreakerFailures: 3, BreakerCooldown: time.Hour})
		plan := []*Account{withBase(acct("main", 1), main.URL()), withBase(acct("backup", 2), backup.URL())}
		for i := range 3 {
			if res := d.Send(context.Background(), plan, buildMessage("+14155550100")); res.Decision != Accepted || res.Account.Name != "backup" {
				t.Fatalf("send %d: %v", i, res)
			}
		}
		if st := d.State.For(plan[0]).Breaker.State(); st != BreakerOpen {
			t.Fatalf("breaker %s after 3 failures", st)
		}
		res := d.Send(context.Background(), plan, buildMessage("+14155550100"))
		if got := reasons(res); !slices.Equal(got, []string{"main/0/0/fallback/breaker_open", "backup/201/0/accepted"}) {
			t.Fatalf("attempts = %v", got)
		}
		if main.requests.Load() != 3 || res.Fallbacks != 1 {
			t.Fatalf("main got %d requests, fallbacks %d", main.requests.Load(), res.Fallbacks)
		}
		if d.State.For(plan[1]).Breaker.State() != BreakerClosed {
			t.Fatal("backup's breaker moved")
		}
	})
	t.Run("only account with an open breaker", func(t *testing.T) {
		d := newDispatcher(DefaultPolicy(), StateConfig{BreakerFailures: 1, BreakerCooldown: time.Hour})
		a := withBase(acct("main", 1), closedPort(t))
		tk, _ := d.State.For(a).Breaker.Allow()
		tk.Failure()
		res := d.Send(context.Background(), []*Account{a}, buildMessage("+14155550100"))
		if res.Decision != FallbackOK || !errors.Is(res.Err, ErrBreakerOpen) || res.MayHaveSent() || res.Fallbacks != 0 {
			t.Fatalf("result %v", res)
		}
	})
	t.Run("full queue falls back", func(t *testing.T) {
		main := newFake(t, created)
		backup := newFake(t, created)
		d := newDispatcher(DefaultPolicy(), StateConfig{MaxConcurrent: 1, MaxQueue: -1})
		plan := []*Account{withBase(acct("main", 1), main.URL()), withBase(acct("backup", 2), backup.URL())}
		release, _ := d.State.For(plan[0]).Limiter.Acquire(context.Background())
		defer release()
		res := d.Send(context.Background(), plan, buildMessage("+14155550100"))
		if got := reasons(res); !slices.Equal(got, []string{"main/0/0/fallback/queue_full", "backup/201/0/accepted"}) {
			t.Fatalf("attempts = %v", got)
		}
		if main.requests.Load() != 0 {
			t.Fatal("a shed request reached main")
		}
	})
	t.Run("build error falls back while accounts remain", func(t *testing.T) {
		backup := newFake(t, created)
		d := newDispatcher(DefaultPolicy(), StateConfig{})
		plan := []*Account{withBase(acct("main", 1), closedPort(t)), withBase(acct("backup", 2), backup.URL())}
		build := func(a *Account) (*twilio.Request, error) {
			if a.Name == "main" {
				return nil, &NoSenderError{Channel: Voice, Region: "IN"}
			}
			return buildMessage("+919812345678")(a)
		}
		res := d.Send(context.Background(), plan, build)
		if got := reasons(res); !slices.Equal(got, []string{"main/0/0/fallback/build", "backup/201/0/accepted"}) {
			t.Fatalf("attempts = %v", got)
		}
	})
	t.Run("build error on the last account is final", func(t *testing.T) {
		d := newDispatcher(DefaultPolicy(), StateConfig{})
		build := func(*Account) (*twilio.Request, error) { return nil, &NoSenderError{Channel: Voice, Region: "IN"} }
		res := d.Send(context.Background(), []*Account{withBase(acct("main", 1), closedPort(t))}, build)
		if res.Decision != Final || !errors.Is(res.Err, ErrNoSender) || res.MayHaveSent() {
			t.Fatalf("result %v", res)
		}
	})
	t.Run("build returning no request is a build error", func(t *testing.T) {
		d := newDispatcher(DefaultPolicy(), StateConfig{})
		res := d.Send(context.Background(), []*Account{withBase(acct("main", 1), closedPort(t))}, func(*Account) (*twilio.Request, error) { return nil, nil })
		if res.Decision != Final || res.Err == nil || res.MayHaveSent() || res.Attempts[0].Reason != ReasonBuild {
			t.Fatalf("result %v", res)
		}
	})
	t.Run("empty plan", func(t *testing.T) {
		d := newDispatcher(DefaultPolicy(), StateConfig{})
		if res := d.Send(context.Background(), nil, buildMessage("+1")); !errors.Is(res.Err, ErrEmptyPlan) || res.Decision != Final {
			t.Fatalf("result %v", res)
		}
	})
	t.Run("context already done", func(t *testing.T) {
		main := newFake(t, created)
		d := newDispatcher(DefaultPolicy(), StateConfig{})
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		res := d.Send(ctx, []*Account{withBase(acct("main", 1), main.URL())}, buildMessage("+1"))
		if res.Decision != Retryable || !errors.Is(res.Err, context.Canceled) || main.requests.Load() != 0 {
			t.Fatalf("result %v", res)
		}
	})
	t.Run("no budget left for the fallback", func(t *testing.T) {
		main := newFake(t, func(f *fakeTwilio, w http.ResponseWriter, r *http.Request, n int64) {
			time.Sleep(150 * time.Millisecond)
			replyError(503, 20503)(f, w, r, n)
		})
		backup := newFake(t, created)
		d := newDispatcher(DefaultPolicy(), StateConfig{})
		d.MinAttempt = time.Second
		ctx, cancel := context.WithTimeout(context.Background(), 1100*time.Millisecond)
		defer cancel()
		res := d.Send(ctx, []*Account{withBase(acct("main", 1), main.URL()), withBase(acct("backup", 2), backup.URL())}, buildMessage("+1"))
		if res.Decision != Retryable || !errors.Is(res.Err, ErrNoBudget) || backup.requests.Load() != 0 || res.MayHaveSent() {
			t.Fatalf("result %v", res)
		}
	})
}

func TestSendConcurrencyCap(t *testing.T) {
	const goroutines = 300
	main := newFake(t, func(f *fakeTwilio, w http.ResponseWriter, r *http.Request, n int64) {
		time.Sleep(time.Millisecond)
		created(f, w, r, n)
	})
	d := newDispatcher(DefaultPolicy(), StateConfig{MaxConcurrent: 4, MaxQueue: goroutines})
	a := withBase(acct("main", 1), main.URL())
	var wg sync.WaitGroup
	for range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res := d.Send(context.Background(), []*Account{a}, buildMessage("+14155550100"))
			if res.Decision != Accepted {
				t.Errorf("result %v", res)
			}
		}()
	}
	wg.Wait()
	if p := main.peak.Load(); p > 4 {
		t.Fatalf("Twilio saw %d concurrent requests, cap 4", p)
	}
	if main.created.Load() != goroutines || main.requests.Load() != goroutines {
		t.Fatalf("created %d of %d with %d requests", main.created.Load(), goroutines, main.requests.Load())
	}
}

func TestResultHasNoMessageText(t *testing.T) {
	tests := []struct {
		name string
		main func(*fakeTwilio, http.ResponseWriter, *http.Request, int64)
	}{
		{"accepted", created},
		{"refused", replyError(400, 21211)},
		{"timeout", hang},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			main := newFake(t, tt.main)
			d := newDispatcher(DefaultPolicy(), StateConfig{})
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			defer cancel()
			res := d.Send(ctx, []*Account{withBase(acct("main", 1), main.URL())}, buildMessage("+14155550100"))
			if got, _ := main.lastBody.Load().(string); got != testBody {
				t.Fatalf("the fake got body %q: the test would prove nothing", got)
			}
			if res.Outcome != nil && res.Outcome.Body != nil {
				t.Errorf("Outcome.Body kept without KeepReplyBody: %q", res.Outcome.Body)
			}
			js, err := json.Marshal(res)
			if err != nil {
				t.Fatal(err)
			}
			attempts, _ := json.Marshal(res.Attempts)
			forms := map[string]string{
				"%v": fmt.Sprintf("%v", res), "%+v": fmt.Sprintf("%+v", res), "%#v": fmt.Sprintf("%#v", res),
				"value %+v": fmt.Sprintf("%+v", *res), "String": res.String(), "json": string(js), "attempts": string(attempts),
			}
			if res.Err != nil {
				forms["err"] = res.Err.Error()
			}
			for name, s := range forms {
				if strings.Contains(s, testCode) || strings.Contains(s, "login code") {
					t.Errorf("%s contains the message text: %s", name, s)
				}
				if strings.Contains(s, "token-1") {
					t.Errorf("%s contains the auth token: %s", name, s)
				}
			}
		})
	}
}

func TestKeepReplyBody(t *testing.T) {
	main := newFake(t, created)
	d := newDispatcher(DefaultPolicy(), StateConfig{})
	d.KeepReplyBody = true
	res := d.Send(context.Background(), []*Account{withBase(acct("main", 1), main.URL())}, buildMessage("+14155550100"))
	if res.Decision != Accepted || !strings.Contains(string(res.Outcome.Body), `"sid":"SM`) {
		t.Fatalf("result %v, body %q", res, res.Outcome.Body)
	}
	if strings.Contains(res.String(), testCode) {
		t.Fatal("String shows the kept body")
	}
}

func TestSendUsesSharedState(t *testing.T) {
	// Two accounts with the same SID (and API host) share one limiter and breaker.
	s := NewState(StateConfig{})
	a, b := acct("main", 1), acct("main-alias", 1)
	b.MessagingServiceSID = sid("MG", 1)
	if s.For(&a) != s.For(&b) {
		t.Fatal("same SID and username, different state")
	}
	c := acct("other", 2)
	if s.For(&a) == s.For(&c) {
		t.Fatal("different accounts share state")
	}
	if s.Destruct() != nil {
		t.Fatal("Destruct failed")
	}
	if cfg := s.Config(); cfg.MaxConcurrent != 32 || cfg.MaxQueue != 256 || cfg.BreakerFailures != 5 || cfg.BreakerCooldown != 30*time.Second {
		t.Fatalf("defaults = %+v", cfg)
	}
}
