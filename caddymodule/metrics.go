package caddymodule

import (
	"errors"
	"strconv"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/gateway"
)

// Metrics exported to Caddy's metrics registry (the admin endpoint's /metrics):
//
//	caddy_twilio_sms_requests_total{route,mapping,api,outcome,error_code}    counter
//	caddy_twilio_sms_upstream_duration_seconds{account,api,status_class}     histogram
//	caddy_twilio_sms_upstream_retries_total{account}                         counter
//	caddy_twilio_sms_fallbacks_total{from,to}                                counter
//	caddy_twilio_sms_breaker_state{account,state}                            gauge, 1 for the current state
//	caddy_twilio_sms_duplicates_suppressed_total{route}                      counter
//	caddy_twilio_sms_rate_limited_total{route,kind}                          counter, kind destination or caller
//	caddy_twilio_sms_blocked_total{route,kind}                               counter, kind country or a number type
//	caddy_twilio_sms_dedup_full_refused_total{route}                         counter
//	caddy_twilio_sms_redis_failures_total{route,op}                          counter
//	caddy_twilio_sms_redis_healthy{route}                                    gauge, 1 when the store answered its last call
//	caddy_twilio_sms_deliveries_total{route,status,error_code,country,sender} counter (delivery tracking)
//	caddy_twilio_sms_delivery_seconds{route,status}                          histogram
//	caddy_twilio_sms_status_callbacks_total{route,result}                    counter
//	caddy_twilio_sms_status_polls_total{route,result}                        counter
//	caddy_twilio_sms_status_polls_in_flight{route}                           gauge
//	caddy_twilio_sms_receipts_total{route,dialect,result}                    counter
//	caddy_twilio_sms_receipt_queue{route}                                    gauge
//	caddy_twilio_sms_dedup_invalidations_total{route,result}                 counter
//	caddy_twilio_sms_upstream_in_flight{account}                             gauge
//	caddy_twilio_sms_upstream_queue_waiting{account}                         gauge
//
// Label values come only from configuration and from bounded sets: route names,
// account labels, mapping names, API names, outcomes, Twilio error codes and
// status classes. Never a phone number, a sender, a message text, a code or a
// credential: a label per destination would both leak personal data into the
// monitoring system and grow without bound.
//
// The collectors are created once per process and registered into each config's
// registry, so values survive reloads (as caddy-ratelimit and reverse_proxy do).
type metrics struct {
	requests       *prometheus.CounterVec
	upstreamTime   *prometheus.HistogramVec
	retries        *prometheus.CounterVec
	fallbacks      *prometheus.CounterVec
	breakerState   *prometheus.GaugeVec
	duplicates     *prometheus.CounterVec
	rateLimits     *prometheus.CounterVec
	blockedDest    *prometheus.CounterVec
	dedupFulls     *prometheus.CounterVec
	sharedFailures *prometheus.CounterVec
	deliveryCollectors
	redisHealth *redisHealth
	inFlight    *prometheus.GaugeVec
	waiting     *prometheus.GaugeVec
}

// Breaker states, as the state label of caddy_twilio_sms_breaker_state.
const (
	breakerClosed   = "closed"
	breakerOpen     = "open"
	breakerHalfOpen = "half_open"
)

var breakerStates = [...]string{breakerClosed, breakerOpen, breakerHalfOpen}

// upstreamBuckets cover 5 ms (a loopback simulator) to 10 s (past any sensible
// timeout), denser where Twilio's answers fall (100 ms to 2 s).
var upstreamBuckets = []float64{.005, .01, .025, .05, .1, .2, .3, .5, .75, 1, 1.5, 2, 3, 5, 10}

var (
	metricsOnce sync.Once
	allMetrics  *metrics
)

func newMetrics() *metrics {
	const ns = "caddy_twilio_sms"
	return &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Name: "requests_total",
			Help: "Requests answered by twilio_sms, by route, mapping, Twilio API, outcome and error code (empty when none).",
		}, []string{"route", "mapping", "api", "outcome", "error_code"}),
		upstreamTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: ns, Name: "upstream_duration_seconds",
			Help:    "Time of each call to Twilio, by account label, API and HTTP status class (2xx, 4xx, 5xx, or none when no answer was read).",
			Buckets: upstreamBuckets,
		}, []string{"account", "api", "status_class"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Name: "upstream_retries_total",
			Help: "Calls to Twilio repeated after a failure that guaranteed nothing was sent, by account label.",
		}, []string{"account"}),
		fallbacks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Name: "fallbacks_total",
			Help: "Requests moved from one account to a fallback account, by account labels.",
		}, []string{"from", "to"}),
		breakerState: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: ns, Name: "breaker_state",
			Help: "Circuit breaker state per account label: 1 for the current state (closed, open, half_open), 0 for the others.",
		}, []string{"account", "state"}),
		duplicates: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Name: "duplicates_suppressed_total",
			Help: "Repeated identical requests answered without sending again, by route.",
		}, []string{"route"}),
		rateLimits: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Name: "rate_limited_total",
			Help: "Requests refused by the adapter's own rate limits, by route and kind (destination, caller).",
		}, []string{"route", "kind"}),
		blockedDest: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Name: "blocked_total",
			Help: "Requests refused for their destination, by route and kind (country, or a number type such as premium_rate).",
		}, []string{"route", "kind"}),
		dedupFulls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Name: "dedup_full_refused_total",
			Help: "Requests refused with 503 because the duplicate-suppression cache was full, by route.",
		}, []string{"route"}),
		sharedFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Name: "redis_failures_total",
			Help: "Failed calls to the shared state store (redis), by route and operation (dedup, rate_limit, refund).",
		}, []string{"route", "op"}),
		redisHealth:        newRedisHealth(),
		deliveryCollectors: newDeliveryCollectors(),
		inFlight: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: ns, Name: "upstream_in_flight",
			Help: "Calls to Twilio in progress, by account label.",
		}, []string{"account"}),
		waiting: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: ns, Name: "upstream_queue_waiting",
			Help: "Requests waiting for a free slot to call Twilio, by account label.",
		}, []string{"account"}),
	}
}

