package simulator_test

import (
	"encoding/xml"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/simulator"
	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/twiliotest"
)

// fastConfig is testConfig with statuses a millisecond apart.
func fastConfig() simulator.Config {
	cfg := testConfig()
	cfg.StatusStep = time.Millisecond
	return cfg
}

// contractServer starts the simulator behind Twilio's OpenAPI request check (skipped
// checks without the specs).
func contractServer(t *testing.T, cfg simulator.Config) (*httptest.Server, *simulator.Simulator) {
	t.Helper()
	srv, sim, _ := twiliotest.NewServer(t, cfg)
	t.Cleanup(sim.Close)
	return srv, sim
}

// send makes a request with the main account's credentials; form goes in the body.
func send(t testing.TB, srv *httptest.Server, method, path string, form url.Values) reply {
	t.Helper()
	var body *strings.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	} else {
		body = strings.NewReader("")
	}
	req, err := http.NewRequest(method, srv.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	req.SetBasicAuth(mainSID, mainToken)
	return do(t, srv.Client(), req)
}

func messagePath(account, sid, ext string) string {
	return "/2010-04-01/Accounts/" + account + "/Messages/" + sid + ext
}

func callPath(account, sid, ext string) string {
	return "/2010-04-01/Accounts/" + account + "/Calls/" + sid + ext
}

// create posts a message and returns its SID.
func create(t testing.TB, srv *httptest.Server, form url.Values) string {
	t.Helper()
	r := send(t, srv, http.MethodPost, messagesPath(mainSID, ".json"), form)
	if r.status != http.StatusCreated {
		t.Fatalf("create: status %d: %s", r.status, r.body)
	}
	return decodeJSON(t, r.body)["sid"].(string)
}

