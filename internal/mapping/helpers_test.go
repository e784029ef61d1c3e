package mapping

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/phone"
)

// testPhone is the real normalizer, reading national numbers as US ones.
var testPhone = phone.Normalizer{DefaultRegion: "US"}

// compileSrc parses and compiles a mapping written as JSON. cfg.Phone defaults
// to testPhone.
func compileSrc(src string, cfg Config) (*Mapping, error) {
	spec, err := Parse("t.json", []byte(src))
	if err != nil {
		return nil, err
	}
	if cfg.Phone == nil {
		cfg.Phone = testPhone
	}
	return Compile(spec, "t.json", cfg)
}

func mustCompile(t testing.TB, src string, cfg Config) *Mapping {
	t.Helper()
	m, err := compileSrc(src, cfg)
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	return m
}

// req describes one inbound request.
type req struct {
	method, target, contentType, body string
	header                            map[string]string
	user, pass                        string
}

func (q req) build() (*http.Request, []byte) {
	method := q.method
	if method == "" {
		method = http.MethodPost
	}
	target := q.target
	if target == "" {
		target = "/sms"
	}
	r := httptest.NewRequest(method, target, strings.NewReader(q.body))
	if q.contentType != "" {
		r.Header.Set("Content-Type", q.contentType)
	}
	for k, v := range q.header {
		r.Header.Set(k, v)
	}
	if q.user != "" || q.pass != "" {
		r.SetBasicAuth(q.user, q.pass)
	}
	body, _ := io.ReadAll(r.Body)
	return r, body
}

func form(body string) req { return req{contentType: "application/x-www-form-urlencoded", body: body} }
func jsonReq(body string) req {
	return req{contentType: "application/json", body: body}
}

// run parses and extracts q with m, as the handler does.
func run(m *Mapping, q req, route Route) (*Values, error) {
	r, body := q.build()
	in, err := m.ParseRequest(r, body)
	if err != nil {
		return nil, err
	}
	return m.Extract(in, route)
}

// inputErr returns err as an *InputError, failing the test when it is not one.
func inputErr(t testing.TB, err error) *InputError {
	t.Helper()
	var ie *InputError
	if !errors.As(err, &ie) {
		t.Fatalf("error %v (%T) is not an *InputError", err, err)
	}
	return ie
}

func configErr(t testing.TB, err error) *ConfigError {
	t.Helper()
	var ce *ConfigError
	if !errors.As(err, &ce) {
		t.Fatalf("error %v (%T) is not a *ConfigError", err, err)
	}
	return ce
}

// textAt is the text of src from line:col (1-based, col in bytes) to the end
// of that line; "" for line 0.
func textAt(src string, line, col int) string {
	if line < 1 {
		return ""
	}
	lines := strings.Split(src, "\n")
	if line > len(lines) || col < 1 || col > len(lines[line-1])+1 {
		return "<beyond the text>"
	}
	return lines[line-1][col-1:]
}
