package dispatch

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/simulator"
	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/twiliotest"
)

// simTenant is a simulated Twilio tenant: a main account with an India
// subaccount and an unrelated backup account.
type simTenant struct {
	sim                 *simulator.Simulator
	main, india, backup Account
}

func newSimTenant(t *testing.T, cfg simulator.Config) *simTenant {
	main, backup := acct("main", 1), acct("backup", 2)
	india := acct("india", 3)
	// 6.7: the main account's SID and token act on the subaccount's 2010 resources.
	india.Username, india.Password = main.Username, main.Password
	cfg.Accounts = []simulator.Account{
		{SID: main.AccountSID, AuthToken: main.Password},
		{SID: india.AccountSID, AuthToken: "india-own-token", Parent: main.AccountSID},
		{SID: backup.AccountSID, AuthToken: backup.Password},
	}
	srv, sim, _ := twiliotest.NewServer(t, cfg)
	for _, a := range []*Account{&main, &india, &backup} {
		a.APIBase, a.StudioBase = srv.URL, srv.URL
	}
	return &simTenant{sim: sim, main: main, india: india, backup: backup}
}

func (s *simTenant) accepted(a Account) int64 { return s.sim.Stats().PerAccount[a.AccountSID].Accepted }
func (s *simTenant) requests(a Account) int64 { return s.sim.Stats().PerAccount[a.AccountSID].Requests }

// settled reports whether every request the simulator got has been counted
// (Requests = Accepted + Rejected once every request is answered).
func (s *simTenant) settled() bool {
	st := s.sim.Stats()
	return st.Requests == st.Accepted+st.Rejected
}

func TestSimulatorFaults(t *testing.T) {
	tests := []struct {
		name          string
		fault         simulator.Fault
		timeout       time.Duration
		want          Decision
		wantMain      int64 // requests main received
		wantMainOK    int64 // messages main created
		wantBackupOK  int64
		wantRetries   int
		wantMaybeSent bool
	}{
		{name: "no fault", want: Accepted, wantMain: 1, wantMainOK: 1, wantMaybeSent: true},
		{name: "429 until cleared: retries then backup", fault: simulator.Fault{Mode: simulator.Fault429},
			want: Accepted, wantMain: 3, wantBackupOK: 1, wantRetries: 2, wantMaybeSent: true},
		{name: "one 429 is retried on main", fault: simulator.Fault{Mode: simulator.Fault429, Count: 1},
			want: Accepted, wantMain: 2, wantMainOK: 1, wantRetries: 1, wantMaybeSent: true},
		{name: "500: final, it may have been sent", fault: simulator.Fault{Mode: simulator.Fault5xx},
			want: Final, wantMain: 1, wantMaybeSent: true},
		{name: "Twilio's 503 20503: backup", fault: simulator.Fault{Mode: simulator.Fault503},
			want: Accepted, wantMain: 1, wantBackupOK: 1, wantMaybeSent: true},
		{name: "auth: backup", fault: simulator.Fault{Mode: simulator.FaultAuth},
			want: Accepted, wantMain: 1, wantBackupOK: 1, wantMaybeSent: true},
		{name: "21606: backup", fault: simulator.Fault{Mode: simulator.FaultCode, Code: 21606, Status: 400},
			want: Accepted, wantMain: 1, wantBackupOK: 1, wantMaybeSent: true},
		{name: "21611: backup", fault: simulator.Fault{Mode: simulator.FaultCode, Code: 21611, Status: 400},
			want: Accepted, wantMain: 1, wantBackupOK: 1, wantMaybeSent: true},
		{name: "21610: final", fault: simulator.Fault{Mode: simulator.FaultCode, Code: 21610, Status: 400},
			want: Final, wantMain: 1},
		{name: "slow: timeout after connecting, never the backup", fault: simulator.Fault{Mode: simulator.FaultSlow, Delay: 10 * time.Second},
			timeout: 300 * time.Millisecond, want: Final, wantMain: 1, wantMainOK: 1, wantMaybeSent: true},
		{name: "reset mid-response: accepted, never the backup", fault: simulator.Fault{Mode: simulator.FaultReset},
			want: Accepted, wantMain: 1, wantMainOK: 1, wantMaybeSent: true},
		{name: "malformed json: accepted, never the backup", fault: simulator.Fault{Mode: simulator.FaultMalformedJSON},
			want: Accepted, wantMain: 1, wantMainOK: 1, wantMaybeSent: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newSimTenant(t, simulator.Config{})
			if tt.fault.Mode != "" {
				s.sim.SetFault(s.main.AccountSID, tt.fault)
			}
			p := DefaultPolicy()
			p.FallbackCodes = []int{21606, 21611}
			d := newDispatcher(p, StateConfig{})
			timeout := tt.timeout
			if timeout == 0 {
				timeout = 10 * time.Second
			}
			ctx, cancel := context.WithTimeout(context.Background(), timeout)
			defer cancel()
			res := d.Send(ctx, []*Account{&s.main, &s.backup}, buildMessage("+14155550100"))
			// The simulator counts a request when its handler ends, which may be
			// just after the client gave up on it.
			waitFor(t, "the simulator to finish", s.settled)
			if res.Decision != tt.want || res.Retries != tt.wantRetries || res.MayHaveSent() != tt.wantMaybeSent {
				t.Errorf("result %v; want %v with %d retries, may have sent %t", res, tt.want, tt.wantRetries, tt.wantMaybeSent)
			}
			if got := s.requests(s.main); got != tt.wantMain {
				t.Errorf("main got %d requests, want %d", got, tt.wantMain)
			}
			mainOK, backupOK := s.accepted(s.main), s.accepted(s.backup)
			if mainOK != tt.wantMainOK || backupOK != tt.wantBackupOK {
				t.Errorf("created main=%d backup=%d, want %d and %d", mainOK, backupOK, tt.wantMainOK, tt.wantBackupOK)
			}
			if mainOK+backupOK > 1 {
				t.Errorf("%d messages created for one Send", mainOK+backupOK)
			}
		})
	}
}

