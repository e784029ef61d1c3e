package e2e

import (
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// The HA tests (issue "Two or more adapters behind a load balancer share one
// memory on Redis"): two adapter processes with the same route, its dedup and
// rate limits in one real redis-server, in front of one simulator. Callers
// alternate between the instances as a round-robin load balancer would. They
// need REDIS_URL (scripts/redis.sh start) besides CADDY_BIN; TestHARedisOutage
// also starts a Redis of its own, which it kills and starts again.

// stillBeingSent reports whether a is the answer of a waiter whose budget
// ended while another instance was still sending the identical request.
func stillBeingSent(a answer) bool {
	return a.Status == http.StatusServiceUnavailable && a.Outcome == "unavailable" && strings.Contains(a.Message, "still being sent")
}

// TestHADedupAcrossInstances: 40 identical requests at once, 20 to each
// instance, while the one send takes 500 ms: the simulator records exactly
// one request and all 40 callers get its sid. A caller answered "still being
// sent" (503) would retry every 100 ms within its budget (route timeout 3s
// plus 400 ms from its first post); the test reports how many did. Then 40
// re-posts at once, after the send: the same sid, nothing sent.
func TestHADedupAcrossInstances(t *testing.T) {
	haEnv(t, haRedisURL(t))
	acc := newSimAccount(t)
	s := startSim(t, simOptions{}, acc)
	ads := startTwins(t, 2, haRoute(s, acc, "/sms", "ha-dedup"))
	client := callerClient(t, 48, 10*time.Second)
	const n = 40
	budget := 3*time.Second + 400*time.Millisecond
	to := newPhone(t)
	msg, _ := newMessage(t)

	burst := func() (answers []answer, retried int) {
		answers = make([]answer, n)
		var retries atomic.Int64
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				t0 := time.Now()
				for try := 0; try < 20; try++ {
					a := post(client, ads[i%2].base()+"/sms", smsForm(to, msg))
					a.Elapsed = time.Since(t0)
					answers[i] = a
					if !stillBeingSent(a) || a.Elapsed+100*time.Millisecond > budget {
						return
					}
					retries.Add(1)
					time.Sleep(100 * time.Millisecond)
				}
			}()
		}
		close(start)
		wg.Wait()
		return answers, int(retries.Load())
	}
	check := func(t *testing.T, answers []answer, wantSid string) string {
		sid := wantSid
		var slowest time.Duration
		for i, a := range answers {
			if err := a.definite(); err != nil {
				t.Errorf("caller %d (instance %d): no definite answer: %v", i, i%2, err)
				continue
			}
			if sid == "" {
				sid = a.Sid
			}
			if !a.OK || a.Sid == "" || a.Sid != sid {
				t.Errorf("caller %d (instance %d): %s sid %q (%s), want 200 accepted with the shared sid %q", i, i%2, a, a.Sid, a.Message, sid)
			}
			if a.Elapsed > budget {
				t.Errorf("caller %d: answered after %s, over the budget %s", i, a.Elapsed, budget)
			}
			slowest = max(slowest, a.Elapsed)
		}
		acceptedN, requests := acceptedFor(t, s, msg)
		if requests != 1 || acceptedN != 1 {
			t.Errorf("the simulator got %d requests for the text and accepted %d, want exactly 1", requests, acceptedN)
		}
		t.Logf("%d callers (%d per instance): simulator requests %d, accepted %d; slowest answer %s", n, n/2, requests, acceptedN, slowest)
		return sid
	}

	var sid string
	t.Run("40 identical at once, split across both instances", func(t *testing.T) {
		s.fault(t, acc.sid, "slow", "delay", "500ms", "count", "1") // the one send takes 500 ms: all 40 overlap it
		answers, retried := burst()
		sid = check(t, answers, "")
		t.Logf("callers that got \"still being sent\" and retried: %d retries", retried)
		dups := 0.0
		for _, ad := range ads {
			v, _ := metricSum(t, ad, "caddy_twilio_sms_duplicates_suppressed_total", "route", "ha-dedup")
			dups += v
		}
		if retried == 0 && dups != n-1 {
			t.Errorf("caddy_twilio_sms_duplicates_suppressed_total summed over both instances = %v, want %d", dups, n-1)
		}
	})
	t.Run("40 re-posts after the send", func(t *testing.T) {
		if sid == "" {
			t.Skip("no sid from the first burst")
		}
		answers, _ := burst()
		check(t, answers, sid)
	})
}

