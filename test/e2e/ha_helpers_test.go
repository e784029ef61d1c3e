package e2e

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Helpers of the HA tests (ha_*_test.go): a Redis shared by two or more
// adapter processes, the Caddyfile lines that point a route at it, a private
// Redis the test may stop and start again, the adapters' /metrics and the
// keys the adapters left in Redis.

// haRedisURL returns $REDIS_URL, or skips the test with how to run it. The
// URL must name a loopback host: the suite never leaves 127.0.0.1.
func haRedisURL(t testing.TB) string {
	t.Helper()
	caddyBin(t)
	raw := os.Getenv("REDIS_URL")
	if raw == "" {
		t.Skip("e2e HA: REDIS_URL is not set; run REDIS_URL=$(scripts/redis.sh start) CADDY_BIN=$PWD/caddy go test -count=1 -run TestHA ./test/e2e/ (then scripts/redis.sh stop)")
	}
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "redis" || u.Hostname() == "" {
		t.Skipf("e2e HA: REDIS_URL must be redis://127.0.0.1:PORT/DB (as scripts/redis.sh start prints)")
	}
	if h := u.Hostname(); h != "127.0.0.1" && h != "localhost" {
		t.Skipf("e2e HA: REDIS_URL names %s; the suite only uses 127.0.0.1", h)
	}
	c, err := net.DialTimeout("tcp", u.Host, time.Second)
	if err != nil {
		t.Fatalf("e2e HA: REDIS_URL is set but nothing answers at %s: %v (scripts/redis.sh start)", u.Host, err)
	}
	c.Close()
	return raw
}

// haEnv exports what the adapters' Caddyfiles read through placeholders:
// the store's URL and the secret that derives its keys (registered: it must
// never appear in a log). Every adapter started afterwards by this test
// inherits both.
func haEnv(t *testing.T, redisURL string) (secret string) {
	t.Helper()
	secret = newToken(t, "redis_secret")
	t.Setenv("E2E_HA_REDIS_URL", redisURL)
	t.Setenv("E2E_HA_REDIS_SECRET", secret)
	return secret
}

// haRoute is a route sending through acc of s with its dedup and limits in
// the Redis of haEnv.
// The route's timeout is 3s unless extra has a timeout line.
func haRoute(s *sim, acc simAccount, path, name string, extra ...string) route {
	lines := append(accountLines(s, acc), "name "+name, "dial_timeout 500ms", "breaker 1000 1s",
		"redis {env.E2E_HA_REDIS_URL}", "redis_secret {env.E2E_HA_REDIS_SECRET}")
	if !slices.ContainsFunc(extra, func(l string) bool { return strings.HasPrefix(l, "timeout ") }) {
		lines = append(lines, "timeout 3s")
	}
	return route{path: path, lines: append(lines, extra...)}
}

// startTwins runs n adapter processes with the same routes, each with the
// metrics of Caddy's admin endpoint on and the README's access-log filter
// (X-Api-Key and the query's to and message deleted).
func startTwins(t *testing.T, n int, routes ...route) []*adapter {
	t.Helper()
	out := make([]*adapter, n)
	for i := range out {
		out[i] = startAdapterGlobal(t, "metrics", redactingLog, routes...)
	}
	return out
}

// restart stops the adapter's process and starts a new one on the same
// ports with the same config, as an operator restarting one instance would.
// t must be the test that owns the adapters (not a subtest: the new process
// is stopped when t ends).
func (a *adapter) restart(t *testing.T) {
	t.Helper()
	a.proc.stop()
	a.proc = startCaddy(t, "adapter", a.dir, a.admin, a.caddyfile(a.siteLog, a.routes, ""), fmt.Sprintf("127.0.0.1:%d", a.port))
}

