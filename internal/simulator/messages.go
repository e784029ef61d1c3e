package simulator

import (
	"encoding/xml"
	"net/http"
	"strconv"
	"time"
	"unicode/utf8"
)

const (
	apiVersion = "2010-04-01"
	// rfc2822 is the date layout of the 2010 API.
	rfc2822 = "Mon, 02 Jan 2006 15:04:05 +0000"
	// maxBody is the longest Body Twilio accepts, in characters.
	maxBody = 1600
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
	XMLName             xml.Name `xml:"Message"`
	SID                 string   `xml:"Sid"`
	DateCreated         string   `xml:"DateCreated"`
	DateUpdated         string   `xml:"DateUpdated"`
	DateSent            string   `xml:"DateSent"`
	AccountSID          string   `xml:"AccountSid"`
	To                  string   `xml:"To"`
	From                string   `xml:"From"`
	MessagingServiceSID string   `xml:"MessagingServiceSid"`
	Body                string   `xml:"Body"`
	Status              string   `xml:"Status"`
	NumSegments         string   `xml:"NumSegments"`
	NumMedia            string   `xml:"NumMedia"`
	Direction           string   `xml:"Direction"`
	APIVersion          string   `xml:"ApiVersion"`
	Price               string   `xml:"Price"`
	PriceUnit           string   `xml:"PriceUnit"`
	ErrorCode           string   `xml:"ErrorCode"`
	ErrorMessage        string   `xml:"ErrorMessage"`
	URI                 string   `xml:"Uri"`
	Media               string   `xml:"SubresourceUris>Media"`
}

func value(form map[string][]string, key string) string {
	if v := form[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}

func countNonEmpty(vs []string) int {
	n := 0
	for _, v := range vs {
		if v != "" {
			n++
		}
	}
	return n
}

// createMessage validates a Messages create request in Twilio's order and answers 201 with
// the queued (or, through a Messaging Service alone, accepted) message.
func createMessage(x *exchange) answer {
	form := x.form
	to, from, service := value(form, "To"), value(form, "From"), value(form, "MessagingServiceSid")
	body, content := value(form, "Body"), value(form, "ContentSid")
	media := countNonEmpty(form["MediaUrl"])

	switch {
	case to == "":
		return invalid(21604, "A 'To' phone number is required.")
	case from == "" && service == "":
		return invalid(21603, "A 'From' or 'MessagingServiceSid' parameter is required to send a message")
	case service != "" && !messagingService.MatchString(service):
		return invalid(21701, "The Messaging Service Sid "+service+" is invalid.")
	case body == "" && media == 0 && content == "":
		return invalid(21602, "Message body is required.")
	case utf8.RuneCountInString(body) > maxBody:
		return invalid(21617, "The concatenated message body exceeds the 1600 character limit.")
	case !e164Pattern.MatchString(to):
		return invalid(21211, "The 'To' number "+to+" is not a valid phone number.")
	}
	if from != "" {
		if a, refused := checkMessageFrom(x.acc, from); refused {
			return a
		}
	}
	if a, refused := checkMessageTo(from, to); refused {
		return a
	}

	prefix := "SM"
	if media > 0 {
		prefix = "MM"
	}
	sid := newSID(prefix)
	now := time.Now().UTC().Format(rfc2822)
	uri := "/2010-04-01/Accounts/" + x.acc.sid + "/Messages/" + sid
	m := messageJSON{
		Body:            body,
		NumSegments:     strconv.Itoa(segments(body)),
		Direction:       "outbound-api",
		To:              to,
		DateUpdated:     now,
		URI:             uri + ".json",
		AccountSID:      x.acc.sid,
		NumMedia:        strconv.Itoa(media),
		Status:          "queued",
		SID:             sid,
		DateCreated:     now,
		PriceUnit:       "USD",
		APIVersion:      apiVersion,
		SubresourceURIs: map[string]string{"media": uri + "/Media.json"},
	}
	if from != "" {
		m.From = &from
	}
	if service != "" {
		m.MessagingServiceSID = &service
		if from == "" {
			// Twilio picks the sender later: nothing is known yet.
			m.Status, m.NumSegments = "accepted", "0"
		}
	}
	mx := &messageXML{
		SID: sid, DateCreated: now, DateUpdated: now, AccountSID: x.acc.sid, To: to, From: from,
		MessagingServiceSID: service, Body: body, Status: m.Status, NumSegments: m.NumSegments,
		NumMedia: m.NumMedia, Direction: m.Direction, APIVersion: apiVersion, PriceUnit: m.PriceUnit,
		URI: uri, Media: uri + "/Media",
	}
	return answer{status: http.StatusCreated, sid: sid, accepted: true, json: &m, xml: mx}
}

// checkMessageFrom applies the magic From numbers, the sender syntax and the account's senders.
func checkMessageFrom(acc *account, from string) (answer, bool) {
	switch from {
	case magicValidFrom:
		return answer{}, false
	case "+15005550001":
		return invalidFrom(from), true
	case "+15005550007":
		return notOwned(from), true
	case "+15005550008":
		return invalid(21611, "This 'From' number has exceeded the maximum number of queued messages"), true
	}
	if !validSender(from) {
		return invalidFrom(from), true
	}
	if acc.senders != nil && !acc.senders[from] {
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
