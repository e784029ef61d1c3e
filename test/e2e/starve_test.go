package e2e

import (
	"sync"
	"testing"
	"time"
)

// TestFallbackNotStarvedByMainQueue: the main account answers every request
// 429 (a 429 storm) and admits one request at a time (max_concurrent 1);
// the fallback account is healthy. Twelve callers arrive at once with a 1s
// budget. Nothing is ever sent through the main account, so by the fallback
// rule ("tried when the previous one failed in a way that proves nothing was
// sent") every caller must be tried on the fallback account: accepted there,
// or refused by the fallback's own queue as 503 unavailable, never reported
// "unreachable".
//
// With a simulator latency of 100ms each caller holds the main account's
// only slot for at least 300ms (three 429s), so callers 4 to 12 are still
// queued for it when their wait ends at deadline − MinAttempt (750ms). The
// dispatcher then stops (ReasonNoSlot, "running out of time is the end")
// instead of trying the fallback, and the caller is told "unreachable:
// Twilio could not be reached" although Twilio was never tried for it.
func TestFallbackNotStarvedByMainQueue(t *testing.T) {
	caddyBin(t)
	main, backup := newSimAccount(t), newSimAccount(t)
	s := startSim(t, simOptions{latency: 100 * time.Millisecond}, main, backup)
	ad := startAdapter(t, "", route{path: "/sms", lines: []string{
		"name starve",
		"account_sid " + main.sid,
		"auth_token " + main.token,
		"from +15005550006",
		"api_url " + s.url(),
		"timeout 1s",
		"dial_timeout 250ms",
		"max_concurrent 1",
		"breaker 1000 1s",
		"fallback backup {",
		"\taccount_sid " + backup.sid,
		"\tauth_token " + backup.token,
		"\tfrom +15005550006",
		"\tapi_url " + s.url(),
		"}",
	}})
	s.fault(t, main.sid, "429")
	const callers = 12
	client := callerClient(t, callers, 10*time.Second)
	answers := make([]answer, callers)
	var wg sync.WaitGroup
	for i := range answers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			msg, _ := newMessage(t)
			answers[i] = post(client, ad.base()+"/sms", smsForm(newPhone(t), msg))
		}()
	}
	wg.Wait()
	st := s.idle(t)
	starved := 0
	for i, a := range answers {
		if err := a.definite(); err != nil {
			t.Errorf("caller %d: no definite answer: %v", i, err)
			continue
		}
		if a.Elapsed > time.Second+matrixSlack {
			t.Errorf("caller %d: answered after %s", i, a.Elapsed)
		}
		if !a.OK {
			if a.Outcome != "unavailable" {
				starved++
				t.Errorf("caller %d: %s (%q), but it only waited in the adapter's own queue for the main account: want the fallback's answer, or at worst 503 unavailable", i, a, a.Message)
			}
		}
	}
	if starved > 0 {
		t.Errorf("%d of %d callers were never tried on the healthy fallback account (it accepted %d)", starved, callers, st.PerAccount[backup.sid].Accepted)
	}
	// The fallback is capped at one request in flight with 100ms latency, so it
	// can serve only part of the twelve within the 1s budget; the others end in
	// its own queue (503 unavailable, nothing sent). How many it serves depends
	// on the machine's timing, so only its use is asserted.
	if got := st.PerAccount[backup.sid].Accepted; got < 1 {
		t.Errorf("the fallback accepted %d messages, want the callers moved to it", got)
	}
	if got := st.PerAccount[main.sid].Accepted; got != 0 {
		t.Errorf("the main account accepted %d messages under a 429 fault", got)
	}
}

// TestQueueFullSheds: with one request in flight and one waiting allowed
// (max_concurrent 1, max_queue 1) and no fallback, callers beyond them are
// answered 503 unavailable at once, and nothing of theirs is sent.
func TestQueueFullSheds(t *testing.T) {
	caddyBin(t)
	acc := newSimAccount(t)
	s := startSim(t, simOptions{}, acc)
	ad := startAdapter(t, "", route{path: "/sms", lines: append(accountLines(s, acc),
		"name shed", "timeout 2s", "dial_timeout 250ms", "max_concurrent 1", "max_queue 1")})
	s.fault(t, acc.sid, "slow", "delay", "600ms", "count", "1") // the first holds the slot 600ms, then 201
	client := callerClient(t, 8, 10*time.Second)
	msgs := make([]string, 5)
	answers := make([]answer, len(msgs))
	for i := range msgs {
		msgs[i], _ = newMessage(t)
	}
	first := make(chan answer, 1)
	go func() { first <- post(client, ad.base()+"/sms", smsForm(newPhone(t), msgs[0])) }()
	// Let the first take the slot before the others arrive.
	deadline := time.Now().Add(2 * time.Second)
	for s.stats(t).PerAccount[acc.sid].InFlight == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	var wg sync.WaitGroup
	for i := 1; i < len(msgs); i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			answers[i] = post(client, ad.base()+"/sms", smsForm(newPhone(t), msgs[i]))
		}()
	}
	wg.Wait()
	answers[0] = <-first
	ok, shed := 0, 0
	for i, a := range answers {
		switch {
		case a.OK:
			ok++
		case a.Status == 503 && a.Outcome == "unavailable":
			shed++
			if a.Elapsed > 300*time.Millisecond {
				t.Errorf("caller %d: shed after %s, want at once", i, a.Elapsed)
			}
			if n, _ := acceptedFor(t, s, msgs[i]); n != 0 {
				t.Errorf("caller %d: answered unavailable but the simulator accepted its message", i)
			}
		default:
			t.Errorf("caller %d: %s (%s), want 200 accepted or 503 unavailable", i, a, a.Message)
		}
	}
	if ok != 2 || shed != 3 {
		t.Errorf("%d accepted and %d shed, want 2 (one in flight, one queued) and 3", ok, shed)
	}
}
