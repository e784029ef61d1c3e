package redisstate

import (
	"bytes"
	"context"
	"crypto/hmac"
	crand "crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/dedup"
)

// MinSecretLen is the shortest Secret accepted: 16 bytes (128 bits). Use 32
// random bytes.
const MinSecretLen = 16

// DefaultPrefix starts every key this package writes, when the config leaves
// Prefix empty.
const DefaultPrefix = "twilio_sms:"

// Defaults of DedupConfig.
const (
	DefaultMaxLease     = 5 * time.Minute
	DefaultLeaseGrace   = 2 * time.Second
	DefaultPollInterval = 25 * time.Millisecond
	DefaultMinKeep      = 5 * time.Second
)

// Status says what an Answer of Do is.
type Status uint8

const (
	// Done: Data and Tag are the answer of the call that ran fn (this one
	// when shared is false).
	Done Status = iota + 1
	// Pending: another call (on this or another instance) claimed the key and
	// its answer did not come before this caller's context ended. Nothing
	// may be sent; answer "an identical request is still being sent, try
	// again later".
	Pending
	// Lost: the claim's lease ended without an answer: its owner died, hung
	// or lost Redis after claiming, and may or may not have sent. Nothing may
	// be sent; answer with outcome unknown. The claim blocks the key until
	// its lease plus max(the claimer's window, MinKeep) have passed.
	Lost
)

func (s Status) String() string {
	switch s {
	case Done:
		return "done"
	case Pending:
		return "pending"
	case Lost:
		return "lost"
	}
	return "Status(" + strconv.Itoa(int(s)) + ")"
}

// Answer is what Do shares between the calls of one key. fn fills Data and
// Tag; Do fills the rest.
type Answer struct {
	Status Status
	// Data is the caller's encoding of what a duplicate needs to answer
	// (outcome, SID, status, error code...): never the message body, nor the
	// destination. Opaque to this package. nil unless Status is Done.
	Data []byte
	// Tag optionally names the send for MarkFailed and MarkFailedTag,
	// typically the Twilio SID of the created message. "" for none.
	Tag string
	// At is when the answer was stored, by the Redis server's clock (zero
	// unless Done, and zero for the claimer when it could not be stored).
	At time.Time

	claim string // token of the claim that produced it: Forget's guard
}

// DedupConfig configures a Dedup.
type DedupConfig struct {
	// Secret is the key-derivation secret, identical on every instance that
	// shares the store, at least MinSecretLen bytes (32 random bytes
	// recommended, e.g. from an environment variable or a file). Keys are
	// HMAC-SHA256 digests under a key derived from it: without it, Redis
	// holds nothing that tells a destination, a text or an account. Changing
	// it forgets every entry (nothing matches any more).
	Secret []byte
	// Prefix starts every key (DefaultPrefix when empty); routes sharing a
	// Redis and a Secret must share it too.
	Prefix string
	// CallTimeout is each Redis call's deadline (the client's when 0).
	CallTimeout time.Duration
	// MaxLease bounds a claim's lease (DefaultMaxLease when 0). The lease is
	// the claimer's remaining budget (its context's deadline) plus
	// LeaseGrace, or MaxLease when the context has no deadline.
	MaxLease time.Duration
	// LeaseGrace is added to the claimer's budget (DefaultLeaseGrace when
	// 0): the time fn may overrun its context before others answer Lost.
	LeaseGrace time.Duration
	// PollInterval is the longest pause between a waiter's reads
	// (DefaultPollInterval when 0); the first ones are shorter, all jittered.
	PollInterval time.Duration
	// MinKeep is the least time an answer is kept (DefaultMinKeep when 0),
	// so that waiters get it even when the window is shorter than a poll.
	// It does not lengthen any caller's window.
	MinKeep time.Duration
}

// Dedup is duplicate suppression shared through Redis: Do runs fn once per
// key across every instance using the same Redis, Prefix and Secret. See the
// package documentation for the exact semantics. Safe for concurrent use.
type Dedup struct {
	c       *Client
	cfg     DedupConfig
	keyMAC  []byte // HMAC key of KeyOf
	tagMAC  []byte // HMAC key of the tag index
	dPrefix string
	tPrefix string
}

