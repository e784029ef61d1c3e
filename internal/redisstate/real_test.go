package redisstate

// Tests and benchmarks against a real redis-server, run when REDIS_URL is set:
//
//	export REDIS_URL=$(scripts/redis.sh start)
//	go test ./internal/redisstate/
//	go test -run '^$' -bench . -benchtime 2s ./internal/redisstate/
//	scripts/redis.sh stop
//
// Every key they write is under a prefix of their own, random per run, so a
// shared server is not disturbed; the kill test starts and kills a second
// private server of its own (scripts/redis.sh with its own state directory).

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

func realURL(tb testing.TB) string {
	tb.Helper()
	u := os.Getenv("REDIS_URL")
	if u == "" {
		tb.Skip("REDIS_URL is not set: real-server tests skipped (export REDIS_URL=$(scripts/redis.sh start) to run them)")
	}
	return u
}

// realClient is a separate Client (its own pool): one "instance".
func realClient(tb testing.TB, url string) *Client {
	tb.Helper()
	c, err := Open(url, Options{CallTimeout: time.Second, Backoff: -1})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close() })
	if err := c.Ping(context.Background()); err != nil {
		tb.Fatalf("REDIS_URL %s does not answer: %v", c, err)
	}
	return c
}

func runPrefix() string { return "redisstate_test:" + newToken() + ":" }

func cleanPrefix(tb testing.TB, c *Client, prefix string) {
	tb.Cleanup(func() {
		ctx := context.Background()
		keys, _ := c.Redis().Keys(ctx, prefix+"*").Result()
		if len(keys) > 0 {
			c.Redis().Del(ctx, keys...)
		}
	})
}

func TestRealDoTwoInstances(t *testing.T) {
	url := realURL(t)
	prefix := runPrefix()
	clients := []*Client{realClient(t, url), realClient(t, url)}
	cleanPrefix(t, clients[0], prefix)
	var stores []*Dedup
	for _, c := range clients {
		stores = append(stores, testDedup(t, c, DedupConfig{Prefix: prefix}))
	}
	k := stores[0].KeyOf("account", "AC1", "To=%2B15005550006&Body=code+123456")
	var runs atomic.Int32
	fn := func() Answer {
		runs.Add(1)
		time.Sleep(50 * time.Millisecond) // a Twilio round trip
		return Answer{Data: []byte(`{"ok":true,"sid":"SM1"}`), Tag: "SM1"}
	}
	const perInstance = 40
	var wg sync.WaitGroup
	var unshared atomic.Int32
	errs := make(chan error, 2*perInstance)
	start := make(chan struct{})
	for _, d := range stores {
		for range perInstance {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				a, shared, err := d.Do(ctx, k, time.Minute, fn)
				switch {
				case err != nil:
					errs <- err
				case a.Status != Done || string(a.Data) != `{"ok":true,"sid":"SM1"}` || a.Tag != "SM1":
					errs <- fmt.Errorf("answer %+v shared %v", a, shared)
				case !shared:
					unshared.Add(1)
				}
			}()
		}
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if runs.Load() != 1 || unshared.Load() != 1 {
		t.Fatalf("fn ran %d times, %d unshared answers; want 1 and 1", runs.Load(), unshared.Load())
	}
}