// metricSum scrapes the adapter's admin /metrics and sums the samples of
// name whose labels include every pair of labels; found is false when there
// is none.
func metricSum(t testing.TB, a *adapter, name string, labels ...string) (sum float64, found bool) {
	t.Helper()
	body := getBodyLimit(t, fmt.Sprintf("http://127.0.0.1:%d/metrics", a.admin), 8<<20)
	sc := bufio.NewScanner(strings.NewReader(body))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name+"{") && !strings.HasPrefix(line, name+" ") {
			continue
		}
		match := true
		for i := 0; i+1 < len(labels); i += 2 {
			if !strings.Contains(line, labels[i]+`="`+labels[i+1]+`"`) {
				match = false
			}
		}
		if !match {
			continue
		}
		v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
		if err != nil {
			t.Fatalf("/metrics: cannot read %q", line)
		}
		sum += v
		found = true
	}
	return sum, found
}

// getBodyLimit GETs u and returns at most limit bytes of its body.
func getBodyLimit(t testing.TB, u string, limit int64) string {
	t.Helper()
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Get(u)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	if int64(len(b)) > limit {
		t.Fatalf("GET %s: body over %d bytes", u, limit)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: HTTP %d", u, resp.StatusCode)
	}
	return string(b)
}

// privateRedis is a redis-server of the test's own, run by scripts/redis.sh
// with a state directory of its own, so that the test may stop and start it
// on the same port without touching $REDIS_URL's server.
type privateRedis struct {
	dir  string // REDIS_STATE_DIR
	port int
	url  string
}

// repoScript is the path of a script of the repository (the tests run in
// test/e2e).
func repoScript(t testing.TB, name string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("..", "..", "scripts", name))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return p
}

// startPrivateRedis starts a private Redis on a free loopback port. It needs
// redis-server on PATH (scripts/redis.sh start installs it).
func startPrivateRedis(t *testing.T) *privateRedis {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Skip("e2e HA: redis-server is not on PATH (scripts/redis.sh start installs it)")
	}
	r := &privateRedis{dir: filepath.Join(t.TempDir(), "redis"), port: freePort(t)}
	t.Cleanup(func() {
		r.signal(syscall.SIGCONT) // a stopped server would not see its SIGTERM
		if _, err := r.script("stop"); err != nil {
			t.Logf("stopping the private redis: %v", err)
		}
	})
	r.start(t)
	return r
}

func (r *privateRedis) script(verb string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	p, err := filepath.Abs(filepath.Join("..", "..", "scripts", "redis.sh"))
	if err != nil {
		return "", err
	}
	cmd := exec.CommandContext(ctx, "bash", p, verb)
	cmd.Env = append(os.Environ(), "REDIS_STATE_DIR="+r.dir, fmt.Sprintf("REDIS_PORT=%d", r.port))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("scripts/redis.sh %s: %v: %s", verb, err, tail(stderr.String(), 5))
	}
	return strings.TrimSpace(string(out)), nil
}

// start starts (or starts again) the server on its port.
func (r *privateRedis) start(t testing.TB) {
	t.Helper()
	out, err := r.script("start")
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("redis://127.0.0.1:%d/0", r.port)
	if out != want {
		t.Fatalf("scripts/redis.sh start printed %q, want %q", out, want)
	}
	r.url = out
}

// stop kills the server (scripts/redis.sh stop: SIGTERM by its PID, then
// SIGKILL); persistence is off, so everything it held is gone.
func (r *privateRedis) stop(t testing.TB) {
	t.Helper()
	if _, err := r.script("stop"); err != nil {
		t.Fatal(err)
	}
}