// TestHARateLimitAcrossInstances: `rate_limit destination 3 1m` and
// `rate_limit caller 3 1m` count across both instances: of 10 requests
// alternating between them (distinct texts), at most 3 reach the simulator
// and the rest are answered 429 rate_limited with Retry-After; one after
// another, and all 10 at once.
func TestHARateLimitAcrossInstances(t *testing.T) {
	haEnv(t, haRedisURL(t))
	accD, accC := newSimAccount(t), newSimAccount(t)
	s := startSim(t, simOptions{}, accD, accC)
	key := newToken(t, "caller_secret")
	t.Setenv("E2E_HA_CALLER_KEY", key)
	ads := startTwins(t, 2,
		haRoute(s, accD, "/dest", "ha-limit-destination", "rate_limit destination 3 1m"),
		haRoute(s, accC, "/caller", "ha-limit-caller", "caller_auth header X-Api-Key {env.E2E_HA_CALLER_KEY} name product",
			"rate_limit caller 3 1m"),
	)
	client := callerClient(t, 16, 10*time.Second)

	run := func(t *testing.T, path string, to func() string, atOnce bool, hdr ...string) {
		const n = 10
		msgs := make([]string, n)
		answers := make([]answer, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			msgs[i], _ = newMessage(t)
			dest := to()
			send := func() { answers[i] = post(client, ads[i%2].base()+path, smsForm(dest, msgs[i]), hdr...) }
			if !atOnce {
				send()
				continue
			}
			wg.Add(1)
			go func() { defer wg.Done(); <-start; send() }()
		}
		close(start)
		wg.Wait()
		_, accepted := acceptedByBody(t, s)
		sent, limited := 0, 0
		perInstance := [2]int{}
		for i, a := range answers {
			if err := a.definite(); err != nil {
				t.Fatalf("request %d: no definite answer: %v", i, err)
			}
			got := accepted[msgs[i]]
			sent += got
			switch {
			case a.OK && got == 1:
				perInstance[i%2]++
			case a.Status == 429 && a.Outcome == "rate_limited" && got == 0:
				limited++
				retryAfter(t, a)
			default:
				t.Errorf("request %d (instance %d): %s (%s), simulator accepted %d; want 200 and sent once, or 429 rate_limited and not sent", i, i%2, a, a.Message, got)
			}
		}
		t.Logf("10 requests alternating between the instances: %d sent (instance 0: %d, instance 1: %d), %d answered 429", sent, perInstance[0], perInstance[1], limited)
		if sent > 3 {
			t.Errorf("%d of 10 were sent, want at most 3: the limit is not shared by the instances", sent)
		} else if sent < 3 {
			t.Errorf("%d of 10 were sent, want 3 (the limit allows 3 and nothing failed)", sent)
		}
	}
	t.Run("destination, one after another", func(t *testing.T) {
		to := newPhone(t)
		run(t, "/dest", func() string { return to }, false)
	})
	t.Run("destination, all at once", func(t *testing.T) {
		to := newPhone(t)
		run(t, "/dest", func() string { return to }, true)
	})
	t.Run("caller, one after another", func(t *testing.T) {
		run(t, "/caller", func() string { return newPhone(t) }, false, "X-Api-Key", key)
	})
}