func TestRealLimiterAcrossInstances(t *testing.T) {
	url := realURL(t)
	prefix := runPrefix()
	c1, c2 := realClient(t, url), realClient(t, url)
	cleanPrefix(t, c1, prefix)
	l1, _ := NewLimiter(c1, LimiterConfig{Secret: testSecret, Prefix: prefix})
	l2, _ := NewLimiter(c2, LimiterConfig{Secret: testSecret, Prefix: prefix})
	ctx := context.Background()
	allowed := 0
	var lastWait time.Duration
	for i := range 10 {
		l := l1
		if i%2 == 1 {
			l = l2
		}
		ok, wait, err := l.Allow(ctx, "+15005550006", 3.0/60, 3)
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			allowed++
		} else {
			lastWait = wait
		}
	}
	if allowed != 3 {
		t.Fatalf("3/1m across two instances let %d of 10 through", allowed)
	}
	if lastWait <= 0 || lastWait > 20*time.Second {
		t.Errorf("retry after %v", lastWait)
	}
	// A refund on one instance is usable on the other, once.
	if err := l1.Refund(ctx, "+15005550006", 3); err != nil {
		t.Fatal(err)
	}
	if ok, _, _ := l2.Allow(ctx, "+15005550006", 3.0/60, 3); !ok {
		t.Fatal("refund not shared")
	}
	if ok, _, _ := l1.Allow(ctx, "+15005550006", 3.0/60, 3); ok {
		t.Fatal("refund counted twice")
	}
	// The bucket's key expires when full: within 60s (3 tokens at 3/min).
	ttl, _ := c1.Redis().PTTL(ctx, l1.RedisKey("+15005550006")).Result()
	if ttl <= 0 || ttl > time.Minute {
		t.Errorf("bucket TTL %v", ttl)
	}
}

