package twilio

import (
	"bytes"
	"encoding/xml"
	"net/http"
	"strconv"
	"strings"
	"unsafe"

	"github.com/tidwall/gjson"
)

// Outcome is what Twilio answered, read from its JSON or XML reply.
type Outcome struct {
	// HTTPStatus is Twilio's status code.
	HTTPStatus int
	// Accepted is true for any 2xx: Twilio created the message, call or execution.
	// A 2xx with an unreadable body is still accepted: the code may be on its way,
	// so it must never be sent again.
	Accepted bool
	// Sid is the created resource's SID (SM…, MM…, CA…, FN…), when readable.
	Sid string
	// Status is the resource status ("queued", "accepted", "active", ...).
	Status string
	// ErrorCode, ErrorMessage and MoreInfo come from Twilio's error body
	// ({"code","message","more_info"} or <RestException>).
	ErrorCode    int
	ErrorMessage string
	MoreInfo     string
	// ConcurrentRequests is Twilio's Twilio-Concurrent-Requests header, 0 if absent.
	ConcurrentRequests int
	// ContentType and Body are Twilio's raw reply, for dialects that relay it
	// (the Twilio-compatible passthrough). Body contains the message text: never log it.
	ContentType string
	Body        []byte
	// Malformed is set when the body could not be read as Twilio JSON or XML.
	Malformed bool
	// Header holds Twilio's response headers that a Twilio-compatible
	// caller may read (RelayedHeaders), nil when there were none.
	Header http.Header
}

// RelayedHeaders are the response headers of Twilio's that the passthrough
// relays to its caller as Twilio sent them. The rest (connection handling,
// caching, Twilio's edge internals) are the adapter's own business.
var RelayedHeaders = []string{"Twilio-Request-Id", "Twilio-Request-Duration", "Twilio-Concurrent-Requests"}

// relayed copies the RelayedHeaders of h.
func relayed(h http.Header) http.Header {
	var out http.Header
	for _, k := range RelayedHeaders {
		if v := h.Values(k); len(v) > 0 {
			if out == nil {
				out = make(http.Header, len(RelayedHeaders))
			}
			out[k] = v
		}
	}
	return out
}

// parseOutcome reads a Twilio reply body. It never fails: what cannot be read is
// left empty and Malformed is set.
func parseOutcome(status int, contentType string, body []byte) *Outcome {
	o := &Outcome{HTTPStatus: status, Accepted: status >= 200 && status < 300, ContentType: contentType, Body: body}
	// A plain prefix test: mime.ParseMediaType allocates a parameter map per reply.
	mt := strings.ToLower(strings.TrimSpace(contentType))
	trimmed := bytes.TrimSpace(body)
	isXML := strings.HasPrefix(mt, "application/xml") || strings.HasPrefix(mt, "text/xml") ||
		(mt == "" && len(trimmed) > 0 && trimmed[0] == '<')
	if isXML {
		parseXML(o, trimmed)
	} else {
		parseJSON(o, trimmed)
	}
	return o
}

func parseJSON(o *Outcome, body []byte) {
	if len(body) == 0 || !gjson.ValidBytes(body) {
		o.Malformed = true
		return
	}
	// Read through a string view of body, which is not modified while it is
	// read, and copy out what is kept: gjson.GetBytes would copy every value
	// it finds, and a value kept as a view would keep the whole reply, which
	// echoes the message text, alive with it.
	view := unsafe.String(unsafe.SliceData(body), len(body))
	if o.Accepted {
		o.Sid = strings.Clone(gjson.Get(view, "sid").String())
		o.Status = knownStatus(gjson.Get(view, "status").String())
		if o.Sid == "" {
			o.Malformed = true
		}
		return
	}
	res := gjson.GetMany(view, "code", "message", "more_info")
	o.ErrorCode = int(res[0].Int())
	o.ErrorMessage = strings.Clone(res[1].String())
	o.MoreInfo = strings.Clone(res[2].String())
	if !res[0].Exists() {
		o.Malformed = true
	}
}

// statuses are the resource statuses Twilio's 2010 API and Studio answer
// with, kept as constants so that reading one allocates nothing.
var statuses = [...]string{
	"queued", "accepted", "scheduled", "sending", "sent", "failed", "delivered", "undelivered",
	"receiving", "received", "read", "canceled", "initiated", "ringing", "in-progress", "busy",
	"no-answer", "completed", "active", "ended",
}

// knownStatus is s itself when it is one of statuses, else a copy of s.
func knownStatus(s string) string {
	for _, k := range statuses {
		if s == k {
			return k
		}
	}
	return strings.Clone(s)
}

// xmlReply covers both XML shapes of the 2010 API: a created resource and a RestException.
type xmlReply struct {
	XMLName xml.Name `xml:"TwilioResponse"`
	Message *struct {
		Sid    string `xml:"Sid"`
		Status string `xml:"Status"`
	} `xml:"Message"`
	Call *struct {
		Sid    string `xml:"Sid"`
		Status string `xml:"Status"`
	} `xml:"Call"`
	RestException *struct {
		Code     string `xml:"Code"`
		Message  string `xml:"Message"`
		MoreInfo string `xml:"MoreInfo"`
	} `xml:"RestException"`
}

func parseXML(o *Outcome, body []byte) {
	var r xmlReply
	if err := xml.Unmarshal(body, &r); err != nil {
		o.Malformed = true
		return
	}
	switch {
	case r.Message != nil:
		o.Sid, o.Status = r.Message.Sid, r.Message.Status
	case r.Call != nil:
		o.Sid, o.Status = r.Call.Sid, r.Call.Status
	}
	if r.RestException != nil {
		o.ErrorCode, _ = strconv.Atoi(r.RestException.Code)
		o.ErrorMessage = r.RestException.Message
		o.MoreInfo = r.RestException.MoreInfo
	}
	if (o.Accepted && o.Sid == "") || (!o.Accepted && r.RestException == nil) {
		o.Malformed = true
	}
}
