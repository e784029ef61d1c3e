package caddymodule

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

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
func loadMapping(ref string, cfg mapping.Config, region string, lenient bool) (*mapping.Mapping, string, error) {
	spec, file, err := mapping.Load(ref)
	if err != nil {
		return nil, "", err
	}
	key := poolKey("mapping", file, spec, cfg.Options, cfg.Templates, cfg.Fields, region, lenient)
	m, err := loadPooled(key, func() (*mapping.Mapping, error) { return mapping.Compile(spec, file, cfg) })
	if err != nil {
		return nil, "", err
	}
	return m, key, nil
}

func loadState(cfg dispatch.StateConfig) (*dispatch.State, string, error) {
	key := poolKey("state", cfg.MaxConcurrent, cfg.MaxQueue, cfg.BreakerFailures, cfg.BreakerCooldown)
	s, err := loadPooled(key, func() (*dispatch.State, error) { return dispatch.NewState(cfg), nil })
	return s, key, err
}

// loadDedup shares one cache per window across every route of the instance,
// so renaming a route in a reload does not forget what was just sent. Entries
// are keyed by account, API and the exact parameters.
func loadDedup(window time.Duration) (*dedup.Cache, string, error) {
	key := poolKey("dedup", window)
	c, err := loadPooled(key, func() (*dedup.Cache, error) { return dedup.New(window, dedup.DefaultMaxEntries), nil })
	return c, key, err
}

func loadLimiter(route, kind string, rate float64, burst int) (*ratelimit.Limiter, string, error) {
	key := poolKey("ratelimit", route, kind, rate, burst)
	l, err := loadPooled(key, func() (*ratelimit.Limiter, error) {
		if rate <= 0 || burst < 1 {
			return nil, fmt.Errorf("rate limit %s: rate and burst must be positive", kind)
		}
		return ratelimit.New(rate, burst, ratelimit.DefaultMaxKeys), nil
	})
	return l, key, err
}
