package simulator_test

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/simulator"
)

const (
	mainSID       = "AC11111111111111111111111111111111"
	mainToken     = "main-token"
	mainKey       = "SK11111111111111111111111111111111"
	mainKeySecret = "main-key-secret"
	subSID        = "AC22222222222222222222222222222222"
	subToken      = "sub-token"
	subKey        = "SK22222222222222222222222222222222"
	subKeySecret  = "sub-key-secret"
	otherSID      = "AC33333333333333333333333333333333"
	otherToken    = "other-token"
	unknownSID    = "AC99999999999999999999999999999999"

	subFlow   = "FW22222222222222222222222222222222"
	otherFlow = "FW33333333333333333333333333333333"
	freeFlow  = "FW44444444444444444444444444444444"

	service = "MG0123456789abcdef0123456789abcdef"

	jsonType = simulator.ContentTypeJSON
	toOK     = "+14155550100"
	fromOK   = "+15005550006"
)

// testConfig: a main account with a subaccount (which owns a Studio flow), and an
// unrelated account restricted to one sender.
func testConfig() simulator.Config {
	return simulator.Config{Accounts: []simulator.Account{
		{SID: mainSID, AuthToken: mainToken, APIKeys: map[string]string{mainKey: mainKeySecret}},
		{SID: subSID, AuthToken: subToken, Parent: mainSID, APIKeys: map[string]string{subKey: subKeySecret}, Flows: []string{subFlow}},
		{SID: otherSID, AuthToken: otherToken, Senders: []string{"+14155550199", "ACME"}, Flows: []string{otherFlow}},
	}}
}

func start(t testing.TB, cfg simulator.Config) (*httptest.Server, *simulator.Simulator) {
	t.Helper()
	sim := simulator.New(cfg)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	return srv, sim
}

type reply struct {
	status int
	header http.Header
	body   []byte
}

// post sends a form with Basic credentials (none when user is "").
func post(t testing.TB, srv *httptest.Server, path, user, pass string, form url.Values) reply {
	t.Helper()
	req := newRequest(t, srv.URL+path, user, pass, form)
	return do(t, srv.Client(), req)
}

func newRequest(t testing.TB, target, user, pass string, form url.Values) *http.Request {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, target, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	return req
}

func do(t testing.TB, c *http.Client, req *http.Request) reply {
	t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", req.Method, req.URL.Path, err)
	}
	return reply{status: resp.StatusCode, header: resp.Header, body: body}
}

func messagesPath(account, ext string) string {
	return "/2010-04-01/Accounts/" + account + "/Messages" + ext
}

func callsPath(account, ext string) string {
	return "/2010-04-01/Accounts/" + account + "/Calls" + ext
}

func executionsPath(flow string) string {
	return "/v2/Flows/" + flow + "/Executions"
}

// extensions are the three ways to name a 2010 resource: the last two answer XML.
var extensions = []string{".json", ".xml", ""}

func isJSON(ext string) bool { return ext == ".json" }

// restError is Twilio's error body, from either format.
type restError struct {
	Code     int
	Message  string
	MoreInfo string
	Status   int
	Detail   string
}

// parseError decodes an error body and checks its shape: exactly Twilio's four JSON fields,
// or the XML declaration and <TwilioResponse><RestException>.
func parseError(t testing.TB, jsonBody bool, r reply) restError {
	t.Helper()
	var e restError
	if jsonBody {
		wantContentType(t, r, simulator.ContentTypeJSON)
		if got := jsonKeys(t, r.body); strings.Join(got, ",") != "code,message,more_info,status" {
			t.Fatalf("error keys = %v, want code,message,more_info,status; body %s", got, r.body)
		}
		var j struct {
			Code     int    `json:"code"`
			Message  string `json:"message"`
			MoreInfo string `json:"more_info"`
			Status   int    `json:"status"`
		}
		if err := json.Unmarshal(r.body, &j); err != nil {
			t.Fatalf("error body is not JSON: %v: %s", err, r.body)
		}
		e = restError{Code: j.Code, Message: j.Message, MoreInfo: j.MoreInfo, Status: j.Status}
	} else {
		wantContentType(t, r, "application/xml")
		wantXMLHeader(t, r.body)
		var x struct {
			XMLName xml.Name `xml:"TwilioResponse"`
			E       struct {
				Code     int
				Message  string
				MoreInfo string
				Status   int
				Detail   string
			} `xml:"RestException"`
		}
		if err := xml.Unmarshal(r.body, &x); err != nil {
			t.Fatalf("error body is not Twilio XML: %v: %s", err, r.body)
		}
		e = restError(x.E)
	}
	if e.Status != r.status {
		t.Errorf("body status %d, HTTP status %d", e.Status, r.status)
	}
	if want := "https://www.twilio.com/docs/errors/" + strconv.Itoa(e.Code); e.MoreInfo != want {
		t.Errorf("more_info = %q, want %q", e.MoreInfo, want)
	}
	return e
}

func wantContentType(t testing.TB, r reply, want string) {
	t.Helper()
	if got := r.header.Get("Content-Type"); got != want {
		t.Fatalf("Content-Type = %q, want %q; body %s", got, want, r.body)
	}
}

func wantXMLHeader(t testing.TB, body []byte) {
	t.Helper()
	if !bytes.HasPrefix(body, []byte("<?xml version='1.0' encoding='UTF-8'?>\n<TwilioResponse>")) {
		t.Fatalf("XML body does not start like Twilio's: %.80s", body)
	}
}

// jsonKeys lists the top-level keys of a JSON object in order.
func jsonKeys(t testing.TB, body []byte) []string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(body))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("not a JSON object: %s", body)
	}
	var keys []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatalf("reading JSON keys: %v: %s", err, body)
		}
		keys = append(keys, tok.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Fatalf("reading JSON value: %v: %s", err, body)
		}
	}
	return keys
}

func decodeJSON(t testing.TB, body []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("body is not JSON: %v: %s", err, body)
	}
	return m
}
