package delivery_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/delivery"
)

// fakeTwilio answers fetches from a script of statuses per SID (the last
// one repeats) and records when each fetch came.
type fakeTwilio struct {
	mu      sync.Mutex
	script  map[string][]string
	calls   map[string][]time.Time
	block   chan struct{} // when set, fetches wait on it
	failing bool
}

func (f *fakeTwilio) fetch(ctx context.Context, tok delivery.Token, sid string) (*delivery.Status, error) {
	if f.block != nil {
		select {
		case <-f.block:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.calls == nil {
		f.calls = map[string][]time.Time{}
	}
	f.calls[sid] = append(f.calls[sid], time.Now())
	if f.failing {
		return nil, errors.New("connection refused")
	}
	s := f.script[sid]
	n := len(f.calls[sid])
	status := s[min(n, len(s))-1]
	st := &delivery.Status{MessageSid: sid, AccountSid: tok.AccountSID, Status: status, To: "+33612345678", From: "ACME"}
	if status == "undelivered" {
		st.ErrorCode = 30003
	}
	return st, nil
}

func (f *fakeTwilio) fetches(sid string) []time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]time.Time(nil), f.calls[sid]...)
}

type handled struct {
	mu  sync.Mutex
	all []delivery.Status
}

func (h *handled) handle(_ context.Context, st *delivery.Status) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.all = append(h.all, *st)
	return true
}

func (h *handled) statuses() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, st := range h.all {
		s := st.Status
		if st.Final {
			s += "(final)"
		}
		out = append(out, s)
	}
	return out
}

func TestPollerBackoffUntilFinal(t *testing.T) {
	t.Parallel()
	f := &fakeTwilio{script: map[string][]string{"SM1": {"queued", "sent", "sent", "undelivered"}}}
	h := &handled{}
	obs := &countingObserver{}
	const after = 20 * time.Millisecond
	p, err := delivery.NewPoller(delivery.PollerConfig{After: after, MaxInterval: time.Second, Attempts: 8, Fetch: f.fetch, Handle: h.handle, Observer: obs})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Stop()
	start := time.Now()
	tok := delivery.Token{Route: "private", AccountSID: acct, Sent: start}
	p.Track(tok, "SM1")
	p.Track(tok, "SM1") // followed once
	waitFor(t, "the final status", func() bool { return p.InFlight() == 0 })

	calls := f.fetches("SM1")
	if len(calls) != 4 {
		t.Fatalf("%d fetches, want 4 (until undelivered)", len(calls))
	}
	// The waits double: after, 2·after, 4·after, 8·after.
	prev := start
	for i, c := range calls {
		want := after << i
		if gap := c.Sub(prev); gap < want || gap > want+400*time.Millisecond {
			t.Errorf("fetch %d came %v after the previous, want about %v", i+1, gap, want)
		}
		prev = c
	}
	if got := h.statuses(); len(got) != 4 || got[3] != "undelivered" {
		t.Errorf("handled %v", got)
	}
	h.mu.Lock()
	last := h.all[3]
	h.mu.Unlock()
	if last.Token.Route != "private" || last.Source != delivery.SourcePoll || last.At.IsZero() {
		t.Errorf("the fetched status lacks its token, source or time: %+v", last)
	}
	if got := obs.snapshot().polls; len(got) != 4 || got[0] != "pending" || got[3] != "final" {
		t.Errorf("polls = %v", got)
	}
}

