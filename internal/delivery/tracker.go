package delivery

import (
	"context"
	"strconv"
	"sync"
	"time"

	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/phone"
)

// DefaultSeen is how many (message, status) pairs a Tracker remembers to
// drop repeats when Tracker.Seen is 0.
const DefaultSeen = 10000

// Event is the one structured log event of a final status. It holds no
// number in clear: To is masked (phone.Mask).
type Event struct {
	Route      string
	MessageSid string
	AccountSid string
	// Status is delivered, undelivered, failed or sent (no receipt).
	Status    string
	ErrorCode int
	// To is the destination, masked: "+4477••••123".
	To      string
	Country string
	Sender  string
	// Latency is from the create to the final status; 0 when unknown.
	Latency time.Duration
	Source  string
	// Invalidated is what became of the send's dedup entry (undelivered
	// and failed only): dropped, absent, error, or "" when not tried.
	Invalidated string
}

// Invalidator drops the dedup entry of a send whose delivery failed, so that
// the caller's next identical request is sent again (a resend after a
// failed delivery is not a retry of a send in doubt). tag is the token's
// Tag (the local dedup key in hex), sid the message SID (the shared store's
// tag: redisstate.Dedup.MarkFailedTag). It reports whether an entry was
// dropped.
type Invalidator func(ctx context.Context, route, tag, sid string) (dropped bool, err error)

// Tracker takes every status of a message (from callbacks or polls) and acts
// on it: a receipt to the caller where one is asked for (queued, never
// awaited); and on a final status, a Delivery for the metrics, one Event for
// the log and, for undelivered and failed, the dedup invalidation. Repeats
// (the same message and status again, or an earlier status after the final
// one) are dropped, up to the last Seen pairs. The zero Tracker does nothing
// but drop repeats; a Tracker is safe for concurrent use.
type Tracker struct {
	// Observer receives the metrics (nil: none).
	Observer Observer
	// Log receives the event of each final status (nil: none).
	Log func(Event)
	// Invalidate is called for undelivered and failed messages (nil: none).
	Invalidate Invalidator
	// Receipts sends receipts to callers (nil: none are sent).
	Receipts *Forwarder
	// AuthToken gives the secret that re-signs a Twilio receipt when the
	// token carries no CallerToken (stored credentials).
	AuthToken func(accountSID string) string
	// Seen is how many (message, status) pairs are remembered
	// (DefaultSeen when 0).
	Seen int

	mu   sync.Mutex
	seen map[string]struct{}
	ring []string
	next int
}

func (t *Tracker) observer() Observer {
	if t.Observer == nil {
		return NopObserver{}
	}
	return t.Observer
}

// Handle acts on one status and reports whether it was new (false: a repeat,
// ignored). ctx bounds the dedup invalidation.
func (t *Tracker) Handle(ctx context.Context, st *Status) bool {
	if st == nil || st.MessageSid == "" {
		return false
	}
	final := st.IsFinal()
	if !t.remember(st.MessageSid, st.Status, final) {
		return false
	}
	if r, ok := BuildReceipt(st, t.AuthToken); ok && t.Receipts != nil {
		t.Receipts.Enqueue(r)
	}
	if !final {
		return true
	}
	o := t.observer()
	route := st.Token.Route
	d := Delivery{
		Route:   route,
		Status:  st.Status,
		Country: phone.Region(stripChannel(st.To)),
		Sender:  SenderKind(st.From, st.MessagingServiceSid),
		Source:  st.Source,
	}
	if st.ErrorCode != 0 {
		d.ErrorCode = strconv.Itoa(st.ErrorCode)
	}
	if !st.Token.Sent.IsZero() && st.At.After(st.Token.Sent) {
		d.Latency = st.At.Sub(st.Token.Sent)
	}
	o.Delivery(d)
	ev := Event{Route: route, MessageSid: st.MessageSid, AccountSid: st.AccountSid, Status: st.Status, ErrorCode: st.ErrorCode,
		To: phone.Mask(stripChannel(st.To)), Country: d.Country, Sender: d.Sender, Latency: d.Latency, Source: st.Source}
	if (st.Status == StatusUndelivered || st.Status == StatusFailed) && t.Invalidate != nil {
		dropped, err := t.Invalidate(ctx, route, st.Token.Tag, st.MessageSid)
		switch {
		case err != nil:
			ev.Invalidated = "error"
		case dropped:
			ev.Invalidated = "dropped"
		default:
			ev.Invalidated = "absent"
		}
		o.Invalidated(route, ev.Invalidated)
	}
	if t.Log != nil {
		t.Log(ev)
	}
	return true
}

// remember records (sid, status) and reports whether it is new. Once a
// message's final status is seen, its earlier statuses are repeats too.
func (t *Tracker) remember(sid, status string, final bool) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.seen == nil {
		n := t.Seen
		if n <= 0 {
			n = DefaultSeen
		}
		t.seen = make(map[string]struct{}, n)
		t.ring = make([]string, n)
	}
	key := sid + "|" + status
	if final {
		key += "|final"
	}
	if _, ok := t.seen[key]; ok {
		return false
	}
	if _, ok := t.seen[sid+"|*final"]; ok && !final {
		return false // an earlier status arriving late
	}
	t.add(key)
	if final {
		t.add(sid + "|*final")
	}
	return true
}

func (t *Tracker) add(key string) {
	if old := t.ring[t.next]; old != "" {
		delete(t.seen, old)
	}
	t.ring[t.next] = key
	t.seen[key] = struct{}{}
	t.next = (t.next + 1) % len(t.ring)
}
