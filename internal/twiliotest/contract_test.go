package twiliotest_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/simulator"
	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/twiliotest"
)

const (
	account = "AC0123456789abcdef0123456789abcdef"
	token   = "token"
	flow    = "FW0123456789abcdef0123456789abcdef"
	service = "MG0123456789abcdef0123456789abcdef"
)

func messages(ext string) string { return "/2010-04-01/Accounts/" + account + "/Messages" + ext }

// request builds a POST with a form body and Basic credentials.
func request(t testing.TB, path string, form url.Values) (*http.Request, []byte) {
	t.Helper()
	body := []byte(form.Encode())
	req := httptest.NewRequest(http.MethodPost, "http://127.0.0.1:8089"+path, strings.NewReader(string(body)))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(account, token)
	return req, body
}

func TestContractCheck(t *testing.T) {
	t.Parallel()
	c := twiliotest.LoadContract(t)
	sms := url.Values{"To": {"+14155550100"}, "From": {"+15005550006"}, "Body": {"Your code is 123456"}}
	tests := []struct {
		name    string
		method  string
		path    string
		form    url.Values
		edit    func(*http.Request)
		wantErr []string // substrings; none = valid
	}{
		{name: "message json", path: messages(".json"), form: sms},
		{name: "message xml", path: messages(".xml"), form: sms},
		{name: "message without extension", path: messages(""), form: sms},
		{name: "message through a service with options", path: messages(".json"), form: url.Values{
			"To": {"+14155550100"}, "MessagingServiceSid": {service}, "Body": {"x"}, "ValidityPeriod": {"300"},
			"MediaUrl": {"https://example.com/a.png", "https://example.com/b.png"}, "StatusCallback": {"https://example.com/cb"}}},
		{name: "call", path: "/2010-04-01/Accounts/" + account + "/Calls.json", form: url.Values{
			"To": {"+14155550100"}, "From": {"+15005550006"}, "Twiml": {"<Response><Say>1</Say></Response>"}, "Timeout": {"30"}}},
		{name: "execution", path: "/v2/Flows/" + flow + "/Executions", form: url.Values{
			"To": {"+14155550100"}, "From": {"+15005550006"}, "Parameters": {`{"code":"123456"}`}}},
		{name: "list messages", method: http.MethodGet, path: messages(".json")},

		{name: "To missing", path: messages(".json"), form: url.Values{"From": {"+15005550006"}, "Body": {"x"}},
			wantErr: []string{`"To"`, "missing"}},
		{name: "MessagingServiceSid pattern", path: messages(".json"), form: url.Values{"To": {"+14155550100"}, "MessagingServiceSid": {"MG123"}, "Body": {"x"}},
			wantErr: []string{"MessagingServiceSid", `"^MG[0-9a-fA-F]{32}$"`}},
		{name: "JSON body", path: messages(".json"), form: sms, edit: func(r *http.Request) { r.Header.Set("Content-Type", "application/json") },
			wantErr: []string{"Content-Type", `"application/json"`}},
		{name: "no Content-Type", path: messages(".json"), form: sms, edit: func(r *http.Request) { r.Header.Del("Content-Type") },
			wantErr: []string{"Content-Type"}},
		{name: "no credentials", path: messages(".json"), form: sms, edit: func(r *http.Request) { r.Header.Del("Authorization") },
			wantErr: []string{"Basic"}},
		{name: "integer field", path: messages(".json"), form: url.Values{"To": {"+14155550100"}, "From": {"+1"}, "Body": {"x"}, "ValidityPeriod": {"soon"}},
			wantErr: []string{"ValidityPeriod"}},
		{name: "AccountSid pattern", path: "/2010-04-01/Accounts/ACME/Messages.json", form: sms,
			wantErr: []string{"AccountSid"}},
		{name: "studio From missing", path: "/v2/Flows/" + flow + "/Executions", form: url.Values{"To": {"+14155550100"}},
			wantErr: []string{`"From"`, "missing"}},
		{name: "FlowSid pattern", path: "/v2/Flows/FW1/Executions", form: url.Values{"To": {"+1"}, "From": {"+1"}},
			wantErr: []string{"FlowSid"}},
		{name: "method not documented", method: http.MethodDelete, path: messages(".json"),
			wantErr: []string{"DELETE", "not allowed"}},
		{name: "unknown path", path: "/2010-04-01/Accounts/" + account + "/Faxes.json", form: sms,
			wantErr: []string{"no operation", "/Faxes.json"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, body := request(t, tc.path, tc.form)
			if tc.method != "" {
				req.Method = tc.method
			}
			if tc.edit != nil {
				tc.edit(req)
			}
			err := c.Check(req, body)
			if len(tc.wantErr) == 0 {
				if err != nil {
					t.Fatalf("valid request refused: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("invalid request passed")
			}
			for _, want := range tc.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error does not name %s: %v", want, err)
				}
			}
		})
	}
}

