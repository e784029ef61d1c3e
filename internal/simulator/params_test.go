package simulator_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/twilioapi"
	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/twiliotest"
)

// TestMessageEveryParameter sends every parameter Twilio's OpenAPI lists for CreateMessage
// (through the contract check): all reach the record as sent, none is ignored.
func TestMessageEveryParameter(t *testing.T) {
	t.Parallel()
	contract := twiliotest.LoadContract(t)
	srv, sim := contractServer(t, fastConfig())
	form := url.Values{
		"To":                  {toOK},
		"From":                {fromOK},
		"MessagingServiceSid": {service},
		"Body":                {"Your code is 123456"},
		"MediaUrl":            {"https://example.com/a.png", "https://example.com/b.gif"},
		"StatusCallback":      {"http://127.0.0.1:1/status"},
		"ApplicationSid":      {"AP0123456789abcdef0123456789abcdef"},
		"MaxPrice":            {"0.05"},
		"ProvideFeedback":     {"true"},
		"Attempt":             {"2"},
		"ValidityPeriod":      {"300"},
		"ForceDelivery":       {"false"},
		"ContentRetention":    {"discard"},
		"AddressRetention":    {"obfuscate"},
		"SmartEncoded":        {"true"},
		"PersistentAction":    {"geo:37.787890,-122.391664|375 Beale St"},
		"TrafficType":         {"free"},
		"ShortenUrls":         {"true"},
		"ScheduleType":        {"fixed"},
		"SendAt":              {time.Now().Add(2 * time.Hour).UTC().Format(time.RFC3339)},
		"SendAsMms":           {"true"},
		"ContentVariables":    {`{"1":"123456"}`},
		"RiskCheck":           {"enable"},
		"FallbackFrom":        {"+15005550006"},
		"ContentSid":          {"HX0123456789abcdef0123456789abcdef"},
	}
	r := send(t, srv, http.MethodPost, messagesPath(mainSID, ".json"), form)
	if r.status != http.StatusCreated {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	req := httptest.NewRequest(http.MethodPost, messagesPath(mainSID, ".json"), nil)
	req.SetBasicAuth(mainSID, mainToken)
	if err := contract.CheckResponse(req, r.status, r.header, r.body); err != nil {
		t.Error(err)
	}
	m := decodeJSON(t, r.body)
	sid := m["sid"].(string)
	want := map[string]any{"status": "scheduled", "num_media": "2", "from": fromOK, "messaging_service_sid": service}
	for k, v := range want {
		if m[k] != v {
			t.Errorf("%s = %v, want %v", k, m[k], v)
		}
	}
	if !strings.HasPrefix(sid, "MM") {
		t.Errorf("sid %s, want MM for media", sid)
	}
	uris := m["subresource_uris"].(map[string]any)
	if uris["feedback"] != messagePath(mainSID, sid, "/Feedback.json") || uris["media"] != messagePath(mainSID, sid, "/Media.json") {
		t.Errorf("subresource_uris %v", uris)
	}
	recs := sim.Records()
	rec := recs[len(recs)-1]
	if !reflect.DeepEqual(rec.Form, form) || len(rec.Ignored) != 0 || rec.Op != "create" || rec.Sid != sid {
		t.Errorf("record form %v ignored %v op %s sid %s", rec.Form, rec.Ignored, rec.Op, rec.Sid)
	}
	// Every parameter of the spec was sent: the list above is complete.
	for name := range form {
		if !slices.Contains(specMessageParams(), name) {
			t.Errorf("%s is not a CreateMessage parameter", name)
		}
	}
	for _, name := range specMessageParams() {
		if _, ok := form[name]; !ok {
			t.Errorf("the spec's %s is not exercised", name)
		}
	}
}

func TestUnknownParametersAreIgnoredAndRecorded(t *testing.T) {
	t.Parallel()
	srv, sim := start(t, testConfig())
	form := url.Values{"To": {toOK}, "From": {fromOK}, "Body": {"x"}, "body": {"lower"}, "Foo": {"1"}}
	if r := send(t, srv, http.MethodPost, messagesPath(mainSID, ".json"), form); r.status != http.StatusCreated {
		t.Fatalf("status %d", r.status)
	}
	send(t, srv, http.MethodGet, messagesPath(mainSID, ".json")+"?Bar=1&To=%2B14155550100", nil)
	recs := sim.Records()
	if got := recs[0].Ignored; strings.Join(got, ",") != "Foo,body" {
		t.Errorf("create ignored %v", got)
	}
	if got := recs[1].Ignored; strings.Join(got, ",") != "Bar" || recs[1].Query.Get("To") != toOK || recs[1].Op != "list" {
		t.Errorf("list record %+v", recs[1])
	}
}

func TestMessageCreateVariants(t *testing.T) {
	t.Parallel()
	srv, _ := contractServer(t, testConfig())
	soon := func(d time.Duration) string { return time.Now().Add(d).UTC().Format(time.RFC3339) }
	tests := []struct {
		name string
		form url.Values
		want map[string]any
	}{
		{"content template without body", url.Values{"To": {toOK}, "From": {fromOK}, "ContentSid": {"HX0123456789abcdef0123456789abcdef"},
			"ContentVariables": {`{"1":"123456"}`}}, map[string]any{"status": "queued", "body": ""}},
		{"messaging service only", url.Values{"To": {toOK}, "MessagingServiceSid": {service}, "Body": {"x"}},
			map[string]any{"status": "accepted", "from": nil, "messaging_service_sid": service}},
		{"whatsapp", url.Values{"To": {"whatsapp:" + toOK}, "From": {"whatsapp:" + fromOK}, "Body": {"x"}},
			map[string]any{"status": "queued", "to": "whatsapp:" + toOK, "from": "whatsapp:" + fromOK}},
		{"whatsapp through a service", url.Values{"To": {"whatsapp:" + toOK}, "MessagingServiceSid": {service}, "Body": {"x"}},
			map[string]any{"status": "accepted", "to": "whatsapp:" + toOK}},
		{"scheduled through a service", url.Values{"To": {toOK}, "MessagingServiceSid": {service}, "Body": {"x"},
			"ScheduleType": {"fixed"}, "SendAt": {soon(time.Hour)}}, map[string]any{"status": "scheduled", "from": nil}},
		{"SendAt without ScheduleType is ignored", url.Values{"To": {toOK}, "From": {fromOK}, "Body": {"x"}, "SendAt": {soon(time.Hour)}},
			map[string]any{"status": "queued"}},
		{"send as MMS", url.Values{"To": {toOK}, "From": {fromOK}, "Body": {"x"}, "SendAsMms": {"true"}},
			map[string]any{"status": "queued", "num_media": "0"}},
		{"validity bounds", url.Values{"To": {toOK}, "From": {fromOK}, "Body": {"x"}, "ValidityPeriod": {"36000"}},
			map[string]any{"status": "queued"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := send(t, srv, http.MethodPost, messagesPath(mainSID, ".json"), tc.form)
			if r.status != http.StatusCreated {
				t.Fatalf("status %d: %s", r.status, r.body)
			}
			m := decodeJSON(t, r.body)
			for k, v := range tc.want {
				if m[k] != v {
					t.Errorf("%s = %v, want %v", k, m[k], v)
				}
			}
			if tc.name == "send as MMS" && !strings.HasPrefix(m["sid"].(string), "MM") {
				t.Errorf("sid %v", m["sid"])
			}
		})
	}
}

// TestMessageOptionErrors covers the documented errors of the optional parameters. Some
// requests break the OpenAPI on purpose, so no contract check here.
func TestMessageOptionErrors(t *testing.T) {
	t.Parallel()
	srv, sim := start(t, testConfig())
	base := func(kv ...string) url.Values {
		f := url.Values{"To": {toOK}, "From": {fromOK}, "Body": {"x"}}
		for i := 0; i < len(kv); i += 2 {
			f.Add(kv[i], kv[i+1])
		}
		return f
	}
	service := func(kv ...string) url.Values {
		f := base(kv...)
		f.Del("From")
		f.Set("MessagingServiceSid", service)
		return f
	}
	at := func(d time.Duration) string { return time.Now().Add(d).UTC().Format(time.RFC3339) }
	elevenMedia := base()
	for range 11 {
		elevenMedia.Add("MediaUrl", "https://example.com/a.png")
	}
	tests := []struct {
		name string
		form url.Values
		code int
	}{
		{"StatusCallback not a URL", base("StatusCallback", "example.com/cb"), 21609},
		{"StatusCallback ftp", base("StatusCallback", "ftp://example.com/cb"), 21609},
		{"StatusCallback underscore host", base("StatusCallback", "https://my_host.example.com/cb"), 21609},
		{"StatusCallback too long", base("StatusCallback", "https://example.com/"+strings.Repeat("a", 4000)), 21609},
		{"eleven media", elevenMedia, 21623},
		{"media not http", base("MediaUrl", "example.com/a.png"), 21620},
		{"validity 0", base("ValidityPeriod", "0"), 21624},
		{"validity 36001", base("ValidityPeriod", "36001"), 21624},
		{"validity not a number", base("ValidityPeriod", "soon"), 21624},
		{"content variables not JSON", base("ContentSid", "HX0123456789abcdef0123456789abcdef", "ContentVariables", "{1:"), 21656},
		{"content variables an array", base("ContentSid", "HX0123456789abcdef0123456789abcdef", "ContentVariables", "[1]"), 21656},
		{"channel mismatch", url.Values{"To": {"whatsapp:" + toOK}, "From": {fromOK}, "Body": {"x"}}, 21910},
		{"whatsapp to an invalid number", url.Values{"To": {"whatsapp:12"}, "From": {"whatsapp:" + fromOK}, "Body": {"x"}}, 21211},
		{"ScheduleType without SendAt", service("ScheduleType", "fixed"), 35111},
		{"SendAt too soon", service("ScheduleType", "fixed", "SendAt", at(10*time.Minute)), 35114},
		{"SendAt too late", service("ScheduleType", "fixed", "SendAt", at(36*24*time.Hour)), 35114},
		{"SendAt not ISO 8601", service("ScheduleType", "fixed", "SendAt", "tomorrow"), 35114},
		{"schedule without a service", base("ScheduleType", "fixed", "SendAt", at(time.Hour)), 35118},
		{"ScheduleType other than fixed", service("ScheduleType", "recurring", "SendAt", at(time.Hour)), 35126},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := send(t, srv, http.MethodPost, messagesPath(mainSID, ".json"), tc.form)
			if r.status != http.StatusBadRequest {
				t.Fatalf("status %d, want 400: %s", r.status, r.body)
			}
			if e := parseError(t, true, r); e.Code != tc.code {
				t.Errorf("code %d (%s), want %d", e.Code, e.Message, tc.code)
			}
		})
	}
	if st := sim.Stats(); st.Accepted != 0 {
		t.Errorf("stats %+v: nothing may be created", st)
	}
}

