package redisstate

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// LimiterConfig configures a Limiter.
type LimiterConfig struct {
	// Secret is the key-derivation secret, as in DedupConfig (the same one
	// may serve both: each derives its own key from it).
	Secret []byte
	// Prefix starts every key (DefaultPrefix when empty).
	Prefix string
	// CallTimeout is each Redis call's deadline (the client's when 0).
	CallTimeout time.Duration
}

// Limiter is a set of token buckets in Redis, one per key, shared by every
// instance using the same Redis, Prefix and Secret: the same buckets as
// ratelimit.Limiter (each holds up to burst tokens, refills at rate tokens a
// second, every allowed event takes one, Refund gives one back), counted by
// the Redis server's clock, one round trip per call. Safe for concurrent use.
//
// The rate and burst are passed with every call rather than held, so a
// reload that changes them applies at once to every bucket, which keeps its
// tokens (clamped to the new burst) and refills at the new rate from its last
// update on. A bucket's key expires when the bucket is full again: an
// expired bucket is a full one.
type Limiter struct {
	c       *Client
	cfg     LimiterConfig
	macKey  []byte
	rPrefix string
}

// NewLimiter returns the rate-limit store on c.
func NewLimiter(c *Client, cfg LimiterConfig) (*Limiter, error) {
	if c == nil {
		return nil, errors.New("redisstate: NewLimiter: nil client")
	}
	if len(cfg.Secret) < MinSecretLen {
		return nil, fmt.Errorf("redisstate: the key-derivation secret must be at least %d bytes (32 random bytes recommended), and the same on every instance", MinSecretLen)
	}
	if cfg.Prefix == "" {
		cfg.Prefix = DefaultPrefix
	}
	l := &Limiter{c: c, cfg: cfg, macKey: derive(cfg.Secret, "ratelimit key"), rPrefix: cfg.Prefix + "r:"}
	l.cfg.Secret = nil
	return l, nil
}

// RedisKey is the Redis key of a bucket: the prefix, "r:" and the keyed hash
// of key in hex (the destination number or caller never appears in clear).
func (l *Limiter) RedisKey(key string) string {
	k := keyOf(l.macKey, []string{key})
	return l.rPrefix + hex.EncodeToString(k[:])
}

// A bucket is one string: tokens (%.17g) and the time of its last update in
// seconds (%.6f), separated by a space.

// allowScript takes a token from KEYS[1]'s bucket. ARGV: rate (tokens a
// second), burst. Returns {1, 0} when allowed, else {0, µs until a token}.
var allowScript = redis.NewScript(`
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local tokens = burst
local last = now
local v = redis.call('GET', KEYS[1])
if v then
  local sp = string.find(v, ' ', 1, true)
  tokens = tonumber(string.sub(v, 1, sp - 1))
  last = tonumber(string.sub(v, sp + 1))
  if now > last then
    tokens = math.min(burst, tokens + (now - last) * rate)
    last = now
  else
    tokens = math.min(burst, tokens)
  end
end
if tokens >= 1 then
  tokens = tokens - 1
  local full = math.max(math.ceil((burst - tokens) / rate * 1000), 1)
  redis.call('SET', KEYS[1], string.format('%.17g %.6f', tokens, last), 'PX', full)
  return {1, 0}
end
return {0, math.max(math.ceil((1 - tokens) / rate * 1000000), 1)}
`)

// refundScript gives a token back to KEYS[1]'s bucket, never beyond ARGV[1]
// (burst). A bucket that expired is full: nothing to give back. Adding the
// token before the refill gives the same bucket as after it (both cap at the
// burst), so the rate is not needed; the TTL is kept (it can only be longer
// than the time to full now, which is harmless).
var refundScript = redis.NewScript(`
local v = redis.call('GET', KEYS[1])
if not v then
  return 0
end
local burst = tonumber(ARGV[1])
local sp = string.find(v, ' ', 1, true)
local tokens = tonumber(string.sub(v, 1, sp - 1)) + 1
if tokens >= burst then
  redis.call('DEL', KEYS[1])
  return 1
end
local ttl = redis.call('PTTL', KEYS[1])
if ttl <= 0 then
  return 0
end
redis.call('SET', KEYS[1], string.format('%.17g', tokens) .. string.sub(v, sp), 'PX', ttl)
return 1
`)

// Allow takes a token from key's bucket of rate tokens a second and bursts of
// burst. When none is left it returns false and how long until one will be
// (a Retry-After; round it up to whole seconds for the HTTP header). A rate
// <= 0 (or NaN, infinite) or a burst < 1 allows everything without calling
// Redis, as ratelimit.New does. On a Redis failure it returns an error
// matching ErrUnavailable and ok false: no token was known to be taken.
func (l *Limiter) Allow(ctx context.Context, key string, rate float64, burst int) (ok bool, retryAfter time.Duration, err error) {
	if disabled(rate, burst) {
		return true, 0, nil
	}
	var res []int64
	err = l.c.do(ctx, l.cfg.CallTimeout, "allow", func(ctx context.Context) error {
		var err error
		res, err = allowScript.Run(ctx, l.c.rdb, []string{l.RedisKey(key)}, strconv.FormatFloat(rate, 'g', -1, 64), burst).Int64Slice()
		return err
	})
	if err != nil {
		return false, 0, err
	}
	if len(res) != 2 {
		return false, 0, &Error{Op: "allow", Err: errBadEntry}
	}
	if res[0] == 1 {
		return true, 0, nil
	}
	return false, time.Duration(res[1]) * time.Microsecond, nil
}

// Refund gives back one token taken by Allow from key's bucket, never beyond
// burst: call it when the event did not happen after all (nothing was sent),
// at most once per allowed Allow. A bucket that expired meanwhile is full,
// so there is nothing to give back.
func (l *Limiter) Refund(ctx context.Context, key string, burst int) error {
	if burst < 1 {
		return nil
	}
	return l.c.do(ctx, l.cfg.CallTimeout, "refund", func(ctx context.Context) error {
		return refundScript.Run(ctx, l.c.rdb, []string{l.RedisKey(key)}, burst).Err()
	})
}

func disabled(rate float64, burst int) bool {
	return rate <= 0 || burst < 1 || math.IsNaN(rate) || math.IsInf(rate, 0)
}
