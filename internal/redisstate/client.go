package redisstate

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// DefaultCallTimeout is the deadline of each Redis call when Options and the
// stores leave it 0. It is one round trip on a LAN plus headroom: a Redis
// that cannot answer within it is treated as unavailable for that call.
const DefaultCallTimeout = 150 * time.Millisecond

// DefaultBackoff is how long calls fail fast after FailuresToBackOff
// consecutive failures, when Options leaves Backoff 0.
const DefaultBackoff = time.Second

// FailuresToBackOff is the number of consecutive failed calls after which a
// Client stops trying Redis for its Backoff (one probe call per Backoff is
// let through; its success ends the backoff).
const FailuresToBackOff = 3

// ErrUnavailable is matched (errors.Is) by every error of a Redis call that
// failed: timeout, refused or reset connection, server error, a client in
// backoff or closed. The state in Redis is then unknown for that call, and the
// caller applies its redis_failure policy (fall back to in-process state, or
// refuse).
var ErrUnavailable = errors.New("redis unavailable")

// ErrBackoff is matched, together with ErrUnavailable, by the error of a call
// refused without trying because the client is backing off after
// FailuresToBackOff consecutive failures.
var ErrBackoff = errors.New("backing off after consecutive failures")

// ErrClosed is matched, together with ErrUnavailable, by the error of a call
// on a closed (fully released) Client.
var ErrClosed = errors.New("client closed")

// Error is the error of a failed Redis call. It matches ErrUnavailable and
// unwraps to the cause (context.DeadlineExceeded, a *net.OpError, a Redis
// error reply, ErrBackoff, ...).
type Error struct {
	Op  string // "claim", "complete", "allow", ...
	Err error
}

func (e *Error) Error() string {
	return "redisstate: " + e.Op + ": " + ErrUnavailable.Error() + ": " + e.Err.Error()
}

// Unwrap makes errors.Is match both ErrUnavailable and the cause.
func (e *Error) Unwrap() []error { return []error{ErrUnavailable, e.Err} }

// Options are a Client's settings that its URL does not carry.
type Options struct {
	// CallTimeout is the deadline of each Redis call, applied inside the
	// caller's context (whichever ends first wins). 0 means
	// DefaultCallTimeout. The stores may set their own.
	CallTimeout time.Duration
	// Backoff is how long calls fail fast with ErrBackoff after
	// FailuresToBackOff consecutive failures; one probe per Backoff is let
	// through and its success ends it. 0 means DefaultBackoff; < 0 never
	// backs off (every call tries Redis).
	Backoff time.Duration
}

func (o Options) withDefaults() Options {
	if o.CallTimeout <= 0 {
		o.CallTimeout = DefaultCallTimeout
	}
	if o.Backoff == 0 {
		o.Backoff = DefaultBackoff
	}
	return o
}

// Client is one connection pool to a Redis deployment (a single server, a
// Sentinel-managed master or a Cluster), with a per-call deadline, a backoff
// after consecutive failures and a health record. It is safe for concurrent
// use. Open one per URL, or share one per URL with Acquire and Release.
type Client struct {
	rdb      redis.UniversalClient
	opts     Options
	redacted string
	kind     string
	regKey   string // registry key, "" when opened with Open

	health health

	mu     sync.Mutex
	refs   int
	closed bool
}