// NewDedup returns the duplicate-suppression store on c.
func NewDedup(c *Client, cfg DedupConfig) (*Dedup, error) {
	if c == nil {
		return nil, errors.New("redisstate: NewDedup: nil client")
	}
	if len(cfg.Secret) < MinSecretLen {
		return nil, fmt.Errorf("redisstate: the key-derivation secret must be at least %d bytes (32 random bytes recommended), and the same on every instance", MinSecretLen)
	}
	if cfg.Prefix == "" {
		cfg.Prefix = DefaultPrefix
	}
	if cfg.MaxLease <= 0 {
		cfg.MaxLease = DefaultMaxLease
	}
	if cfg.LeaseGrace <= 0 {
		cfg.LeaseGrace = DefaultLeaseGrace
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = DefaultPollInterval
	}
	if cfg.MinKeep <= 0 {
		cfg.MinKeep = DefaultMinKeep
	}
	d := &Dedup{
		c:       c,
		cfg:     cfg,
		keyMAC:  derive(cfg.Secret, "dedup key"),
		tagMAC:  derive(cfg.Secret, "dedup tag"),
		dPrefix: cfg.Prefix + "d:",
		tPrefix: cfg.Prefix + "t:",
	}
	d.cfg.Secret = nil // only the derived keys are kept
	return d, nil
}

// derive is a sub-key of secret for one use, so that one secret serves every
// kind of key without two kinds ever colliding.
func derive(secret []byte, label string) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("caddy-twilio-sms redisstate v1: " + label))
	return m.Sum(nil)
}

// KeyOf derives the key of parts under the shared secret, exactly as
// dedup.KeyOf does under its per-process one (each part length-prefixed, so
// ("ab", "c") and ("a", "bc") differ; order matters). Use these keys, not
// dedup.KeyOf's, with Do: a per-process key matches nothing on another
// instance. They are valid dedup.Cache keys too, so the in-process fallback
// can use the same key.
func (d *Dedup) KeyOf(parts ...string) dedup.Key {
	return keyOf(d.keyMAC, parts)
}

func keyOf(macKey []byte, parts []string) dedup.Key {
	m := hmac.New(sha256.New, macKey)
	var n [8]byte
	for _, p := range parts {
		binary.BigEndian.PutUint64(n[:], uint64(len(p)))
		m.Write(n[:])
		m.Write([]byte(p))
	}
	var k dedup.Key
	m.Sum(k[:0])
	return k
}

// RedisKey is the Redis key of k: the prefix, "d:" and k in hex.
func (d *Dedup) RedisKey(k dedup.Key) string {
	return d.dPrefix + hex.EncodeToString(k[:])
}

func (d *Dedup) tagKey(tag string) string {
	k := keyOf(d.tagMAC, []string{tag})
	return d.tPrefix + hex.EncodeToString(k[:])
}

// Entry layout (one string value per key):
//
//	[1]      'P' (claimed, no answer yet) or 'D' (answer stored)
//	[2..17]  the claim's token, 16 hex digits
//	[18..30] milliseconds since the epoch by the server's clock, 13 digits:
//	         P: when the lease ends; D: when the answer was stored
//	D only:  decimal length of the tag, ':', the tag, the data
const headerLen = 30

// claimScript claims KEYS[1] for token ARGV[1] unless an entry answers for
// this caller. ARGV: token, lease ms, the caller's window ms, the claim's TTL
// ms, the token awaited ("" for none). An answer is live for the caller when
// it is the awaited claim's or younger than the caller's window; otherwise
// (no entry, or an answer older than the window) the key is claimed: set to
// a P entry whose lease ends lease ms from now, expiring after the TTL.
// Returns {1, "", now} when claimed (also when the entry is already this
// token's claim: a retried call), else {0, entry, now}.
var claimScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local v = redis.call('GET', KEYS[1])
if v then
  local kind = string.sub(v, 1, 1)
  local tok = string.sub(v, 2, 17)
  if kind == 'P' and tok == ARGV[1] then
    return {1, '', now}
  end
  if kind == 'P' or tok == ARGV[5] or now < tonumber(string.sub(v, 18, 30)) + tonumber(ARGV[3]) then
    return {0, v, now}
  end
