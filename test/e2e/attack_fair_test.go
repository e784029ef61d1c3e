package e2e

import (
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// floodSeq numbers the flooding caller's destinations (+1 312 555 xxxx), a
// range of its own so that newPhone's is left for the other tests.
var floodSeq atomic.Int64

func floodPhone(t testing.TB) string {
	i := floodSeq.Add(1)
	if i > 9999 {
		t.Fatal("floodPhone: numbers exhausted")
	}
	return registerPhone(t, fmt.Sprintf("+1312555%04d", i))
}

// TestAttackFairness: one verified caller (A) floods at ten times its
// `rate_limit caller` beside a second caller (B) sending at a normal rate,
// both from the same IP, through an account that can take fewer messages
// than A is allowed (simulator latency 200 ms, max_concurrent 1: about five
// a second; A may send ten a second, B sends two). One first-come queue
// would grow by seven requests a second, and after about 1.5 s every one of
// B's requests would wait past the route's 2 s timeout behind A's; the
// per-caller wait queues must serve B anyway: at least 95 % of B's codes are
// sent.
func TestAttackFairness(t *testing.T) {
	caddyBin(t)
	acc := newSimAccount(t)
	s := startSim(t, simOptions{latency: 200 * time.Millisecond, maxRecords: 5000}, acc)
	keyA, keyB := newToken(t, "caller_secret"), newToken(t, "caller_secret")
	const (
		limitPerSec = 10
		duration    = 10 * time.Second
		rateB       = 2 // per second
	)
	ad := startAdapter(t, redactingLog, route{path: "/sms", lines: append(accountLines(s, acc),
		"name fairness", "timeout 2s", "dial_timeout 500ms", "max_concurrent 1", "max_queue 1000",
		"caller_auth header X-Api-Key "+keyA+" name A",
		"caller_auth header X-Api-Key "+keyB+" name B",
		fmt.Sprintf("rate_limit caller %d 1s", limitPerSec))})
	client := callerClient(t, 128, 10*time.Second)

	type result struct {
		msg string
		a   answer
	}
	var (
		mu       sync.Mutex
		resA     []result
		resB     []result
		wg       sync.WaitGroup
		inFlight = make(chan struct{}, 100) // A's requests in flight at most
	)
	stop := time.Now().Add(duration)
	// A: 10 × its limit = 100 requests a second, each to a new number.
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(time.Second / (10 * limitPerSec))
		defer tick.Stop()
		for n := 0; n < int(duration.Seconds())*10*limitPerSec && time.Now().Before(stop); n++ {
			<-tick.C
			inFlight <- struct{}{}
			msg, _ := newMessage(t)
			to := floodPhone(t)
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-inFlight }()
				a := post(client, ad.base()+"/sms", smsForm(to, msg), "X-Api-Key", keyA)
				mu.Lock()
				resA = append(resA, result{msg, a})
				mu.Unlock()
			}()
		}
	}()
	// B: rateB requests a second, each to a new number, after A has filled
	// the queue for a moment.
	time.Sleep(300 * time.Millisecond)
	tickB := time.NewTicker(time.Second / rateB)
	for n := 0; n < int(duration.Seconds())*rateB && time.Now().Before(stop); n++ {
		<-tickB.C
		msg, _ := newMessage(t)
		to := newPhone(t)
		wg.Add(1)
		go func() {
			defer wg.Done()
			a := post(client, ad.base()+"/sms", smsForm(to, msg), "X-Api-Key", keyB)
			mu.Lock()
			resB = append(resB, result{msg, a})
			mu.Unlock()
		}()
	}
	tickB.Stop()
	wg.Wait()
	s.idle(t)

	accepted := map[string]bool{}
	for _, r := range s.records(t) {
		if r.Accepted {
			accepted[r.Form.Get("Body")] = true
		}
	}
	summarizeCaller := func(rs []result) (sent int, answers map[string]int, lat []time.Duration) {
		answers = map[string]int{}
		for _, r := range rs {
			answers[r.a.String()]++
			if r.a.OK && accepted[r.msg] {
				sent++
			}
			if r.a.OK {
				lat = append(lat, r.a.Elapsed)
			}
			if err := r.a.definite(); err != nil {
				t.Errorf("no definite answer: %v", err)
			}
		}
		sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
		return sent, answers, lat
	}
	sentA, ansA, _ := summarizeCaller(resA)
	sentB, ansB, latB := summarizeCaller(resB)
	share := 0.0
	if len(resB) > 0 {
		share = float64(sentB) / float64(len(resB))
	}
	p50, pmax := time.Duration(0), time.Duration(0)
	if len(latB) > 0 {
		p50, pmax = latB[len(latB)/2], latB[len(latB)-1]
	}
	t.Logf("caller A (flooding, %d/s for %s): %d requests, %d sent, answers %v", 10*limitPerSec, duration, len(resA), sentA, ansA)
	t.Logf("caller B (%d/s): %d codes, %d sent = %.1f %%, answers %v, latency p50 %s max %s",
		rateB, len(resB), sentB, 100*share, ansB, p50.Round(time.Millisecond), pmax.Round(time.Millisecond))
	if len(resB) < int(duration.Seconds())*rateB/2 {
		t.Fatalf("B sent only %d requests", len(resB))
	}
	if share < 0.95 {
		t.Errorf("%.1f %% of B's codes were sent beside A's flood, want ≥ 95 %%", 100*share)
	}
	if sentA == 0 {
		t.Errorf("A sent nothing: the test did not load the account")
	}
}