// Open parses rawURL and returns a client for it. It does not connect: the
// first call does, so a Redis that is down at configuration time does not
// stop the configuration from loading (calls fail with ErrUnavailable until
// it is up). The URL forms are:
//
//	redis://[[user]:password@]host[:port][/db][?option=value...]
//	rediss://...                   (TLS, server name from host)
//	unix://[[user]:password@]/path/to/socket[?db=N&option=value...]
//	redis+sentinel://[[user]:password@]sentinel:port[/db]?master_name=NAME[&addr=sentinel2:port...][&password=MASTERPW][&username=MASTERUSER]
//	rediss+sentinel://...          (TLS to the sentinels and the master)
//	redis+cluster://[[user]:password@]node:port[?addr=node2:port...]
//	rediss+cluster://...           (TLS)
//
// The plain forms are go-redis's ParseURL, the +sentinel forms its
// ParseFailoverURL (the user info is the sentinels' credentials; the master's
// are the username and password parameters), the +cluster forms its
// ParseClusterURL, each with the "+sentinel" or "+cluster" removed from the
// scheme. The default port is 6379 and the default database 0. Query options
// are go-redis's (dial_timeout, read_timeout, pool_size, max_retries,
// skip_verify for the sentinel forms, ...); unknown ones are an error.
//
// Three settings differ from go-redis's defaults. The context's deadline
// always bounds a call (ContextTimeoutEnabled). A failed call is not retried
// (max_retries=-1) unless the URL sets max_retries, because a retried call
// whose first try did reach Redis could spend a rate-limit token twice or
// give one back twice. A connection is dialled once per call
// (dialer_retries=1, accepted by every form here, the plain ones included)
// unless the URL sets dialer_retries, so that a refused connection fails the
// call at once rather than at its deadline.
func Open(rawURL string, opts Options) (*Client, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("redis URL: %w", redactErr(err, rawURL))
	}
	c := &Client{opts: opts.withDefaults(), redacted: redact(u), refs: 1}
	retries := -1
	if u.Query().Has("max_retries") {
		retries = 0 // go-redis's value from the URL is kept
	}
	// One dial attempt per call unless the URL asks for more: a refused
	// connection then fails at once instead of retrying until the deadline.
	// dialer_retries is taken here, for every form (go-redis's ParseURL does
	// not know it).
	dials := 1
	if q := u.Query(); q.Has("dialer_retries") {
		n, err := strconv.Atoi(q.Get("dialer_retries"))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("redis URL %s: dialer_retries must be a whole number >= 1", c.redacted)
		}
		dials = n
		q.Del("dialer_retries")
		u.RawQuery = q.Encode()
	}
	scheme, mode, _ := strings.Cut(u.Scheme, "+")
	if scheme != "redis" && scheme != "rediss" && !(scheme == "unix" && mode == "") {
		return nil, fmt.Errorf("redis URL %s: scheme must be redis, rediss, unix, redis+sentinel, rediss+sentinel, redis+cluster or rediss+cluster", c.redacted)
	}
	plain := *u
	plain.Scheme = scheme
	switch mode {
	case "":
		o, err := redis.ParseURL(plain.String())
		if err != nil {
			return nil, fmt.Errorf("redis URL %s: %w", c.redacted, redactErr(err, rawURL))
		}
		o.ContextTimeoutEnabled = true
		if retries < 0 {
			o.MaxRetries = -1
		}
		o.DialerRetries = dials
		c.kind = "single"
		c.rdb = redis.NewClient(o)
	case "sentinel":
		o, err := redis.ParseFailoverURL(plain.String())
		if err != nil {
			return nil, fmt.Errorf("redis URL %s: %w", c.redacted, redactErr(err, rawURL))
		}
		if o.MasterName == "" {
			return nil, fmt.Errorf("redis URL %s: a sentinel URL needs master_name", c.redacted)
		}
		o.ContextTimeoutEnabled = true
		if retries < 0 {
			o.MaxRetries = -1
		}
		o.DialerRetries = dials
		c.kind = "sentinel"
		c.rdb = redis.NewFailoverClient(o)
	case "cluster":
		o, err := redis.ParseClusterURL(plain.String())
		if err != nil {
			return nil, fmt.Errorf("redis URL %s: %w", c.redacted, redactErr(err, rawURL))
		}
		o.ContextTimeoutEnabled = true
		if retries < 0 {
			o.MaxRetries = -1
		}
		o.DialerRetries = dials
		c.kind = "cluster"
		c.rdb = redis.NewClusterClient(o)
	default:
		return nil, fmt.Errorf("redis URL %s: unknown scheme suffix +%s (sentinel or cluster)", c.redacted, mode)
	}
	c.health.healthy = true
	return c, nil
}

// redact is the URL without its password (user info or password parameter),
// for logs and errors.
func redact(u *url.URL) string {
	r := *u
	if q := r.Query(); q.Has("password") {
		q.Set("password", "xxxxx")
		r.RawQuery = q.Encode()
	}
	return r.Redacted()
}

