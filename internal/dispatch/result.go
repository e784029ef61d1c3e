package dispatch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/twilio"
)

// Attempt reasons, for logs and metrics labels. An attempt that got an HTTP
// answer from Twilio has an empty reason unless its body was unreadable.
const (
	ReasonMalformed   = "malformed"    // Twilio answered with a body we could not read
	ReasonNotReached  = "not_reached"  // no connection was ever obtained
	ReasonTimeout     = "timeout"      // timed out after connecting: may have been sent
	ReasonTransport   = "transport"    // other failure after connecting (reset …): may have been sent
	ReasonCanceled    = "canceled"     // the caller went away during the request
	ReasonError       = "error"        // any other client error
	ReasonBreakerOpen = "breaker_open" // skipped: the account's breaker is open
	ReasonQueueFull   = "queue_full"   // skipped: the account's wait queue is full
	ReasonNoSlot      = "no_slot"      // no limiter slot before the time budget ran out
	ReasonBuild       = "build"        // the request could not be built for this account
	ReasonNoBudget    = "no_budget"    // the context ended before the request could start
)

var (
	// ErrEmptyPlan is the Result error when Send is given no account.
	ErrEmptyPlan = errors.New("no account to send through")
	// ErrNoBudget is the Result error when the context's deadline leaves less
	// than the minimum attempt time for another attempt. It matches
	// context.DeadlineExceeded.
	ErrNoBudget = fmt.Errorf("no time left for another attempt: %w", context.DeadlineExceeded)
)

// Attempt is one step of a Send: a request to Twilio or an account skipped.
// It holds no message text, number or credential.
type Attempt struct {
	// Account is the account's Name.
	Account string `json:"account"`
	// HTTPStatus is Twilio's status, 0 without an answer.
	HTTPStatus int `json:"status,omitempty"`
	// Code is Twilio's error code, 0 if none.
	Code int `json:"code,omitempty"`
	// Decision is what this step allowed.
	Decision Decision `json:"decision"`
	// Reason is one of the Reason constants, empty for a readable answer.
	Reason string `json:"reason,omitempty"`
	// Duration is the time spent on the step.
	Duration time.Duration `json:"duration"`
}

// Result is the definite end of one Send.
//
// Decision is Accepted when Twilio created the message (on Account). Final means
// the request stopped on a definite refusal (Outcome holds Twilio's error), on a
// build error, or on a failure after which it may have been sent: MayHaveSent
// tells. FallbackOK means every account refused or was unavailable and nothing
// was sent; Retryable means the time budget, the retries or the plan ran out on
// answers that prove nothing was sent, so the caller may try again later.
//
// A Result carries no message text: Outcome.Body (Twilio's raw reply, which
// echoes the text) is dropped unless Dispatcher.KeepReplyBody is set for a
// passthrough dialect, and even then String, GoString and MarshalJSON leave it out.
type Result struct {
	// Outcome is Twilio's last answer, nil if the last step got none. Its Body
	// is nil unless Dispatcher.KeepReplyBody is set.
	Outcome *twilio.Outcome
	// Err is the last error: a *twilio.SendError, a build error, ErrBreakerOpen,
	// ErrQueueFull, ErrNoBudget, ErrEmptyPlan or the context's error.
	Err error
	// Account is the account of the last step.
	Account *Account
	// Attempts are the steps in order.
	Attempts []Attempt
	// Retries counts extra attempts on the same account; Fallbacks counts the
	// moves to the next account (a skipped account counts).
	Retries, Fallbacks int
	// Decision sums the Result up (see the type's doc).
	Decision Decision

	maybeSent bool
	buf       [4]Attempt // backing array of Attempts, saves an allocation
}

// MayHaveSent reports whether Twilio created, or may have created, the message:
// it was accepted, or a request got an answer or failure that does not prove
// nothing was created (a timeout or reset after connecting, a 5xx other than
// Twilio's 503/20503, a reply without Twilio's error body; see Classify). When
// false, nothing was sent and the caller may safely try again later.
func (r *Result) MayHaveSent() bool { return r.maybeSent }

// Sid is the created resource's SID, "" if none.
func (r *Result) Sid() string {
	if r.Outcome == nil || !r.Outcome.Accepted {
		return ""
	}
	return r.Outcome.Sid
}

func (r *Result) add(a *Account, o *twilio.Outcome, err error, d Decision, reason string, dur time.Duration) {
	at := Attempt{Account: a.Name, Decision: d, Reason: reason, Duration: dur}
	if o != nil {
		at.HTTPStatus, at.Code = o.HTTPStatus, o.ErrorCode
		if o.Malformed && reason == "" {
			at.Reason = ReasonMalformed
		}
	}
	r.Attempts = append(r.Attempts, at)
	r.Outcome, r.Err, r.Account, r.Decision = o, err, a, d
}

// String is a one-line summary for logs.
func (r *Result) String() string {
	var b strings.Builder
	b.WriteString("decision=")
	b.WriteString(r.Decision.String())
	if r.Account != nil {
		b.WriteString(" account=")
		b.WriteString(r.Account.Name)
	}
	if r.Outcome != nil {
		b.WriteString(" status=")
		b.WriteString(strconv.Itoa(r.Outcome.HTTPStatus))
		if r.Outcome.ErrorCode != 0 {
			b.WriteString(" code=")
			b.WriteString(strconv.Itoa(r.Outcome.ErrorCode))
		}
		if sid := r.Sid(); sid != "" {
			b.WriteString(" sid=")
			b.WriteString(sid)
		}
	}
	if r.Err != nil {
		b.WriteString(" err=")
		b.WriteString(strconv.Quote(r.Err.Error()))
	}
	fmt.Fprintf(&b, " may_have_sent=%t retries=%d fallbacks=%d attempts=[", r.maybeSent, r.Retries, r.Fallbacks)
	for i, a := range r.Attempts {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%s/%d/%d/%s", a.Account, a.HTTPStatus, a.Code, a.Decision)
		if a.Reason != "" {
			b.WriteString("/" + a.Reason)
		}
		b.WriteString("/" + a.Duration.String())
	}
	b.WriteByte(']')
	return b.String()
}

// GoString keeps %#v to the same safe summary.
func (r *Result) GoString() string { return r.String() }

// MarshalJSON writes the safe summary: no Outcome body.
func (r *Result) MarshalJSON() ([]byte, error) {
	v := struct {
		Decision    Decision  `json:"decision"`
		Account     string    `json:"account,omitempty"`
		HTTPStatus  int       `json:"status,omitempty"`
		Code        int       `json:"code,omitempty"`
		Sid         string    `json:"sid,omitempty"`
		Error       string    `json:"error,omitempty"`
		MayHaveSent bool      `json:"may_have_sent"`
		Retries     int       `json:"retries"`
		Fallbacks   int       `json:"fallbacks"`
		Attempts    []Attempt `json:"attempts"`
	}{Decision: r.Decision, Sid: r.Sid(), MayHaveSent: r.maybeSent, Retries: r.Retries, Fallbacks: r.Fallbacks, Attempts: r.Attempts}
	if r.Account != nil {
		v.Account = r.Account.Name
	}
	if r.Outcome != nil {
		v.HTTPStatus, v.Code = r.Outcome.HTTPStatus, r.Outcome.ErrorCode
	}
	if r.Err != nil {
		v.Error = r.Err.Error()
	}
	return json.Marshal(v)
}