// signal sends sig to the server by the PID the script recorded (SIGSTOP
// makes it hang: connections are accepted and never answered).
func (r *privateRedis) signal(sig syscall.Signal) error {
	b, err := os.ReadFile(filepath.Join(r.dir, "pid"))
	if err != nil {
		return err
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 1 {
		return fmt.Errorf("bad pid file")
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil || !strings.Contains(string(cmdline), "redis-server") {
		return fmt.Errorf("pid %d is not our redis-server", pid)
	}
	return syscall.Kill(pid, sig)
}

// redisCLI runs redis-cli against redisURL with the commands on stdin, one a
// line, and returns its output (quoted, escaped strings: --no-raw).
func redisCLI(t testing.TB, redisURL string, args []string, stdin string) string {
	t.Helper()
	if _, err := exec.LookPath("redis-cli"); err != nil {
		t.Skip("e2e HA: redis-cli is not on PATH (scripts/redis.sh start installs it)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "redis-cli", append([]string{"-u", redisURL, "--no-raw"}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("redis-cli %v: %v: %s", args, err, tail(stderr.String(), 5))
	}
	return string(out)
}

// redisKey is one key of the store with its type, value as redis-cli shows
// it, and time to live.
type redisKey struct {
	key, typ, value string
	pttl            int64
}

// redisDump lists every key of the store (redis-cli --scan) and reads each
// one by its type: TYPE, PTTL and GET for all keys in three redis-cli runs
// (commands on stdin, one reply a line), other types one by one. At most
// limit keys.
func redisDump(t testing.TB, redisURL string, limit int) []redisKey {
	t.Helper()
	var keys []string
	for _, k := range strings.Split(strings.TrimSpace(redisCLI(t, redisURL, []string{"--scan"}, "")), "\n") {
		if k = strings.Trim(strings.TrimSpace(k), `"`); k != "" {
			keys = append(keys, k)
		}
	}
	if len(keys) > limit {
		t.Fatalf("the store holds %d keys, more than the %d this test reads", len(keys), limit)
	}
	var ok []string
	for _, k := range keys {
		if strings.ContainsAny(k, " \t\"'\\\n") {
			t.Errorf("a key with characters the dump does not quote: %q", k)
			continue
		}
		ok = append(ok, k)
	}
	keys = ok
	if len(keys) == 0 {
		return nil
	}
	each := func(cmd string) []string {
		var in strings.Builder
		for _, k := range keys {
			fmt.Fprintf(&in, "%s %s\n", cmd, k)
		}
		lines := strings.Split(strings.TrimRight(redisCLI(t, redisURL, nil, in.String()), "\n"), "\n")
		if len(lines) != len(keys) {
			t.Fatalf("redis-cli %s: %d reply lines for %d keys", cmd, len(lines), len(keys))
		}
		return lines
	}
	types, pttls, values := each("TYPE"), each("PTTL"), each("GET")
	var out []redisKey
	for i, k := range keys {
		typ := strings.Trim(strings.TrimSpace(types[i]), `"`)
		pttl, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(pttls[i]), "(integer)")), 10, 64)
		v := values[i]
		switch typ {
		case "string":
		case "none": // expired between the scan and now
			continue
		default:
			read := map[string][]string{"hash": {"HGETALL", k}, "set": {"SMEMBERS", k},
				"zset": {"ZRANGE", k, "0", "-1", "WITHSCORES"}, "list": {"LRANGE", k, "0", "-1"}, "stream": {"XRANGE", k, "-", "+"}}[typ]
			if read == nil {
				t.Errorf("key %q of type %q the dump cannot read", k, typ)
				continue
			}
			v = redisCLI(t, redisURL, read, "")
		}
		out = append(out, redisKey{key: k, typ: typ, value: v, pttl: pttl})
	}
	return out
}

// timedAnswer is one caller request of a concurrent run.
type timedAnswer struct {
	instance int
	path     string
	msg      string
	answer
}

// collector gathers answers from many goroutines.
type collector struct {
	mu  sync.Mutex
	all []timedAnswer
}

func (c *collector) add(a timedAnswer) {
	c.mu.Lock()
	c.all = append(c.all, a)
	c.mu.Unlock()
}

func (c *collector) list() []timedAnswer {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]timedAnswer(nil), c.all...)
}

// acceptedByBody counts, once the simulator is idle, the requests and the
// accepted messages per text.
func acceptedByBody(t testing.TB, s *sim) (requests, accepted map[string]int) {
	t.Helper()
	s.idle(t)
	requests, accepted = map[string]int{}, map[string]int{}
	for _, r := range s.records(t) {
		b := r.Form.Get("Body")
		requests[b]++
		if r.Accepted {
			accepted[b]++
		}
	}
	return requests, accepted
}

// percentile is the p-th percentile (0..1) of sorted durations.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(p*float64(len(sorted))+0.5) - 1
	if i < 0 {
		i = 0
	}
	if i >= len(sorted) {
		i = len(sorted) - 1
	}
	return sorted[i]
}
