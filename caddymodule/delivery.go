package caddymodule

import (
	"errors"
	"fmt"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/delivery"
	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/gateway"
)

// DeliveryConfig is delivery tracking: what became of each message. A 201
// from Twilio means "queued"; the status callbacks (or polling) tell
// delivered, undelivered or failed, for the metrics and the log, for dedup
// (once a message is known undelivered or failed, an identical request is
// sent again: a resend is not a retry), and for callers that want receipts.
// Caddyfile: `status_callback`, `status_callback_secret`, `status_poll`,
// `receipt_hosts`.
type DeliveryConfig struct {
	// StatusCallback is the public base URL Twilio posts status callbacks
	// to, a path of this route's site that reaches this handler (e.g.
	// https://sms.example.com/sms/twilio-status). Each create carries a
	// StatusCallback under it with a short, signed, expiring token, so any
	// instance can take the callback; callbacks are verified with Twilio's
	// X-Twilio-Signature and answered 403 when forged, altered or expired.
	StatusCallback string `json:"status_callback,omitempty"`
	// StatusCallbackSecret signs the tokens, the same on every instance
	// (use a placeholder). Required when the route has no stored auth
	// token: with passthrough credentials, and with an API key (then it is
	// the account's auth token, which Twilio signs callbacks with).
	StatusCallbackSecret string `json:"status_callback_secret,omitempty"`
	// StatusPoll fetches each message's status this long after sending,
	// and again with backoff while it is not final, for adapters Twilio
	// cannot reach.
	StatusPoll caddy.Duration `json:"status_poll,omitempty"`
	// ReceiptHosts are the hosts receipts may be forwarded to (a caller's
	// StatusCallback, Kannel's and Jasmin's dlr-url); exact names or
	// *.example.com. Forwarding is bounded in time, retries and concurrency
	// and never holds up an answer.
	ReceiptHosts []string `json:"receipt_hosts,omitempty"`
}

// buildDelivery sets up delivery tracking for the gateway.
func (h *Handler) buildDelivery(gw *gateway.Gateway) error {
	dc := &h.Delivery
	if dc.StatusCallback == "" && dc.StatusPoll == 0 {
		if dc.StatusCallbackSecret != "" || len(dc.ReceiptHosts) > 0 {
			return errors.New("status_callback_secret and receipt_hosts need status_callback or status_poll")
		}
		return nil
	}
	authToken := func(sid string) string {
		if sid == h.router.Main.AccountSID && h.router.Main.Username == sid {
			return h.router.Main.Password
		}
		for i := range h.router.Countries {
			a := &h.router.Countries[i].Account
			if a.AccountSID == sid && a.Username == sid {
				return a.Password
			}
		}
		for i := range h.router.Fallback {
			a := &h.router.Fallback[i]
			if a.AccountSID == sid && a.Username == sid {
				return a.Password
			}
		}
		if sid == h.Account.AccountSID && h.Account.APIKey != nil {
			return dc.StatusCallbackSecret // an API-key route: its account's auth token
		}
		return ""
	}
	secret := dc.StatusCallbackSecret
	if secret == "" {
		secret = h.Account.AuthToken
	}
	if secret == "" {
		return errors.New("status_callback_secret is required on a route without a stored auth_token (credentials passthrough, or an api_key: give the account's auth token, which Twilio signs callbacks with)")
	}
	keyring, err := delivery.NewKeyring(delivery.DeriveKey(secret, "status-callback/"+h.Name))
	if err != nil {
		return fmt.Errorf("status_callback: %w", err)
	}
	obs := &deliveryObserver{metrics: h.metrics}
	dt := &gateway.DeliveryTracking{CallbackBase: dc.StatusCallback, Keyring: keyring, Client: h.client}
	if len(dc.ReceiptHosts) > 0 {
		if dt.Receipts, err = delivery.NewForwarder(delivery.ForwarderConfig{Hosts: dc.ReceiptHosts, Observer: obs, Route: h.Name}); err != nil {
			return fmt.Errorf("receipt_hosts: %w", err)
		}
		h.delivery = dt // stopped at Cleanup even if a later step fails
	}
	tracker := &delivery.Tracker{Observer: obs, Log: h.logDelivery, Invalidate: gw.InvalidateDelivery, Receipts: dt.Receipts, AuthToken: authToken}
	if dc.StatusCallback != "" {
		if err := delivery.ValidateBase(dc.StatusCallback); err != nil {
			return fmt.Errorf("status_callback: %w", err)
		}
		h.callbacks = &delivery.CallbackHandler{Base: dc.StatusCallback, Keyring: keyring, AuthToken: authToken, Route: h.Name, Tracker: tracker, Observer: obs}
	}
	if dc.StatusPoll > 0 {
		if dt.Poller, err = delivery.NewPoller(delivery.PollerConfig{After: time.Duration(dc.StatusPoll), Fetch: gw.FetchStatus,
			Handle: tracker.Handle, Observer: obs, Route: h.Name}); err != nil {
			return fmt.Errorf("status_poll: %w", err)
		}
	}
	gw.Delivery = dt
	h.delivery = dt
	return nil
}

