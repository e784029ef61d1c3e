package simulator_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

func TestAuth(t *testing.T) {
	t.Parallel()
	srv, sim := start(t, testConfig())
	msg := url.Values{"To": {toOK}, "From": {fromOK}, "Body": {"x"}}
	call := url.Values{"To": {toOK}, "From": {fromOK}, "Twiml": {"<Response/>"}}
	exec := url.Values{"To": {toOK}, "From": {fromOK}}
	tests := []struct {
		name       string
		path       string
		user, pass string
		form       url.Values
		status     int
		account    string // account_sid of the created resource
	}{
		{"account token", messagesPath(mainSID, ".json"), mainSID, mainToken, msg, 201, mainSID},
		{"wrong token", messagesPath(mainSID, ".json"), mainSID, "nope", msg, 401, ""},
		{"no credentials", messagesPath(mainSID, ".json"), "", "", msg, 401, ""},
		{"unknown user", messagesPath(mainSID, ".json"), unknownSID, mainToken, msg, 401, ""},
		{"token of another account", messagesPath(mainSID, ".json"), mainSID, otherToken, msg, 401, ""},
		{"api key", messagesPath(mainSID, ".json"), mainKey, mainKeySecret, msg, 201, mainSID},
		{"api key wrong secret", messagesPath(mainSID, ".json"), mainKey, "nope", msg, 401, ""},
		{"api key of the subaccount on the parent", messagesPath(mainSID, ".json"), subKey, subKeySecret, msg, 401, ""},
		{"parent token on a subaccount's messages", messagesPath(subSID, ".json"), mainSID, mainToken, msg, 201, subSID},
		{"parent token on a subaccount's calls", callsPath(subSID, ".json"), mainSID, mainToken, call, 201, subSID},
		{"parent api key on a subaccount", messagesPath(subSID, ".json"), mainKey, mainKeySecret, msg, 401, ""},
		{"subaccount token on the parent", messagesPath(mainSID, ".json"), subSID, subToken, msg, 401, ""},
		{"unrelated account", messagesPath(otherSID, ".json"), mainSID, mainToken, msg, 401, ""},
		{"unknown account in the path", messagesPath(unknownSID, ".json"), mainSID, mainToken, msg, 404, ""},
		{"unknown account, bad credentials", messagesPath(unknownSID, ".json"), mainSID, "nope", msg, 401, ""},
		{"studio own token", executionsPath(subFlow), subSID, subToken, exec, 201, subSID},
		{"studio own api key", executionsPath(subFlow), subKey, subKeySecret, exec, 201, subSID},
		{"studio parent token refused", executionsPath(subFlow), mainSID, mainToken, exec, 401, ""},
		{"studio parent api key refused", executionsPath(subFlow), mainKey, mainKeySecret, exec, 401, ""},
		{"studio flow of an unrelated account", executionsPath(otherFlow), mainSID, mainToken, exec, 404, ""},
		{"studio unowned flow runs as the caller", executionsPath(freeFlow), mainKey, mainKeySecret, exec, 201, mainSID},
		{"studio wrong token", executionsPath(freeFlow), mainSID, "nope", exec, 401, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := post(t, srv, tc.path, tc.user, tc.pass, tc.form)
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
			}
			switch tc.status {
			case http.StatusCreated:
				if got := decodeJSON(t, r.body)["account_sid"]; got != tc.account {
					t.Errorf("account_sid = %v, want %s", got, tc.account)
				}
			case http.StatusUnauthorized:
				want := `{"code":20003,"message":"Authenticate","more_info":"https://www.twilio.com/docs/errors/20003","status":401}`
				if string(r.body) != want {
					t.Errorf("body\n got %s\nwant %s", r.body, want)
				}
				if got := r.header.Get("WWW-Authenticate"); got != `Basic realm="Twilio API"` {
					t.Errorf("WWW-Authenticate = %q", got)
				}
			case http.StatusNotFound:
				if e := parseError(t, true, r); e.Code != 20404 {
					t.Errorf("code %d, want 20404", e.Code)
				}
			}
		})
	}
	recs := sim.Records()
	if len(recs) != len(tests) {
		t.Fatalf("%d records, want %d", len(recs), len(tests))
	}
	for _, rec := range recs {
		if rec.AuthUser == mainToken || rec.AuthUser == mainKeySecret {
			t.Errorf("record keeps a secret as AuthUser")
		}
	}
}