// waitStatus fetches path until its status is want.
func waitStatus(t testing.TB, srv *httptest.Server, path, want string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		r := send(t, srv, http.MethodGet, path, nil)
		if r.status != http.StatusOK {
			t.Fatalf("fetch %s: status %d: %s", path, r.status, r.body)
		}
		m := decodeJSON(t, r.body)
		if m["status"] == want {
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: status %v, want %s", path, m["status"], want)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func TestMessageFetchFollowsDelivery(t *testing.T) {
	t.Parallel()
	contract := twiliotest.LoadContract(t)
	srv, _ := contractServer(t, fastConfig())
	sid := create(t, srv, okMessage)
	m := waitStatus(t, srv, messagePath(mainSID, sid, ".json"), "delivered")
	if m["date_sent"] == nil || m["error_code"] != nil || m["sid"] != sid || m["body"] != okMessage.Get("Body") {
		t.Errorf("delivered message %v", m)
	}
	if got := strings.Join(jsonKeys(t, send(t, srv, http.MethodGet, messagePath(mainSID, sid, ".json"), nil).body), ","); got != messageKeys {
		t.Errorf("keys\n got %s\nwant %s", got, messageKeys)
	}
	req := httptest.NewRequest(http.MethodGet, messagePath(mainSID, sid, ".json"), nil)
	req.SetBasicAuth(mainSID, mainToken)
	r := send(t, srv, http.MethodGet, messagePath(mainSID, sid, ".json"), nil)
	if err := contract.CheckResponse(req, r.status, r.header, r.body); err != nil {
		t.Error(err)
	}

	for _, ext := range []string{"", ".xml"} {
		r := send(t, srv, http.MethodGet, messagePath(mainSID, sid, ext), nil)
		wantContentType(t, r, simulator.ContentTypeXML)
		wantXMLHeader(t, r.body)
		var x xmlMessage
		if err := xml.Unmarshal(r.body, &x); err != nil {
			t.Fatal(err)
		}
		if x.M.Sid != sid || x.M.Status != "delivered" || x.M.DateSent == "" {
			t.Errorf("%q: XML message %+v", ext, x.M)
		}
	}
}

func TestMessageOutcomes(t *testing.T) {
	t.Parallel()
	srv, _ := contractServer(t, fastConfig())
	tests := []struct {
		to, status string
		code       int
	}{
		{"+15005550010", "undelivered", 30003},
		{"+15005550011", "failed", 30008},
		{"+15005550012", "undelivered", 30005},
		{"+15005550013", "undelivered", 30006},
		{"+15005550014", "undelivered", 30007},
		{"+15005550015", "sent", 0},
		{"+15005550016", "failed", 30001},
		{"+15005550017", "failed", 30036},
		{"+15005550018", "undelivered", 30034},
		{"whatsapp:+15005550010", "undelivered", 30003},
	}
	for _, tc := range tests {
		t.Run(tc.to, func(t *testing.T) {
			t.Parallel()
			from := fromOK
			if strings.HasPrefix(tc.to, "whatsapp:") {
				from = "whatsapp:" + fromOK
			}
			sid := create(t, srv, url.Values{"To": {tc.to}, "From": {from}, "Body": {"x"}})
			path := messagePath(mainSID, sid, ".json")
			m := waitStatus(t, srv, path, tc.status)
			time.Sleep(5 * time.Millisecond) // nothing follows a final status
			m2 := decodeJSON(t, send(t, srv, http.MethodGet, path, nil).body)
			if m2["status"] != tc.status {
				t.Errorf("status moved on to %v", m2["status"])
			}
			code, _ := m["error_code"].(float64)
			if int(code) != tc.code || (tc.code != 0) != (m["error_message"] != nil) {
				t.Errorf("error_code %v error_message %v, want %d", m["error_code"], m["error_message"], tc.code)
			}
		})
	}
}

func TestMessagingServiceSenderShowsOnceQueued(t *testing.T) {
	t.Parallel()
	cfg := fastConfig()
	cfg.StatusStep = 50 * time.Millisecond
	srv, _ := contractServer(t, cfg)
	sid := create(t, srv, url.Values{"To": {toOK}, "MessagingServiceSid": {service}, "Body": {"x"}})
	path := messagePath(mainSID, sid, ".json")
	m := decodeJSON(t, send(t, srv, http.MethodGet, path, nil).body)
	if m["status"] != "accepted" || m["from"] != nil || m["num_segments"] != "0" {
		t.Errorf("accepted message %v", m)
	}
	m = waitStatus(t, srv, path, "queued")
	if m["from"] != fromOK || m["num_segments"] != "1" || m["messaging_service_sid"] != service {
		t.Errorf("queued message %v: want the pool's sender %s", m, fromOK)
	}
}

func TestMessageList(t *testing.T) {
	t.Parallel()
	contract := twiliotest.LoadContract(t)
	srv, _ := contractServer(t, fastConfig())
	var sids []string // oldest first
	for i := range 5 {
		to := toOK
		if i%2 == 1 {
			to = "+14155550101"
		}
		sids = append(sids, create(t, srv, url.Values{"To": {to}, "From": {fromOK}, "Body": {strconv.Itoa(i)}}))
	}
	create(t, srv, url.Values{"To": {"+15005550011"}, "From": {fromOK}, "Body": {"never sent"}})
	// Another account's message is never listed.
	r := post(t, srv, messagesPath(otherSID, ".json"), otherSID, otherToken, url.Values{"To": {toOK}, "From": {"ACME"}, "Body": {"x"}})
	if r.status != http.StatusCreated {
		t.Fatal(r.status)
	}
	for _, sid := range sids {
		waitStatus(t, srv, messagePath(mainSID, sid, ".json"), "delivered")
	}
	today := time.Now().UTC().Format("2006-01-02")
	base := messagesPath(mainSID, ".json")
	list := func(query string) map[string]any {
		t.Helper()
		r := send(t, srv, http.MethodGet, base+query, nil)
		if r.status != http.StatusOK {
			t.Fatalf("list %s: status %d: %s", query, r.status, r.body)
		}
		req := httptest.NewRequest(http.MethodGet, base+query, nil)
		req.SetBasicAuth(mainSID, mainToken)
		if err := contract.CheckResponse(req, r.status, r.header, r.body); err != nil {
			t.Errorf("list %s: %v", query, err)
		}
		if got := strings.Join(jsonKeys(t, r.body), ","); got != "first_page_uri,end,previous_page_uri,messages,uri,page_size,start,next_page_uri,page" {
			t.Errorf("envelope keys %s", got)
		}
		return decodeJSON(t, r.body)
	}
	listed := func(l map[string]any) []string {
		var out []string
		for _, m := range l["messages"].([]any) {
			out = append(out, m.(map[string]any)["sid"].(string))
		}
		return out
	}
	tests := []struct {
		name, query string
		want        []string
	}{
		{"all, newest first", "", nil}, // checked below: 6 messages
		{"To", "?To=%2B14155550101", []string{sids[3], sids[1]}},
		{"From and To", "?From=%2B15005550006&To=%2B14155550100", []string{sids[4], sids[2], sids[0]}},
		{"DateSent day", "?DateSent=" + today + "T12:00:00Z&To=%2B14155550101", []string{sids[3], sids[1]}},
		{"DateSent on or after", "?To=%2B14155550101&DateSent%3E=" + today + "T00:00:00Z", []string{sids[3], sids[1]}},
		{"DateSent on or before yesterday", "?DateSent%3C=" + time.Now().UTC().Add(-24*time.Hour).Format(time.RFC3339), nil},
		{"nobody", "?To=%2B19999999999", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := list(tc.query)
			got := listed(l)
			if tc.name == "all, newest first" {
				if len(got) != 6 || got[1] != sids[4] || got[5] != sids[0] {
					t.Errorf("listed %v, want 6 newest first ending with %s", got, sids[0])
				}
				return
			}
			if strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Errorf("listed %v, want %v", got, tc.want)
			}
		})
	}

	// Paging: 6 messages, 4 per page, following next_page_uri as the SDKs do.
	p0 := list("?PageSize=4")
	if p0["page"] != 0.0 || p0["page_size"] != 4.0 || p0["start"] != 0.0 || p0["end"] != 3.0 || p0["previous_page_uri"] != nil {
		t.Errorf("page 0 %v", p0)
	}
	if want := base + "?PageSize=4&Page=0"; p0["first_page_uri"] != want || p0["uri"] != want {
		t.Errorf("first_page_uri %v uri %v, want %s", p0["first_page_uri"], p0["uri"], want)
	}
	next, _ := p0["next_page_uri"].(string)
	if !strings.HasPrefix(next, base+"?PageSize=4&Page=1&PageToken=PA") {
		t.Fatalf("next_page_uri %q", next)
	}
	p1 := list(strings.TrimPrefix(next, base))
	page0, page1 := listed(p0), listed(p1)
	if len(page0) != 4 || len(page1) != 2 || page1[1] != sids[0] || p1["next_page_uri"] != nil || p1["start"] != 4.0 || p1["end"] != 5.0 {
		t.Errorf("pages %v %v; page 1 %v", page0, page1, p1)
	}
	prev, _ := p1["previous_page_uri"].(string)
	if got := listed(list(strings.TrimPrefix(prev, base))); strings.Join(got, ",") != strings.Join(page0, ",") {
		t.Errorf("previous page %v, want %v", got, page0)
	}
	// Filters stay in the paging URIs.
	if f := list("?To=%2B14155550100&PageSize=1"); !strings.HasPrefix(f["next_page_uri"].(string), base+"?To=%2B14155550100&PageSize=1&Page=1&PageToken=PA") {
		t.Errorf("filtered next_page_uri %v", f["next_page_uri"])
	}

	// XML.
	r = send(t, srv, http.MethodGet, messagesPath(mainSID, "")+"?PageSize=2", nil)
	wantContentType(t, r, simulator.ContentTypeXML)
	var x struct {
		XMLName xml.Name `xml:"TwilioResponse"`
		L       struct {
			Page        string                 `xml:"page,attr"`
			PageSize    string                 `xml:"pagesize,attr"`
			End         string                 `xml:"end,attr"`
			NextPageURI string                 `xml:"nextpageuri,attr"`
			Messages    []struct{ Sid string } `xml:"Message"`
		} `xml:"Messages"`
	}
	if err := xml.Unmarshal(r.body, &x); err != nil {
		t.Fatalf("%v: %s", err, r.body)
	}
	if len(x.L.Messages) != 2 || x.L.Page != "0" || x.L.PageSize != "2" || x.L.End != "1" || !strings.HasPrefix(x.L.NextPageURI, messagesPath(mainSID, "")+"?PageSize=2&Page=1&PageToken=PA") {
		t.Errorf("XML list %s", r.body)
	}

	// Twilio's documented date-only filters (the OpenAPI says date-time), and bad values,
	// without the contract check.
	plain, _ := start(t, fastConfig())
	for range 2 {
		waitStatus(t, plain, messagePath(mainSID, create(t, plain, okMessage), ".json"), "delivered")
	}
	for q, want := range map[string]int{"?DateSent=" + today: 2, "?DateSent%3C=" + today: 2, "?DateSent%3E=" + today: 2,
		"?DateSent%3E=2999-01-01": 0, "?DateSent%3C=2000-01-01": 0} {
		r := send(t, plain, http.MethodGet, base+q, nil)
		if got := len(decodeJSON(t, r.body)["messages"].([]any)); got != want {
			t.Errorf("%s: %d messages, want %d", q, got, want)
		}
	}
	for _, bad := range []string{"?PageSize=0", "?PageSize=x", "?Page=-1", "?DateSent=yesterday"} {
		r := send(t, plain, http.MethodGet, base+bad, nil)
		if e := parseError(t, true, r); r.status != http.StatusBadRequest || e.Code != 20001 {
			t.Errorf("%s: %d %d", bad, r.status, e.Code)
		}
	}
}