func TestPollerGivesUp(t *testing.T) {
	t.Parallel()
	f := &fakeTwilio{script: map[string][]string{"SENT": {"queued", "sent"}, "QUEUED": {"queued"}}}
	h := &handled{}
	obs := &countingObserver{}
	p, err := delivery.NewPoller(delivery.PollerConfig{After: 2 * time.Millisecond, MaxInterval: 4 * time.Millisecond, Attempts: 3, Fetch: f.fetch, Handle: h.handle, Observer: obs})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Stop()
	p.Track(delivery.Token{Route: "r"}, "SENT")
	waitFor(t, "the poller to give up", func() bool { return p.InFlight() == 0 })
	if got := len(f.fetches("SENT")); got != 3 {
		t.Errorf("%d fetches, want the limit of 3", got)
	}
	if got := h.statuses(); len(got) != 4 || got[3] != "sent(final)" {
		t.Errorf("handled %v, want the last sent marked final", got)
	}
	p.Track(delivery.Token{Route: "r"}, "QUEUED")
	waitFor(t, "the poller to give up", func() bool { return p.InFlight() == 0 })
	if got := h.statuses(); len(got) != 7 || got[6] != "queued" {
		t.Errorf("handled %v, want no final status for a message still queued", got)
	}
	tr := &delivery.Tracker{Observer: obs}
	for _, st := range h.all {
		tr.Handle(context.Background(), &st)
	}
	if d := obs.snapshot().deliveries; len(d) != 1 || d[0].Status != "sent" || d[0].Sender != delivery.SenderAlphanumeric || d[0].Country != "FR" {
		t.Errorf("deliveries = %+v, want one sent (no receipt)", d)
	}
}

func TestPollerErrorsCountAsAttempts(t *testing.T) {
	t.Parallel()
	f := &fakeTwilio{failing: true}
	h := &handled{}
	obs := &countingObserver{}
	p, _ := delivery.NewPoller(delivery.PollerConfig{After: time.Millisecond, MaxInterval: 2 * time.Millisecond, Attempts: 3, Fetch: f.fetch, Handle: h.handle, Observer: obs})
	defer p.Stop()
	p.Track(delivery.Token{}, "SM")
	waitFor(t, "the poller to give up", func() bool { return p.InFlight() == 0 })
	if got := obs.snapshot().polls; len(got) != 4 || got[0] != "error" || got[3] != "gave_up" {
		t.Errorf("polls = %v", got)
	}
	if len(h.statuses()) != 0 {
		t.Errorf("handled %v", h.statuses())
	}
}

func TestPollerBound(t *testing.T) {
	t.Parallel()
	f := &fakeTwilio{script: map[string][]string{"D": {"delivered"}, "E": {"delivered"}}, block: make(chan struct{})}
	obs := &countingObserver{}
	p, err := delivery.NewPoller(delivery.PollerConfig{After: time.Millisecond, MaxInFlight: 3, Workers: 2, Fetch: f.fetch, Handle: (&handled{}).handle, Observer: obs})
	if err != nil {
		t.Fatal(err)
	}
	for _, sid := range []string{"A", "B", "C"} {
		f.script[sid] = []string{"delivered"}
		if !p.Track(delivery.Token{}, sid) {
			t.Fatalf("Track(%s) refused below the bound", sid)
		}
	}
	if p.Track(delivery.Token{}, "D") {
		t.Error("Track accepted a fourth message with MaxInFlight 3")
	}
	if got := obs.snapshot().polls; len(got) != 1 || got[0] != "refused" {
		t.Errorf("polls = %v, want one refused", got)
	}
	close(f.block)
	waitFor(t, "the fetches", func() bool { return p.InFlight() == 0 })
	if !p.Track(delivery.Token{}, "D") {
		t.Error("Track refused once the set had room")
	}
	p.Stop()
	p.Stop()
	if p.Track(delivery.Token{}, "E") || p.InFlight() != 0 {
		t.Error("a stopped poller took a message or kept one")
	}
	if _, err := delivery.NewPoller(delivery.PollerConfig{Fetch: f.fetch, Handle: (&handled{}).handle}); err == nil {
		t.Error("NewPoller accepted no first wait")
	}
}

func TestPollerStopAbandonsFetches(t *testing.T) {
	t.Parallel()
	f := &fakeTwilio{script: map[string][]string{"A": {"sent"}}, block: make(chan struct{})}
	h := &handled{}
	p, _ := delivery.NewPoller(delivery.PollerConfig{After: time.Millisecond, Fetch: f.fetch, Handle: h.handle})
	p.Track(delivery.Token{}, "A")
	time.Sleep(20 * time.Millisecond) // the fetch is waiting
	done := make(chan struct{})
	go func() { p.Stop(); close(done) }()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		t.Fatal("Stop waited for a fetch in progress")
	}
	if len(h.statuses()) != 0 {
		t.Errorf("handled %v after Stop", h.statuses())
	}
}
