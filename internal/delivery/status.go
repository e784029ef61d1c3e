package delivery

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/phone"
)

// Twilio message statuses this package acts on.
const (
	StatusQueued      = "queued"
	StatusSent        = "sent"
	StatusDelivered   = "delivered"
	StatusUndelivered = "undelivered"
	StatusFailed      = "failed"
)

// Where a Status came from.
const (
	SourceCallback = "callback"
	SourcePoll     = "poll"
)

// Status is one status of a message as Twilio reported it, by a status
// callback or a fetch.
type Status struct {
	MessageSid, AccountSid string
	// Status is Twilio's MessageStatus: queued, sent, delivered, undelivered,
	// failed, ... as Twilio spells it.
	Status string
	// ErrorCode is Twilio's error code (30003, ...), 0 for none.
	ErrorCode int
	// To and From are the message's addresses as Twilio gives them. To is a
	// person's number: never log it except through phone.Mask, never use it
	// as a metric label.
	To, From string
	// MessagingServiceSid is set when the message went through one.
	MessagingServiceSid string
	// RawDlrDoneDate is the carrier's done date (YYMMDDhhmm, UTC) when
	// Twilio passes it on (delivered, undelivered).
	RawDlrDoneDate string
	// Token is the verified token of the callback, or the one the poller
	// was given.
	Token Token
	// Params are the callback's parameters exactly as Twilio posted them
	// (forwarded to a Twilio caller's own StatusCallback); nil from a poll.
	Params url.Values
	// IdempotencyToken is Twilio's I-Twilio-Idempotency-Token, relayed.
	IdempotencyToken string
	// At is when the status was reached: the callback's arrival, or the
	// fetched message's date_updated.
	At time.Time
	// Source is SourceCallback or SourcePoll.
	Source string
	// Final marks a "sent" that the poller gave up on: the message was sent
	// and no delivery receipt came (carriers without receipts). Delivered,
	// undelivered and failed are final without it.
	Final bool
}

// IsFinal reports whether s is a final status: delivered, undelivered,
// failed, or a sent the poller gave up on.
func (s *Status) IsFinal() bool {
	switch s.Status {
	case StatusDelivered, StatusUndelivered, StatusFailed:
		return true
	case StatusSent:
		return s.Final
	}
	return false
}

// Terminal reports whether a Twilio message status can change no more (the
// poller stops there): delivered, undelivered, failed, canceled, read.
func Terminal(status string) bool {
	switch status {
	case StatusDelivered, StatusUndelivered, StatusFailed, "canceled", "read":
		return true
	}
	return false
}

// statusFromForm reads a status callback's parameters.
func statusFromForm(form url.Values) *Status {
	st := &Status{
		MessageSid:          first(form, "MessageSid", "SmsSid"),
		AccountSid:          form.Get("AccountSid"),
		Status:              strings.ToLower(first(form, "MessageStatus", "SmsStatus")),
		To:                  form.Get("To"),
		From:                form.Get("From"),
		MessagingServiceSid: form.Get("MessagingServiceSid"),
		RawDlrDoneDate:      form.Get("RawDlrDoneDate"),
		Params:              form,
		Source:              SourceCallback,
	}
	st.ErrorCode, _ = strconv.Atoi(form.Get("ErrorCode"))
	return st
}

func first(form url.Values, names ...string) string {
	for _, n := range names {
		if v := form.Get(n); v != "" {
			return v
		}
	}
	return ""
}

// message is the part of Twilio's Message resource (JSON) the poller reads.
type message struct {
	Sid                 string  `json:"sid"`
	AccountSid          string  `json:"account_sid"`
	Status              string  `json:"status"`
	ErrorCode           *int    `json:"error_code"`
	To                  string  `json:"to"`
	From                *string `json:"from"`
	MessagingServiceSid *string `json:"messaging_service_sid"`
	DateUpdated         string  `json:"date_updated"`
}

// ParseMessage reads Twilio's Message resource as fetched (GET
// /2010-04-01/Accounts/{AccountSid}/Messages/{Sid}.json) into a Status with
// Source SourcePoll and At its date_updated (zero when absent).
func ParseMessage(body []byte) (*Status, error) {
	var m message
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, err
	}
	if m.Sid == "" || m.Status == "" {
		return nil, errors.New("delivery: the fetched message has no sid or status")
	}
	st := &Status{MessageSid: m.Sid, AccountSid: m.AccountSid, Status: strings.ToLower(m.Status), To: m.To, Source: SourcePoll}
	if m.ErrorCode != nil {
		st.ErrorCode = *m.ErrorCode
	}
	if m.From != nil {
		st.From = *m.From
	}
	if m.MessagingServiceSid != nil {
		st.MessagingServiceSid = *m.MessagingServiceSid
	}
	if at, err := time.Parse(time.RFC1123Z, m.DateUpdated); err == nil { // Twilio's "Sun, 01 Mar 2026 12:00:07 +0000"
		st.At = at
	} else if at, err := http.ParseTime(m.DateUpdated); err == nil {
		st.At = at
	}
	return st, nil
}

// twilioParams are the parameters of a Twilio message status callback for
// st: the ones Twilio posted, or (from a poll) the same set rebuilt.
func twilioParams(st *Status) url.Values {
	if st.Params != nil {
		return st.Params
	}
	p := url.Values{
		"MessageSid":    {st.MessageSid},
		"SmsSid":        {st.MessageSid},
		"MessageStatus": {st.Status},
		"SmsStatus":     {st.Status},
		"AccountSid":    {st.AccountSid},
		"From":          {st.From},
		"To":            {st.To},
		"ApiVersion":    {"2010-04-01"},
	}
	if st.MessagingServiceSid != "" {
		p.Set("MessagingServiceSid", st.MessagingServiceSid)
	}
	if st.ErrorCode != 0 {
		p.Set("ErrorCode", strconv.Itoa(st.ErrorCode))
	}
	if st.RawDlrDoneDate != "" {
		p.Set("RawDlrDoneDate", st.RawDlrDoneDate)
	}
	return p
}

// Sender kinds, the sender label of a Delivery.
const (
	SenderLongCode         = "long_code"
	SenderShortCode        = "short_code"
	SenderAlphanumeric     = "alphanumeric"
	SenderMessagingService = "messaging_service"
	SenderWhatsApp         = "whatsapp"
	SenderUnknown          = "unknown"
)

// SenderKind is a bounded label for the sender of a message: whatsapp,
// short_code, alphanumeric, long_code (any E.164 number), messaging_service
// (no From known) or unknown. Never the sender itself.
func SenderKind(from, messagingServiceSid string) string {
	switch {
	case strings.HasPrefix(from, "whatsapp:"):
		return SenderWhatsApp
	case from == "" && messagingServiceSid != "":
		return SenderMessagingService
	case from == "":
		return SenderUnknown
	case from[0] == '+' && len(from) > 7 && digits(from[1:]):
		return SenderLongCode
	case len(from) >= 3 && len(from) <= 8 && digits(from):
		return SenderShortCode
	case phone.IsAlphanumericSenderID(from):
		return SenderAlphanumeric
	}
	return SenderUnknown
}

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}