func TestMessageCancelRedactDelete(t *testing.T) {
	t.Parallel()
	contract := twiliotest.LoadContract(t)
	srv, sim := contractServer(t, fastConfig())
	sendAt := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	scheduled := create(t, srv, url.Values{"To": {toOK}, "MessagingServiceSid": {service}, "Body": {"later"},
		"ScheduleType": {"fixed"}, "SendAt": {sendAt}})
	path := messagePath(mainSID, scheduled, ".json")

	// Not yet: a scheduled message cannot be deleted.
	if r := send(t, srv, http.MethodDelete, path, nil); r.status != http.StatusBadRequest || parseError(t, true, r).Code != 20009 {
		t.Errorf("delete scheduled: %d %s", r.status, r.body)
	}
	r := send(t, srv, http.MethodPost, path, url.Values{"Status": {"canceled"}})
	if r.status != http.StatusOK {
		t.Fatalf("cancel: %d %s", r.status, r.body)
	}
	req := httptest.NewRequest(http.MethodPost, path, nil)
	req.SetBasicAuth(mainSID, mainToken)
	if err := contract.CheckResponse(req, r.status, r.header, r.body); err != nil {
		t.Error(err)
	}
	if m := decodeJSON(t, r.body); m["status"] != "canceled" {
		t.Errorf("canceled message %v", m)
	}
	if r := send(t, srv, http.MethodPost, path, url.Values{"Status": {"canceled"}}); parseError(t, true, r).Code != 30409 {
		t.Errorf("cancel twice: %s", r.body)
	}

	sent := create(t, srv, okMessage)
	sentPath := messagePath(mainSID, sent, "")
	if r := send(t, srv, http.MethodPost, sentPath, url.Values{"Status": {"canceled"}}); r.status != 400 || parseError(t, false, r).Code != 30409 {
		t.Errorf("cancel a queued message: %d %s", r.status, r.body)
	}
	waitStatus(t, srv, messagePath(mainSID, sent, ".json"), "delivered")
	r = send(t, srv, http.MethodPost, sentPath, url.Values{"Body": {""}})
	var x xmlMessage
	if err := xml.Unmarshal(r.body, &x); r.status != http.StatusOK || err != nil || x.M.Body != "" || x.M.Status != "delivered" {
		t.Errorf("redact: %d %s", r.status, r.body)
	}
	if r := send(t, srv, http.MethodPost, sentPath, url.Values{"Body": {"new text"}}); r.status != 400 {
		t.Errorf("rewrite body: %d %s", r.status, r.body)
	}

	for _, sid := range []string{sent, scheduled} {
		r := send(t, srv, http.MethodDelete, messagePath(mainSID, sid, ".json"), nil)
		if r.status != http.StatusNoContent || len(r.body) != 0 || r.header.Get("Twilio-Request-Id") == "" {
			t.Errorf("delete %s: %d %q %v", sid, r.status, r.body, r.header)
		}
		if r := send(t, srv, http.MethodGet, messagePath(mainSID, sid, ".json"), nil); r.status != http.StatusNotFound {
			t.Errorf("fetch after delete: %d", r.status)
		}
	}

	// Another account cannot see the message; the parent can see its subaccount's.
	sub := post(t, srv, messagesPath(subSID, ".json"), subSID, subToken, okMessage)
	subSid := decodeJSON(t, sub.body)["sid"].(string)
	if r := post(t, srv, messagePath(otherSID, subSid, ".json"), otherSID, otherToken, url.Values{"Body": {""}}); r.status != http.StatusNotFound {
		t.Errorf("other account: %d", r.status)
	}
	req = newRequest(t, srv.URL+messagePath(subSID, subSid, ".json"), mainSID, mainToken, nil)
	req.Method = http.MethodGet
	req.Body = http.NoBody
	if r := do(t, srv.Client(), req); r.status != http.StatusOK {
		t.Errorf("parent fetching its subaccount's message: %d", r.status)
	}
	if r := send(t, srv, http.MethodGet, messagePath(mainSID, subSid, ".json"), nil); r.status != http.StatusNotFound {
		t.Errorf("the subaccount's message under the parent's path: %d", r.status)
	}

	ops := map[string]int{}
	for _, rec := range sim.Records() {
		ops[rec.API+"/"+rec.Op]++
	}
	if ops["messages/update"] < 5 || ops["messages/delete"] != 3 || ops["messages/fetch"] < 4 {
		t.Errorf("recorded operations %v", ops)
	}
}

