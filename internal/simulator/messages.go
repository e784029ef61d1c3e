package simulator

import (
	"encoding/json"
	"encoding/xml"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

const (
	apiVersion = "2010-04-01"
	// rfc2822 is the date layout of the 2010 API.
	rfc2822 = "Mon, 02 Jan 2006 15:04:05 +0000"
	// maxBody is the longest Body Twilio accepts, in characters.
	maxBody = 1600
	// maxMedia is the most MediaUrl values a message may carry.
	maxMedia = 10
	// maxValidity is the longest ValidityPeriod, in seconds.
	maxValidity = 36000
	// maxCallbackURL is the longest StatusCallback Twilio accepts.
	maxCallbackURL = 4000
	// The window of SendAt: at least 15 minutes and at most 35 days after the request
	// (error 35114 as documented in 2024; a newer page says 5 minutes).
	minScheduleLead = 15 * time.Minute
	maxScheduleLead = 35 * 24 * time.Hour
)

// messageJSON is Twilio's Message resource, fields in Twilio's order.
type messageJSON struct {
	Body                string            `json:"body"`
	NumSegments         string            `json:"num_segments"`
	Direction           string            `json:"direction"`
	From                *string           `json:"from"`
	To                  string            `json:"to"`
	DateUpdated         string            `json:"date_updated"`
	Price               *string           `json:"price"`
	ErrorMessage        *string           `json:"error_message"`
	URI                 string            `json:"uri"`
	AccountSID          string            `json:"account_sid"`
	NumMedia            string            `json:"num_media"`
	Status              string            `json:"status"`
	MessagingServiceSID *string           `json:"messaging_service_sid"`
	SID                 string            `json:"sid"`
	DateSent            *string           `json:"date_sent"`
	DateCreated         string            `json:"date_created"`
	ErrorCode           *int              `json:"error_code"`
	PriceUnit           string            `json:"price_unit"`
	APIVersion          string            `json:"api_version"`
	SubresourceURIs     map[string]string `json:"subresource_uris"`
}

// messageXML is the Message resource as the 2010 API renders it in XML; null is an empty element.
type messageXML struct {
	XMLName             xml.Name   `xml:"Message"`
	SID                 string     `xml:"Sid"`
	DateCreated         string     `xml:"DateCreated"`
	DateUpdated         string     `xml:"DateUpdated"`
	DateSent            string     `xml:"DateSent"`
	AccountSID          string     `xml:"AccountSid"`
	To                  string     `xml:"To"`
	From                string     `xml:"From"`
	MessagingServiceSID string     `xml:"MessagingServiceSid"`
	Body                string     `xml:"Body"`
	Status              string     `xml:"Status"`
	NumSegments         string     `xml:"NumSegments"`
	NumMedia            string     `xml:"NumMedia"`
	Direction           string     `xml:"Direction"`
	APIVersion          string     `xml:"ApiVersion"`
	Price               string     `xml:"Price"`
	PriceUnit           string     `xml:"PriceUnit"`
	ErrorCode           string     `xml:"ErrorCode"`
	ErrorMessage        string     `xml:"ErrorMessage"`
	URI                 string     `xml:"Uri"`
	SubresourceURIs     xmlURIList `xml:"SubresourceUris"`
}

// message is a created message, kept in the store. Its fields are guarded by store.mu.
type message struct {
	sid, account      string
	to, from, service string
	// poolFrom is the sender a Messaging Service picks when the request had no From; it
	// shows from the queued status on.
	poolFrom string
	body     string
	numMedia int
	segments int
	feedback bool
	created  time.Time
	edited   time.Time // last change through the API
	steps    []step
	callback string // StatusCallback
	seq      *sequence
}

func value(form map[string][]string, key string) string {
	if v := form[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}

func nonEmpty(vs []string) []string {
	var out []string
	for _, v := range vs {
		if v != "" {
			out = append(out, v)
		}
	}
	return out
}

// createMessage validates a Messages create request in Twilio's order and answers 201 with
// the queued message (accepted through a Messaging Service alone, scheduled with
// ScheduleType=fixed).
func (s *Simulator) createMessage(x *exchange) answer {
	form := x.form
	to, from, service := value(form, "To"), value(form, "From"), value(form, "MessagingServiceSid")
	if service == "" && messagingService.MatchString(from) {
		// A Messaging Service SID may stand in the From parameter.
		service, from = from, ""
	}
	body, content := value(form, "Body"), value(form, "ContentSid")
	media := nonEmpty(form["MediaUrl"])

	switch {
	case to == "":
		return invalid(21604, "A 'To' phone number is required.")
	case from == "" && service == "":
		return invalid(21603, "A 'From' or 'MessagingServiceSid' parameter is required to send a message")
	case service != "" && !messagingService.MatchString(service):
		return invalid(21701, "The Messaging Service Sid "+service+" is invalid.")
	case body == "" && len(media) == 0 && content == "":
		return invalid(21602, "Message body is required.")
	case utf8.RuneCountInString(body) > maxBody:
		return invalid(21617, "The concatenated message body exceeds the 1600 character limit.")
	case !validRecipient(to):
		return invalid(21211, "The 'To' number "+to+" is not a valid phone number.")
	}
	if a, refused := checkMessageOptions(form, media); refused {
		return a
	}
	if from != "" {
		if a, refused := checkMessageFrom(x.acc, from); refused {
			return a
		}
		if toChannel, _ := splitChannel(to); toChannel != channelOf(from) {
			return invalid(21910, "Invalid From and To pair. From and To should be of the same channel")
		}
	}
	_, toNumber := splitChannel(to)
	if a, refused := checkMessageTo(from, toNumber); refused {
		return a
	}
	now := time.Now()
	sendAt, a, refused := checkSchedule(form, service, now)
	if refused {
		return a
	}

	prefix := "SM"
	if len(media) > 0 || isTrue(value(form, "SendAsMms")) {
		prefix = "MM"
	}
	initial := "queued"
	switch {
	case !sendAt.IsZero():
		initial = "scheduled"
	case service != "" && from == "":
		// Twilio picks the sender later: nothing is known yet.
		initial = "accepted"
	}
	m := &message{
		sid: newSID(prefix), account: x.acc.sid, to: to, from: from, service: service,
		body: body, numMedia: len(media), segments: segments(body),
		feedback: isTrue(value(form, "ProvideFeedback")),
		created:  now, callback: value(form, "StatusCallback"),
		steps: messageSteps(now, s.statusStep, initial, sendAt, messageOutcomes[toNumber]),
	}
	if from == "" {
		m.poolFrom = poolSender(x.acc, to)
	}
	created := m.answer(http.StatusCreated, now) // before m is shared
	s.store.add(m.sid, m, nil)
	if m.callback != "" {
		s.notifier.start(m, x.acc, m.callback, http.MethodPost, 1)
	}
	return created
}

// answer renders the message as it stands at now. The caller holds store.mu or owns m.
func (m *message) answer(status int, now time.Time) answer {
	return answer{status: status, sid: m.sid, accepted: true, json: m.json(now), xml: m.xml(now)}
}

// checkMessageOptions applies the documented checks of the optional parameters.
func checkMessageOptions(form url.Values, media []string) (answer, bool) {
	if cb := value(form, "StatusCallback"); cb != "" && !validCallbackURL(cb) {
		return invalid(21609, "The StatusCallback URL "+cb+" is not a valid URL."), true
	}
	if len(media) > maxMedia {
		return invalid(21623, "The number of media files exceeds the maximum allowed. You may send up to 10 media files in a single message."), true
	}
	for _, u := range media {
		if !absoluteHTTP(u) {
			return invalid(21620, "Media urls: "+u+" are invalid. Please use only valid http and https urls"), true
		}
	}
	if v, ok := form["ValidityPeriod"]; ok && len(v) > 0 {
		if n, err := strconv.Atoi(v[0]); err != nil || n < 1 || n > maxValidity {
			return invalid(21624, "Invalid validity period value"), true
		}
	}
	if cv := value(form, "ContentVariables"); cv != "" {
		var vars map[string]any
		if err := json.Unmarshal([]byte(cv), &vars); err != nil || vars == nil {
			return invalid(21656, "The Content Variables parameter is invalid."), true
		}
	}
	return answer{}, false
}

// checkSchedule applies ScheduleType and SendAt: a scheduled message needs ScheduleType=fixed,
// SendAt between 15 minutes and 35 days ahead, and a Messaging Service. SendAt alone is
// ignored, as on Twilio.
func checkSchedule(form url.Values, service string, now time.Time) (time.Time, answer, bool) {
	typ, ok := form["ScheduleType"]
	if !ok || len(typ) == 0 {
		return time.Time{}, answer{}, false
	}
	if typ[0] != "fixed" {
		return time.Time{}, invalid(35126, "The ScheduleType value provided is not supported for this channel"), true
	}
	raw := value(form, "SendAt")
	if raw == "" {
		return time.Time{}, invalid(35111, "SendAt timestamp is missing"), true
	}
	sendAt, err := time.Parse(time.RFC3339, raw)
	if err != nil || sendAt.Sub(now) < minScheduleLead || sendAt.Sub(now) > maxScheduleLead {
		return time.Time{}, invalid(35114, "SendAt time must be between 900 seconds and 35 days (3024000 seconds) in the future, inclusive."), true
	}
	if service == "" {
		return time.Time{}, invalid(35118, "MessagingServiceSid is required to schedule a message"), true
	}
	return sendAt, answer{}, false
}

// validCallbackURL reports whether u is a StatusCallback Twilio accepts: an absolute
// http(s) URL with a host name free of underscores, at most 4000 characters.
func validCallbackURL(u string) bool {
	if len(u) > maxCallbackURL || !absoluteHTTP(u) {
		return false
	}
	p, _ := url.Parse(u)
	return !strings.Contains(p.Hostname(), "_")
}

func isTrue(v string) bool {
	b, err := strconv.ParseBool(v)
	return err == nil && b
}

func channelOf(addr string) string {
	c, _ := splitChannel(addr)
	return c
}

// poolSender is the sender a Messaging Service picks: the account's first sender of the
// recipient's channel, else the magic valid From.
func poolSender(acc *account, to string) string {
	channel, _ := splitChannel(to)
	for _, from := range acc.senderList {
		if c, n := splitChannel(from); e164Pattern.MatchString(n) && (c == channel || c == "") {
			if channel != "" && c == "" {
				return channel + ":" + from
			}
			return from
		}
	}
	if channel != "" {
		return channel + ":" + magicValidFrom
	}
	return magicValidFrom
}

// checkMessageFrom applies the magic From numbers, the sender syntax and the account's
// senders. A channel address (whatsapp:+E.164) is checked on its number.
func checkMessageFrom(acc *account, from string) (answer, bool) {
	channel, number := splitChannel(from)
	switch number {
	case magicValidFrom:
		return answer{}, false
	case "+15005550001":
		return invalidFrom(from), true
	case "+15005550007":
		return notOwned(from), true
	case "+15005550008":
		return invalid(21611, "This 'From' number has exceeded the maximum number of queued messages"), true
	}
	if !validSender(number) || channel != "" && !e164Pattern.MatchString(number) {
		return invalidFrom(from), true
	}
	if acc.senders != nil && !acc.senders[from] && !acc.senders[number] {
		return notOwned(from), true
	}
	return answer{}, false
}

func invalidFrom(from string) answer {
	return invalid(21212, "The 'From' number "+from+" is not a valid phone number, shortcode, or alphanumeric sender ID.")
}

func notOwned(from string) answer {
	return invalid(21606, "The From phone number "+from+" is not a valid, SMS-capable inbound phone number or short code for your account.")
}

// checkMessageTo applies the magic To numbers.
func checkMessageTo(from, to string) (answer, bool) {
	switch to {
	case "+15005550001":
		return invalid(21211, "The 'To' number "+to+" is not a valid phone number."), true
	case "+15005550002":
		return invalid(21612, "The 'To' phone number: "+to+", is not currently reachable using the 'From' phone number: "+from+" via SMS."), true
	case "+15005550003":
		return invalid(21408, "Permission to send an SMS has not been enabled for the region indicated by the 'To' number: "+to+"."), true
	case "+15005550004":
		return invalid(21610, "Attempt to send to unsubscribed recipient"), true
	case "+15005550009":
		return invalid(21614, "To number: "+to+", is not a mobile number"), true
	}
	return answer{}, false
}

// effectiveFrom is the sender as the resource shows it at step i: the request's From, or
// the pool's sender once the message is queued.
func (m *message) effectiveFrom(now time.Time) string {
	if m.from != "" {
		return m.from
	}
	if _, queued := stepAt(m.steps, "queued", now); queued {
		return m.poolFrom
	}
	return ""
}

func (m *message) uri() string {
	return "/2010-04-01/Accounts/" + m.account + "/Messages/" + m.sid
}

// view is the message's state at now, shared by both formats.
type messageView struct {
	status, from, segments, updated, sent string
	code                                  int
}

func (m *message) view(now time.Time) messageView {
	i := current(m.steps, now)
	cur := m.steps[i]
	v := messageView{status: cur.status, from: m.effectiveFrom(now), code: cur.code}
	v.segments = strconv.Itoa(m.segments)
	if v.from == "" {
		v.segments = "0"
	}
	updated := cur.at
	if m.edited.After(updated) {
		updated = m.edited
	}
	v.updated = updated.UTC().Format(rfc2822)
	if at, ok := stepAt(m.steps, "sent", now); ok {
		v.sent = at.UTC().Format(rfc2822)
	}
	return v
}

func (m *message) subresources(ext string) xmlURIList {
	l := xmlURIList{{name: "Media", key: "media", uri: m.uri() + "/Media" + ext}}
	if m.feedback {
		l = append(l, xmlURI{name: "Feedback", key: "feedback", uri: m.uri() + "/Feedback" + ext})
	}
	return l
}

func (m *message) json(now time.Time) *messageJSON {
	v := m.view(now)
	j := &messageJSON{
		Body: m.body, NumSegments: v.segments, Direction: "outbound-api", To: m.to,
		DateUpdated: v.updated, URI: m.uri() + ".json", AccountSID: m.account,
		NumMedia: strconv.Itoa(m.numMedia), Status: v.status, SID: m.sid,
		DateCreated: m.created.UTC().Format(rfc2822), PriceUnit: "USD", APIVersion: apiVersion,
		SubresourceURIs: m.subresources(".json").jsonMap(),
	}
	if v.from != "" {
		j.From = &v.from
	}
	if m.service != "" {
		j.MessagingServiceSID = &m.service
	}
	if v.sent != "" {
		j.DateSent = &v.sent
	}
	if v.code != 0 {
		code, msg := v.code, deliveryErrors[v.code]
		j.ErrorCode, j.ErrorMessage = &code, &msg
	}
	return j
}

func (m *message) xml(now time.Time) *messageXML {
	v := m.view(now)
	x := &messageXML{
		SID: m.sid, DateCreated: m.created.UTC().Format(rfc2822), DateUpdated: v.updated, DateSent: v.sent,
		AccountSID: m.account, To: m.to, From: v.from, MessagingServiceSID: m.service, Body: m.body,
		Status: v.status, NumSegments: v.segments, NumMedia: strconv.Itoa(m.numMedia), Direction: "outbound-api",
		APIVersion: apiVersion, PriceUnit: "USD", URI: m.uri(), SubresourceURIs: m.subresources(""),
	}
	if v.code != 0 {
		x.ErrorCode, x.ErrorMessage = strconv.Itoa(v.code), deliveryErrors[v.code]
	}
	return x
}

// timeline implements callbackSource.
func (m *message) timeline() []step { return m.steps }

// callbackParams implements callbackSource: Twilio's message status callback for step i.
// Every status but the initial one is posted.
func (m *message) callbackParams(i, _ int) (url.Values, bool) {
	if i == 0 {
		return nil, false
	}
	st := m.steps[i]
	p := url.Values{
		"MessageSid":    {m.sid},
		"SmsSid":        {m.sid},
		"SmsStatus":     {st.status},
		"MessageStatus": {st.status},
		"AccountSid":    {m.account},
		"From":          {m.effectiveFrom(st.at)},
		"To":            {m.to},
		"ApiVersion":    {apiVersion},
	}
	if m.service != "" {
		p.Set("MessagingServiceSid", m.service)
	}
	if st.code != 0 {
		p.Set("ErrorCode", strconv.Itoa(st.code))
	}
	if st.status == "delivered" || st.status == "undelivered" {
		p.Set("RawDlrDoneDate", st.at.UTC().Format("0601021504"))
	}
	return p, true
}

// setSequence implements callbackSource.
func (m *message) setSequence(seq *sequence) { m.seq = seq }

// lookupMessage returns the account's message named by the path, or a 404 answer.
func (s *Simulator) lookupMessage(x *exchange) (*message, answer, bool) {
	m := s.store.messages[x.route.sid]
	if m == nil || m.account != x.acc.sid {
		return nil, notFound(x.req.URL.Path), false
	}
	return m, answer{}, true
}

func (s *Simulator) fetchMessage(x *exchange) answer {
	s.store.mu.RLock()
	defer s.store.mu.RUnlock()
	m, a, ok := s.lookupMessage(x)
	if !ok {
		return a
	}
	return m.answer(http.StatusOK, time.Now())
}

// updateMessage cancels a scheduled message (Status=canceled) or redacts its body
// (Body=""). Both are checked before either is applied.
func (s *Simulator) updateMessage(x *exchange) answer {
	s.store.mu.Lock()
	defer s.store.mu.Unlock()
	m, a, ok := s.lookupMessage(x)
	if !ok {
		return a
	}
	now := time.Now()
	_, cancel := x.form["Status"]
	if cancel {
		switch {
		case value(x.form, "Status") != "canceled":
			return invalid(20001, "Status can only be set to canceled")
		case m.steps[current(m.steps, now)].status != "scheduled":
			return invalid(30409, "This message cannot be canceled")
		}
	}
	body, redact := x.form["Body"]
	if redact && len(body) > 0 && body[0] != "" {
		return invalid(20001, "Body can only be set to an empty string, which redacts the message")
	}
	if cancel {
		m.steps = truncate(m.steps, now, step{status: "canceled"})
		m.edited = now
		s.notifier.wake(m.seq)
	}
	if redact {
		m.body = ""
		m.edited = now
	}
	return m.answer(http.StatusOK, now)
}

// deleteMessage forgets a message that has reached its last status (204); before that,
// 400 / 20009 as on Twilio.
func (s *Simulator) deleteMessage(x *exchange) answer {
	s.store.mu.Lock()
	defer s.store.mu.Unlock()
	m, a, ok := s.lookupMessage(x)
	if !ok {
		return a
	}
	if !settled(m.steps, time.Now()) {
		return invalid(20009, "Cannot delete this resource before it is complete")
	}
	delete(s.store.messages, m.sid)
	return answer{status: http.StatusNoContent, sid: m.sid, accepted: true}
}
