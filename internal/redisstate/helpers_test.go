package redisstate

import (
	"net"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

type redisOptions = redis.Options

func init() { SetLogger(nil) } // dial failures are expected here

var testSecret = []byte("0123456789abcdef0123456789abcdef")

// mini is a miniredis whose clock (TIME in the scripts) and TTLs move only
// when the test advances them.
type mini struct {
	*miniredis.Miniredis
	mu  sync.Mutex
	now time.Time
}

func newMini(t *testing.T) *mini {
	t.Helper()
	m := &mini{Miniredis: miniredis.RunT(t), now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	m.SetTime(m.now)
	return m
}

// advance moves the server's clock and its TTLs by d.
func (m *mini) advance(d time.Duration) {
	m.mu.Lock()
	m.now = m.now.Add(d)
	m.SetTime(m.now)
	m.mu.Unlock()
	m.FastForward(d)
}

func (m *mini) url() string { return "redis://" + m.Addr() + "/0" }

// testClient opens a client with a generous call timeout (the race detector
// and two cores make miniredis's Lua slow) and no backoff.
func testClient(t *testing.T, url string) *Client {
	t.Helper()
	c, err := Open(url, Options{CallTimeout: 2 * time.Second, Backoff: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func testDedup(t testing.TB, c *Client, cfg DedupConfig) *Dedup {
	t.Helper()
	if cfg.Secret == nil {
		cfg.Secret = testSecret
	}
	d, err := NewDedup(c, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func testLimiter(t testing.TB, c *Client) *Limiter {
	t.Helper()
	l, err := NewLimiter(c, LimiterConfig{Secret: testSecret})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// blackhole accepts connections and never answers: a hung Redis.
func blackhole(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
	return "redis://" + ln.Addr().String() + "/0"
}