func TestCallLifecycle(t *testing.T) {
	t.Parallel()
	contract := twiliotest.LoadContract(t)
	srv, _ := contractServer(t, fastConfig())
	newCall := func(to string, extra ...string) string {
		form := url.Values{"To": {to}, "From": {fromOK}, "Twiml": {twimlOK}}
		for i := 0; i < len(extra); i += 2 {
			form.Add(extra[i], extra[i+1])
		}
		r := send(t, srv, http.MethodPost, callsPath(mainSID, ".json"), form)
		if r.status != http.StatusCreated {
			t.Fatalf("create call: %d %s", r.status, r.body)
		}
		return decodeJSON(t, r.body)["sid"].(string)
	}
	tests := []struct {
		to, final, answeredBy string
		extra                 []string
		answered              bool
	}{
		{to: toOK, final: "completed", answered: true},
		{to: "+15005550020", final: "busy"},
		{to: "+15005550021", final: "no-answer"},
		{to: "+15005550022", final: "failed"},
		{to: toOK, final: "completed", answered: true, answeredBy: "human", extra: []string{"MachineDetection", "Enable"}},
		{to: "+15005550023", final: "completed", answered: true, answeredBy: "machine_start", extra: []string{"MachineDetection", "DetectMessageEnd"}},
	}
	for _, tc := range tests {
		t.Run(tc.to+"/"+tc.final+tc.answeredBy, func(t *testing.T) {
			sid := newCall(tc.to, tc.extra...)
			path := callPath(mainSID, sid, ".json")
			c := waitStatus(t, srv, path, tc.final)
			if (c["start_time"] != nil) != tc.answered || c["end_time"] == nil || c["duration"] == nil {
				t.Errorf("ended call %v", c)
			}
			if want := nullableAny(tc.answeredBy); c["answered_by"] != want {
				t.Errorf("answered_by %v, want %v", c["answered_by"], want)
			}
			r := send(t, srv, http.MethodGet, path, nil)
			req := httptest.NewRequest(http.MethodGet, path, nil)
			req.SetBasicAuth(mainSID, mainToken)
			if err := contract.CheckResponse(req, r.status, r.header, r.body); err != nil {
				t.Error(err)
			}
			if r := send(t, srv, http.MethodPost, path, url.Values{"Twiml": {twimlOK}}); parseError(t, true, r).Code != 21220 {
				t.Errorf("redirect an ended call: %s", r.body)
			}
			if r := send(t, srv, http.MethodDelete, path, nil); r.status != http.StatusNoContent {
				t.Errorf("delete: %d %s", r.status, r.body)
			}
		})
	}

	t.Run("cancel and hang up", func(t *testing.T) {
		cfg := fastConfig()
		cfg.StatusStep = time.Hour
		srv, _ := contractServer(t, cfg)
		r := send(t, srv, http.MethodPost, callsPath(mainSID, ".json"), url.Values{"To": {toOK}, "From": {fromOK}, "Url": {"https://example.com/t"}})
		sid := decodeJSON(t, r.body)["sid"].(string)
		path := callPath(mainSID, sid, ".json")
		if r := send(t, srv, http.MethodDelete, path, nil); parseError(t, true, r).Code != 20009 {
			t.Errorf("delete a queued call: %s", r.body)
		}
		r = send(t, srv, http.MethodPost, path, url.Values{"Url": {"https://example.com/other"}, "Method": {"GET"}})
		if r.status != http.StatusOK || decodeJSON(t, r.body)["status"] != "queued" {
			t.Errorf("redirect a queued call: %d %s", r.status, r.body)
		}
		r = send(t, srv, http.MethodPost, path, url.Values{"Status": {"completed"}})
		if c := decodeJSON(t, r.body); r.status != http.StatusOK || c["status"] != "canceled" || c["end_time"] == nil {
			t.Errorf("complete a queued call: %d %s", r.status, r.body)
		}
		if r := send(t, srv, http.MethodDelete, path, nil); r.status != http.StatusNoContent {
			t.Errorf("delete a canceled call: %d", r.status)
		}
	})
}