func TestSimulatorSubaccountRouting(t *testing.T) {
	s := newSimTenant(t, simulator.Config{})
	r, err := NewRouter(s.main, []CountryRule{{Prefix: "+91", Account: s.india}}, []Account{s.backup})
	if err != nil {
		t.Fatal(err)
	}
	d := newDispatcher(DefaultPolicy(), StateConfig{})
	tests := []struct {
		name, to string
		wantSID  string
	}{
		{"india through the subaccount", "+919812345678", s.india.AccountSID},
		{"uk through main", "+447700900123", s.main.AccountSID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s.sim.Reset()
			res := d.Send(context.Background(), r.Plan(tt.to), buildMessage(tt.to))
			if res.Decision != Accepted {
				t.Fatalf("result %v", res)
			}
			recs := s.sim.Records()
			if len(recs) != 1 || recs[0].AccountSID != tt.wantSID || !recs[0].Accepted || recs[0].AuthUser != s.main.Username {
				t.Fatalf("records %+v", recs)
			}
		})
	}
	t.Run("india subaccount falls back to backup when the parent's token is revoked", func(t *testing.T) {
		s.sim.Reset()
		s.sim.SetFault(s.india.AccountSID, simulator.Fault{Mode: simulator.FaultAuth})
		res := d.Send(context.Background(), r.Plan("+919812345678"), buildMessage("+919812345678"))
		if res.Decision != Accepted || res.Account.Name != "backup" || s.accepted(s.india) != 0 || s.accepted(s.backup) != 1 {
			t.Fatalf("result %v", res)
		}
	})
}

// TestSimulatorBurstAdapts sends a burst well above the simulated account's
// concurrency limit: the limiter learns the limit from the 429s, and no Send
// ever creates more than one message.
func TestSimulatorBurstAdapts(t *testing.T) {
	const goroutines = 200
	s := newSimTenant(t, simulator.Config{MaxConcurrent: 4, Latency: 2 * time.Millisecond})
	p := DefaultPolicy()
	p.Retries = 6
	p.BackoffBase, p.BackoffMax = 2*time.Millisecond, 20*time.Millisecond
	d := newDispatcher(p, StateConfig{MaxConcurrent: 32, MaxQueue: goroutines})
	d.Jitter = nil // real full jitter
	var (
		mu       sync.Mutex
		accepted = map[string]int{}
		others   []string
	)
	var wg sync.WaitGroup
	for range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			res := d.Send(ctx, []*Account{&s.main, &s.backup}, buildMessage("+14155550100"))
			mu.Lock()
			defer mu.Unlock()
			if res.Decision == Accepted {
				accepted[res.Account.Name]++
				return
			}
			others = append(others, res.String())
		}()
	}
	wg.Wait()
	waitFor(t, "the simulator to finish", s.settled)
	if got, want := s.accepted(s.main)+s.accepted(s.backup), int64(accepted["main"]+accepted["backup"]); got != want {
		t.Fatalf("Twilio created %d messages for %d accepted Sends", got, want)
	}
	if s.accepted(s.main) != int64(accepted["main"]) {
		t.Fatalf("main created %d, dispatcher says %d", s.accepted(s.main), accepted["main"])
	}
	for _, o := range others {
		if !strings.HasPrefix(o, "decision=retryable") && !strings.HasPrefix(o, "decision=fallback") {
			t.Errorf("unexpected failure: %s", o)
		}
	}
	lim := d.State.For(&s.main).Limiter
	t.Logf("accepted main=%d backup=%d, failed=%d; main limiter now %d/%d; Twilio peak in flight %d",
		accepted["main"], accepted["backup"], len(others), lim.Limit(), lim.Max(), s.sim.Stats().PerAccount[s.main.AccountSID].MaxInFlight)
	if accepted["main"]+accepted["backup"] < goroutines*9/10 {
		t.Fatalf("only %d of %d sends accepted", accepted["main"]+accepted["backup"], goroutines)
	}
}