func TestMessagingServiceInFrom(t *testing.T) {
	t.Parallel()
	srv, _ := start(t, testConfig())
	r := send(t, srv, http.MethodPost, messagesPath(mainSID, ".json"), url.Values{"To": {toOK}, "From": {service}, "Body": {"x"}})
	m := decodeJSON(t, r.body)
	if r.status != http.StatusCreated || m["messaging_service_sid"] != service || m["from"] != nil || m["status"] != "accepted" {
		t.Errorf("status %d: %v", r.status, m)
	}
}

func TestCallEveryParameter(t *testing.T) {
	t.Parallel()
	srv, sim := contractServer(t, fastConfig())
	form := url.Values{
		"To": {toOK}, "From": {fromOK}, "Url": {"https://example.com/twiml"}, "Method": {"GET"},
		"FallbackUrl": {"https://example.com/fallback"}, "FallbackMethod": {"POST"},
		"StatusCallback": {"http://127.0.0.1:1/status"}, "StatusCallbackEvent": {"initiated", "ringing", "answered", "completed"},
		"StatusCallbackMethod": {"POST"}, "SendDigits": {"1234#"}, "Timeout": {"30"}, "Record": {"true"},
		"RecordingChannels": {"dual"}, "RecordingStatusCallback": {"https://example.com/rec"}, "RecordingStatusCallbackMethod": {"POST"},
		"SipAuthUsername": {"u"}, "SipAuthPassword": {"p"}, "MachineDetection": {"Enable"}, "MachineDetectionTimeout": {"30"},
		"RecordingStatusCallbackEvent": {"completed"}, "Trim": {"trim-silence"}, "CallerId": {fromOK},
		"MachineDetectionSpeechThreshold": {"2400"}, "MachineDetectionSpeechEndThreshold": {"1200"},
		"MachineDetectionSilenceTimeout": {"5000"}, "AsyncAmd": {"true"}, "AsyncAmdStatusCallback": {"https://example.com/amd"},
		"AsyncAmdStatusCallbackMethod": {"POST"}, "Byoc": {"BY0123456789abcdef0123456789abcdef"}, "CallReason": {"OTP"},
		"CallToken": {"token"}, "RecordingTrack": {"both"}, "TimeLimit": {"120"}, "ClientNotificationUrl": {"https://example.com/push"},
		"Twiml": {twimlOK}, "ApplicationSid": {"AP0123456789abcdef0123456789abcdef"},
	}
	r := send(t, srv, http.MethodPost, callsPath(mainSID, ".json"), form)
	if r.status != http.StatusCreated {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	rec := sim.Records()[0]
	if !reflect.DeepEqual(rec.Form, form) || len(rec.Ignored) != 0 {
		t.Errorf("record form %v ignored %v", rec.Form, rec.Ignored)
	}
	for _, name := range specCallParams() {
		if _, ok := form[name]; !ok {
			t.Errorf("the spec's %s is not exercised", name)
		}
	}
	if r := send(t, srv, http.MethodPost, callsPath(mainSID, ".json"), url.Values{"To": {toOK}, "From": {fromOK}, "Twiml": {twimlOK},
		"StatusCallbackEvent": {"initiated hungup"}}); parseError(t, true, r).Code != 21626 {
		t.Errorf("bad StatusCallbackEvent: %s", r.body)
	}
}

func specMessageParams() []string { return names(twilioapi.MessageCreateParams) }

func specCallParams() []string { return names(twilioapi.CallCreateParams) }

func names(ps []twilioapi.Param) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.Name
	}
	return out
}
