package caddymodule

import (
	"errors"
	"fmt"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/gateway"
	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/redisstate"
)

// buildShared connects the route to its Redis store, when it names one. The
// client is shared by every route naming the same URL, across reloads.
func (h *Handler) buildShared(gw *gateway.Gateway) error {
	sc := &h.Shared
	if sc.Redis == "" {
		if sc.RedisSecret != "" || sc.RedisFailure != "" {
			return errors.New("redis_secret and redis_failure need redis")
		}
		return nil
	}
	switch sc.RedisFailure {
	case "":
		sc.RedisFailure = gateway.FailLocal
	case gateway.FailLocal, gateway.FailRefuse:
	default:
		return fmt.Errorf("redis_failure must be local or refuse, not %q", sc.RedisFailure)
	}
	if len(sc.RedisSecret) < redisstate.MinSecretLen {
		return fmt.Errorf("redis_secret is required with redis, at least %d bytes and the same on every instance (it derives the keys, so that Redis holds no number or code in clear)", redisstate.MinSecretLen)
	}
	redisLoggerOnce.Do(func() {
		log := h.logger.Named("redis")
		redisstate.SetLogger(func(format string, args ...any) { log.Debug(fmt.Sprintf(format, args...)) })
	})
	client, err := redisstate.Acquire(sc.Redis, redisstate.Options{})
	if err != nil {
		return fmt.Errorf("redis: %w", err) // the error never holds the password
	}
	h.redis = client
	secret := []byte(sc.RedisSecret)
	d, err := redisstate.NewDedup(client, redisstate.DedupConfig{Secret: secret})
	if err != nil {
		return fmt.Errorf("redis: %w", err)
	}
	l, err := redisstate.NewLimiter(client, redisstate.LimiterConfig{Secret: secret})
	if err != nil {
		return fmt.Errorf("redis: %w", err)
	}
	gw.Shared = &gateway.Shared{Client: client, Dedup: d, Limiter: l, Failure: sc.RedisFailure, Scope: h.limitScope()}
	watchRedis(h)
	return nil
}

var redisLoggerOnce sync.Once

// observer is a route's gateway.Observer: the process-wide metrics, plus the
// route's logger for the rate-limited warning about its shared store.
type observer struct {
	*metrics
	logger *zap.Logger
}

// SharedStateFailed counts a failed Redis call and warns at most once a
// minute per store.
func (o *observer) SharedStateFailed(route, op string, warn bool) {
	if o.metrics != nil {
		o.sharedFailures.WithLabelValues(route, op).Inc()
	}
	if warn && o.logger != nil {
		o.logger.Warn("twilio_sms: the shared state store (redis) is failing; the route applies its redis_failure policy",
			zap.String("route", route), zap.String("op", op))
	}
}

// redisRoutes are the routes with a shared store, for the health gauge.
var redisRoutes = struct {
	sync.Mutex
	m map[*Handler]struct{}
}{m: map[*Handler]struct{}{}}

func watchRedis(h *Handler) {
	redisRoutes.Lock()
	redisRoutes.m[h] = struct{}{}
	redisRoutes.Unlock()
}

func unwatchRedis(h *Handler) {
	redisRoutes.Lock()
	delete(redisRoutes.m, h)
	redisRoutes.Unlock()
}

// redisHealth is the collector of caddy_twilio_sms_redis_healthy{route}:
// read at scrape time from the live routes' clients.
type redisHealth struct{ desc *prometheus.Desc }

func newRedisHealth() *redisHealth {
	return &redisHealth{desc: prometheus.NewDesc("caddy_twilio_sms_redis_healthy",
		"1 when the route's shared state store (redis) answered its last call, 0 after a failure.", []string{"route"}, nil)}
}

func (c *redisHealth) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *redisHealth) Collect(ch chan<- prometheus.Metric) {
	redisRoutes.Lock()
	defer redisRoutes.Unlock()
	seen := map[string]bool{}
	for h := range redisRoutes.m {
		if h.redis == nil || seen[h.Name] {
			continue
		}
		seen[h.Name] = true
		v := 0.0
		if h.redis.Health().Healthy {
			v = 1
		}
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, v, h.Name)
	}
}
