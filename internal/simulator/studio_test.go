package simulator_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

var executionKeys = "sid,account_sid,flow_sid,contact_channel_address,contact_sid,flow_version,context,status," +
	"date_created,date_updated,initiated_by,url,links"

func TestExecutionCreated(t *testing.T) {
	t.Parallel()
	srv, _ := start(t, testConfig())
	tests := []struct {
		name string
		form url.Values
	}{
		{name: "to and from", form: url.Values{"To": {toOK}, "From": {fromOK}}},
		{name: "messaging service as From", form: url.Values{"To": {toOK}, "From": {service}}},
		{name: "parameters", form: url.Values{"To": {toOK}, "From": {fromOK}, "Parameters": {`{"code":"123456","name":"Zeke"}`}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := post(t, srv, executionsPath(freeFlow), mainSID, mainToken, tc.form)
			if r.status != http.StatusCreated {
				t.Fatalf("status %d, want 201: %s", r.status, r.body)
			}
			wantContentType(t, r, jsonType)
			if got := strings.Join(jsonKeys(t, r.body), ","); got != executionKeys {
				t.Errorf("keys\n got %s\nwant %s", got, executionKeys)
			}
			m := decodeJSON(t, r.body)
			sid, _ := m["sid"].(string)
			if !regexp.MustCompile(`^FN[0-9a-f]{32}$`).MatchString(sid) {
				t.Errorf("sid = %q", sid)
			}
			if c, _ := m["contact_sid"].(string); !regexp.MustCompile(`^FC[0-9a-f]{32}$`).MatchString(c) {
				t.Errorf("contact_sid = %q", c)
			}
			url := "https://studio.twilio.com/v2/Flows/" + freeFlow + "/Executions/" + sid
			want := map[string]any{
				"account_sid": mainSID, "flow_sid": freeFlow, "contact_channel_address": toOK, "status": "active",
				"flow_version": float64(1), "url": url,
			}
			for k, v := range want {
				if m[k] != v {
					t.Errorf("%s = %#v, want %#v", k, m[k], v)
				}
			}
			if ctx, ok := m["context"].(map[string]any); !ok || len(ctx) != 0 {
				t.Errorf("context = %#v, want {}", m["context"])
			}
			links, _ := m["links"].(map[string]any)
			if links["steps"] != url+"/Steps" || links["execution_context"] != url+"/Context" {
				t.Errorf("links = %v", links)
			}
			if _, err := time.Parse(time.RFC3339, m["date_created"].(string)); err != nil {
				t.Errorf("date_created not ISO 8601: %v", err)
			}
			if by, _ := m["initiated_by"].(string); by != r.header.Get("Twilio-Request-Id") {
				t.Errorf("initiated_by = %q, want the request SID %q", by, r.header.Get("Twilio-Request-Id"))
			}
		})
	}
}

func TestExecutionErrors(t *testing.T) {
	t.Parallel()
	srv, _ := start(t, testConfig())
	tests := []struct {
		name    string
		path    string
		form    url.Values
		status  int
		code    int
		message string
	}{
		{name: "To missing", form: url.Values{"From": {fromOK}},
			status: 400, code: 20001, message: "Missing required parameter To in the post body"},
		{name: "From missing", form: url.Values{"To": {toOK}},
			status: 400, code: 20001, message: "Missing required parameter From in the post body"},
		{name: "Parameters not JSON", form: url.Values{"To": {toOK}, "From": {fromOK}, "Parameters": {"code=1"}},
			status: 400, code: 20001, message: "Invalid Parameters"},
		{name: "Parameters a JSON array", form: url.Values{"To": {toOK}, "From": {fromOK}, "Parameters": {`["a"]`}},
			status: 400, code: 20001, message: "Invalid Parameters"},
		{name: "Parameters null", form: url.Values{"To": {toOK}, "From": {fromOK}, "Parameters": {`null`}},
			status: 400, code: 20001, message: "Invalid Parameters"},
		{name: "FlowSid malformed", path: executionsPath("FW123"), form: url.Values{"To": {toOK}, "From": {fromOK}},
			status: 404, code: 20404, message: "The requested resource /v2/Flows/FW123/Executions was not found"},
		{name: "not a flow SID", path: executionsPath("XX44444444444444444444444444444444"), form: url.Values{"To": {toOK}, "From": {fromOK}},
			status: 404, code: 20404, message: "The requested resource /v2/Flows/XX44444444444444444444444444444444/Executions was not found"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := tc.path
			if path == "" {
				path = executionsPath(freeFlow)
			}
			r := post(t, srv, path, mainSID, mainToken, tc.form)
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
			}
			if e := parseError(t, true, r); e.Code != tc.code || e.Message != tc.message {
				t.Errorf("got %d %q, want %d %q", e.Code, e.Message, tc.code, tc.message)
			}
		})
	}
}