// TestHARestartKeepsSharedState: messages sent through both instances, then
// one instance is restarted (its process stopped and started again: its own
// memory is gone). Re-posts through the restarted instance get the first
// sids and send nothing, and the destination's rate limit is still spent.
// Then an instance is killed (SIGKILL) while it sends: the identical request
// on the other instance waits and is answered "still being sent" within its
// budget, and once the dead instance's lease has ended, "unknown": never sent
// a second time.
func TestHARestartKeepsSharedState(t *testing.T) {
	haEnv(t, haRedisURL(t))
	acc := newSimAccount(t)
	s := startSim(t, simOptions{}, acc)
	ads := startTwins(t, 2, haRoute(s, acc, "/sms", "ha-restart", "rate_limit destination 3 1m"))
	client := callerClient(t, 8, 10*time.Second)
	owner := t // restarted processes live until the whole test ends

	t.Run("re-post after a restart", func(t *testing.T) {
		to := newPhone(t)
		var msgs, sids []string
		for i := range 3 { // instance 0, 1, 0; three sends spend the destination's limit
			msg, _ := newMessage(t)
			a := post(client, ads[i%2].base()+"/sms", smsForm(to, msg))
			if !a.OK || a.Sid == "" {
				t.Fatalf("send %d: %s (%s)", i, a, a.Message)
			}
			msgs, sids = append(msgs, msg), append(sids, a.Sid)
		}
		oldPID := ads[1].proc.cmd.Process.Pid
		t0 := time.Now()
		ads[1].restart(owner)
		owner.Cleanup(client.CloseIdleConnections) // before the new process stops
		t.Logf("instance 1 restarted in %s (pid %d → %d)", time.Since(t0).Round(time.Millisecond), oldPID, ads[1].proc.cmd.Process.Pid)
		client.CloseIdleConnections()
		for i, msg := range msgs {
			for _, inst := range []int{1, 0} {
				a := post(client, ads[inst].base()+"/sms", smsForm(to, msg))
				if !a.OK || a.Sid != sids[i] {
					t.Errorf("re-post of message %d (first sent by instance %d) to instance %d after the restart: %s sid %q, want the first sid %q", i, i%2, inst, a, a.Sid, sids[i])
				}
			}
			if n, reqs := acceptedFor(t, s, msg); n != 1 || reqs != 1 {
				t.Errorf("message %d: the simulator got %d requests, accepted %d; want 1 and 1", i, reqs, n)
			}
		}
		for _, inst := range []int{1, 0} {
			msg, _ := newMessage(t)
			a := post(client, ads[inst].base()+"/sms", smsForm(to, msg))
			if a.Status != 429 || a.Outcome != "rate_limited" {
				t.Errorf("a 4th text to the number through instance %d after the restart: %s, want 429: the limit spent before the restart is shared", inst, a)
			} else {
				retryAfter(t, a)
			}
		}
	})

	t.Run("instance killed while it sends", func(t *testing.T) {
		to := newPhone(t)
		msg, _ := newMessage(t)
		s.fault(t, acc.sid, "slow", "delay", "2s", "count", "1")
		first := make(chan answer, 1)
		t0 := time.Now()
		go func() { first <- post(client, ads[0].base()+"/sms", smsForm(to, msg)) }()
		deadline := time.Now().Add(2 * time.Second)
		for {
			busy := int64(0)
			for _, a := range s.stats(t).PerAccount {
				busy += a.InFlight
			}
			if busy > 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("the first send never reached the simulator")
			}
			time.Sleep(10 * time.Millisecond)
		}
		_ = ads[0].proc.cmd.Process.Kill() // our own process, by its id
		<-ads[0].proc.exited
		if a := <-first; a.Err == nil {
			t.Logf("the killed instance still answered: %s", a)
		}
		// The dead instance's claim lasts its budget (3s) plus 2s.
		wait := post(client, ads[1].base()+"/sms", smsForm(to, msg))
		t.Logf("identical request on instance 1 while the claim runs: %s after %s (%s)", wait, wait.Elapsed.Round(time.Millisecond), wait.Message)
		if !stillBeingSent(wait) {
			t.Errorf("identical request on instance 1 while the dead instance's claim runs: %s (%s), want 503 unavailable \"still being sent\"", wait, wait.Message)
		}
		if wait.Elapsed > 3*time.Second+400*time.Millisecond {
			t.Errorf("answered after %s, over the budget", wait.Elapsed)
		}
		time.Sleep(time.Until(t0.Add(5*time.Second + 500*time.Millisecond)))
		var late answer
		for range 3 {
			late = post(client, ads[1].base()+"/sms", smsForm(to, msg))
			if !stillBeingSent(late) {
				break
			}
			time.Sleep(500 * time.Millisecond)
		}
		t.Logf("after the lease: %s after %s (%s)", late, late.Elapsed.Round(time.Millisecond), late.Message)
		if late.OK || late.Outcome != "unknown" {
			t.Errorf("identical request after the dead instance's lease ended: %s (%s), want unknown: it may have been sent", late, late.Message)
		}
		ads[0].restart(owner)
		owner.Cleanup(client.CloseIdleConnections)
		client.CloseIdleConnections()
		again := post(client, ads[0].base()+"/sms", smsForm(to, msg))
		if again.OK || again.Outcome != "unknown" {
			t.Errorf("the same request through the restarted instance: %s (%s), want unknown", again, again.Message)
		}
		if _, reqs := acceptedFor(t, s, msg); reqs != 1 {
			t.Errorf("the simulator got %d requests for the text, want 1 (the killed instance's)", reqs)
		}
	})
}