func TestAuthXML(t *testing.T) {
	t.Parallel()
	srv, _ := start(t, testConfig())
	for _, ext := range []string{"", ".xml"} {
		t.Run("Messages"+ext, func(t *testing.T) {
			r := post(t, srv, messagesPath(mainSID, ext), mainSID, "nope", url.Values{"To": {toOK}})
			if r.status != http.StatusUnauthorized {
				t.Fatalf("status %d", r.status)
			}
			e := parseError(t, false, r)
			if e.Code != 20003 || e.Message != "Authenticate" || e.Detail != "Your AccountSid or AuthToken was incorrect." {
				t.Errorf("got %+v", e)
			}
		})
	}
}

func TestNotFound(t *testing.T) {
	t.Parallel()
	srv, _ := start(t, testConfig())
	tests := []struct {
		name, method, path string
		json               bool
	}{
		{"unknown resource json", "POST", "/2010-04-01/Accounts/" + mainSID + "/Faxes.json", true},
		{"unknown resource xml", "POST", "/2010-04-01/Accounts/" + mainSID + "/Faxes", false},
		{"csv", "POST", "/2010-04-01/Accounts/" + mainSID + "/Messages.csv", false},
		{"unknown message", "POST", "/2010-04-01/Accounts/" + mainSID + "/Messages/SM0123456789abcdef0123456789abcdef.json", true},
		{"unknown message xml", "GET", "/2010-04-01/Accounts/" + mainSID + "/Messages/SM0123456789abcdef0123456789abcdef", false},
		{"unknown call", "DELETE", "/2010-04-01/Accounts/" + mainSID + "/Calls/CA0123456789abcdef0123456789abcdef.json", true},
		{"malformed message sid", "GET", "/2010-04-01/Accounts/" + mainSID + "/Messages/SM1.json", true},
		{"message media", "GET", "/2010-04-01/Accounts/" + mainSID + "/Messages/SM0123456789abcdef0123456789abcdef/Media.json", true},
		{"empty sid", "GET", "/2010-04-01/Accounts/" + mainSID + "/Messages/.json", true},
		{"empty account", "POST", "/2010-04-01/Accounts//Messages.json", true},
		{"studio get", "GET", executionsPath(freeFlow), true},
		{"studio flow", "POST", "/v2/Flows/" + freeFlow, true},
		{"verify", "POST", "/v2/Services/VA0123456789abcdef0123456789abcdef/Verifications", true},
		{"root", "GET", "/", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, srv.URL+tc.path, strings.NewReader("To=%2B14155550100"))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.SetBasicAuth(mainSID, mainToken)
			r := do(t, srv.Client(), req)
			if r.status != http.StatusNotFound {
				t.Fatalf("status %d, want 404: %s", r.status, r.body)
			}
			e := parseError(t, tc.json, r)
			if want := "The requested resource " + tc.path + " was not found"; e.Code != 20404 || e.Message != want {
				t.Errorf("got %d %q, want 20404 %q", e.Code, e.Message, want)
			}
		})
	}
}

func TestHeaders(t *testing.T) {
	t.Parallel()
	srv, _ := start(t, testConfig())
	duration := regexp.MustCompile(`^[0-9]+\.[0-9]{3}$`)
	requestID := regexp.MustCompile(`^RQ[0-9a-f]{32}$`)
	tests := []struct {
		name, path, user, pass string
		contentType            string
		concurrent             string
	}{
		{"created json", messagesPath(mainSID, ".json"), mainSID, mainToken, jsonType, "1"},
		{"created xml", messagesPath(mainSID, ""), mainSID, mainToken, "application/xml", "1"},
		{"studio", executionsPath(freeFlow), mainSID, mainToken, jsonType, "1"},
		{"unauthenticated", messagesPath(mainSID, ".xml"), mainSID, "nope", "application/xml", "0"},
		{"not found", "/nope", mainSID, mainToken, jsonType, "0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := post(t, srv, tc.path, tc.user, tc.pass, url.Values{"To": {toOK}, "From": {fromOK}, "Body": {"x"}})
			if got := r.header.Get("Content-Type"); got != tc.contentType {
				t.Errorf("Content-Type = %q, want %q", got, tc.contentType)
			}
			if got := r.header.Get("Twilio-Concurrent-Requests"); got != tc.concurrent {
				t.Errorf("Twilio-Concurrent-Requests = %q, want %q", got, tc.concurrent)
			}
			if got := r.header.Get("Twilio-Request-Duration"); !duration.MatchString(got) {
				t.Errorf("Twilio-Request-Duration = %q", got)
			}
			if got := r.header.Get("Twilio-Request-Id"); !requestID.MatchString(got) {
				t.Errorf("Twilio-Request-Id = %q", got)
			}
		})
	}
}