func TestContractCheckResponse(t *testing.T) {
	t.Parallel()
	c := twiliotest.LoadContract(t)
	req, _ := request(t, messages(".json"), url.Values{"To": {"+14155550100"}})
	jsonHeader := http.Header{"Content-Type": {"application/json; charset=utf-8"}}
	message := func(segments string) string {
		return `{"body":"x","num_segments":` + segments + `,"direction":"outbound-api","from":"+15005550006",` +
			`"to":"+14155550100","status":"queued","sid":"SM0123456789abcdef0123456789abcdef","error_code":null}`
	}
	tests := []struct {
		name    string
		status  int
		header  http.Header
		body    string
		wantErr string
	}{
		{"message", 201, jsonHeader, message(`"1"`), ""},
		{"num_segments as a number", 201, jsonHeader, message(`1`), "num_segments"},
		{"unknown status", 201, jsonHeader, strings.Replace(message(`"1"`), "queued", "lost", 1), "status"},
		{"error status is undocumented", 400, jsonHeader, `{"code":21211}`, ""},
		{"xml", 201, http.Header{"Content-Type": {"application/xml"}}, "<TwilioResponse/>", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := c.CheckResponse(req, tc.status, tc.header, []byte(tc.body))
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("valid response refused: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Errorf("error %v, want one naming %s", err, tc.wantErr)
			}
		})
	}
}

func TestWrap(t *testing.T) {
	t.Parallel()
	c := twiliotest.LoadContract(t)
	var (
		mu     sync.Mutex
		bodies []string
	)
	h, violations := c.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies = append(bodies, string(b))
		mu.Unlock()
		w.WriteHeader(http.StatusTeapot)
	}))
	good := url.Values{"To": {"+14155550100"}, "From": {"+15005550006"}, "Body": {"x"}}
	bad := url.Values{"From": {"+15005550006"}, "Body": {"x"}}
	for _, tc := range []struct {
		path string
		form url.Values
	}{{messages(".json"), good}, {messages(""), bad}, {"/_simulator/reset", nil}} {
		req, body := request(t, tc.path, tc.form)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != http.StatusTeapot {
			t.Errorf("%s: the wrapped handler did not answer", tc.path)
		}
		if got := bodies[len(bodies)-1]; got != string(body) {
			t.Errorf("%s: the wrapped handler read %q, want %q", tc.path, got, body)
		}
	}
	list := violations.List()
	if len(list) != 1 || !strings.Contains(list[0], messages("")) || !strings.Contains(list[0], `"To"`) {
		t.Errorf("violations %q: want one, for the request without To", list)
	}
}

func TestNewServer(t *testing.T) {
	t.Parallel()
	srv, sim, violations := twiliotest.NewServer(t, simulator.Config{Accounts: []simulator.Account{{SID: account, AuthToken: token}}})
	if !strings.HasPrefix(srv.URL, "http://127.0.0.1:") {
		t.Errorf("server on %s, want loopback", srv.URL)
	}
	form := url.Values{"To": {"+14155550100"}, "From": {"+15005550006"}, "Body": {"x"}}
	req, err := http.NewRequest(http.MethodPost, srv.URL+messages(".json"), strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(account, token)
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Errorf("status %d, want 201", resp.StatusCode)
	}
	if recs := sim.Records(); len(recs) != 1 || recs[0].Form.Get("Body") != "x" {
		t.Errorf("records %+v", recs)
	}
	if list := violations.List(); len(list) != 0 {
		t.Errorf("violations %q", list)
	}
}