func nullableAny(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func TestCallList(t *testing.T) {
	t.Parallel()
	contract := twiliotest.LoadContract(t)
	srv, _ := contractServer(t, fastConfig())
	var sids []string
	for _, to := range []string{toOK, "+15005550020", toOK} {
		r := send(t, srv, http.MethodPost, callsPath(mainSID, ".json"), url.Values{"To": {to}, "From": {fromOK}, "Twiml": {twimlOK}})
		sids = append(sids, decodeJSON(t, r.body)["sid"].(string))
	}
	waitStatus(t, srv, callPath(mainSID, sids[0], ".json"), "completed")
	waitStatus(t, srv, callPath(mainSID, sids[1], ".json"), "busy")
	waitStatus(t, srv, callPath(mainSID, sids[2], ".json"), "completed")
	today := time.Now().UTC().Format("2006-01-02")
	tests := []struct {
		query string
		want  []string
	}{
		{"", []string{sids[2], sids[1], sids[0]}},
		{"?Status=busy", []string{sids[1]}},
		{"?To=%2B14155550100&Status=completed", []string{sids[2], sids[0]}},
		{"?StartTime=" + today + "T00:00:00Z", []string{sids[2], sids[0]}},
		{"?EndTime%3E=" + time.Now().Add(-time.Minute).UTC().Format(time.RFC3339), []string{sids[2], sids[1], sids[0]}},
		{"?EndTime%3C=" + time.Now().Add(-time.Minute).UTC().Format(time.RFC3339), nil},
		{"?ParentCallSid=CA0123456789abcdef0123456789abcdef", nil},
		{"?PageSize=2&Page=1", []string{sids[0]}},
	}
	for _, tc := range tests {
		t.Run(tc.query, func(t *testing.T) {
			path := callsPath(mainSID, ".json") + tc.query
			r := send(t, srv, http.MethodGet, path, nil)
			req := httptest.NewRequest(http.MethodGet, path, nil)
			req.SetBasicAuth(mainSID, mainToken)
			if err := contract.CheckResponse(req, r.status, r.header, r.body); err != nil {
				t.Error(err)
			}
			var got []string
			for _, c := range decodeJSON(t, r.body)["calls"].([]any) {
				got = append(got, c.(map[string]any)["sid"].(string))
			}
			if strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Errorf("listed %v, want %v", got, tc.want)
			}
		})
	}
}