// TestRealServerKilled starts a private server with scripts/redis.sh (its own
// state directory), kills it with the script's stop, and checks that calls
// fail within their deadline with ErrUnavailable, then recover on their own
// when a server is back on the same port.
func TestRealServerKilled(t *testing.T) {
	realURL(t)
	script, err := filepath.Abs("../../scripts/redis.sh")
	if err != nil {
		t.Fatal(err)
	}
	state := t.TempDir()
	// run runs the script with this test's state directory (and a fixed
	// port when port != "").
	run := func(arg, port string) string {
		cmd := exec.Command("bash", script, arg)
		cmd.Env = append(os.Environ(), "REDIS_STATE_DIR="+state)
		if port != "" {
			cmd.Env = append(cmd.Env, "REDIS_PORT="+port)
		}
		out, err := cmd.Output()
		if err != nil {
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				t.Fatalf("redis.sh %s: %v: %s", arg, err, ee.Stderr)
			}
			t.Fatalf("redis.sh %s: %v", arg, err)
		}
		return strings.TrimSpace(string(out))
	}
	url := run("start", "")
	t.Cleanup(func() { run("stop", "") })
	if again := run("start", ""); again != url {
		t.Fatalf("start is not idempotent: %s then %s", url, again)
	}
	c, err := Open(url, Options{CallTimeout: 150 * time.Millisecond, Backoff: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	d := testDedup(t, c, DedupConfig{})
	l := testLimiter(t, c)
	ctx := context.Background()
	if _, _, err := d.Do(ctx, d.KeyOf("before"), time.Minute, func() Answer { return Answer{} }); err != nil {
		t.Fatal(err)
	}
	if ok, _, err := l.Allow(ctx, "k", 1, 5); !ok || err != nil {
		t.Fatal(ok, err)
	}

	// A hung server (SIGSTOP): calls end at their deadline, then recover.
	pidText, err := os.ReadFile(filepath.Join(state, "pid"))
	if err != nil {
		t.Fatal(err)
	}
	var pid int
	fmt.Sscan(string(pidText), &pid)
	proc, err := os.FindProcess(pid)
	if err != nil {
		t.Fatal(err)
	}
	if err := proc.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, _, err = l.Allow(ctx, "k", 1, 5)
	el := time.Since(start)
	proc.Signal(syscall.SIGCONT)
	if !errors.Is(err, ErrUnavailable) || el < 140*time.Millisecond || el > time.Second {
		t.Fatalf("Allow on a hung server: %v after %v (deadline 150ms)", err, el)
	}
	t.Logf("hung server: failed after %v", el)
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, _, err := l.Allow(ctx, "k", 1, 5); err == nil {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("no recovery after SIGCONT: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}

	killed := time.Now()
	port := strings.TrimSuffix(strings.TrimPrefix(url, "redis://127.0.0.1:"), "/0")
	run("stop", "")
	run("stop", "") // idempotent

	// Each call must fail within its 150ms deadline; slack is allowed for a
	// loaded machine (two shared cores), and the slowest is logged.
	const limit = 150*time.Millisecond + 850*time.Millisecond
	var slowest time.Duration
	for i := range 5 {
		start := time.Now()
		ran := false
		_, _, err := d.Do(ctx, d.KeyOf("after", fmt.Sprint(i)), time.Minute, func() Answer { ran = true; return Answer{} })
		el := time.Since(start)
		slowest = max(slowest, el)
		if !errors.Is(err, ErrUnavailable) || ran {
			t.Fatalf("Do %d after kill: err %v ran %v", i, err, ran)
		}
		if el > limit {
			t.Errorf("Do %d took %v, deadline 150ms", i, el)
		}
		start = time.Now()
		ok, _, err := l.Allow(ctx, "k", 1, 5)
		el = time.Since(start)
		slowest = max(slowest, el)
		if el > limit {
			t.Errorf("Allow %d took %v, deadline 150ms", i, el)
		}
		if ok || !errors.Is(err, ErrUnavailable) {
			t.Fatalf("Allow %d after kill: %v %v", i, ok, err)
		}
	}
	t.Logf("slowest failing call after the kill: %v", slowest)
	if h := c.Health(); h.Healthy || h.LastError == nil {
		t.Fatalf("health after kill: %+v", h)
	}
	t.Logf("kill and failing calls took %v", time.Since(killed))

	// Back on the same port: recovery needs nothing from the caller.
	restarted := time.Now()
	run("start", port)
	t.Logf("restart took %v", time.Since(restarted))
	deadline = time.Now().Add(5 * time.Second)
	for {
		_, _, err := l.Allow(ctx, "k", 1, 5)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no recovery within 5s: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("recovered %v after the restart", time.Since(restarted))
	if h := c.Health(); !h.Healthy {
		t.Fatalf("health after recovery: %+v", h)
	}
}

// BenchmarkDo is the cost of duplicate suppression per request: "first" is a
// new key with a Tag (claim, store the answer, index the tag: three round
// trips), "first-untagged" without (two), "duplicate" a key whose answer is
// stored (one round trip).
func BenchmarkDo(b *testing.B) {
	url := realURL(b)
	c := realClient(b, url)
	prefix := runPrefix()
	cleanPrefix(b, c, prefix)
	d := testDedup(b, c, DedupConfig{Prefix: prefix})
	ctx := context.Background()
	answer := Answer{Data: []byte(`{"ok":true,"outcome":"accepted","sid":"SM0123456789abcdef0123456789abcdef","status":"queued","http_status":201}`), Tag: "SM0123456789abcdef0123456789abcdef"}
	fn := func() Answer { return answer }
	b.Run("first", func(b *testing.B) {
		b.ReportAllocs()
		run, i := newToken(), 0 // new keys on every run
		for b.Loop() {
			i++
			if _, _, err := d.Do(ctx, d.KeyOf("bench", run, fmt.Sprint(i)), 10*time.Second, fn); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("first-untagged", func(b *testing.B) {
		b.ReportAllocs()
		run, i := newToken(), 0
		untagged := func() Answer { return Answer{Data: answer.Data} }
		for b.Loop() {
			i++
			if _, _, err := d.Do(ctx, d.KeyOf("benchu", run, fmt.Sprint(i)), 10*time.Second, untagged); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("duplicate", func(b *testing.B) {
		k := d.KeyOf("bench dup")
		d.Do(ctx, k, time.Hour, fn)
		b.ReportAllocs()
		for b.Loop() {
			if _, shared, err := d.Do(ctx, k, time.Hour, fn); err != nil || !shared {
				b.Fatal(err, shared)
			}
		}
	})
	b.Run("first-parallel", func(b *testing.B) {
		b.ReportAllocs()
		run := newToken()
		var n atomic.Int64
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, _, err := d.Do(ctx, d.KeyOf("benchp", run, fmt.Sprint(n.Add(1))), 10*time.Second, fn); err != nil {
					b.Fatal(err)
				}
			}
		})
	})
}

// BenchmarkAllow is the cost of a shared rate-limit check (one round trip).
func BenchmarkAllow(b *testing.B) {
	url := realURL(b)
	c := realClient(b, url)
	prefix := runPrefix()
	cleanPrefix(b, c, prefix)
	l, _ := NewLimiter(c, LimiterConfig{Secret: testSecret, Prefix: prefix})
	ctx := context.Background()
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, _, err := l.Allow(ctx, "+15005550006", 1e9, 1000000); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		var n atomic.Int64
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, _, err := l.Allow(ctx, fmt.Sprint("+1500555", n.Add(1)%1000), 1e9, 1000000); err != nil {
					b.Fatal(err)
				}
			}
		})
	})
}

// TestRealForgetMarkFailedLost runs the other scripts on the real server:
// a dead owner answered Lost, Forget, MarkFailed and MarkFailedTag.
func TestRealForgetMarkFailedLost(t *testing.T) {
	url := realURL(t)
	prefix := runPrefix()
	c1, c2 := realClient(t, url), realClient(t, url)
	cleanPrefix(t, c1, prefix)
	d1 := testDedup(t, c1, DedupConfig{Prefix: prefix, PollInterval: 5 * time.Millisecond})
	d2 := testDedup(t, c2, DedupConfig{Prefix: prefix, PollInterval: 5 * time.Millisecond})
	ctx := context.Background()
	var runs atomic.Int32
	fn := func() Answer { runs.Add(1); return Answer{Data: []byte("sent"), Tag: "SMreal"} }

	// An owner that claimed and died: Pending while its lease runs, then Lost.
	k := d1.KeyOf("dead owner")
	claimAs(t, d1, d1.RedisKey(k), "00000000deadbeef", 300*time.Millisecond, time.Minute)
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	a, shared, err := d2.Do(short, k, time.Minute, fn)
	cancel()
	if err != nil || !shared || a.Status != Pending {
		t.Fatalf("during the lease: %+v %v %v", a, shared, err)
	}
	a, shared, err = d2.Do(ctx, k, time.Minute, fn) // waits out the lease
	if err != nil || !shared || a.Status != Lost || runs.Load() != 0 {
		t.Fatalf("after the lease: %+v %v %v runs %d", a, shared, err, runs.Load())
	}
	ttl, _ := c1.Redis().PTTL(ctx, d1.RedisKey(k)).Result()
	if ttl <= 30*time.Second || ttl > time.Minute+300*time.Millisecond {
		t.Errorf("a dead claim's TTL %v, want about its lease plus its window", ttl)
	}

	// Forget on one instance frees the key for the other.
	k = d1.KeyOf("forget")
	first, _, _ := d1.Do(ctx, k, time.Minute, fn)
	if err := d1.Forget(ctx, k, first); err != nil {
		t.Fatal(err)
	}
	if _, shared, _ := d2.Do(ctx, k, time.Minute, fn); shared || runs.Load() != 2 {
		t.Fatal("Forget not seen by the other instance")
	}
	d1.Forget(ctx, k, first) // stale: the second answer stays
	if _, shared, _ := d1.Do(ctx, k, time.Minute, fn); !shared {
		t.Fatal("a stale Forget dropped a later answer")
	}
	// MarkFailed with the tag, then by tag alone.
	if dropped, err := d2.MarkFailed(ctx, k, "SMother"); dropped || err != nil {
		t.Fatal(dropped, err)
	}
	if dropped, err := d2.MarkFailed(ctx, k, "SMreal"); !dropped || err != nil {
		t.Fatal(dropped, err)
	}
	if _, shared, _ := d1.Do(ctx, k, time.Minute, fn); shared || runs.Load() != 3 {
		t.Fatal("not sent again after MarkFailed")
	}
	if dropped, err := d2.MarkFailedTag(ctx, "SMreal"); !dropped || err != nil {
		t.Fatal(dropped, err)
	}
	if _, shared, _ := d2.Do(ctx, k, time.Minute, fn); shared || runs.Load() != 4 {
		t.Fatal("not sent again after MarkFailedTag")
	}
}