end
redis.call('SET', KEYS[1], 'P' .. ARGV[1] .. string.format('%013d', now + tonumber(ARGV[2])), 'PX', ARGV[4])
return {1, '', now}
`)

// completeScript stores the answer of token ARGV[1]'s claim on KEYS[1]:
// ARGV: token, payload (tag length, ':', tag, data), TTL ms. Only the
// claim's owner writes, and only over its own claim. Returns the server's
// time in ms, or 0 when the claim is gone (forgotten, or expired after its
// lease and window).
var completeScript = redis.NewScript(`
local v = redis.call('GET', KEYS[1])
if not v then
  return 0
end
local head = string.sub(v, 1, 17)
if head == 'D' .. ARGV[1] then
  return tonumber(string.sub(v, 18, 30))
end
if head ~= 'P' .. ARGV[1] then
  return 0
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('SET', KEYS[1], 'D' .. ARGV[1] .. string.format('%013d', now) .. ARGV[2], 'PX', ARGV[3])
return now
`)

// releaseScript deletes token ARGV[1]'s claim on KEYS[1] if it has no answer.
var releaseScript = redis.NewScript(`
local v = redis.call('GET', KEYS[1])
if v and string.sub(v, 1, 17) == 'P' .. ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
`)

// forgetScript deletes the answer on KEYS[1] if there is one, it is token
// ARGV[1]'s ("" for any) and its tag is ARGV[2] ("" for any). A claim
// without an answer is never deleted. Returns 1 when deleted.
var forgetScript = redis.NewScript(`
local v = redis.call('GET', KEYS[1])
if not v or string.sub(v, 1, 1) ~= 'D' then
  return 0
end
if ARGV[1] ~= '' and string.sub(v, 2, 17) ~= ARGV[1] then
  return 0
end
if ARGV[2] ~= '' then
  local colon = string.find(v, ':', ` + strconv.Itoa(headerLen+1) + `, true)
  if not colon then
    return 0
  end
  local n = tonumber(string.sub(v, ` + strconv.Itoa(headerLen+1) + `, colon - 1))
  if string.sub(v, colon + 1, colon + n) ~= ARGV[2] then
    return 0
  end