// fakeTB records what NewServer and LoadContract report instead of failing the test.
type fakeTB struct {
	testing.TB
	mu       sync.Mutex
	errors   []string
	skipped  string
	cleanups []func()
}

func (f *fakeTB) Helper()           {}
func (f *fakeTB) Log(...any)        {}
func (f *fakeTB) Cleanup(fn func()) { f.cleanups = append(f.cleanups, fn) }
func (f *fakeTB) Errorf(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.errors = append(f.errors, fmt.Sprintf(format, args...))
}
func (f *fakeTB) Skip(args ...any) {
	f.skipped = fmt.Sprint(args...)
	runtime.Goexit()
}

func (f *fakeTB) cleanup() {
	for i := len(f.cleanups) - 1; i >= 0; i-- {
		f.cleanups[i]()
	}
}

func TestNewServerFailsOnViolations(t *testing.T) {
	t.Parallel()
	twiliotest.LoadContract(t)
	fake := &fakeTB{TB: t}
	srv, _, _ := twiliotest.NewServer(fake, simulator.Config{Accounts: []simulator.Account{{SID: account, AuthToken: token}}})
	req, err := http.NewRequest(http.MethodPost, srv.URL+messages(".json"), strings.NewReader("Body=x"))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(account, token)
	if resp, err := srv.Client().Do(req); err == nil {
		resp.Body.Close()
	}
	fake.cleanup()
	if len(fake.errors) != 1 || !strings.Contains(fake.errors[0], `"To"`) {
		t.Errorf("errors at cleanup %q: want one naming the missing To", fake.errors)
	}
}

func TestWithoutSpecs(t *testing.T) {
	t.Setenv("TWILIO_OAI_DIR", t.TempDir())
	if dir := twiliotest.SpecDir(); dir != "" {
		t.Fatalf("SpecDir() = %q for an empty folder", dir)
	}

	fake := &fakeTB{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		twiliotest.LoadContract(fake)
	}()
	<-done
	if want := "Twilio OpenAPI specs not found in ../shared/twilio-oai: contract check skipped"; fake.skipped != want {
		t.Errorf("LoadContract skipped with %q, want %q", fake.skipped, want)
	}

	// The simulator still runs, unchecked.
	fake = &fakeTB{TB: t}
	srv, sim, _ := twiliotest.NewServer(fake, simulator.Config{Accounts: []simulator.Account{{SID: account, AuthToken: token}}})
	req, _ := http.NewRequest(http.MethodPost, srv.URL+messages(".json"), strings.NewReader("Body=x"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(account, token)
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	fake.cleanup()
	if resp.StatusCode != http.StatusBadRequest || len(sim.Records()) != 1 || len(fake.errors) != 0 {
		t.Errorf("status %d, %d records, errors %q", resp.StatusCode, len(sim.Records()), fake.errors)
	}
}

func TestSpecDir(t *testing.T) {
	root := t.TempDir()
	specs := filepath.Join(root, "shared", "twilio-oai")
	repo := filepath.Join(root, "repo")
	deep := filepath.Join(repo, "internal", "pkg")
	for _, dir := range []string{specs, deep} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{filepath.Join(repo, "go.mod"), filepath.Join(specs, "twilio_api_v2010.json")} {
		if err := os.WriteFile(f, []byte("{}"), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	t.Setenv("TWILIO_OAI_DIR", "")
	t.Chdir(deep)
	if got := twiliotest.SpecDir(); got != "" {
		t.Errorf("with the studio spec missing: SpecDir() = %q, want \"\"", got)
	}
	if err := os.WriteFile(filepath.Join(specs, "twilio_studio_v2.json"), []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := twiliotest.SpecDir(); got != specs {
		t.Errorf("walking up from %s: SpecDir() = %q, want %q", deep, got, specs)
	}
	t.Setenv("TWILIO_OAI_DIR", specs)
	t.Chdir(root)
	if got := twiliotest.SpecDir(); got != specs {
		t.Errorf("from TWILIO_OAI_DIR: SpecDir() = %q, want %q", got, specs)
	}
}