// redactErr keeps a parse error from echoing the password.
func redactErr(err error, rawURL string) error {
	u, perr := url.Parse(rawURL)
	if perr != nil {
		return errors.New("invalid URL")
	}
	if p, ok := u.User.Password(); ok && p != "" && strings.Contains(err.Error(), p) {
		return errors.New(strings.ReplaceAll(err.Error(), p, "xxxxx"))
	}
	return err
}

// SetLogger sends go-redis's own log lines (failed dials and the like) to
// printf instead of the standard logger's stderr; nil discards them. It is
// process-wide: call it once, before opening clients.
func SetLogger(printf func(format string, args ...any)) {
	redis.SetLogger(logger(printf))
}

type logger func(format string, args ...any)

func (l logger) Printf(_ context.Context, format string, args ...any) {
	if l != nil {
		l(format, args...)
	}
}

// String is the URL without its password.
func (c *Client) String() string { return c.redacted }

// Kind is "single", "sentinel" or "cluster".
func (c *Client) Kind() string { return c.kind }

// CallTimeout is the client's per-call deadline.
func (c *Client) CallTimeout() time.Duration { return c.opts.CallTimeout }

// Redis is the underlying go-redis client (tests, diagnostics). Calls made
// through it bypass the deadline, the backoff and the health record.
func (c *Client) Redis() redis.UniversalClient { return c.rdb }

// Ping checks that Redis answers, within the client's call timeout.
func (c *Client) Ping(ctx context.Context) error {
	return c.do(ctx, 0, "ping", func(ctx context.Context) error { return c.rdb.Ping(ctx).Err() })
}

// Close closes the connection pool at once, whatever the references. Later
// calls fail with ErrClosed.
func (c *Client) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	c.refs = 0
	c.mu.Unlock()
	if c.regKey != "" {
		registry.mu.Lock()
		if registry.m[c.regKey] == c {
			delete(registry.m, c.regKey)
		}
		registry.mu.Unlock()
	}
	return c.rdb.Close()
}

func (c *Client) isClosed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}

var registry = struct {
	mu sync.Mutex
	m  map[string]*Client
}{m: map[string]*Client{}}

// Acquire returns the process's client for rawURL, opening it (with opts) on
// first use, and counts a reference. Routes that name the same URL share one
// client, across the configuration and across reloads as long as the new
// configuration acquires before the old one releases (Caddy provisions the
// new config before cleaning up the old). opts only apply when the client is
// opened; later Acquires of the same URL share the client as it is. The URL
// is compared as written.
func Acquire(rawURL string, opts Options) (*Client, error) {
	registry.mu.Lock()
	defer registry.mu.Unlock()
	if c := registry.m[rawURL]; c != nil {
		c.mu.Lock()
		if !c.closed {
			c.refs++
			c.mu.Unlock()
			return c, nil
		}
		c.mu.Unlock()
	}
	c, err := Open(rawURL, opts)
	if err != nil {
		return nil, err
	}
	c.regKey = rawURL
	registry.m[rawURL] = c
	return c, nil
}

// Release drops a reference taken by Acquire (or the one of Open); the last
// one closes the client and removes it from the registry. Extra calls do
// nothing.
func (c *Client) Release() error {
	registry.mu.Lock()
	c.mu.Lock()
	if c.closed || c.refs <= 0 {
		c.mu.Unlock()
		registry.mu.Unlock()
		return nil
	}
	c.refs--
	last := c.refs == 0
	if last {
		c.closed = true
		if c.regKey != "" && registry.m[c.regKey] == c {
			delete(registry.m, c.regKey)
		}
	}
	c.mu.Unlock()
	registry.mu.Unlock()
	if last {
		return c.rdb.Close()
	}
	return nil
}

// Refs is the number of references held (tests, diagnostics).
func (c *Client) Refs() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.refs
}

// do runs one Redis call under its own deadline (timeout, or the client's
// when 0) inside ctx, records its outcome in the health record, and wraps a
// failure in *Error. redis.Nil is not a failure and is returned as is.
func (c *Client) do(ctx context.Context, timeout time.Duration, op string, f func(context.Context) error) error {
	return c.call(ctx, timeout, op, false, f)
}

// doAlways is do without the backoff: for the write that stores a sent
// message's answer, which is worth one more try whatever the recent failures
// (without it the duplicates answer Lost for the whole window).
func (c *Client) doAlways(ctx context.Context, timeout time.Duration, op string, f func(context.Context) error) error {
	return c.call(ctx, timeout, op, true, f)
}