end
redis.call('DEL', KEYS[1])
return 1
`)

// Do returns the answer for k, running fn only if no answer is live for this
// caller or being produced, on any instance sharing the store:
//
//   - The caller that claims k (atomically, in one round trip) runs fn
//     itself, synchronously, stores its answer for max(window, MinKeep) from
//     when fn returned, and gets (answer, false, nil) with Status Done.
//   - A caller that finds k claimed waits, polling, until the answer is
//     stored, and gets (answer, true, nil) with Status Done; it never runs
//     fn for that claim, whatever its window. If its ctx ends first it gets
//     Status Pending; if the claim's lease ends first, Status Lost. Either
//     way shared is true and nothing may be sent.
//   - A caller that finds an answer stored less than its window ago gets it
//     (shared true, Status Done). An older one is replaced: the caller
//     claims k and runs fn.
//   - When Redis fails before any claim by another was seen, Do returns
//     (Answer{}, false, err) with err matching ErrUnavailable, without
//     running fn: the caller applies its redis_failure policy. Once a claim
//     by another was seen, read failures are retried until ctx ends
//     (Pending), never turned into an error the caller might read as a
//     licence to send.
//
// The claimer's ctx gives the claim's lease (see DedupConfig.MaxLease): fn
// should return within it. fn's answer is stored with a fresh deadline
// detached from ctx, so a ctx that ended during fn does not lose it; if it
// cannot be stored (Redis failed meanwhile), the claimer still gets it, and
// the others answer Lost once the lease ends. If fn panics, the claim is
// deleted (best effort, as dedup.Cache frees the key) and the panic
// propagates.
func (d *Dedup) Do(ctx context.Context, k dedup.Key, window time.Duration, fn func() Answer) (Answer, bool, error) {
	key := d.RedisKey(k)
	token := newToken()
	lease := d.lease(ctx)
	ttl := lease + max(window, d.cfg.MinKeep)
	awaited := ""
	pause := 2 * time.Millisecond
	for {
		var res []any
		err := d.c.do(ctx, d.cfg.CallTimeout, "claim", func(ctx context.Context) error {
			var err error
			res, err = claimScript.Run(ctx, d.c.rdb, []string{key}, token, ms(lease), ms(window), ms(ttl), awaited).Slice()
			return err
		})
		if err != nil && awaited == "" {
			return Answer{}, false, err
		}
		if err == nil {
			claimed, entry, now, perr := parseClaim(res)
			if perr != nil {
				if awaited == "" {
					return Answer{}, false, &Error{Op: "claim", Err: perr}
				}
			} else if claimed {
				return d.run(ctx, key, token, window, fn), false, nil
			} else {
				e, perr := parseEntry(entry)
				switch {
				case perr != nil:
					if awaited == "" {
						return Answer{}, false, &Error{Op: "claim", Err: perr}
					}
				case e.kind == 'D':
					return e.answer(), true, nil
				case now >= e.ms:
					return Answer{Status: Lost}, true, nil
				default:
					awaited = e.token
				}
			}
		}
		if !sleep(ctx, jitter(pause)) {
			return Answer{Status: Pending}, true, nil
		}
		pause = min(2*pause, d.cfg.PollInterval)
	}
}

// run runs fn as the claimer and stores its answer.
func (d *Dedup) run(ctx context.Context, key, token string, window time.Duration, fn func() Answer) Answer {
	bg := context.WithoutCancel(ctx)
	finished := false
	defer func() {
		if !finished {
			_ = d.c.do(bg, d.cfg.CallTimeout, "release", func(ctx context.Context) error {
				return releaseScript.Run(ctx, d.c.rdb, []string{key}, token).Err()
			})
		}
	}()
	a := fn()
	finished = true
	a.Status, a.claim, a.At = Done, token, time.Time{}
	keep := max(window, d.cfg.MinKeep)
	payload := make([]byte, 0, 8+len(a.Tag)+len(a.Data))
	payload = strconv.AppendInt(payload, int64(len(a.Tag)), 10)
	payload = append(payload, ':')
	payload = append(payload, a.Tag...)
	payload = append(payload, a.Data...)
	var at int64
	err := d.c.doAlways(bg, d.cfg.CallTimeout, "complete", func(ctx context.Context) error {
		var err error
		at, err = completeScript.Run(ctx, d.c.rdb, []string{key}, token, payload, ms(keep)).Int64()
		return err
	})
	if err != nil || at == 0 {
		return a
	}
	a.At = time.UnixMilli(at)
	if a.Tag != "" {
		_ = d.c.do(bg, d.cfg.CallTimeout, "tag", func(ctx context.Context) error {
			return d.c.rdb.Set(ctx, d.tagKey(a.Tag), key, keep).Err()
		})
	}
	return a
}

// Forget drops the stored answer a for k, so that the next caller runs fn
// again: call it when the answer says nothing was sent. It drops only the
// answer a came from (a later send's answer for the same key is kept); a
// zero Answer drops whatever answer is stored. A claim in progress is not
// affected, and waiters that find the key gone claim it themselves.
func (d *Dedup) Forget(ctx context.Context, k dedup.Key, a Answer) error {
	_, err := d.forget(ctx, d.RedisKey(k), a.claim, "")
	return err
}

// MarkFailed drops the stored answer for k when delivery is known to have
// failed (status undelivered or failed), so that the next identical request
// is sent again, on any instance. With tag != "" only an answer with that
// Tag is dropped (a receipt for an earlier send leaves a later send's answer
// alone). A claim still in progress is not affected. It reports whether an
// answer was dropped.
func (d *Dedup) MarkFailed(ctx context.Context, k dedup.Key, tag string) (bool, error) {
	return d.forget(ctx, d.RedisKey(k), "", tag)
}

// MarkFailedTag is MarkFailed for a receipt that knows only the Tag (the
// message SID): answers stored with a Tag are indexed by a keyed hash of it
// for as long as they are kept. It reports whether an answer was dropped.
func (d *Dedup) MarkFailedTag(ctx context.Context, tag string) (bool, error) {
	if tag == "" {
		return false, nil
	}
	tk := d.tagKey(tag)
	var key string
	err := d.c.do(ctx, d.cfg.CallTimeout, "tag", func(ctx context.Context) error {
		var err error
		key, err = d.c.rdb.Get(ctx, tk).Result()
		return err
	})
	if errors.Is(err, redis.Nil) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	dropped, err := d.forget(ctx, key, "", tag)
	if err == nil && dropped {
		_ = d.c.do(ctx, d.cfg.CallTimeout, "tag", func(ctx context.Context) error { return d.c.rdb.Del(ctx, tk).Err() })
	}
	return dropped, err
}

func (d *Dedup) forget(ctx context.Context, key, token, tag string) (bool, error) {
	var n int64
	err := d.c.do(ctx, d.cfg.CallTimeout, "forget", func(ctx context.Context) error {
		var err error
		n, err = forgetScript.Run(ctx, d.c.rdb, []string{key}, token, tag).Int64()
		return err
	})
	return n == 1, err
}

// lease is how long a claim made under ctx holds before others answer Lost.
func (d *Dedup) lease(ctx context.Context) time.Duration {
	l := d.cfg.MaxLease
	if dl, ok := ctx.Deadline(); ok {
		l = min(time.Until(dl)+d.cfg.LeaseGrace, d.cfg.MaxLease)
	}
	return max(l, d.cfg.LeaseGrace)
}

type entry struct {
	kind  byte
	token string
	ms    int64
	tag   string
	data  []byte
}

func (e *entry) answer() Answer {
	return Answer{Status: Done, Data: e.data, Tag: e.tag, At: time.UnixMilli(e.ms), claim: e.token}
}

var errBadEntry = errors.New("malformed entry")

func parseEntry(v string) (entry, error) {
	if len(v) < headerLen || (v[0] != 'P' && v[0] != 'D') {
		return entry{}, errBadEntry
	}
	e := entry{kind: v[0], token: v[1:17]}
	n, err := strconv.ParseInt(v[17:30], 10, 64)
	if err != nil {
		return entry{}, errBadEntry
	}
	e.ms = n
	if e.kind == 'P' {
		return e, nil
	}
	rest := v[headerLen:]
	i := bytes.IndexByte([]byte(rest), ':')
	if i < 0 {
		return entry{}, errBadEntry
	}
	tl, err := strconv.Atoi(rest[:i])
	if err != nil || tl < 0 || i+1+tl > len(rest) {
		return entry{}, errBadEntry
	}
	e.tag = rest[i+1 : i+1+tl]
	e.data = []byte(rest[i+1+tl:])
	return e, nil
}

func parseClaim(res []any) (claimed bool, entry string, now int64, err error) {
	if len(res) != 3 {
		return false, "", 0, errBadEntry
	}
	c, ok1 := res[0].(int64)
	entry, ok2 := res[1].(string)
	now, ok3 := res[2].(int64)
	if !ok1 || !ok2 || !ok3 {
		return false, "", 0, errBadEntry
	}
	return c == 1, entry, now, nil
}

// ms is d in whole milliseconds, at least 1 (PX refuses 0), for the scripts;
// a window <= 0 is 0 (live for nobody).
func ms(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	return max(int64((d+time.Millisecond-1)/time.Millisecond), 1)
}

func newToken() string {
	var b [8]byte
	_, _ = crand.Read(b[:]) // never fails (crashes the program instead)
	return hex.EncodeToString(b[:])
}

// jitter is d ± 50%, at least a millisecond.
func jitter(d time.Duration) time.Duration {
	return max(d/2+rand.N(d+1), time.Millisecond)
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
