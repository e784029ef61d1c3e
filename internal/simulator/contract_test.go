package simulator_test

import (
	"encoding/xml"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/simulator"
	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/twiliotest"
)

// TestResponsesMatchOpenAPI checks every kind of 201 JSON body the simulator produces
// against the response schema of Twilio's OpenAPI (and the requests against the request
// schema, so the cases stay honest).
func TestResponsesMatchOpenAPI(t *testing.T) {
	t.Parallel()
	contract := twiliotest.LoadContract(t)
	srv, _ := start(t, testConfig())
	tests := []struct {
		name string
		path string
		form url.Values
	}{
		{"message from number", messagesPath(mainSID, ".json"), url.Values{"To": {toOK}, "From": {fromOK}, "Body": {"Your code is 123456"}}},
		{"message through a service", messagesPath(mainSID, ".json"), url.Values{"To": {toOK}, "MessagingServiceSid": {service}, "Body": {"x"}}},
		{"message with media", messagesPath(mainSID, ".json"), url.Values{"To": {toOK}, "From": {fromOK}, "MediaUrl": {"https://example.com/a.png"}}},
		{"message unicode", messagesPath(mainSID, ".json"), url.Values{"To": {toOK}, "From": {"ACME"}, "Body": {strings.Repeat("код ", 50)}}},
		{"message of a subaccount", messagesPath(subSID, ".json"), url.Values{"To": {toOK}, "From": {fromOK}, "Body": {"x"}}},
		{"message xml", messagesPath(mainSID, ""), url.Values{"To": {toOK}, "From": {fromOK}, "Body": {"x"}}},
		{"call twiml", callsPath(mainSID, ".json"), url.Values{"To": {toOK}, "From": {fromOK}, "Twiml": {twimlOK}}},
		{"call url", callsPath(mainSID, ".json"), url.Values{"To": {toOK}, "From": {fromOK}, "Url": {"https://example.com/t.xml"}, "Timeout": {"30"}}},
		{"execution", executionsPath(freeFlow), url.Values{"To": {toOK}, "From": {fromOK}}},
		{"execution with parameters", executionsPath(freeFlow), url.Values{"To": {toOK}, "From": {service}, "Parameters": {`{"code":"123456"}`}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			body := tc.form.Encode()
			req := newRequest(t, srv.URL+tc.path, mainSID, mainToken, tc.form)
			if err := contract.Check(req, []byte(body)); err != nil {
				t.Fatalf("the test's own request breaks the contract: %v", err)
			}
			req = newRequest(t, srv.URL+tc.path, mainSID, mainToken, tc.form)
			r := do(t, srv.Client(), req)
			if r.status != http.StatusCreated {
				t.Fatalf("status %d: %s", r.status, r.body)
			}
			if err := contract.CheckResponse(req, r.status, r.header, r.body); err != nil {
				t.Errorf("%v\nbody %s", err, r.body)
			}
		})
	}
}

// FuzzMessages feeds arbitrary form bodies to the Messages operation in both formats: the
// simulator must answer 201 or 400 with a well-formed body, never panic.
func FuzzMessages(f *testing.F) {
	for _, seed := range []string{
		okMessage.Encode(),
		"To=%2B14155550100&MessagingServiceSid=MG0123456789abcdef0123456789abcdef&Body=x",
		"To=%2B15005550002&From=%2B15005550007&Body=%F0%9F%98%80",
		"To=%2B14155550100&From=ACME&Body=%00%1B%FF%3C%2FBody%3E",
		"To=&From=&Body=",
		"To=%zz",
		"MediaUrl=a&MediaUrl=&To=%2B14155550100&From=ACME",
	} {
		f.Add(seed, false)
		f.Add(seed, true)
	}
	cfg := testConfig()
	cfg.MaxRecords = 16
	sim := simulator.New(cfg)
	f.Cleanup(sim.Close)
	f.Fuzz(func(t *testing.T, body string, asXML bool) {
		ext := ".json"
		if asXML {
			ext = ".xml"
		}
		req := httptest.NewRequest(http.MethodPost, messagesPath(mainSID, ext), strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(mainSID, mainToken)
		w := httptest.NewRecorder()
		sim.ServeHTTP(w, req)
		if w.Code != http.StatusCreated && w.Code != http.StatusBadRequest {
			t.Fatalf("status %d for %q", w.Code, body)
		}
		if !asXML {
			decodeJSON(t, w.Body.Bytes())
			return
		}
		var v struct {
			XMLName xml.Name `xml:"TwilioResponse"`
		}
		if err := xml.Unmarshal(w.Body.Bytes(), &v); err != nil {
			t.Fatalf("XML answer does not parse: %v: %s", err, w.Body.Bytes())
		}
	})
}
