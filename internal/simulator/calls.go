package simulator

import (
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// maxTwiml is the longest Twiml parameter Twilio accepts, in characters.
const maxTwiml = 4000

// callSubresources are the subresource_uris of a Call: JSON key and XML element / path name.
var callSubresources = []struct{ key, name string }{
	{"notifications", "Notifications"},
	{"recordings", "Recordings"},
	{"payments", "Payments"},
	{"events", "Events"},
	{"siprec", "Siprec"},
	{"streams", "Streams"},
	{"transcriptions", "Transcriptions"},
	{"user_defined_message_subscriptions", "UserDefinedMessageSubscriptions"},
	{"user_defined_messages", "UserDefinedMessages"},
}

// callJSON is Twilio's Call resource, fields in the order of Twilio's OpenAPI.
type callJSON struct {
	SID             string            `json:"sid"`
	DateCreated     string            `json:"date_created"`
	DateUpdated     string            `json:"date_updated"`
	ParentCallSID   *string           `json:"parent_call_sid"`
	AccountSID      string            `json:"account_sid"`
	To              string            `json:"to"`
	ToFormatted     string            `json:"to_formatted"`
	From            string            `json:"from"`
	FromFormatted   string            `json:"from_formatted"`
	PhoneNumberSID  *string           `json:"phone_number_sid"`
	Status          string            `json:"status"`
	StartTime       *string           `json:"start_time"`
	EndTime         *string           `json:"end_time"`
	Duration        *string           `json:"duration"`
	Price           *string           `json:"price"`
	PriceUnit       string            `json:"price_unit"`
	Direction       string            `json:"direction"`
	AnsweredBy      *string           `json:"answered_by"`
	APIVersion      string            `json:"api_version"`
	ForwardedFrom   *string           `json:"forwarded_from"`
	GroupSID        *string           `json:"group_sid"`
	CallerName      *string           `json:"caller_name"`
	QueueTime       string            `json:"queue_time"`
	TrunkSID        *string           `json:"trunk_sid"`
	URI             string            `json:"uri"`
	SubresourceURIs map[string]string `json:"subresource_uris"`
}

// callXML is the Call resource as the 2010 API renders it in XML.
type callXML struct {
	XMLName         xml.Name   `xml:"Call"`
	SID             string     `xml:"Sid"`
	DateCreated     string     `xml:"DateCreated"`
	DateUpdated     string     `xml:"DateUpdated"`
	ParentCallSID   string     `xml:"ParentCallSid"`
	AccountSID      string     `xml:"AccountSid"`
	To              string     `xml:"To"`
	ToFormatted     string     `xml:"ToFormatted"`
	From            string     `xml:"From"`
	FromFormatted   string     `xml:"FromFormatted"`
	PhoneNumberSID  string     `xml:"PhoneNumberSid"`
	Status          string     `xml:"Status"`
	StartTime       string     `xml:"StartTime"`
	EndTime         string     `xml:"EndTime"`
	Duration        string     `xml:"Duration"`
	Price           string     `xml:"Price"`
	PriceUnit       string     `xml:"PriceUnit"`
	Direction       string     `xml:"Direction"`
	AnsweredBy      string     `xml:"AnsweredBy"`
	APIVersion      string     `xml:"ApiVersion"`
	ForwardedFrom   string     `xml:"ForwardedFrom"`
	GroupSID        string     `xml:"GroupSid"`
	CallerName      string     `xml:"CallerName"`
	QueueTime       string     `xml:"QueueTime"`
	TrunkSID        string     `xml:"TrunkSid"`
	URI             string     `xml:"Uri"`
	SubresourceURIs xmlURIList `xml:"SubresourceUris"`
}

// xmlURIList renders name/URI pairs as <Name>URI</Name> children, in order; in JSON they
// are the subresource_uris object, keyed by key.
type xmlURIList []xmlURI

type xmlURI struct{ name, key, uri string }

// MarshalXML implements xml.Marshaler.
func (l xmlURIList) MarshalXML(e *xml.Encoder, start xml.StartElement) error {
	if err := e.EncodeToken(start); err != nil {
		return err
	}
	for _, u := range l {
		if err := e.EncodeElement(u.uri, xml.StartElement{Name: xml.Name{Local: u.name}}); err != nil {
			return err
		}
	}
	return e.EncodeToken(start.End())
}

func (l xmlURIList) jsonMap() map[string]string {
	m := make(map[string]string, len(l))
	for _, u := range l {
		m[u.key] = u.uri
	}
	return m
}

// isEndpoint reports whether n is something a call can reach: an E.164 number or a
// sip:/client: address.
func isEndpoint(n string) bool {
	return e164Pattern.MatchString(n) || strings.HasPrefix(n, "sip:") || strings.HasPrefix(n, "client:")
}

// call is a created call, kept in the store. Its fields are guarded by store.mu.
type call struct {
	sid, account string
	to, from     string
	created      time.Time
	edited       time.Time
	steps        []step
	answeredBy   string // when MachineDetection was asked for
	callback     string // StatusCallback
	events       map[string]bool
	seq          *sequence
}

// createCall validates a Calls create request and answers 201 with the queued call.
func (s *Simulator) createCall(x *exchange) answer {
	form := x.form
	to, from := value(form, "To"), value(form, "From")
	callURL, twiml, app := value(form, "Url"), value(form, "Twiml"), value(form, "ApplicationSid")

	switch {
	case to == "":
		return invalid(21201, "No 'To' number is specified")
	case from == "":
		return invalid(21213, "No 'From' number is specified")
	case callURL == "" && twiml == "" && app == "":
		return invalid(21205, "Url parameter is required.")
	case callURL != "" && !absoluteHTTP(callURL):
		return invalid(21205, "Url is not a valid URL: "+callURL)
	case app != "" && !applicationSID.MatchString(app):
		return invalid(21218, "Invalid ApplicationSid "+app)
	case utf8.RuneCountInString(twiml) > maxTwiml:
		return invalid(12100, "Document parse failure: Twiml exceeds the 4000 character limit")
	case twiml != "" && !validTwiml(twiml):
		return invalid(12100, "Document parse failure")
	case !isEndpoint(to):
		return invalid(21217, "Phone number "+to+" does not appear to be valid")
	}
	events, ok := callEvents(form["StatusCallbackEvent"])
	if !ok {
		return invalid(21626, "Invalid 'StatusCallbackEvent'. One or more of the StatusCallbackEvents provided were invalid.")
	}
	if a, refused := checkCallFrom(x.acc, from); refused {
		return a
	}
	switch to {
	case "+15005550001":
		return invalid(21217, "Phone number "+to+" does not appear to be valid")
	case "+15005550002":
		return invalid(21214, "'To' phone number "+to+" cannot be reached")
	case "+15005550003":
		return invalid(21215, "Account not authorized to call "+to+". Perhaps you need to enable some international permissions: https://www.twilio.com/console/voice/calls/geo-permissions/low-risk")
	case "+15005550004":
		return invalid(21216, "Account not allowed to call "+to)
	}

	now := time.Now()
	out, ok := callOutcomes[to]
	if !ok {
		out = outcome{final: "completed"}
	}
	c := &call{
		sid: newSID("CA"), account: x.acc.sid, to: to, from: from, created: now,
		steps: callSteps(now, s.statusStep, out), callback: value(form, "StatusCallback"), events: events,
	}
	if md := value(form, "MachineDetection"); md != "" {
		c.answeredBy = "human"
		if out.answeredBy != "" {
			c.answeredBy = out.answeredBy
		}
	}
	created := c.answer(http.StatusCreated, now) // before c is shared
	s.store.add(c.sid, nil, c)
	if c.callback != "" {
		method := http.MethodPost
		if strings.EqualFold(value(form, "StatusCallbackMethod"), http.MethodGet) {
			method = http.MethodGet
		}
		s.notifier.start(c, x.acc, c.callback, method, 0)
	}
	return created
}

// callEvents reads StatusCallbackEvent: repeated, or several values separated by spaces
// (both forms are in use). Without it only completed is reported, as on Twilio.
func callEvents(values []string) (map[string]bool, bool) {
	events := map[string]bool{}
	for _, v := range values {
		for _, e := range strings.Fields(v) {
			switch e {
			case "initiated", "ringing", "answered", "completed":
				events[e] = true
			default:
				return nil, false
			}
		}
	}
	if len(events) == 0 {
		events["completed"] = true
	}
	return events, true
}

func (c *call) uri() string {
	return "/2010-04-01/Accounts/" + c.account + "/Calls/" + c.sid
}

func (c *call) answer(status int, now time.Time) answer {
	return answer{status: status, sid: c.sid, accepted: true, json: c.json(now), xml: c.xml(now)}
}

// callView is the call's state at now, shared by both formats ("" = null).
type callView struct {
	status, updated, start, end, duration, answeredBy string
}

func (c *call) view(now time.Time) callView {
	i := current(c.steps, now)
	cur := c.steps[i]
	updated := cur.at
	if c.edited.After(updated) {
		updated = c.edited
	}
	v := callView{status: cur.status, updated: updated.UTC().Format(rfc2822)}
	started, answered := stepAt(c.steps, "in-progress", now)
	if answered {
		v.start = started.UTC().Format(rfc2822)
		v.answeredBy = c.answeredBy
	}
	if finalStatus(cur.status) {
		v.end = cur.at.UTC().Format(rfc2822)
		v.duration = "0"
		if answered {
			v.duration = strconv.Itoa(int(cur.at.Sub(started).Seconds()))
		}
	}
	return v
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func (c *call) json(now time.Time) *callJSON {
	v := c.view(now)
	j := &callJSON{
		SID: c.sid, DateCreated: c.created.UTC().Format(rfc2822), DateUpdated: v.updated, AccountSID: c.account,
		To: c.to, ToFormatted: formatted(c.to), From: c.from, FromFormatted: formatted(c.from),
		Status: v.status, StartTime: nullable(v.start), EndTime: nullable(v.end), Duration: nullable(v.duration),
		PriceUnit: "USD", Direction: "outbound-api", AnsweredBy: nullable(v.answeredBy), APIVersion: apiVersion,
		QueueTime: "0", URI: c.uri() + ".json", SubresourceURIs: make(map[string]string, len(callSubresources)),
	}
	for _, sr := range callSubresources {
		j.SubresourceURIs[sr.key] = c.uri() + "/" + sr.name + ".json"
	}
	return j
}

func (c *call) xml(now time.Time) *callXML {
	v := c.view(now)
	x := &callXML{
		SID: c.sid, DateCreated: c.created.UTC().Format(rfc2822), DateUpdated: v.updated, AccountSID: c.account,
		To: c.to, ToFormatted: formatted(c.to), From: c.from, FromFormatted: formatted(c.from),
		Status: v.status, StartTime: v.start, EndTime: v.end, Duration: v.duration, PriceUnit: "USD",
		Direction: "outbound-api", AnsweredBy: v.answeredBy, APIVersion: apiVersion, QueueTime: "0", URI: c.uri(),
	}
	for _, sr := range callSubresources {
		x.SubresourceURIs = append(x.SubresourceURIs, xmlURI{name: sr.name, key: sr.key, uri: c.uri() + "/" + sr.name})
	}
	return x
}

// timeline implements callbackSource.
func (c *call) timeline() []step { return c.steps }

// setSequence implements callbackSource.
func (c *call) setSequence(seq *sequence) { c.seq = seq }

// callbackParams implements callbackSource: Twilio's call status callback for step i,
// posted when the call asked for the step's event (completed by default). The status
// reported for initiated is "initiated", for answered "in-progress".
func (c *call) callbackParams(i, sequence int) (url.Values, bool) {
	st := c.steps[i]
	if st.event == "" || !c.events[st.event] {
		return nil, false
	}
	status := st.status
	if st.event == "initiated" {
		status = "initiated"
	}
	p := url.Values{
		"CallSid":        {c.sid},
		"AccountSid":     {c.account},
		"From":           {c.from},
		"Caller":         {c.from},
		"To":             {c.to},
		"Called":         {c.to},
		"CallStatus":     {status},
		"Direction":      {"outbound-api"},
		"ApiVersion":     {apiVersion},
		"CallbackSource": {"call-progress-events"},
		"SequenceNumber": {strconv.Itoa(sequence)},
		"Timestamp":      {st.at.UTC().Format(rfc2822)},
	}
	if st.event == "answered" && c.answeredBy != "" {
		p.Set("AnsweredBy", c.answeredBy)
	}
	if st.event == "completed" {
		d := 0
		if started, ok := stepAt(c.steps, "in-progress", st.at); ok {
			d = int(st.at.Sub(started).Seconds())
		}
		p.Set("CallDuration", strconv.Itoa(d))
		p.Set("Duration", strconv.Itoa((d+59)/60))
	}
	return p, true
}

func (s *Simulator) lookupCall(x *exchange) (*call, answer, bool) {
	c := s.store.calls[x.route.sid]
	if c == nil || c.account != x.acc.sid {
		return nil, notFound(x.req.URL.Path), false
	}
	return c, answer{}, true
}

func (s *Simulator) fetchCall(x *exchange) answer {
	s.store.mu.RLock()
	defer s.store.mu.RUnlock()
	c, a, ok := s.lookupCall(x)
	if !ok {
		return a
	}
	return c.answer(http.StatusOK, time.Now())
}

// updateCall applies Status (canceled ends a queued or ringing call; completed hangs up an
// answered one and cancels one not yet answered) and accepts the redirect parameters
// (Url, Twiml, ...), which a call that has ended refuses with 21220.
func (s *Simulator) updateCall(x *exchange) answer {
	s.store.mu.Lock()
	defer s.store.mu.Unlock()
	c, a, ok := s.lookupCall(x)
	if !ok {
		return a
	}
	now := time.Now()
	cur := c.steps[current(c.steps, now)].status
	status := value(x.form, "Status")
	if status != "" && status != "canceled" && status != "completed" {
		return invalid(20001, "Status must be canceled or completed")
	}
	if twiml := value(x.form, "Twiml"); twiml != "" && !validTwiml(twiml) {
		return invalid(12100, "Document parse failure")
	}
	if u := value(x.form, "Url"); u != "" && !absoluteHTTP(u) {
		return invalid(21205, "Url is not a valid URL: "+u)
	}
	redirect := value(x.form, "Url") != "" || value(x.form, "Twiml") != ""
	if redirect && finalStatus(cur) {
		return invalid(21220, "Call is not in-progress. Cannot redirect.")
	}
	var end string
	switch {
	case status == "" || finalStatus(cur):
	case cur == "in-progress" && status == "completed":
		end = "completed"
	case cur == "queued" || cur == "ringing":
		end = "canceled"
	}
	if end != "" {
		c.steps = truncate(c.steps, now, step{status: end, event: "completed"})
		s.notifier.wake(c.seq)
	}
	if end != "" || redirect {
		c.edited = now
	}
	return c.answer(http.StatusOK, now)
}

// deleteCall forgets a call that has ended (204); before that, 400 / 20009.
func (s *Simulator) deleteCall(x *exchange) answer {
	s.store.mu.Lock()
	defer s.store.mu.Unlock()
	c, a, ok := s.lookupCall(x)
	if !ok {
		return a
	}
	if !settled(c.steps, time.Now()) {
		return invalid(20009, "Cannot delete this resource before it is complete")
	}
	delete(s.store.calls, c.sid)
	return answer{status: http.StatusNoContent, sid: c.sid, accepted: true}
}

// checkCallFrom applies the magic From numbers (only within the magic range, so ordinary
// numbers pass), the caller ID syntax and the account's senders.
func checkCallFrom(acc *account, from string) (answer, bool) {
	switch {
	case from == magicValidFrom:
		return answer{}, false
	case from == "+15005550001" || !isEndpoint(from):
		return invalid(21212, "The 'From' number "+from+" is not a valid phone number."), true
	case isMagic(from), acc.senders != nil && !acc.senders[from]:
		return invalid(21210, "The source phone number provided, "+from+", is not yet verified for your account. You may only make calls from phone numbers that you've verified or purchased from Twilio."), true
	}
	return answer{}, false
}

func absoluteHTTP(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// validTwiml reports whether doc is well-formed XML with a single <Response> root.
func validTwiml(doc string) bool {
	dec := xml.NewDecoder(strings.NewReader(doc))
	depth, roots := 0, 0
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return roots == 1 && depth == 0
		}
		if err != nil {
			return false
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if depth == 0 {
				roots++
				if roots > 1 || t.Name.Local != "Response" {
					return false
				}
			}
			depth++
		case xml.EndElement:
			depth--
		case xml.CharData:
			if depth == 0 && len(strings.TrimSpace(string(t))) > 0 {
				return false
			}
		}
	}
}