// TestHARedisOutage runs two instances on a Redis of the test's own, each
// with a route for each policy (`redis_failure local` and `refuse`), and
// kills that Redis while callers are sending. Every request must get a
// definite answer within the route's timeout (2s) plus 400 ms: through
// "local" it is sent once (this instance's own state), through "refuse" it
// is 503 unavailable and nothing is sent. The adapters log the rate-limited
// warning (at most once a minute per store), their
// caddy_twilio_sms_redis_healthy gauge reads 0, and once Redis is started
// again on the same port they recover without a restart: the gauge reads 1
// and dedup is shared again. Last, Redis hangs (SIGSTOP): the same budgets.
func TestHARedisOutage(t *testing.T) {
	haRedisURL(t)
	rd := startPrivateRedis(t)
	haEnv(t, rd.url)
	accL, accR := newSimAccount(t), newSimAccount(t)
	s := startSim(t, simOptions{}, accL, accR)
	ads := startTwins(t, 2,
		haRoute(s, accL, "/local", "ha-fail-local", "timeout 2s", "redis_failure local"),
		haRoute(s, accR, "/refuse", "ha-fail-refuse", "timeout 2s", "redis_failure refuse"),
	)
	pids := []int{ads[0].proc.cmd.Process.Pid, ads[1].proc.cmd.Process.Pid}
	client := callerClient(t, 16, 10*time.Second)
	budget := 2*time.Second + 400*time.Millisecond
	paths := []string{"/local", "/refuse"}
	var seq atomic.Int64

	send := func(inst int, path string) timedAnswer {
		msg, _ := newMessage(t)
		a := post(client, ads[inst].base()+path, smsForm(newPhone(t), msg))
		return timedAnswer{instance: inst, path: path, msg: msg, answer: a}
	}
	// phase sends k requests per route, one after another, alternating instances.
	phase := func(k int) []timedAnswer {
		var out []timedAnswer
		for range k {
			for _, p := range paths {
				out = append(out, send(int(seq.Add(1)%2), p))
			}
		}
		return out
	}
	// verify checks every answer against what reached the simulator:
	// refuseDown says whether /refuse must refuse (true), must send (false)
	// or may do either (nil: the outage began or ended meanwhile).
	type tally struct{ ok, refused int }
	verify := func(t *testing.T, answers []timedAnswer, refuseDown *bool) map[string]*tally {
		t.Helper()
		requests, accepted := acceptedByBody(t, s)
		out := map[string]*tally{"/local": {}, "/refuse": {}}
		for _, a := range answers {
			if err := a.definite(); err != nil {
				t.Errorf("%s instance %d: no definite answer: %v", a.path, a.instance, err)
				continue
			}
			if a.Elapsed > budget {
				t.Errorf("%s instance %d: %s after %s, over the budget %s", a.path, a.instance, a, a.Elapsed, budget)
			}
			sentOnce := a.OK && a.Sid != "" && requests[a.msg] == 1 && accepted[a.msg] == 1
			refused := a.Status == 503 && a.Outcome == "unavailable" && requests[a.msg] == 0
			switch {
			case sentOnce:
				out[a.path].ok++
			case refused:
				out[a.path].refused++
			}
			switch {
			case a.path == "/local" && !sentOnce:
				t.Errorf("/local instance %d: %s (%s), simulator requests %d; want 200 and sent exactly once", a.instance, a, a.Message, requests[a.msg])
			case a.path == "/refuse" && refuseDown == nil && !sentOnce && !refused:
				t.Errorf("/refuse instance %d: %s (%s), simulator requests %d; want sent once or 503 unavailable and not sent", a.instance, a, a.Message, requests[a.msg])
			case a.path == "/refuse" && refuseDown != nil && *refuseDown && !refused:
				t.Errorf("/refuse instance %d with Redis down: %s (%s), simulator requests %d; want 503 unavailable, nothing sent", a.instance, a, a.Message, requests[a.msg])
			case a.path == "/refuse" && refuseDown != nil && !*refuseDown && !sentOnce:
				t.Errorf("/refuse instance %d with Redis up: %s (%s), simulator requests %d; want 200 and sent once", a.instance, a, a.Message, requests[a.msg])
			}
			if refused && a.Header.Get("Retry-After") == "" {
				t.Errorf("/refuse instance %d: 503 without Retry-After", a.instance)
			}
		}
		return out
	}
	gauge := func(t *testing.T, want float64) {
		t.Helper()
		for i, ad := range ads {
			for _, r := range []string{"ha-fail-local", "ha-fail-refuse"} {
				v, ok := metricSum(t, ad, "caddy_twilio_sms_redis_healthy", "route", r)
				if !ok || v != want {
					t.Errorf("instance %d: caddy_twilio_sms_redis_healthy{route=%q} = %v (present %v), want %v", i, r, v, ok, want)
				}
			}
		}
	}
	// recover polls (at most 15 s) with fresh /refuse requests on each
	// instance until both send again, and returns how long it took.
	recoverAll := func(t *testing.T) time.Duration {
		t.Helper()
		t0 := time.Now()
		done := [2]bool{}
		var answers []timedAnswer
		for !done[0] || !done[1] {
			if time.Since(t0) > 15*time.Second {
				t.Fatalf("the instances did not send through /refuse within 15 s of Redis answering again (recovered: %v)", done)
			}
			for i := range ads {
				if !done[i] {
					a := send(i, "/refuse")
					answers = append(answers, a)
					done[i] = a.OK
				}
			}
			time.Sleep(100 * time.Millisecond)
		}
		took := time.Since(t0)
		verify(t, answers, nil)
		return took
	}
	warnings := func(p *proc) int {
		n := 0
		for _, l := range logLines(p) {
			if l.Level == "warn" && strings.Contains(l.Msg, "shared state store (redis) is failing") {
				n++
			}
		}
		return n
	}

	t.Run("redis up", func(t *testing.T) {
		up := false
		verify(t, phase(3), &up)
		gauge(t, 1)
	})

	var firstFailure time.Time
	t.Run("redis killed mid-run", func(t *testing.T) {
		var c collector
		var stop atomic.Bool
		var wg sync.WaitGroup
		for w := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < 150 && !stop.Load(); i++ {
					c.add(send((w+i)%2, paths[(i/2)%2]))
					time.Sleep(20 * time.Millisecond)
				}
			}()
		}
		time.Sleep(500 * time.Millisecond)
		t0 := time.Now()
		rd.stop(t)
		firstFailure = time.Now()
		t.Logf("scripts/redis.sh stop took %s", time.Since(t0).Round(time.Millisecond))
		time.Sleep(1500 * time.Millisecond)
		stop.Store(true)
		wg.Wait()
		all := c.list()
		got := verify(t, all, nil)
		var slowest time.Duration
		for _, a := range all {
			slowest = max(slowest, a.Elapsed)
		}
		t.Logf("%d requests across the kill: /local %d sent; /refuse %d sent, %d refused (503); slowest %s",
			len(all), got["/local"].ok, got["/refuse"].ok, got["/refuse"].refused, slowest.Round(time.Millisecond))
		if got["/refuse"].refused == 0 {
			t.Errorf("no /refuse request was refused after Redis was killed")
		}
	})

	t.Run("redis down", func(t *testing.T) {
		down := true
		answers := phase(5)
		got := verify(t, answers, &down)
		var slowest time.Duration
		for _, a := range answers {
			slowest = max(slowest, a.Elapsed)
		}
		t.Logf("Redis down, %d requests: /local %d sent, /refuse %d refused; slowest %s", len(answers), got["/local"].ok, got["/refuse"].refused, slowest.Round(time.Millisecond))
		// local state: a re-post to the same instance is still suppressed.
		to := newPhone(t)
		msg, _ := newMessage(t)
		first := post(client, ads[0].base()+"/local", smsForm(to, msg))
		same := post(client, ads[0].base()+"/local", smsForm(to, msg))
		other := post(client, ads[1].base()+"/local", smsForm(to, msg))
		n, _ := acceptedFor(t, s, msg)
		if !first.OK || same.Sid != first.Sid {
			t.Errorf("re-post to the same instance with Redis down: %s sid %q, want the first answer (sid %q) from its own state", same, same.Sid, first.Sid)
		}
		t.Logf("with Redis down, a re-post to the other instance: %s (sid %s the first); the simulator accepted the text %d times (per-instance state, as documented)",
			other, map[bool]string{true: "==", false: "!="}[other.Sid == first.Sid], n)
		gauge(t, 0)
		for i, ad := range ads {
			if v, _ := metricSum(t, ad, "caddy_twilio_sms_redis_failures_total"); v == 0 {
				t.Errorf("instance %d: caddy_twilio_sms_redis_failures_total is 0", i)
			}
			w := warnings(ad.proc)
			allowed := 1 + int(time.Since(firstFailure)/time.Minute)
			if w == 0 || w > allowed {
				t.Errorf("instance %d logged the redis warning %d times, want 1..%d (rate-limited: once a minute per store)", i, w, allowed)
			}
		}
	})

	t.Run("redis started again", func(t *testing.T) {
		rd.start(t)
		took := recoverAll(t)
		t.Logf("both instances sent through /refuse %s after scripts/redis.sh start (same port)", took.Round(time.Millisecond))
		gauge(t, 1)
		for i, ad := range ads {
			alive(t, ad.proc)
			if ad.proc.cmd.Process.Pid != pids[i] {
				t.Errorf("instance %d was restarted", i)
			}
		}
		up := false
		verify(t, phase(2), &up)
		// Shared again: identical requests split across the instances, one send.
		to := newPhone(t)
		msg, _ := newMessage(t)
		answers := make([]answer, 10)
		var wg sync.WaitGroup
		for i := range answers {
			wg.Add(1)
			go func() { defer wg.Done(); answers[i] = post(client, ads[i%2].base()+"/local", smsForm(to, msg)) }()
		}
		wg.Wait()
		for i, a := range answers {
			if !a.OK || a.Sid != answers[0].Sid {
				t.Errorf("identical request %d after recovery: %s sid %q, want the shared sid %q", i, a, a.Sid, answers[0].Sid)
			}
		}
		if n, reqs := acceptedFor(t, s, msg); n != 1 || reqs != 1 {
			t.Errorf("10 identical requests after recovery: %d requests, %d accepted at the simulator, want 1", reqs, n)
		}
	})

	t.Run("redis hangs", func(t *testing.T) {
		if err := rd.signal(syscall.SIGSTOP); err != nil {
			t.Fatalf("SIGSTOP: %v", err)
		}
		stopped := true
		defer func() {
			if stopped {
				_ = rd.signal(syscall.SIGCONT)
			}
		}()
		down := true
		answers := phase(4)
		got := verify(t, answers, &down)
		var slowest time.Duration
		for _, a := range answers {
			slowest = max(slowest, a.Elapsed)
		}
		t.Logf("Redis stopped (SIGSTOP), %d requests: /local %d sent, /refuse %d refused; slowest %s", len(answers), got["/local"].ok, got["/refuse"].refused, slowest.Round(time.Millisecond))
		gauge(t, 0)
		if err := rd.signal(syscall.SIGCONT); err != nil {
			t.Fatalf("SIGCONT: %v", err)
		}
		stopped = false
		took := recoverAll(t)
		t.Logf("both instances sent through /refuse %s after SIGCONT", took.Round(time.Millisecond))
		gauge(t, 1)
	})
}

