package simulator

import (
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"net/url"
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

// xmlURIList renders name/URI pairs as <Name>URI</Name> children, in order.
type xmlURIList []xmlURI

type xmlURI struct{ name, uri string }

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

// isEndpoint reports whether n is something a call can reach: an E.164 number or a
// sip:/client: address.
func isEndpoint(n string) bool {
	return e164Pattern.MatchString(n) || strings.HasPrefix(n, "sip:") || strings.HasPrefix(n, "client:")
}

// createCall validates a Calls create request and answers 201 with the queued call.
func createCall(x *exchange) answer {
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

	sid := newSID("CA")
	now := time.Now().UTC().Format(rfc2822)
	uri := "/2010-04-01/Accounts/" + x.acc.sid + "/Calls/" + sid
	c := callJSON{
		SID: sid, DateCreated: now, DateUpdated: now, AccountSID: x.acc.sid,
		To: to, ToFormatted: formatted(to), From: from, FromFormatted: formatted(from),
		Status: "queued", PriceUnit: "USD", Direction: "outbound-api", APIVersion: apiVersion,
		QueueTime: "0", URI: uri + ".json", SubresourceURIs: make(map[string]string, len(callSubresources)),
	}
	cx := &callXML{
		SID: sid, DateCreated: now, DateUpdated: now, AccountSID: x.acc.sid,
		To: to, ToFormatted: c.ToFormatted, From: from, FromFormatted: c.FromFormatted,
		Status: c.Status, PriceUnit: c.PriceUnit, Direction: c.Direction, APIVersion: apiVersion,
		QueueTime: c.QueueTime, URI: uri,
	}
	for _, sr := range callSubresources {
		c.SubresourceURIs[sr.key] = uri + "/" + sr.name + ".json"
		cx.SubresourceURIs = append(cx.SubresourceURIs, xmlURI{name: sr.name, uri: uri + "/" + sr.name})
	}
	return answer{status: http.StatusCreated, sid: sid, accepted: true, json: &c, xml: cx}
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
