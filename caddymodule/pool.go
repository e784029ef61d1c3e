package caddymodule

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"

	"github.com/caddyserver/caddy/v2"

	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/dedup"
	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/dispatch"
	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/mapping"
	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/ratelimit"
)

// pool keeps what should survive a config reload where its configuration did
// not change: compiled mappings, per-account limiters and breakers, the dedup
// cache and rate-limit buckets. Each handler holds a reference per key and
// releases it in Cleanup; the value is dropped when the last reference goes.
var pool = caddy.NewUsagePool()

type pooled[T any] struct{ v T }

func (pooled[T]) Destruct() error { return nil }

func poolKey(kind string, parts ...any) string {
	b, _ := json.Marshal(parts)
	sum := sha256.Sum256(b)
	return kind + ":" + hex.EncodeToString(sum[:16])
}

func loadPooled[T any](key string, build func() (T, error)) (T, error) {
	v, _, err := pool.LoadOrNew(key, func() (caddy.Destructor, error) {
		x, err := build()
		if err != nil {
			return nil, err
		}
		return pooled[T]{x}, nil
	})
	if err != nil {
		var zero T
		return zero, err
	}
	return v.(pooled[T]).v, nil
}

// loadMapping compiles a mapping once per distinct content and settings. The
// key includes the file's bytes, so an edited file is recompiled on reload.
func loadMapping(spec *mapping.Spec, file string, cfg mapping.Config, region string, lenient bool) (*mapping.Mapping, string, error) {
	key := poolKey("mapping", file, spec, cfg.Options, cfg.Templates, cfg.Fields, region, lenient, cfg.Assume)
	m, err := loadPooled(key, func() (*mapping.Mapping, error) { return mapping.Compile(spec, file, cfg) })
	if err != nil {
		return nil, "", err
	}
	return m, key, nil
}

// loadState keeps the limiters and breakers of the accounts a route sends
// through, keyed by the route's scope (its name and main account; State
// itself keys each account by SID and host), and applies changed caps and
// breaker settings in place: a reload neither closes an open breaker nor
// empties a busy queue.
func loadState(scope string, cfg dispatch.StateConfig) (*dispatch.State, string, error) {
	key := poolKey("state", scope)
	s, err := loadPooled(key, func() (*dispatch.State, error) { return dispatch.NewState(cfg), nil })
	if err != nil {
		return nil, "", err
	}
	s.Update(cfg)
	return s, key, nil
}

// loadDedup shares one cache across every route of the instance and across
// reloads. Entries are keyed by the sending account, the API and the exact
// parameters, and each route passes its own window, so neither a rename, a
// changed window nor edits to fallbacks forget what was just sent.
func loadDedup() (*dedup.Cache, string, error) {
	key := "dedup"
	c, err := loadPooled(key, func() (*dedup.Cache, error) { return dedup.New(dedup.DefaultMaxEntries), nil })
	return c, key, err
}

// loadLimiter keeps one limiter per route scope and kind across reloads;
// a reload that changes the rate or burst updates it in place, keeping every
// bucket, so neither a config tweak nor a reload hands an attacker a fresh burst.
func loadLimiter(scope, kind string, rate float64, burst int) (*ratelimit.Limiter, string, error) {
	if rate <= 0 || burst < 1 {
		return nil, "", fmt.Errorf("rate limit %s: rate and burst must be positive", kind)
	}
	key := poolKey("ratelimit", scope, kind)
	l, err := loadPooled(key, func() (*ratelimit.Limiter, error) {
		return ratelimit.New(rate, burst, ratelimit.DefaultMaxKeys), nil
	})
	if err != nil {
		return nil, "", err
	}
	l.Update(rate, burst)
	return l, key, nil
}