// TestHARedisHoldsNoClearData sends through two instances (sends, re-posts,
// a rate-limited send, a 500 kept as unknown, a 503 forgotten, a caller
// limit keyed on a named caller), then reads every key of the store
// (redis-cli --scan, then each key by its type): no phone number, message
// text, code, token, caller secret, caller name or the redis_secret may
// appear in a key or a value; every key of the adapter is
// twilio_sms:{d,t,r}:<64 hex> and expires. The admin API's /config/ holds the
// placeholders, not the secret.
func TestHARedisHoldsNoClearData(t *testing.T) {
	redisURL := haRedisURL(t)
	secret := haEnv(t, redisURL)
	acc := newSimAccount(t)
	s := startSim(t, simOptions{}, acc)
	key := newToken(t, "caller_secret")
	t.Setenv("E2E_HA_CALLER_KEY", key)
	callerName := randomName("ha-caller-")
	ads := startTwins(t, 2, haRoute(s, acc, "/sms", "ha-keys", "timeout 2s",
		"caller_auth header X-Api-Key {env.E2E_HA_CALLER_KEY} name "+callerName,
		"rate_limit destination 3 1m", "rate_limit caller 50 1m"))
	client := callerClient(t, 8, 10*time.Second)
	hdr := []string{"X-Api-Key", key}

	to := newPhone(t)
	for i := range 4 { // 3 sent, the 4th 429 (all through one instance: the sharing of limits is TestHARateLimitAcrossInstances's)
		msg, _ := newMessage(t)
		a := post(client, ads[0].base()+"/sms", smsForm(to, msg), hdr...)
		b := post(client, ads[1].base()+"/sms", smsForm(to, msg), hdr...) // a re-post through the other one
		if i < 3 && (!a.OK || b.Sid != a.Sid) {
			t.Errorf("send %d: %s, re-post %s", i, a, b)
		}
		if i == 3 && a.Status != 429 {
			t.Errorf("4th send: %s, want 429", a)
		}
	}
	s.fault(t, acc.sid, "5xx", "count", "1")
	msg, _ := newMessage(t)
	if a := post(client, ads[0].base()+"/sms", smsForm(newPhone(t), msg), hdr...); a.Outcome != "unknown" {
		t.Errorf("a 500: %s, want unknown", a)
	}
	s.fault(t, acc.sid, "503", "count", "1")
	msg, _ = newMessage(t)
	if a := post(client, ads[1].base()+"/sms", smsForm(newPhone(t), msg), hdr...); a.Outcome != "rejected" {
		t.Errorf("a 503: %s, want rejected", a)
	}

	dump := redisDump(t, redisURL, 20000)
	keyRE := regexp.MustCompile(`^twilio_sms:[dtr]:[0-9a-f]{64}$`)
	kinds := map[string]int{}
	sample := map[string]string{}
	fake := &proc{role: "redis dump", test: t.Name(), logs: &logBuffer{}}
	registerLogs(fake) // TestMain's final scan reads it again against every value of the run
	// Digests and SIDs are long runs of hex digits, in which a short
	// registered value (a 6-digit code of another test) can turn up by
	// chance: the final scan reads them as <hex>, and everything else as is.
	// A bucket (r:) holds two numbers, its level and the time it was
	// last filled, whose long runs of decimal digits hold a 6-digit code by
	// chance just as often: a bucket value is checked to be exactly those two
	// numbers and then read as <bucket>.
	longHex := regexp.MustCompile(`[0-9a-fA-F]{24,}`)
	bucketRE := regexp.MustCompile(`^-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)? [0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?$`)
	for _, k := range dump {
		value := longHex.ReplaceAllString(strings.ReplaceAll(k.value, "\n", " "), "<hex>")
		if strings.HasPrefix(k.key, "twilio_sms:r:") {
			if !bucketRE.MatchString(strings.Trim(strings.TrimSpace(k.value), `"`)) { // redis-cli quotes strings
				t.Errorf("bucket %s holds %q, not a level and a time", k.key, k.value)
			} else {
				value = "<bucket>"
			}
		}
		fmt.Fprintf(fake.logs, "%s %s %s\n", longHex.ReplaceAllString(k.key, "<hex>"), k.typ, value)
		if !strings.HasPrefix(k.key, "twilio_sms:") {
			continue // another user of the same store
		}
		kind := k.key[len("twilio_sms:") : len("twilio_sms:")+1]
		kinds[kind]++
		if sample[kind] == "" {
			sample[kind] = fmt.Sprintf("%s = %s (PTTL %d ms)", k.key, strings.TrimSpace(k.value), k.pttl)
		}
		if !keyRE.MatchString(k.key) {
			t.Errorf("key %q is not twilio_sms:{d,t,r}:<64 hex>", k.key)
		}
		if k.typ != "string" {
			t.Errorf("key %s is a %s", k.key, k.typ)
		}
		if k.pttl <= 0 {
			t.Errorf("key %s has no expiry (PTTL %d)", k.key, k.pttl)
		}
		for _, clear := range []string{callerName, acc.sid, acc.token, "15005550006"} {
			if strings.Contains(k.key, clear) {
				t.Errorf("key %s holds a caller name, account SID, token or sender in clear", k.key)
			}
		}
		if strings.Contains(k.value, callerName) {
			t.Errorf("the value of %s holds the caller's name", k.key)
		}
	}
	for _, v := range scanLogs(fake) {
		t.Errorf("redis: line %d holds a registered %s (used by %s)", v.line, v.secret.kind, v.secret.label)
	}
	t.Logf("the store holds %d keys (%d of the adapter: %d dedup entries d:, %d tag index t:, %d buckets r:); none holds a registered value",
		len(dump), kinds["d"]+kinds["t"]+kinds["r"], kinds["d"], kinds["t"], kinds["r"])
	for _, kind := range []string{"d", "t", "r"} {
		t.Logf("a %s: key: %s", kind, sample[kind])
	}
	if kinds["d"] == 0 || kinds["r"] == 0 {
		t.Errorf("no dedup entry or no bucket in the store: the adapters did not use it")
	}
	for i, ad := range ads {
		cfg := getBodyLimit(t, fmt.Sprintf("http://127.0.0.1:%d/config/", ad.admin), 4<<20)
		if strings.Contains(cfg, secret) || strings.Contains(cfg, key) || !strings.Contains(cfg, "{env.E2E_HA_REDIS_SECRET}") {
			t.Errorf("instance %d: the admin API's /config/ does not show redis_secret and the caller key as their placeholders", i)
		}
	}
}

