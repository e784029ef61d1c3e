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

var callKeys = "sid,date_created,date_updated,parent_call_sid,account_sid,to,to_formatted,from,from_formatted," +
	"phone_number_sid,status,start_time,end_time,duration,price,price_unit,direction,answered_by,api_version," +
	"forwarded_from,group_sid,caller_name,queue_time,trunk_sid,uri,subresource_uris"

type xmlCall struct {
	XMLName xml.Name `xml:"TwilioResponse"`
	C       struct {
		Sid, DateCreated, AccountSid, To, ToFormatted, From, FromFormatted, Status string
		Direction, ApiVersion, Uri, StartTime, Price                               string
		SubresourceUris                                                            struct {
			Notifications, Recordings, UserDefinedMessages string
		}
	} `xml:"Call"`
}

const twimlOK = `<?xml version="1.0" encoding="UTF-8"?><Response><Say>Your code is</Say><Say>1 2 3</Say><Pause length="1"/></Response>`

func TestCallCreated(t *testing.T) {
	t.Parallel()
	srv, _ := start(t, testConfig())
	tests := []struct {
		name     string
		form     url.Values
		toFormat string
	}{
		{name: "twiml", form: url.Values{"To": {toOK}, "From": {fromOK}, "Twiml": {twimlOK}}, toFormat: "(415) 555-0100"},
		{name: "url", form: url.Values{"To": {toOK}, "From": {fromOK}, "Url": {"https://example.com/otp.xml"}}, toFormat: "(415) 555-0100"},
		{name: "application", form: url.Values{"To": {"+442071838750"}, "From": {fromOK}, "ApplicationSid": {"AP0123456789abcdef0123456789abcdef"}}, toFormat: "+442071838750"},
		{name: "ordinary from number", form: url.Values{"To": {toOK}, "From": {"+14155550123"}, "Twiml": {"<Response/>"}}, toFormat: "(415) 555-0100"},
		{name: "sip endpoint", form: url.Values{"To": {"sip:otp@example.com"}, "From": {fromOK}, "Twiml": {"<Response/>"}}, toFormat: "sip:otp@example.com"},
	}
	sidPattern := regexp.MustCompile(`^CA[0-9a-f]{32}$`)
	for _, tc := range tests {
		for _, ext := range extensions {
			t.Run(tc.name+"/"+ext, func(t *testing.T) {
				r := post(t, srv, callsPath(mainSID, ext), mainSID, mainToken, tc.form)
				if r.status != http.StatusCreated {
					t.Fatalf("status %d, want 201; body %s", r.status, r.body)
				}
				to, from := tc.form.Get("To"), tc.form.Get("From")
				base := "/2010-04-01/Accounts/" + mainSID + "/Calls/"
				if isJSON(ext) {
					wantContentType(t, r, jsonType)
					if got := strings.Join(jsonKeys(t, r.body), ","); got != callKeys {
						t.Errorf("keys\n got %s\nwant %s", got, callKeys)
					}
					m := decodeJSON(t, r.body)
					sid, _ := m["sid"].(string)
					if !sidPattern.MatchString(sid) {
						t.Errorf("sid = %q", sid)
					}
					want := map[string]any{
						"account_sid": mainSID, "to": to, "to_formatted": tc.toFormat, "from": from, "status": "queued",
						"direction": "outbound-api", "api_version": "2010-04-01", "uri": base + sid + ".json",
						"parent_call_sid": nil, "start_time": nil, "end_time": nil, "duration": nil, "price": nil,
						"answered_by": nil, "price_unit": "USD",
					}
					for k, v := range want {
						if m[k] != v {
							t.Errorf("%s = %#v, want %#v", k, m[k], v)
						}
					}
					subs := m["subresource_uris"].(map[string]any)
					if subs["recordings"] != base+sid+"/Recordings.json" || len(subs) != 9 {
						t.Errorf("subresource_uris = %v", subs)
					}
					if _, err := time.Parse(rfc2822, m["date_created"].(string)); err != nil {
						t.Errorf("date_created: %v", err)
					}
					return
				}
				wantContentType(t, r, "application/xml")
				wantXMLHeader(t, r.body)
				var x xmlCall
				if err := xml.Unmarshal(r.body, &x); err != nil {
					t.Fatalf("%v: %s", err, r.body)
				}
				c := x.C
				if !sidPattern.MatchString(c.Sid) {
					t.Errorf("Sid = %q", c.Sid)
				}
				got := []string{c.AccountSid, c.To, c.ToFormatted, c.From, c.Status, c.Direction, c.ApiVersion, c.Uri,
					c.StartTime, c.Price, c.SubresourceUris.Recordings, c.SubresourceUris.UserDefinedMessages}
				want := []string{mainSID, to, tc.toFormat, from, "queued", "outbound-api", "2010-04-01", base + c.Sid,
					"", "", base + c.Sid + "/Recordings", base + c.Sid + "/UserDefinedMessages"}
				if strings.Join(got, "|") != strings.Join(want, "|") {
					t.Errorf("XML fields\n got %q\nwant %q", got, want)
				}
			})
		}
	}
}

