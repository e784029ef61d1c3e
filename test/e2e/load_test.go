package e2e

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Load test settings: loadCallers callers at once, loadPerCaller requests
// each, against a simulator that answers 429 beyond loadSimCap requests in
// flight per account and takes loadLatency per answer.
const (
	loadCallers   = 1000
	loadPerCaller = 3
	loadSimCap    = 100
	loadLatency   = 5 * time.Millisecond
	loadTimeout   = 20 * time.Second
	// reloadSlack widens a reload's window when deciding whether a caller's
	// connection error came from the reload.
	reloadSlack = 250 * time.Millisecond
	// loadRetries is how often a caller posts again after a connection error.
	loadRetries = 5
)

// loadResult is one caller request of the load test.
type loadResult struct {
	first   answer    // the first try
	firstAt time.Time // when the first try ended
	final   answer    // the last retry after connection errors, else the first try
	retried int       // retries after connection errors
}

// TestLoad sends loadCallers×loadPerCaller messages from loadCallers
// concurrent callers, reloading the adapter's config twice while they run,
// and checks that no request is lost, that no 429 reaches a caller (the
// adapter's limiter keeps under the simulator's cap and retries what slips
// through), and that the simulator accepted exactly one message per request.
//
// A caller that gets a connection error posts the same request again (on a
// new connection, up to loadRetries times), as a product's "resend" would; the dedup window makes that safe (a request the
// adapter did handle gets its first answer again). Connection errors are
// allowed only while a reload runs: on Linux Caddy opens the new config's
// listener next to the old one (SO_REUSEPORT) and closes the old one, which
// resets connections still in its accept queue, and the old server closes
// its idle keep-alive connections while callers may be writing to them.
// Everything else fails the test. E2E_LOAD_NO_RELOAD=1 runs the same load
// without reloads.
//
// It runs only with E2E_LOAD=1 (CI sets it), so that it does not slow every run.
func TestLoad(t *testing.T) {
	if os.Getenv("E2E_LOAD") != "1" {
		t.Skip("load test skipped: set E2E_LOAD=1 to run it (CI does)")
	}
	caddyBin(t)
	acc := newSimAccount(t)
	s := startSim(t, simOptions{maxConcurrent: loadSimCap, latency: loadLatency, maxRecords: 100}, acc)
	r := route{path: "/sms", lines: append(accountLines(s, acc),
		"name load",
		"timeout "+loadTimeout.String(),
		fmt.Sprintf("max_concurrent %d", loadSimCap),
		"max_queue 5000",
	)}
	ad := startAdapter(t, "", r)

	total := loadCallers * loadPerCaller
	type job struct{ to, msg string }
	jobs := make([]job, total)
	for i := range jobs {
		jobs[i].to = loadPhone(t)
		jobs[i].msg, _ = newMessage(t)
	}
	results := make([]loadResult, total)
	client := callerClient(t, loadCallers, loadTimeout+10*time.Second)
	if os.Getenv("E2E_LOAD_NO_KEEPALIVE") == "1" {
		client.Transport.(*http.Transport).DisableKeepAlives = true
	}
	// A resend opens a new connection: the pooled ones may be the old
	// server's, closing.
	retryClient := callerClient(t, 0, loadTimeout+10*time.Second)
	retryClient.Transport.(*http.Transport).DisableKeepAlives = true
	url := ad.base() + "/sms"

	// Two reloads while the callers run: an unrelated change to the site,
	// then also a renamed route (a changed-but-equivalent handler).
	var done, inFlight atomic.Int64
	type reload struct {
		at           int64 // requests answered when it started
		inFlightFrom int64
		start, end   time.Time
		err          error
	}
	reloads := make([]reload, 2)
	var reloadWG sync.WaitGroup
	trigger := []int64{int64(total) / 3, 2 * int64(total) / 3}
	var fired [2]atomic.Bool
	doReload := func(k int) {
		defer reloadWG.Done()
		rl := &reloads[k]
		rl.start = time.Now()
		rl.at, rl.inFlightFrom = done.Load(), inFlight.Load()
		switch k {
		case 0:
			rl.err = ad.reload("\trespond /version \"config 2\" 200", nil)
		default:
			rl.err = ad.reload("\trespond /version \"config 3\" 200", func(rs []route) []route {
				rs[0].lines = slices.Clone(rs[0].lines)
				for i, l := range rs[0].lines {
					if l == "name load" {
						rs[0].lines[i] = "name load-renamed"
					}
				}
				return rs
			})
		}
		rl.end = time.Now()
	}
	noReload := os.Getenv("E2E_LOAD_NO_RELOAD") == "1"

	gate := make(chan struct{})
	var wg sync.WaitGroup
	for c := range loadCallers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-gate
			for k := range loadPerCaller {
				i := c*loadPerCaller + k
				res := &results[i]
				inFlight.Add(1)
				res.first = post(client, url, smsForm(jobs[i].to, jobs[i].msg))
				res.firstAt = time.Now()
				res.final = res.first
				for wait := 100 * time.Millisecond; res.final.Err != nil && res.retried < loadRetries; wait *= 2 {
					time.Sleep(wait)
					res.retried++
					res.final = post(retryClient, url, smsForm(jobs[i].to, jobs[i].msg))
				}
				inFlight.Add(-1)
				n := done.Add(1)
				for j, at := range trigger {
					if !noReload && n >= at && fired[j].CompareAndSwap(false, true) {
						reloadWG.Add(1)
						go doReload(j)
					}
				}
			}
		}()
	}
	start := time.Now()
	close(gate)
	wg.Wait()
	wall := time.Since(start)
	reloadWG.Wait()

	st := s.idle(t)
	as := st.PerAccount[acc.sid]
	// A retry answered from the dedup cache means the adapter handled the
	// first try and its answer was lost on the way: an in-flight request failed.
	dups := strings.Count(ad.proc.logs.String(), `"duplicate":true`)

	duringReload := func(at time.Time) bool {
		for _, rl := range reloads {
			if !rl.start.IsZero() && !at.Before(rl.start) && !at.After(rl.end.Add(reloadSlack)) {
				return true
			}
		}
		return false
	}
	var outside, lost, bad []string
	retried, retries := 0, 0
	lat := make([]time.Duration, 0, total)
	for i, res := range results {
		lat = append(lat, res.first.Elapsed)
		if res.retried > 0 {
			retried++
			retries += res.retried
			if !duringReload(res.firstAt) {
				outside = append(outside, fmt.Sprintf("request %d: connection error outside a reload: %v", i, res.first.Err))
			}
		}
		a := res.final
		switch {
		case a.Err != nil:
			lost = append(lost, fmt.Sprintf("request %d: lost (connection errors on %d tries): %v", i, 1+res.retried, a.Err))
		case !a.OK || a.Sid == "" || a.Outcome == "rate_limited" || a.Outcome == "unavailable" || a.Code == 20429:
			bad = append(bad, fmt.Sprintf("request %d: %s (%s)", i, a, a.Message))
		}
	}
	kinds := map[string]int{}
	for _, res := range results {
		if res.retried > 0 {
			k := res.first.Err.Error()
			if j := strings.LastIndex(k, ": "); j >= 0 {
				k = k[j+2:]
			}
			kinds[k]++
		}
	}
	slices.Sort(lat)
	pct := func(p float64) time.Duration { return lat[min(len(lat)-1, int(p*float64(len(lat))))] }

	var b strings.Builder
	fmt.Fprintf(&b, "| measure | value |\n| --- | --- |\n")
	fmt.Fprintf(&b, "| callers at once × requests each | %d × %d = %d |\n", loadCallers, loadPerCaller, total)
	fmt.Fprintf(&b, "| simulator | max_concurrent %d, latency %s |\n", loadSimCap, loadLatency)
	fmt.Fprintf(&b, "| adapter | max_concurrent %d, max_queue 5000, timeout %s, retries 2 |\n", loadSimCap, loadTimeout)
	fmt.Fprintf(&b, "| wall time | %s |\n", wall.Round(time.Millisecond))
	fmt.Fprintf(&b, "| throughput | %.0f requests/s |\n", float64(total)/wall.Seconds())
	fmt.Fprintf(&b, "| latency p50 / p90 / p99 / max (first tries) | %s / %s / %s / %s |\n",
		pct(0.50).Round(time.Millisecond), pct(0.90).Round(time.Millisecond), pct(0.99).Round(time.Millisecond), lat[len(lat)-1].Round(time.Millisecond))
	fmt.Fprintf(&b, "| caller answers 200 accepted with a sid | %d |\n", total-len(lost)-len(bad))
	fmt.Fprintf(&b, "| other answers (429, unavailable, ...) | %d |\n", len(bad))
	fmt.Fprintf(&b, "| requests with a connection error on the first try (all during a reload: %t) | %d |\n", len(outside) == 0, retried)
	fmt.Fprintf(&b, "| their errors | %s |\n", summarize(kinds))
	fmt.Fprintf(&b, "| retries they needed (new connection, 100ms doubling, at most %d) | %d |\n", loadRetries, retries)
	fmt.Fprintf(&b, "| requests lost after %d retries | %d |\n", loadRetries, len(lost))
	fmt.Fprintf(&b, "| retries answered from the dedup cache (the first try had been handled) | %d |\n", dups)
	fmt.Fprintf(&b, "| simulator requests / accepted / 429s absorbed by retries | %d / %d / %d |\n", as.Requests, as.Accepted, as.Rejected)
	fmt.Fprintf(&b, "| simulator max in flight for the account | %d |\n", as.MaxInFlight)
	for k, rl := range reloads {
		if rl.start.IsZero() {
			continue
		}
		fmt.Fprintf(&b, "| reload %d | after %d answers, %d requests in flight, took %s, error: %v |\n",
			k+1, rl.at, rl.inFlightFrom, rl.end.Sub(rl.start).Round(time.Millisecond), rl.err)
	}
	t.Logf("load test:\n%s", b.String())
	if dir := os.Getenv("E2E_REPORT_DIR"); dir != "" {
		_ = os.WriteFile(filepath.Join(dir, "load.md"), []byte(b.String()), 0o644)
	}

	if !noReload {
		if body := getBody(t, ad.base()+"/version"); body != "config 3" {
			t.Errorf("GET /version after the reloads: %q, want %q (the reloads did not take effect)", body, "config 3")
		}
	}
	for k, rl := range reloads {
		if noReload {
			break
		}
		if rl.err != nil {
			t.Errorf("reload %d: %v", k+1, rl.err)
		}
		if rl.inFlightFrom == 0 {
			t.Errorf("reload %d started with no request in flight: it did not test anything", k+1)
		}
	}
	// Connection errors are classified against the reload windows only for
	// the report: when the old server finishes draining its keep-alive
	// connections depends on the machine's load, so a fixed slack cannot
	// decide it. What must hold is asserted below: nothing lost, nothing
	// handled without its answer reaching the caller, one message per request.
	if !noReload {
		for i, e := range outside {
			if i == 5 {
				t.Logf("... %d connection errors after a reload window's slack in all", len(outside))
				break
			}
			t.Log(e)
		}
	} else if len(outside) > 0 {
		lost = append(lost, outside...) // without reloads there is no excuse
	}
	for _, list := range [][]string{lost, bad} {
		for i, e := range list {
			if i == 10 {
				t.Errorf("... %d in all", len(list))
				break
			}
			t.Error(e)
		}
	}
	if dups > 0 {
		t.Errorf("%d requests were handled but their answers never reached the caller (their retries were answered from the dedup cache)", dups)
	}
	if as.Accepted != int64(total) {
		t.Errorf("the simulator accepted %d messages for %d caller requests", as.Accepted, total)
	}
	if wall > 40*time.Second {
		t.Errorf("the load took %s, budget 40s", wall)
	}
}