func TestMethodNotAllowed(t *testing.T) {
	t.Parallel()
	srv, _ := start(t, testConfig())
	tests := []struct{ method, path, allow string }{
		{http.MethodPut, messagesPath(mainSID, ".json"), "GET, POST"},
		{http.MethodDelete, callsPath(mainSID, ".json"), "GET, POST"},
		{http.MethodPatch, messagePath(mainSID, "SM0123456789abcdef0123456789abcdef", ".json"), "GET, POST, DELETE"},
	}
	for _, tc := range tests {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			r := send(t, srv, tc.method, tc.path, url.Values{})
			if r.status != http.StatusMethodNotAllowed || r.header.Get("Allow") != tc.allow {
				t.Fatalf("status %d Allow %q: %s", r.status, r.header.Get("Allow"), r.body)
			}
			if e := parseError(t, true, r); e.Code != 20004 {
				t.Errorf("code %d", e.Code)
			}
		})
	}
}

func TestStoreForgetsTheOldest(t *testing.T) {
	t.Parallel()
	cfg := testConfig()
	cfg.MaxStored = 2
	srv, sim := start(t, cfg)
	t.Cleanup(sim.Close)
	a, b, c := create(t, srv, okMessage), create(t, srv, okMessage), create(t, srv, okMessage)
	for sid, want := range map[string]int{a: 404, b: 200, c: 200} {
		if r := send(t, srv, http.MethodGet, messagePath(mainSID, sid, ".json"), nil); r.status != want {
			t.Errorf("%s: %d, want %d", sid, r.status, want)
		}
	}
	sim.Reset()
	if r := send(t, srv, http.MethodGet, messagePath(mainSID, c, ".json"), nil); r.status != http.StatusNotFound {
		t.Errorf("after Reset: %d", r.status)
	}
}