func TestCallErrors(t *testing.T) {
	t.Parallel()
	srv, _ := start(t, testConfig())
	with := func(kv ...string) url.Values {
		f := url.Values{"To": {toOK}, "From": {fromOK}, "Twiml": {"<Response><Say>1</Say></Response>"}}
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == "-" {
				f.Del(kv[i])
			} else {
				f.Set(kv[i], kv[i+1])
			}
		}
		return f
	}
	tests := []struct {
		name    string
		account string
		form    url.Values
		code    int
		message string // prefix
	}{
		{name: "To missing", form: with("To", "-"), code: 21201, message: "No 'To' number is specified"},
		{name: "From missing", form: with("From", "-"), code: 21213, message: "No 'From' number is specified"},
		{name: "Url, Twiml and ApplicationSid missing", form: with("Twiml", "-"), code: 21205, message: "Url parameter is required."},
		{name: "Url relative", form: with("Twiml", "-", "Url", "/otp.xml"), code: 21205, message: "Url is not a valid URL: /otp.xml"},
		{name: "ApplicationSid malformed", form: with("Twiml", "-", "ApplicationSid", "AP1"), code: 21218, message: "Invalid ApplicationSid AP1"},
		{name: "Twiml over 4000 characters", form: with("Twiml", "<Response><Say>"+strings.Repeat("1", 4000)+"</Say></Response>"),
			code: 12100, message: "Document parse failure"},
		{name: "Twiml not XML", form: with("Twiml", "Your code is 1234"), code: 12100, message: "Document parse failure"},
		{name: "Twiml unclosed", form: with("Twiml", "<Response><Say>1</Response>"), code: 12100, message: "Document parse failure"},
		{name: "Twiml wrong root", form: with("Twiml", "<Say>1</Say>"), code: 12100, message: "Document parse failure"},
		{name: "Twiml two roots", form: with("Twiml", "<Response/><Response/>"), code: 12100, message: "Document parse failure"},
		{name: "Twiml trailing text", form: with("Twiml", "<Response/>trailing"), code: 12100, message: "Document parse failure"},
		{name: "To not a number", form: with("To", "4155550100"), code: 21217, message: "Phone number 4155550100 does not appear to be valid"},
		{name: "From not a number", form: with("From", "ACME"), code: 21212, message: "The 'From' number ACME is not a valid phone number."},
		{name: "magic From +15005550001", form: with("From", "+15005550001"), code: 21212, message: "The 'From' number +15005550001 is not a valid phone number."},
		{name: "magic From +15005550007", form: with("From", "+15005550007"), code: 21210, message: "The source phone number provided, +15005550007, is not yet verified"},
		{name: "magic From +15005550009", form: with("From", "+15005550009"), code: 21210, message: "The source phone number provided, +15005550009, is not yet verified"},
		{name: "magic To +15005550001", form: with("To", "+15005550001"), code: 21217, message: "Phone number +15005550001 does not appear to be valid"},
		{name: "magic To +15005550002", form: with("To", "+15005550002"), code: 21214, message: "'To' phone number +15005550002 cannot be reached"},
		{name: "magic To +15005550003", form: with("To", "+15005550003"), code: 21215, message: "Account not authorized to call +15005550003."},
		{name: "magic To +15005550004", form: with("To", "+15005550004"), code: 21216, message: "Account not allowed to call +15005550004"},
		{name: "From outside the account's senders", account: otherSID, form: with("From", "+14155550123"),
			code: 21210, message: "The source phone number provided, +14155550123, is not yet verified"},
		{name: "order: To before From", form: with("To", "-", "From", "-"), code: 21201, message: "No 'To' number is specified"},
		{name: "order: magic From before magic To", form: with("From", "+15005550001", "To", "+15005550002"),
			code: 21212, message: "The 'From' number +15005550001"},
	}
	for _, tc := range tests {
		for _, ext := range extensions {
			t.Run(tc.name+"/"+ext, func(t *testing.T) {
				account, token := mainSID, mainToken
				if tc.account == otherSID {
					account, token = otherSID, otherToken
				}
				r := post(t, srv, callsPath(account, ext), account, token, tc.form)
				if r.status != http.StatusBadRequest {
					t.Fatalf("status %d, want 400; body %s", r.status, r.body)
				}
				e := parseError(t, isJSON(ext), r)
				if e.Code != tc.code || !strings.HasPrefix(e.Message, tc.message) {
					t.Errorf("got %d %q\nwant %d %q...", e.Code, e.Message, tc.code, tc.message)
				}
			})
		}
	}
}