func (m *metrics) collectors() []prometheus.Collector {
	return append(m.deliveryCollectors.list(), m.requests, m.upstreamTime, m.retries, m.fallbacks,
		m.breakerState, m.duplicates, m.rateLimits, m.blockedDest, m.dedupFulls, m.sharedFailures, m.redisHealth, m.inFlight, m.waiting)
}

// provisionMetrics returns the process-wide collectors, registered into this
// config's registry. Registering again into a registry that has them (several
// twilio_sms handlers in one config) is not an error.
func provisionMetrics(ctx caddy.Context) (*metrics, error) {
	metricsOnce.Do(func() { allMetrics = newMetrics() })
	reg := ctx.GetMetricsRegistry()
	if reg == nil {
		return allMetrics, nil
	}
	for _, c := range allMetrics.collectors() {
		if err := reg.Register(c); err != nil {
			if are, ok := errors.AsType[prometheus.AlreadyRegisteredError](err); ok && are.ExistingCollector == c {
				continue
			}
			return nil, err
		}
	}
	return allMetrics, nil
}

// request counts one answered request. errorCode 0 means none.
func (m *metrics) request(route, mapping, api, outcome string, errorCode int) {
	if m == nil {
		return
	}
	code := ""
	if errorCode != 0 {
		code = strconv.Itoa(errorCode)
	}
	m.requests.WithLabelValues(route, mapping, api, outcome, code).Inc()
}

// upstream observes one call to Twilio; status 0 means no HTTP answer was read.
// Upstream implements gateway.Observer.
func (m *metrics) Upstream(account, api string, status int, d time.Duration) {
	if m == nil {
		return
	}
	m.upstreamTime.WithLabelValues(account, api, statusClass(status)).Observe(d.Seconds())
}

// retry counts one repeated call to Twilio.
// Retry implements gateway.Observer.
func (m *metrics) Retry(account string) {
	if m == nil {
		return
	}
	m.retries.WithLabelValues(account).Inc()
}

// fallback counts one move from account from to account to.
// Fallback implements gateway.Observer.
func (m *metrics) Fallback(from, to string) {
	if m == nil {
		return
	}
	m.fallbacks.WithLabelValues(from, to).Inc()
}

// AccountState implements gateway.Observer: an account's breaker state
// (closed, open or half_open), its calls in flight and requests waiting.
func (m *metrics) AccountState(account, state string, inFlight, waiting int) {
	if m == nil {
		return
	}
	for _, s := range breakerStates {
		v := 0.0
		if s == state {
			v = 1
		}
		m.breakerState.WithLabelValues(account, s).Set(v)
	}
	m.inFlight.WithLabelValues(account).Set(float64(inFlight))
	m.waiting.WithLabelValues(account).Set(float64(waiting))
}

// duplicate counts one request answered from the duplicate cache.
// Duplicate implements gateway.Observer.
func (m *metrics) Duplicate(route string) {
	if m == nil {
		return
	}
	m.duplicates.WithLabelValues(route).Inc()
}

// RateLimited counts one request refused by a rate limit: destination or caller.
// RateLimited implements gateway.Observer.
func (m *metrics) RateLimited(route, kind string) {
	if m == nil {
		return
	}
	m.rateLimits.WithLabelValues(route, kind).Inc()
}

func statusClass(status int) string {
	switch {
	case status >= 200 && status < 300:
		return "2xx"
	case status >= 300 && status < 400:
		return "3xx"
	case status >= 400 && status < 500:
		return "4xx"
	case status >= 500 && status < 600:
		return "5xx"
	}
	return "none"
}

// blocked counts a request refused for its destination (country or number type).
// Blocked implements gateway.Observer.
func (m *metrics) Blocked(route, kind string) {
	if m == nil {
		return
	}
	m.blockedDest.WithLabelValues(route, kind).Inc()
}

// dedupFull counts a request refused because the dedup cache was full.
// DedupFull implements gateway.Observer.
func (m *metrics) DedupFull(route string) {
	if m == nil {
		return
	}
	m.dedupFulls.WithLabelValues(route).Inc()
}

var _ gateway.Observer = (*observer)(nil)
