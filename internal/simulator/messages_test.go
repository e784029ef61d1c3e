package simulator_test

import (
	"encoding/xml"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

// messageKeys is the Message resource's JSON, in Twilio's order.
var messageKeys = "body,num_segments,direction,from,to,date_updated,price,error_message,uri,account_sid," +
	"num_media,status,messaging_service_sid,sid,date_sent,date_created,error_code,price_unit,api_version,subresource_uris"

const rfc2822 = "Mon, 02 Jan 2006 15:04:05 +0000"

type xmlMessage struct {
	XMLName xml.Name `xml:"TwilioResponse"`
	M       struct {
		Sid, DateCreated, DateUpdated, DateSent, AccountSid, To, From, MessagingServiceSid string
		Body, Status, NumSegments, NumMedia, Direction, ApiVersion, Price, PriceUnit       string
		ErrorCode, ErrorMessage, Uri                                                       string
		SubresourceUris                                                                    struct{ Media string }
	} `xml:"Message"`
}

func TestMessageCreated(t *testing.T) {
	t.Parallel()
	srv, _ := start(t, testConfig())
	gsm := func(n int) string { return strings.Repeat("a", n) }
	tests := []struct {
		name string
		form url.Values
		// want
		status, from, service, segments, media, prefix string // from/service "" = null
	}{
		{name: "from number", form: url.Values{"To": {toOK}, "From": {fromOK}, "Body": {"Your code is 123456"}},
			status: "queued", from: fromOK, segments: "1", media: "0", prefix: "SM"},
		{name: "ordinary from number", form: url.Values{"To": {toOK}, "From": {"+14155550123"}, "Body": {"x"}},
			status: "queued", from: "+14155550123", segments: "1", media: "0", prefix: "SM"},
		{name: "short code", form: url.Values{"To": {toOK}, "From": {"12345"}, "Body": {"x"}},
			status: "queued", from: "12345", segments: "1", media: "0", prefix: "SM"},
		{name: "alphanumeric sender", form: url.Values{"To": {toOK}, "From": {"ACME Corp"}, "Body": {"x"}},
			status: "queued", from: "ACME Corp", segments: "1", media: "0", prefix: "SM"},
		{name: "messaging service only", form: url.Values{"To": {toOK}, "MessagingServiceSid": {service}, "Body": {"x"}},
			status: "accepted", service: service, segments: "0", media: "0", prefix: "SM"},
		{name: "messaging service and from", form: url.Values{"To": {toOK}, "From": {fromOK}, "MessagingServiceSid": {service}, "Body": {"x"}},
			status: "queued", from: fromOK, service: service, segments: "1", media: "0", prefix: "SM"},
		{name: "media only", form: url.Values{"To": {toOK}, "From": {fromOK}, "MediaUrl": {"https://example.com/a.png", "https://example.com/b.png"}},
			status: "queued", from: fromOK, segments: "1", media: "2", prefix: "MM"},
		{name: "content template", form: url.Values{"To": {toOK}, "From": {fromOK}, "ContentSid": {"HX0123456789abcdef0123456789abcdef"}},
			status: "queued", from: fromOK, segments: "1", media: "0", prefix: "SM"},
		{name: "160 GSM-7 characters", form: url.Values{"To": {toOK}, "From": {fromOK}, "Body": {gsm(160)}},
			status: "queued", from: fromOK, segments: "1", media: "0", prefix: "SM"},
		{name: "161 GSM-7 characters", form: url.Values{"To": {toOK}, "From": {fromOK}, "Body": {gsm(161)}},
			status: "queued", from: fromOK, segments: "2", media: "0", prefix: "SM"},
		{name: "307 GSM-7 characters", form: url.Values{"To": {toOK}, "From": {fromOK}, "Body": {gsm(307)}},
			status: "queued", from: fromOK, segments: "3", media: "0", prefix: "SM"},
		{name: "80 extension characters fill 160 septets", form: url.Values{"To": {toOK}, "From": {fromOK}, "Body": {strings.Repeat("€", 80)}},
			status: "queued", from: fromOK, segments: "1", media: "0", prefix: "SM"},
		{name: "81 extension characters", form: url.Values{"To": {toOK}, "From": {fromOK}, "Body": {strings.Repeat("{", 81)}},
			status: "queued", from: fromOK, segments: "2", media: "0", prefix: "SM"},
		{name: "70 UCS-2 characters", form: url.Values{"To": {toOK}, "From": {fromOK}, "Body": {strings.Repeat("ж", 70)}},
			status: "queued", from: fromOK, segments: "1", media: "0", prefix: "SM"},
		{name: "one non-GSM character switches to UCS-2", form: url.Values{"To": {toOK}, "From": {fromOK}, "Body": {gsm(70) + "ж"}},
			status: "queued", from: fromOK, segments: "2", media: "0", prefix: "SM"},
		{name: "emoji count as two UTF-16 units", form: url.Values{"To": {toOK}, "From": {fromOK}, "Body": {strings.Repeat("😀", 36)}},
			status: "queued", from: fromOK, segments: "2", media: "0", prefix: "SM"},
		{name: "1600 characters", form: url.Values{"To": {toOK}, "From": {fromOK}, "Body": {strings.Repeat("ж", 1600)}},
			status: "queued", from: fromOK, segments: "24", media: "0", prefix: "SM"},
		{name: "markup in the body", form: url.Values{"To": {toOK}, "From": {fromOK}, "Body": {`<b>&"code"</b>`}},
			status: "queued", from: fromOK, segments: "1", media: "0", prefix: "SM"},
	}
	sidPattern := regexp.MustCompile(`^(SM|MM)[0-9a-f]{32}$`)
	for _, tc := range tests {
		for _, ext := range extensions {
			t.Run(tc.name+"/"+ext, func(t *testing.T) {
				r := post(t, srv, messagesPath(mainSID, ext), mainSID, mainToken, tc.form)
				if r.status != http.StatusCreated {
					t.Fatalf("status %d, want 201; body %s", r.status, r.body)
				}
				body := tc.form.Get("Body")
				base := "/2010-04-01/Accounts/" + mainSID + "/Messages/"
				if isJSON(ext) {
					wantContentType(t, r, jsonType)
					if got := strings.Join(jsonKeys(t, r.body), ","); got != messageKeys {
						t.Errorf("keys\n got %s\nwant %s", got, messageKeys)
					}
					m := decodeJSON(t, r.body)
					sid, _ := m["sid"].(string)
					if !sidPattern.MatchString(sid) || !strings.HasPrefix(sid, tc.prefix) {
						t.Errorf("sid = %q, want %s + 32 lowercase hex", sid, tc.prefix)
					}
					want := map[string]any{
						"body": body, "num_segments": tc.segments, "direction": "outbound-api", "from": nullable(tc.from),
						"to": toOK, "price": nil, "error_message": nil, "uri": base + sid + ".json", "account_sid": mainSID,
						"num_media": tc.media, "status": tc.status, "messaging_service_sid": nullable(tc.service),
						"date_sent": nil, "error_code": nil, "price_unit": "USD", "api_version": "2010-04-01",
					}
					for k, v := range want {
						if m[k] != v {
							t.Errorf("%s = %#v, want %#v", k, m[k], v)
						}
					}
					if media := m["subresource_uris"].(map[string]any)["media"]; media != base+sid+"/Media.json" {
						t.Errorf("subresource_uris.media = %v", media)
					}
					for _, k := range []string{"date_created", "date_updated"} {
						if _, err := time.Parse(rfc2822, m[k].(string)); err != nil {
							t.Errorf("%s = %v: not RFC 2822: %v", k, m[k], err)
						}
					}
					return
				}
				wantContentType(t, r, "application/xml")
				wantXMLHeader(t, r.body)
				var x xmlMessage
				if err := xml.Unmarshal(r.body, &x); err != nil {
					t.Fatalf("%v: %s", err, r.body)
				}
				m := x.M
				if !sidPattern.MatchString(m.Sid) || !strings.HasPrefix(m.Sid, tc.prefix) {
					t.Errorf("Sid = %q", m.Sid)
				}
				got := []string{m.Body, m.NumSegments, m.NumMedia, m.Status, m.From, m.To, m.MessagingServiceSid, m.AccountSid,
					m.Direction, m.ApiVersion, m.PriceUnit, m.Price, m.DateSent, m.ErrorCode, m.ErrorMessage, m.Uri, m.SubresourceUris.Media}
				want := []string{body, tc.segments, tc.media, tc.status, tc.from, toOK, tc.service, mainSID,
					"outbound-api", "2010-04-01", "USD", "", "", "", "", base + m.Sid, base + m.Sid + "/Media"}
				if strings.Join(got, "|") != strings.Join(want, "|") {
					t.Errorf("XML fields\n got %q\nwant %q", got, want)
				}
				if _, err := time.Parse(rfc2822, m.DateCreated); err != nil {
					t.Errorf("DateCreated %q: %v", m.DateCreated, err)
				}
			})
		}
	}
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func TestMessageErrors(t *testing.T) {
	t.Parallel()
	srv, sim := start(t, testConfig())
	form := func(kv ...string) url.Values {
		f := url.Values{}
		for i := 0; i < len(kv); i += 2 {
			f.Add(kv[i], kv[i+1])
		}
		return f
	}
	tests := []struct {
		name    string
		account string // default mainSID
		form    url.Values
		code    int
		message string // exact
	}{
		{name: "To missing", form: form("From", fromOK, "Body", "x"),
			code: 21604, message: "A 'To' phone number is required."},
		{name: "To empty", form: form("To", "", "From", fromOK, "Body", "x"),
			code: 21604, message: "A 'To' phone number is required."},
		{name: "From and MessagingServiceSid missing", form: form("To", toOK, "Body", "x"),
			code: 21603, message: "A 'From' or 'MessagingServiceSid' parameter is required to send a message"},
		{name: "MessagingServiceSid malformed", form: form("To", toOK, "MessagingServiceSid", "MG123", "Body", "x"),
			code: 21701, message: "The Messaging Service Sid MG123 is invalid."},
		{name: "Body, MediaUrl and ContentSid missing", form: form("To", toOK, "From", fromOK),
			code: 21602, message: "Message body is required."},
		{name: "Body empty", form: form("To", toOK, "From", fromOK, "Body", ""),
			code: 21602, message: "Message body is required."},
		{name: "Body over 1600 characters", form: form("To", toOK, "From", fromOK, "Body", strings.Repeat("ж", 1601)),
			code: 21617, message: "The concatenated message body exceeds the 1600 character limit."},
		{name: "To without plus", form: form("To", "4155550100", "From", fromOK, "Body", "x"),
			code: 21211, message: "The 'To' number 4155550100 is not a valid phone number."},
		{name: "To with leading zero", form: form("To", "+04155550100", "From", fromOK, "Body", "x"),
			code: 21211, message: "The 'To' number +04155550100 is not a valid phone number."},
		{name: "To too short", form: form("To", "+123456", "From", fromOK, "Body", "x"),
			code: 21211, message: "The 'To' number +123456 is not a valid phone number."},
		{name: "From not a sender", form: form("To", toOK, "From", "not a sender!", "Body", "x"),
			code: 21212, message: "The 'From' number not a sender! is not a valid phone number, shortcode, or alphanumeric sender ID."},
		{name: "magic From +15005550001 invalid", form: form("To", toOK, "From", "+15005550001", "Body", "x"),
			code: 21212, message: "The 'From' number +15005550001 is not a valid phone number, shortcode, or alphanumeric sender ID."},
		{name: "magic From +15005550007 not owned", form: form("To", toOK, "From", "+15005550007", "Body", "x"),
			code: 21606, message: "The From phone number +15005550007 is not a valid, SMS-capable inbound phone number or short code for your account."},
		{name: "magic From +15005550008 queue full", form: form("To", toOK, "From", "+15005550008", "Body", "x"),
			code: 21611, message: "This 'From' number has exceeded the maximum number of queued messages"},
		{name: "magic To +15005550001 invalid", form: form("To", "+15005550001", "From", fromOK, "Body", "x"),
			code: 21211, message: "The 'To' number +15005550001 is not a valid phone number."},
		{name: "magic To +15005550002 unroutable", form: form("To", "+15005550002", "From", fromOK, "Body", "x"),
			code: 21612, message: "The 'To' phone number: +15005550002, is not currently reachable using the 'From' phone number: +15005550006 via SMS."},
		{name: "magic To +15005550003 no geo permission", form: form("To", "+15005550003", "From", fromOK, "Body", "x"),
			code: 21408, message: "Permission to send an SMS has not been enabled for the region indicated by the 'To' number: +15005550003."},
		{name: "magic To +15005550004 unsubscribed", form: form("To", "+15005550004", "From", fromOK, "Body", "x"),
			code: 21610, message: "Attempt to send to unsubscribed recipient"},
		{name: "magic To +15005550009 not mobile", form: form("To", "+15005550009", "From", fromOK, "Body", "x"),
			code: 21614, message: "To number: +15005550009, is not a mobile number"},
		{name: "magic To through a messaging service", form: form("To", "+15005550004", "MessagingServiceSid", service, "Body", "x"),
			code: 21610, message: "Attempt to send to unsubscribed recipient"},
		{name: "From outside the account's senders", account: otherSID, form: form("To", toOK, "From", "+14155550123", "Body", "x"),
			code: 21606, message: "The From phone number +14155550123 is not a valid, SMS-capable inbound phone number or short code for your account."},

		// Twilio's order: the first failing check wins.
		{name: "order: To before From", form: form("Body", "x"),
			code: 21604, message: "A 'To' phone number is required."},
		{name: "order: From before MessagingServiceSid pattern", form: form("To", toOK),
			code: 21603, message: "A 'From' or 'MessagingServiceSid' parameter is required to send a message"},
		{name: "order: MessagingServiceSid before Body", form: form("To", toOK, "MessagingServiceSid", "MGxyz"),
			code: 21701, message: "The Messaging Service Sid MGxyz is invalid."},
		{name: "order: Body before To format", form: form("To", "bad", "From", fromOK),
			code: 21602, message: "Message body is required."},
		{name: "order: Body length before To format", form: form("To", "bad", "From", fromOK, "Body", strings.Repeat("a", 1601)),
			code: 21617, message: "The concatenated message body exceeds the 1600 character limit."},
		{name: "order: To format before magic From", form: form("To", "bad", "From", "+15005550001", "Body", "x"),
			code: 21211, message: "The 'To' number bad is not a valid phone number."},
		{name: "order: magic From before magic To", form: form("To", "+15005550002", "From", "+15005550007", "Body", "x"),
			code: 21606, message: "The From phone number +15005550007 is not a valid, SMS-capable inbound phone number or short code for your account."},
	}
	for _, tc := range tests {
		for _, ext := range extensions {
			t.Run(tc.name+"/"+ext, func(t *testing.T) {
				account, token := mainSID, mainToken
				if tc.account == otherSID {
					account, token = otherSID, otherToken
				}
				r := post(t, srv, messagesPath(account, ext), account, token, tc.form)
				if r.status != http.StatusBadRequest {
					t.Fatalf("status %d, want 400; body %s", r.status, r.body)
				}
				e := parseError(t, isJSON(ext), r)
				if e.Code != tc.code || e.Message != tc.message {
					t.Errorf("got %d %q\nwant %d %q", e.Code, e.Message, tc.code, tc.message)
				}
			})
		}
	}
	if st := sim.Stats(); st.Accepted != 0 || st.Rejected != st.Requests {
		t.Errorf("stats %+v: no error may be accepted", st)
	}
}

func TestMessageSenders(t *testing.T) {
	t.Parallel()
	srv, _ := start(t, testConfig())
	for _, from := range []string{"+14155550199", "ACME", fromOK} {
		t.Run(from, func(t *testing.T) {
			r := post(t, srv, messagesPath(otherSID, ".json"), otherSID, otherToken,
				url.Values{"To": {toOK}, "From": {from}, "Body": {"x"}})
			if r.status != http.StatusCreated {
				t.Fatalf("status %d, want 201: %s", r.status, r.body)
			}
		})
	}
}

func TestBodyLimit(t *testing.T) {
	t.Parallel()
	srv, _ := start(t, testConfig())
	r := post(t, srv, messagesPath(mainSID, ".json"), mainSID, mainToken,
		url.Values{"To": {toOK}, "From": {fromOK}, "Body": {strings.Repeat("a", 70<<10)}})
	if r.status != http.StatusRequestEntityTooLarge {
		t.Fatalf("status %d, want 413: %.200s", r.status, r.body)
	}
	if e := parseError(t, true, r); e.Code != 20001 {
		t.Errorf("code %d, want 20001", e.Code)
	}
}

func TestNonFormBodyCarriesNoParameters(t *testing.T) {
	t.Parallel()
	srv, _ := start(t, testConfig())
	req, _ := http.NewRequest(http.MethodPost, srv.URL+messagesPath(mainSID, ".json")+"?To=%2B14155550100",
		strings.NewReader(`{"To":"+14155550100","From":"+15005550006","Body":"x"}`))
	req.Header.Set("Content-Type", "application/json")
	req.SetBasicAuth(mainSID, mainToken)
	r := do(t, srv.Client(), req)
	if e := parseError(t, true, r); r.status != http.StatusBadRequest || e.Code != 21604 {
		t.Fatalf("status %d code %d, want 400 / 21604", r.status, e.Code)
	}
}
