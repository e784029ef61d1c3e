package redisstate

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestOpenURLForms(t *testing.T) {
	ok := []struct{ url, kind string }{
		{"redis://localhost:6379/0", "single"},
		{"redis://:pw@localhost/3", "single"},
		{"redis://user:pw@localhost:6380/1?dial_timeout=1s&pool_size=4", "single"},
		{"rediss://user:pw@redis.example:6380/0", "single"},
		{"unix:///run/redis.sock?db=2", "single"},
		{"redis+sentinel://s1:26379/0?master_name=mymaster&addr=s2:26379&password=masterpw", "sentinel"},
		{"rediss+sentinel://suser:spw@s1:26379?master_name=m", "sentinel"},
		{"redis+cluster://n1:7000?addr=n2:7000&addr=n3:7000", "cluster"},
		{"rediss+cluster://user:pw@n1:7000", "cluster"},
		{"redis://localhost/0?max_retries=2", "single"},
	}
	for _, tc := range ok {
		c, err := Open(tc.url, Options{})
		if err != nil {
			t.Errorf("Open(%q): %v", tc.url, err)
			continue
		}
		if c.Kind() != tc.kind {
			t.Errorf("Open(%q).Kind() = %q, want %q", tc.url, c.Kind(), tc.kind)
		}
		if s := c.String(); strings.Contains(s, "pw") {
			t.Errorf("String() of %q shows a password: %s", tc.url, s)
		}
		if c.CallTimeout() != DefaultCallTimeout {
			t.Errorf("default call timeout %v", c.CallTimeout())
		}
		c.Close()
	}
	bad := []string{
		"http://localhost:6379",
		"redis+foo://localhost",
		"unix+cluster:///x",
		"redis+sentinel://s1:26379/0",           // no master_name
		"redis://localhost/notanumber",          // db
		"redis://localhost/0?no_such_option=1",  // unknown option
		"redis://user:secretpw@localhost/0/1/2", // bad path, password not echoed
		"::not a url",
	}
	for _, u := range bad {
		c, err := Open(u, Options{})
		if err == nil {
			c.Close()
			t.Errorf("Open(%q) succeeded", u)
			continue
		}
		if strings.Contains(err.Error(), "secretpw") {
			t.Errorf("Open(%q) error shows the password: %v", u, err)
		}
	}
}

