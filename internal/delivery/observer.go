package delivery

import "time"

// Observer receives what the delivery metrics count. Every method must be
// cheap and safe for concurrent use. Labels are route names, bounded sets
// and ISO country codes, never a number, a sender or a text.
type Observer interface {
	// Delivery is one message's final status.
	Delivery(d Delivery)
	// Callback is one status callback received: result accepted, forged,
	// altered, expired or bad_request (Reason). route is "" unless the
	// token was genuine.
	Callback(route, result string)
	// Poll is one fetch of a message's status, or a message the poller
	// would not take: result final (a final status), pending (fetched, not
	// final yet), error (the fetch failed), gave_up (the attempt limit was
	// reached), refused (the in-flight set was full) or stopped.
	Poll(route, result string)
	// PollsInFlight is the number of messages a route's poller is following.
	PollsInFlight(route string, n int)
	// Receipt is one receipt to a caller, after its last attempt: result
	// delivered (the receiver took it), failed (every attempt failed),
	// refused (its host is not in receipt_hosts), dropped (the queue was
	// full or the forwarder stopping). dialect is kannel, jasmin or twilio.
	Receipt(route, dialect, result string)
	// ReceiptQueue is the number of receipts a route's forwarder has waiting
	// or being sent.
	ReceiptQueue(route string, n int)
	// Invalidated is one undelivered or failed message whose dedup entry
	// was dropped (result dropped), already gone (absent) or could not be
	// dropped (error).
	Invalidated(route, result string)
}

// Delivery is one final status, as the metrics see it.
type Delivery struct {
	Route string
	// Status is delivered, undelivered, failed, or sent (sent, and no
	// delivery receipt ever came).
	Status string
	// ErrorCode is Twilio's error code as a label ("30003"), "" for none.
	ErrorCode string
	// Country is the destination's ISO region ("DE"), "" when unknown.
	Country string
	// Sender is SenderKind of the sender.
	Sender string
	// Latency is from the create to the final status; 0 when unknown.
	Latency time.Duration
	// Source is callback or poll.
	Source string
}

// NopObserver observes nothing.
type NopObserver struct{}

func (NopObserver) Delivery(Delivery)              {}
func (NopObserver) Callback(string, string)        {}
func (NopObserver) Poll(string, string)            {}
func (NopObserver) PollsInFlight(string, int)      {}
func (NopObserver) Receipt(string, string, string) {}
func (NopObserver) ReceiptQueue(string, int)       {}
func (NopObserver) Invalidated(string, string)     {}

// The metrics an Observer is meant to feed (Caddy's registry, prefix
// caddy_twilio_sms_), by the method that feeds them:
//
//	caddy_twilio_sms_deliveries_total{route,status,error_code,country,sender}  counter    Delivery
//	caddy_twilio_sms_delivery_seconds{route,status}                             histogram  Delivery (Latency > 0)
//	caddy_twilio_sms_status_callbacks_total{route,result}                       counter    Callback
//	caddy_twilio_sms_status_polls_total{route,result}                           counter    Poll
//	caddy_twilio_sms_status_polls_in_flight{route}                              gauge      PollsInFlight
//	caddy_twilio_sms_receipts_total{route,dialect,result}                       counter    Receipt
//	caddy_twilio_sms_receipt_queue{route}                                       gauge      ReceiptQueue
//	caddy_twilio_sms_dedup_invalidations_total{route,result}                    counter    Invalidated
const (
	MetricDeliveries          = "caddy_twilio_sms_deliveries_total"
	MetricDeliverySeconds     = "caddy_twilio_sms_delivery_seconds"
	MetricStatusCallbacks     = "caddy_twilio_sms_status_callbacks_total"
	MetricStatusPolls         = "caddy_twilio_sms_status_polls_total"
	MetricStatusPollsInFlight = "caddy_twilio_sms_status_polls_in_flight"
	MetricReceipts            = "caddy_twilio_sms_receipts_total"
	MetricReceiptQueue        = "caddy_twilio_sms_receipt_queue"
	MetricDedupInvalidations  = "caddy_twilio_sms_dedup_invalidations_total"
)

// MetricNames lists the metric names above.
var MetricNames = []string{
	MetricDeliveries, MetricDeliverySeconds, MetricStatusCallbacks, MetricStatusPolls,
	MetricStatusPollsInFlight, MetricReceipts, MetricReceiptQueue, MetricDedupInvalidations,
}

// DeliveryBuckets are the buckets proposed for caddy_twilio_sms_delivery_seconds:
// one second (a handset next door) to six hours (a handset that was off).
var DeliveryBuckets = []float64{1, 2, 3, 5, 10, 15, 30, 60, 120, 300, 600, 1800, 3600, 21600}