// TestHAWithoutRedisIsPerInstance is the baseline that shows the HA tests
// measure sharing: the same two instances without `redis` keep dedup and
// limits each for itself (as the README documents), so 10 identical
// requests split across them send twice and `rate_limit destination 3 1m`
// lets 6 of 10 through.
func TestHAWithoutRedisIsPerInstance(t *testing.T) {
	haRedisURL(t)
	acc := newSimAccount(t)
	s := startSim(t, simOptions{}, acc)
	r := route{path: "/sms", lines: append(accountLines(s, acc), "name ha-baseline", "timeout 3s", "dial_timeout 500ms", "rate_limit destination 3 1m")}
	ads := startTwins(t, 2, r)
	client := callerClient(t, 16, 10*time.Second)

	to := newPhone(t)
	msg, _ := newMessage(t)
	s.fault(t, acc.sid, "slow", "delay", "300ms", "count", "2")
	var wg sync.WaitGroup
	for i := range 10 {
		wg.Add(1)
		go func() { defer wg.Done(); post(client, ads[i%2].base()+"/sms", smsForm(to, msg)) }()
	}
	wg.Wait()
	dedupSent, _ := acceptedFor(t, s, msg)

	to = newPhone(t)
	limitSent := 0
	for i := range 10 {
		m, _ := newMessage(t)
		if a := post(client, ads[i%2].base()+"/sms", smsForm(to, m)); a.OK {
			limitSent++
		}
	}
	t.Logf("without redis: 10 identical requests split across 2 instances sent %d messages; rate_limit destination 3 1m let %d of 10 through", dedupSent, limitSent)
	if dedupSent != 2 || limitSent != 6 {
		t.Errorf("without redis: %d identical sends and %d of 10 through the limit, want 2 and 6 (state per instance)", dedupSent, limitSent)
	}
}