func TestOpenDefaults(t *testing.T) {
	c, err := Open("redis://localhost/0", Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// No retries unless the URL asks (go-redis turns -1 into 0, none), and
	// the context bounds every call.
	o := c.Redis().(interface{ Options() *redisOptions }).Options()
	if o.MaxRetries != 0 || !o.ContextTimeoutEnabled || o.DialerRetries != 1 {
		t.Errorf("MaxRetries %d ContextTimeoutEnabled %v DialerRetries %d", o.MaxRetries, o.ContextTimeoutEnabled, o.DialerRetries)
	}
	c2, err := Open("redis://localhost/0?max_retries=2&dialer_retries=3", Options{CallTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if o := c2.Redis().(interface{ Options() *redisOptions }).Options(); o.MaxRetries != 2 || o.DialerRetries != 3 {
		t.Errorf("max_retries=2 gave %d, dialer_retries=3 gave %d", o.MaxRetries, o.DialerRetries)
	}
	if c2.CallTimeout() != time.Second {
		t.Errorf("call timeout %v", c2.CallTimeout())
	}
}

func TestAcquireRelease(t *testing.T) {
	m := newMini(t)
	url := m.url()
	a, err := Acquire(url, Options{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := Acquire(url, Options{CallTimeout: time.Hour}) // shares a; opts ignored
	if err != nil {
		t.Fatal(err)
	}
	if a != b || a.Refs() != 2 || b.CallTimeout() != DefaultCallTimeout {
		t.Fatalf("not shared: %p %p refs %d", a, b, a.Refs())
	}
	other, err := Acquire(url+"?pool_size=2", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if other == a {
		t.Fatal("a different URL string shares the client")
	}
	other.Release()
	if err := a.Release(); err != nil {
		t.Fatal(err)
	}
	if err := a.Ping(context.Background()); err != nil {
		t.Fatalf("closed with a reference left: %v", err)
	}
	// A reload acquires the new before releasing the old: same client.
	c, _ := Acquire(url, Options{})
	if c != a {
		t.Fatal("reload got a new client")
	}
	c.Release()
	b.Release()
	b.Release() // extra: no-op
	err = a.Ping(context.Background())
	if !errors.Is(err, ErrUnavailable) || !errors.Is(err, ErrClosed) {
		t.Fatalf("after the last release: %v", err)
	}
	d, err := Acquire(url, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Release()
	if d == a {
		t.Fatal("a closed client was handed out again")
	}
	if err := d.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestTimeoutBlockedServer(t *testing.T) {
	url := blackhole(t)
	c, err := Open(url, Options{CallTimeout: 100 * time.Millisecond, Backoff: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	d := testDedup(t, c, DedupConfig{})
	l := testLimiter(t, c)
	ctx := context.Background()

	start := time.Now()
	ran := false
	_, shared, err := d.Do(ctx, d.KeyOf("x"), time.Minute, func() Answer { ran = true; return Answer{} })
	if el := time.Since(start); el > time.Second {
		t.Errorf("Do took %v with a 100ms call timeout", el)
	}
	if !errors.Is(err, ErrUnavailable) || ran || shared {
		t.Fatalf("Do on a hung server: err %v ran %v shared %v", err, ran, shared)
	}
	var re *Error
	if !errors.As(err, &re) || re.Op != "claim" {
		t.Errorf("error %#v", err)
	}

	start = time.Now()
	ok, _, err := l.Allow(ctx, "+15005550006", 1, 3)
	if el := time.Since(start); el > time.Second {
		t.Errorf("Allow took %v", el)
	}
	if ok || !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Allow on a hung server: %v %v", ok, err)
	}
	if err := l.Refund(ctx, "+15005550006", 3); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Refund: %v", err)
	}

	// A caller budget shorter than the call timeout wins.
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	start = time.Now()
	if _, _, err := l.Allow(short, "k", 1, 3); !errors.Is(err, ErrUnavailable) {
		t.Fatal(err)
	}
	if el := time.Since(start); el > 500*time.Millisecond {
		t.Errorf("Allow with a 20ms budget took %v", el)
	}
	h := c.Health()
	if h.Healthy || h.LastError == nil || h.Failures < 3 || h.LastErrorAt.IsZero() {
		t.Errorf("health after failures: %+v", h)
	}
}

func TestBackoffAndRecovery(t *testing.T) {
	m := newMini(t)
	c, err := Open(m.url(), Options{CallTimeout: 2 * time.Second, Backoff: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	l := testLimiter(t, c)
	ctx := context.Background()
	if ok, _, err := l.Allow(ctx, "k", 1, 5); !ok || err != nil {
		t.Fatal(ok, err)
	}
	if h := c.Health(); !h.Healthy || h.LastOKAt.IsZero() {
		t.Fatalf("%+v", h)
	}
	m.Close()
	for i := 0; i < FailuresToBackOff; i++ {
		_, _, err := l.Allow(ctx, "k", 1, 5)
		if !errors.Is(err, ErrUnavailable) || errors.Is(err, ErrBackoff) {
			t.Fatalf("failure %d: %v", i, err)
		}
	}
	_, _, err = l.Allow(ctx, "k", 1, 5)
	if !errors.Is(err, ErrBackoff) || !errors.Is(err, ErrUnavailable) {
		t.Fatalf("expected fail-fast: %v", err)
	}
	h := c.Health()
	if h.Healthy || !h.BackingOff || h.FailedFast != 1 {
		t.Fatalf("%+v", h)
	}
	if !c.WarnDue(time.Minute) || c.WarnDue(time.Minute) {
		t.Error("WarnDue is not once per interval")
	}
	if err := m.Restart(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(250 * time.Millisecond)
	var okErr error
	for i := 0; i < 20; i++ { // the probe may meet a stale pooled connection
		if _, _, okErr = l.Allow(ctx, "k", 1, 5); okErr == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if okErr != nil {
		t.Fatalf("no recovery: %v", okErr)
	}
	if h := c.Health(); !h.Healthy || h.BackingOff {
		t.Fatalf("after recovery: %+v", h)
	}
}

func TestCanceledCallerIsNotAFailure(t *testing.T) {
	url := blackhole(t)
	c, err := Open(url, Options{CallTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(20 * time.Millisecond); cancel() }()
	if err := c.Ping(ctx); !errors.Is(err, ErrUnavailable) {
		t.Fatal(err)
	}
	if h := c.Health(); !h.Healthy || h.Failures != 0 {
		t.Fatalf("a canceled caller counted against Redis: %+v", h)
	}
}