func (c *Client) call(ctx context.Context, timeout time.Duration, op string, always bool, f func(context.Context) error) error {
	if c.isClosed() {
		return &Error{Op: op, Err: ErrClosed}
	}
	if !always && !c.health.admit(time.Now(), c.opts.Backoff) {
		return &Error{Op: op, Err: ErrBackoff}
	}
	if timeout <= 0 {
		timeout = c.opts.CallTimeout
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	err := f(cctx)
	cancel()
	if err == nil || errors.Is(err, redis.Nil) {
		c.health.success(time.Now())
		return err
	}
	if ctx.Err() != nil {
		// The caller went away or its own budget ended first: says nothing
		// about Redis.
		c.health.abandon()
		return &Error{Op: op, Err: err}
	}
	c.health.failure(time.Now(), err, c.opts.Backoff)
	return &Error{Op: op, Err: err}
}

// Health is a snapshot of a client's health record, for a gauge and logs.
type Health struct {
	// Healthy is false from a failed call until the next successful one.
	Healthy bool
	// BackingOff is true while calls fail fast (see Options.Backoff).
	BackingOff bool
	// LastError and LastErrorAt are the latest failure, LastOKAt the latest
	// success (zero when none yet).
	LastError   error
	LastErrorAt time.Time
	LastOKAt    time.Time
	// Failures counts failed calls, FailedFast the calls refused without
	// trying during a backoff (counters for metrics).
	Failures   uint64
	FailedFast uint64
}

// Health returns the client's health record.
func (c *Client) Health() Health {
	h := &c.health
	h.mu.Lock()
	defer h.mu.Unlock()
	return Health{
		Healthy:     h.healthy,
		BackingOff:  h.consecutive >= FailuresToBackOff && time.Now().Before(h.openUntil),
		LastError:   h.lastErr,
		LastErrorAt: h.lastErrAt,
		LastOKAt:    h.lastOKAt,
		Failures:    h.failures,
		FailedFast:  h.failedFast,
	}
}

// WarnDue reports whether a warning about this client is due: true at most
// once per interval across all its users, so that a Redis outage logs one
// line a minute (say), not one per request.
func (c *Client) WarnDue(interval time.Duration) bool {
	h := &c.health
	h.mu.Lock()
	defer h.mu.Unlock()
	now := time.Now()
	if !h.lastWarn.IsZero() && now.Sub(h.lastWarn) < interval {
		return false
	}
	h.lastWarn = now
	return true
}

type health struct {
	mu          sync.Mutex
	healthy     bool
	consecutive int
	openUntil   time.Time
	lastErr     error
	lastErrAt   time.Time
	lastOKAt    time.Time
	lastWarn    time.Time
	failures    uint64
	failedFast  uint64
}

// admit lets a call through unless the client is backing off; once the
// backoff has passed it lets one probe through and pushes the next one a
// backoff further.
func (h *health) admit(now time.Time, backoff time.Duration) bool {
	if backoff < 0 {
		return true
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.consecutive < FailuresToBackOff {
		return true
	}
	if now.Before(h.openUntil) {
		h.failedFast++
		return false
	}
	h.openUntil = now.Add(backoff) // this call is the probe
	return true
}

func (h *health) success(now time.Time) {
	h.mu.Lock()
	h.healthy = true
	h.consecutive = 0
	h.openUntil = time.Time{}
	h.lastOKAt = now
	h.mu.Unlock()
}

func (h *health) failure(now time.Time, err error, backoff time.Duration) {
	h.mu.Lock()
	h.healthy = false
	h.consecutive++
	h.failures++
	h.lastErr, h.lastErrAt = err, now
	if backoff > 0 && h.consecutive >= FailuresToBackOff {
		h.openUntil = now.Add(backoff)
	}
	h.mu.Unlock()
}

// abandon undoes a probe's claim on the backoff when its caller went away, so
// that the next call may probe at once.
func (h *health) abandon() {
	h.mu.Lock()
	if h.consecutive >= FailuresToBackOff {
		h.openUntil = time.Time{}
	}
	h.mu.Unlock()
}
