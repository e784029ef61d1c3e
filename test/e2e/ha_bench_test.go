package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestHABench measures what Redis costs per request (E2E_LOAD=1 only): one
// adapter process with two identical routes on two accounts of one
// simulator, /plain without `redis` and /redis with it (a private Redis
// started by scripts/redis.sh, so that its command counts are this run's).
// Neither process logs at debug level and the site has no access log, as in
// production. Every request has a text of its own (a dedup miss: the claim,
// the send, the stored answer) and a number from a pool of 500 under
// `rate_limit destination 1000000 1m` (one bucket call per request).
//
//   - latency: one caller, requests one at a time, 2,000 per route in blocks
//     of 100 alternating /plain and /redis (so that drift hits both alike);
//   - throughput: 16 callers at once, 2 rounds of 2,000 requests per route,
//     alternating; requests per second over the wall time of each route's
//     rounds, and the latency seen under that load.
//
// With E2E_REPORT_DIR the table is also written to ha-bench.md.
func TestHABench(t *testing.T) {
	if os.Getenv("E2E_LOAD") != "1" {
		t.Skip("e2e HA bench: runs only with E2E_LOAD=1 (and REDIS_URL, CADDY_BIN)")
	}
	haRedisURL(t)
	rd := startPrivateRedis(t)
	haEnv(t, rd.url)
	accP, accR := newSimAccount(t), newSimAccount(t)

	// The simulator, without debug logging.
	simDir := t.TempDir()
	simAdmin, simPort := freePort(t), freePort(t)
	simCfg := fmt.Sprintf(`{
	admin 127.0.0.1:%d
	auto_https off
	persist_config off
	storage file_system %s
}

http://127.0.0.1:%d {
	bind 127.0.0.1
	twilio_simulator {
		account %s %s
		account %s %s
		max_records 30000
	}
}
`, simAdmin, filepath.Join(simDir, "data"), simPort, accP.sid, accP.token, accR.sid, accR.token)
	simProc := startCaddy(t, "simulator", simDir, simAdmin, simCfg, fmt.Sprintf("127.0.0.1:%d", simPort))
	s := &sim{simControl: newSimControl(simPort), proc: simProc, port: simPort}

	// The adapter: two routes alike but for redis.
	dir := t.TempDir()
	admin, port := freePort(t), freePort(t)
	common := "\t\t\tfrom +15005550006\n\t\t\tapi_url " + s.url() + "\n\t\t\ttimeout 5s\n\t\t\tdial_timeout 500ms\n" +
		"\t\t\tmax_concurrent 64\n\t\t\tmax_queue 1000\n\t\t\tbreaker 1000 1s\n\t\t\trate_limit destination 1000000 1m\n"
	cfg := fmt.Sprintf(`{
	admin 127.0.0.1:%d
	auto_https off
	persist_config off
	storage file_system %s
	grace_period 10s
}

http://127.0.0.1:%d {
	bind 127.0.0.1
	route /plain {
		twilio_sms generic {
			name bench-plain
			account_sid %s
			auth_token %s
%s		}
	}
	route /redis {
		twilio_sms generic {
			name bench-redis
			account_sid %s
			auth_token %s
%s			redis {env.E2E_HA_REDIS_URL}
			redis_secret {env.E2E_HA_REDIS_SECRET}
		}
	}
	respond "no such route" 404
}
`, admin, filepath.Join(dir, "data"), port, accP.sid, accP.token, common, accR.sid, accR.token, common)
	startCaddy(t, "adapter", dir, admin, cfg, fmt.Sprintf("127.0.0.1:%d", port))
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	client := callerClient(t, 64, 10*time.Second)

	numbers := make([]string, 500)
	for i := range numbers {
		numbers[i] = registerPhone(t, fmt.Sprintf("+1303555%04d", i))
	}
	var seq atomic.Int64
	var failures atomic.Int64
	var firstFailure atomic.Value
	one := func(path string) time.Duration {
		i := seq.Add(1)
		msg, _ := newMessage(t)
		a := post(client, base+path, smsForm(numbers[i%int64(len(numbers))], msg))
		if !a.OK {
			if failures.Add(1) == 1 {
				firstFailure.Store(fmt.Sprintf("%s %s (%s)", path, a, a.Message))
			}
		}
		return a.Elapsed
	}
	paths := []string{"/plain", "/redis"}

	// Warm-up: connections, the Redis client's pool, the scripts loaded.
	for range 200 {
		for _, p := range paths {
			one(p)
		}
	}

	// Latency, one at a time.
	seqLat := map[string][]time.Duration{}
	for range 20 {
		for _, p := range paths {
			for range 100 {
				seqLat[p] = append(seqLat[p], one(p))
			}
		}
	}

	// Throughput, 16 at once.
	const conc, perRound, rounds = 16, 2000, 2
	loadLat := map[string][]time.Duration{}
	wall := map[string]time.Duration{}
	calls := map[string]int64{}
	for range rounds {
		for _, p := range paths {
			before := redisCalls(t, rd.url)
			var mu sync.Mutex
			var left atomic.Int64
			left.Store(perRound)
			var wg sync.WaitGroup
			t0 := time.Now()
			for range conc {
				wg.Add(1)
				go func() {
					defer wg.Done()
					var mine []time.Duration
					for left.Add(-1) >= 0 {
						mine = append(mine, one(p))
					}
					mu.Lock()
					loadLat[p] = append(loadLat[p], mine...)
					mu.Unlock()
				}()
			}
			wg.Wait()
			wall[p] += time.Since(t0)
			calls[p] += redisCalls(t, rd.url) - before
		}
	}
	if n := failures.Load(); n > 0 {
		t.Errorf("%d requests were not answered 200 (first: %v)", n, firstFailure.Load())
	}

	stat := func(d []time.Duration) (p50, p99 time.Duration) {
		d = slices.Clone(d)
		slices.Sort(d)
		return percentile(d, 0.50), percentile(d, 0.99)
	}
	us := func(d time.Duration) string { return strconv.FormatInt(d.Microseconds(), 10) + " µs" }
	var b strings.Builder
	fmt.Fprintf(&b, "| route | sequential p50 | sequential p99 | %d callers: req/s | %d callers: p50 | %d callers: p99 | Redis round trips per request (EVAL/EVALSHA) |\n", conc, conc, conc)
	b.WriteString("| --- | --- | --- | --- | --- | --- | --- |\n")
	row := map[string][5]time.Duration{}
	rps := map[string]float64{}
	for _, p := range paths {
		s50, s99 := stat(seqLat[p])
		l50, l99 := stat(loadLat[p])
		row[p] = [5]time.Duration{s50, s99, l50, l99}
		rps[p] = float64(perRound*rounds) / wall[p].Seconds()
		fmt.Fprintf(&b, "| `%s` | %s | %s | %.0f | %s | %s | %.2f |\n", p, us(s50), us(s99), rps[p], us(l50), us(l99),
			float64(calls[p])/float64(perRound*rounds))
	}
	fmt.Fprintf(&b, "| added by `redis` | %s | %s | %+.1f %% | %s | %s | |\n",
		us(row["/redis"][0]-row["/plain"][0]), us(row["/redis"][1]-row["/plain"][1]),
		100*(rps["/redis"]-rps["/plain"])/rps["/plain"],
		us(row["/redis"][2]-row["/plain"][2]), us(row["/redis"][3]-row["/plain"][3]))
	load, _ := os.ReadFile("/proc/loadavg")
	fmt.Fprintf(&b, "\n%d sequential requests per route, then %d×%d at %d callers; /proc/loadavg after the run: %s\n",
		len(seqLat["/plain"]), rounds, perRound, conc, strings.TrimSpace(string(load)))
	t.Logf("Redis cost per request:\n%s", b.String())
	if dir := os.Getenv("E2E_REPORT_DIR"); dir != "" {
		if err := os.WriteFile(filepath.Join(dir, "ha-bench.md"), []byte(b.String()), 0o644); err != nil {
			t.Errorf("writing ha-bench.md: %v", err)
		}
	}
}

// redisCalls is the number of scripts the server has run (INFO
// commandstats: EVAL and EVALSHA, the adapter's only calls; the commands
// inside a script are counted apart by Redis and not here), i.e. round trips.
func redisCalls(t testing.TB, redisURL string) int64 {
	t.Helper()
	var n int64
	for _, l := range strings.Split(redisCLI(t, redisURL, []string{"INFO", "commandstats"}, ""), "\n") {
		l = strings.TrimSpace(l)
		if !strings.HasPrefix(l, "cmdstat_eval") {
			continue
		}
		i := strings.Index(l, "calls=")
		if i < 0 {
			continue
		}
		v := l[i+len("calls="):]
		if j := strings.IndexByte(v, ','); j >= 0 {
			v = v[:j]
		}
		c, err := strconv.ParseInt(v, 10, 64)
		if err == nil {
			n += c
		}
	}
	return n
}