// stopDelivery stops the route's poller and receipt forwarder.
func (h *Handler) stopDelivery() {
	if h.delivery == nil {
		return
	}
	if h.delivery.Poller != nil {
		h.delivery.Poller.Stop()
	}
	if h.delivery.Receipts != nil {
		h.delivery.Receipts.Stop()
	}
	h.delivery = nil
}

// logDelivery writes one line per final status, redacted like every other
// line (the number masked, no text).
func (h *Handler) logDelivery(e delivery.Event) {
	level := zap.InfoLevel
	if e.Status != delivery.StatusDelivered {
		level = zap.WarnLevel
	}
	ce := h.logger.Check(level, "twilio_sms delivery")
	if ce == nil {
		return
	}
	ce.Write(zap.String("route", e.Route), zap.String("sid", e.MessageSid), zap.String("status", e.Status),
		zap.Int("error_code", e.ErrorCode), zap.String("to", e.To), zap.String("country", e.Country),
		zap.String("sender", e.Sender), zap.Duration("latency", e.Latency), zap.String("source", e.Source),
		zap.String("dedup", e.Invalidated))
}

// deliveryObserver is delivery.Observer on the process-wide metrics.
type deliveryObserver struct{ *metrics }

func (o *deliveryObserver) Delivery(d delivery.Delivery) {
	if o.metrics == nil {
		return
	}
	o.deliveries.WithLabelValues(d.Route, d.Status, d.ErrorCode, d.Country, d.Sender).Inc()
	if d.Latency > 0 {
		o.deliveryTime.WithLabelValues(d.Route, d.Status).Observe(d.Latency.Seconds())
	}
}

func (o *deliveryObserver) Callback(route, result string) {
	if o.metrics != nil {
		o.callbacks.WithLabelValues(route, result).Inc()
	}
}

func (o *deliveryObserver) Poll(route, result string) {
	if o.metrics != nil {
		o.polls.WithLabelValues(route, result).Inc()
	}
}

func (o *deliveryObserver) PollsInFlight(route string, n int) {
	if o.metrics != nil {
		o.pollsInFlight.WithLabelValues(route).Set(float64(n))
	}
}

func (o *deliveryObserver) Receipt(route, dialect, result string) {
	if o.metrics != nil {
		o.receipts.WithLabelValues(route, dialect, result).Inc()
	}
}

func (o *deliveryObserver) ReceiptQueue(route string, n int) {
	if o.metrics != nil {
		o.receiptQueue.WithLabelValues(route).Set(float64(n))
	}
}

func (o *deliveryObserver) Invalidated(route, result string) {
	if o.metrics != nil {
		o.invalidations.WithLabelValues(route, result).Inc()
	}
}

// deliveryCollectors are the delivery metrics (names from package delivery).
type deliveryCollectors struct {
	deliveries    *prometheus.CounterVec
	deliveryTime  *prometheus.HistogramVec
	callbacks     *prometheus.CounterVec
	polls         *prometheus.CounterVec
	pollsInFlight *prometheus.GaugeVec
	receipts      *prometheus.CounterVec
	receiptQueue  *prometheus.GaugeVec
	invalidations *prometheus.CounterVec
}

func newDeliveryCollectors() deliveryCollectors {
	return deliveryCollectors{
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "caddy_twilio_sms_deliveries_total",
			Help: "Messages by final status (delivered, undelivered, failed, sent with no receipt), Twilio error code, destination country and sender kind."},
			[]string{"route", "status", "error_code", "country", "sender"}),
		deliveryTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "caddy_twilio_sms_delivery_seconds",
			Help: "Time from the send to the final status, by route and status.", Buckets: delivery.DeliveryBuckets}, []string{"route", "status"}),
		callbacks: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "caddy_twilio_sms_status_callbacks_total",
			Help: "Status callbacks received, by route and result (accepted, forged, altered, expired, bad_request)."}, []string{"route", "result"}),
		polls: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "caddy_twilio_sms_status_polls_total",
			Help: "Status polls, by route and result (final, pending, error, gave_up, refused, stopped)."}, []string{"route", "result"}),
		pollsInFlight: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "caddy_twilio_sms_status_polls_in_flight",
			Help: "Messages a route's poller is following."}, []string{"route"}),
		receipts: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "caddy_twilio_sms_receipts_total",
			Help: "Receipts forwarded to callers, by route, dialect and result (delivered, failed, refused, dropped)."}, []string{"route", "dialect", "result"}),
		receiptQueue: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "caddy_twilio_sms_receipt_queue",
			Help: "Receipts waiting or being sent, by route."}, []string{"route"}),
		invalidations: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "caddy_twilio_sms_dedup_invalidations_total",
			Help: "Undelivered or failed messages whose dedup entry was dropped (a resend is not a retry), by route and result."}, []string{"route", "result"}),
	}
}

func (c *deliveryCollectors) list() []prometheus.Collector {
	return []prometheus.Collector{c.deliveries, c.deliveryTime, c.callbacks, c.polls, c.pollsInFlight, c.receipts, c.receiptQueue, c.invalidations}
}

var _ delivery.Observer = (*deliveryObserver)(nil)
