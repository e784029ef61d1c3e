package dispatch

import (
	"context"
	"testing"
	"time"

	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/twilio"
)

func TestStateKey(t *testing.T) {
	main := acct("main", 1)
	tests := []struct {
		name  string
		other func() Account
		same  bool
	}{
		{"same account under another name", func() Account { a := acct("alias", 1); a.MessagingServiceSID = sid("MG", 1); return a }, true},
		{"a rotated auth token", func() Account { a := main; a.Password = "rotated"; return a }, true},
		{"an API key instead of the auth token", func() Account { a := main; a.Username, a.Password = sid("SK", 9), "secret"; return a }, true},
		{"another account", func() Account { return acct("other", 2) }, false},
		{"the same SID on another regional host", func() Account { a := main; a.APIBase = "https://api.dublin.ie1.twilio.com"; return a }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := NewState(StateConfig{})
			o := tt.other()
			if got := s.For(&main) == s.For(&o); got != tt.same {
				t.Fatalf("shared state %t, want %t", got, tt.same)
			}
		})
	}
}

func TestStateUpdate(t *testing.T) {
	clock := newFakeClock()
	s := NewState(StateConfig{MaxConcurrent: 4, MaxQueue: 8, BreakerFailures: 2, BreakerCooldown: time.Minute, Now: clock.Now})
	a, b := acct("a", 1), acct("b", 2)
	sa := s.For(&a)
	release, _ := sa.Limiter.Acquire(context.Background())
	defer release()
	sa.Limiter.Observe(0, true) // AIMD: 4 -> 2
	tk, _ := s.For(&b).Breaker.Allow()
	tk.Failure()

	other := func() time.Time { t.Fatal("Update replaced the clock"); return time.Time{} }
	s.Update(StateConfig{MaxConcurrent: 16, MaxQueue: -1, BreakerFailures: 1, BreakerCooldown: time.Second, Now: other})

	if s.For(&a) != sa {
		t.Fatal("Update replaced the account state")
	}
	if sa.Limiter.Max() != 16 || sa.Limiter.Limit() != 2 || sa.Limiter.InFlight() != 1 {
		t.Fatalf("limiter max %d limit %d in flight %d, want 16, 2 (lowered by AIMD) and 1", sa.Limiter.Max(), sa.Limiter.Limit(), sa.Limiter.InFlight())
	}
	if cfg := s.Config(); cfg.MaxConcurrent != 16 || cfg.MaxQueue != 0 || cfg.BreakerFailures != 1 || cfg.BreakerCooldown != time.Second {
		t.Fatalf("Config = %+v", cfg)
	}
	// b's breaker kept its failure: one more opens it under the new threshold,
	// and the new cooldown applies, on the old clock.
	tk, _ = s.For(&b).Breaker.Allow()
	tk.Failure()
	if st := s.For(&b).Breaker.State(); st != BreakerOpen {
		t.Fatalf("breaker %s", st)
	}
	clock.Advance(time.Second)
	if st := s.For(&b).Breaker.State(); st != BreakerHalfOpen {
		t.Fatalf("breaker %s after the new cooldown", st)
	}
	// A new account gets the new configuration.
	c := acct("c", 3)
	if l := s.For(&c).Limiter; l.Max() != 16 || l.queue != 0 {
		t.Fatalf("new account: max %d queue %d", l.Max(), l.queue)
	}
}

// TestSendFairAcrossCallers: the caller identity in ctx reaches the limiter.
func TestSendFairAcrossCallers(t *testing.T) {
	a := acct("main", 1)
	d := &Dispatcher{Policy: DefaultPolicy(), State: NewState(StateConfig{MaxConcurrent: 1, MaxQueue: 100}),
		Client: &cannedClient{bySID: map[string]*twilio.Outcome{a.AccountSID: {HTTPStatus: 201, Accepted: true, Sid: "SM1"}}}}
	lim := d.State.For(&a).Limiter
	release, _ := lim.Acquire(context.Background())
	order := make(chan string, 30)
	done := make(chan struct{}, 30)
	send := func(caller string) {
		res := d.Send(WithCaller(context.Background(), caller), []*Account{&a}, func(a *Account) (*twilio.Request, error) {
			order <- caller
			return a.NewRequest(twilio.Messages, nil), nil
		})
		if res.Decision != Accepted {
			t.Errorf("result %v", res)
		}
		done <- struct{}{}
	}
	for i := range 20 {
		go send("A")
		waitFor(t, "A in line", func() bool { return lim.Waiting() == i+1 })
	}
	for i := range 2 {
		go send("B")
		waitFor(t, "B in line", func() bool { return lim.Waiting() == 21+i })
	}
	release()
	for range 22 {
		<-done
	}
	close(order)
	i, bs := 0, 0
	for c := range order {
		if c == "B" {
			bs++
			if i >= 4 {
				t.Fatalf("B served %dth", i+1)
			}
		}
		i++
	}
	if bs != 2 {
		t.Fatalf("B served %d times", bs)
	}
}