func TestHeadersOnEveryOperation(t *testing.T) {
	t.Parallel()
	srv, _ := start(t, fastConfig())
	requestID := regexp.MustCompile(`^RQ[0-9a-f]{32}$`)
	duration := regexp.MustCompile(`^[0-9]+\.[0-9]{3}$`)
	sid := create(t, srv, okMessage)
	waitStatus(t, srv, messagePath(mainSID, sid, ".json"), "delivered")
	tests := []struct {
		name, method, path string
		form               url.Values
		status             int
		contentType        string
	}{
		{"fetch json", http.MethodGet, messagePath(mainSID, sid, ".json"), nil, 200, simulator.ContentTypeJSON},
		{"fetch xml", http.MethodGet, messagePath(mainSID, sid, ""), nil, 200, simulator.ContentTypeXML},
		{"list", http.MethodGet, messagesPath(mainSID, ".json"), nil, 200, simulator.ContentTypeJSON},
		{"update", http.MethodPost, messagePath(mainSID, sid, ".json"), url.Values{"Body": {""}}, 200, simulator.ContentTypeJSON},
		{"405", http.MethodPut, messagesPath(mainSID, ".xml"), url.Values{}, 405, simulator.ContentTypeXML},
		{"delete", http.MethodDelete, messagePath(mainSID, sid, ".json"), nil, 204, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := send(t, srv, tc.method, tc.path, tc.form)
			if r.status != tc.status {
				t.Fatalf("status %d: %s", r.status, r.body)
			}
			h := r.header
			if h.Get("Content-Type") != tc.contentType || !requestID.MatchString(h.Get("Twilio-Request-Id")) ||
				!duration.MatchString(h.Get("Twilio-Request-Duration")) || h.Get("Twilio-Concurrent-Requests") == "" {
				t.Errorf("headers %v", h)
			}
		})
	}
}
