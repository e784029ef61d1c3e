// Package twiliotest helps integration tests talk to the offline Twilio simulator and
// check every request they make against Twilio's official OpenAPI contract.
//
// The contract comes from Twilio's twilio-oai specs (twilio_api_v2010.json and
// twilio_studio_v2.json), found by SpecDir. They are never copied into this repository:
// without them the contract checks skip, the simulator still runs.
package twiliotest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
)

// Spec files, inside SpecDir.
const (
	specAPI    = "twilio_api_v2010.json"
	specStudio = "twilio_studio_v2.json"
)

// skipMessage is what LoadContract skips with when the specs are absent.
const skipMessage = "Twilio OpenAPI specs not found in ../shared/twilio-oai: contract check skipped"

// SpecDir returns the folder holding Twilio's OpenAPI specs: $TWILIO_OAI_DIR if set,
// else ../shared/twilio-oai next to the repository root (the folder holding go.mod, found
// by walking up from the working directory). It returns "" when the specs are not there.
func SpecDir() string {
	if dir := os.Getenv("TWILIO_OAI_DIR"); dir != "" {
		return existing(dir)
	}
	dir, err := os.Getwd()
	if err != nil {
		return ""
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return existing(filepath.Join(dir, "..", "shared", "twilio-oai"))
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

// existing returns dir if it holds both specs, else "".
func existing(dir string) string {
	for _, name := range []string{specAPI, specStudio} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			return ""
		}
	}
	return filepath.Clean(dir)
}

// Contract checks requests (and responses) against Twilio's OpenAPI operations. It is
// safe for concurrent use.
type Contract struct {
	ops []operation
}

// operation is one OpenAPI operation, matched on method and path only (never on host:
// tests point at 127.0.0.1).
type operation struct {
	method string
	path   *regexp.Regexp
	params []string // names of the path parameters, in order
	route  *routers.Route
}

var contract struct {
	once sync.Once
	c    *Contract
	err  error
}

// LoadContract returns the contract, loading both specs once per process (they are
// large). It skips the test when the specs are absent and fails it when they do not load.
func LoadContract(t testing.TB) *Contract {
	t.Helper()
	c, err := loadContract()
	if err != nil {
		t.Fatalf("loading Twilio's OpenAPI specs: %v", err)
	}
	if c == nil {
		t.Skip(skipMessage)
	}
	return c
}

// loadContract returns nil, nil when the specs are absent.
func loadContract() (*Contract, error) {
	dir := SpecDir()
	if dir == "" {
		return nil, nil
	}
	contract.once.Do(func() {
		contract.c, contract.err = newContract(filepath.Join(dir, specAPI), filepath.Join(dir, specStudio))
	})
	return contract.c, contract.err
}

func newContract(files ...string) (*Contract, error) {
	c := &Contract{}
	for _, file := range files {
		doc, err := loadSpec(file)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		for tmpl, item := range doc.Paths.Map() {
			re, params := compileTemplate(tmpl)
			for method, op := range item.Operations() {
				typeFormFields(op)
				c.ops = append(c.ops, operation{
					method: method,
					path:   re,
					params: params,
					route:  &routers.Route{Spec: doc, Path: tmpl, PathItem: item, Method: method, Operation: op},
				})
			}
		}
	}
	// Literal paths win over templated ones ("/Calls/FeedbackSummary.json" over "/Calls/{Sid}.json").
	sort.SliceStable(c.ops, func(i, j int) bool { return len(c.ops[i].params) < len(c.ops[j].params) })
	return c, nil
}

// loadSpec loads one spec without its prose (descriptions, summaries, examples,
// x-twilio annotations): validation does not read them, and kin-openapi decodes the whole
// 1.9 MB API spec 30 times slower than the 0.4 MB left (seconds under -race).
func loadSpec(file string) (*openapi3.T, error) {
	raw, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var tree any
	if err := json.Unmarshal(raw, &tree); err != nil {
		return nil, err
	}
	if raw, err = json.Marshal(stripProse(tree)); err != nil {
		return nil, err
	}
	loader := openapi3.NewLoader()
	loader.IsExternalRefsAllowed = false
	return loader.LoadFromData(raw)
}

// stripProse removes, in place, every string "description" or "summary", every
// "x-twilio" object and the "examples" of parameters and media types. Schema properties
// that happen to be called so are objects, not strings, and stay.
func stripProse(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, child := range v {
			_, isString := child.(string)
			_, isObject := child.(map[string]any)
			_, hasSchema := v["schema"]
			switch {
			case isString && (k == "description" || k == "summary"),
				isObject && k == "x-twilio",
				isObject && k == "examples" && hasSchema:
				delete(v, k)
			default:
				stripProse(child)
			}
		}
	case []any:
		for _, child := range v {
			stripProse(child)
		}
	}
	return v
}

// typeFormFields gives the untyped properties of a form body the type "string": on the
// wire every form value is a string, and the validator cannot decode an untyped property
// (Studio's Parameters, a JSON object sent as a string, would fail as null).
func typeFormFields(op *openapi3.Operation) {
	if op.RequestBody == nil || op.RequestBody.Value == nil {
		return
	}
	mt := op.RequestBody.Value.Content.Get("application/x-www-form-urlencoded")
	if mt == nil || mt.Schema == nil || mt.Schema.Value == nil {
		return
	}
	for _, prop := range mt.Schema.Value.Properties {
		v := prop.Value
		if v != nil && (v.Type == nil || len(*v.Type) == 0) && v.AllOf == nil && v.AnyOf == nil && v.OneOf == nil {
			v.Type = &openapi3.Types{openapi3.TypeString}
		}
	}
}

var templateParam = regexp.MustCompile(`\{[^}/]+\}`)

// compileTemplate turns an OpenAPI path template into an anchored regular expression.
func compileTemplate(tmpl string) (*regexp.Regexp, []string) {
	var b strings.Builder
	var params []string
	b.WriteByte('^')
	last := 0
	for _, m := range templateParam.FindAllStringIndex(tmpl, -1) {
		b.WriteString(regexp.QuoteMeta(tmpl[last:m[0]]))
		b.WriteString(`([^/]+?)`)
		params = append(params, tmpl[m[0]+1:m[1]-1])
		last = m[1]
	}
	b.WriteString(regexp.QuoteMeta(tmpl[last:]))
	b.WriteByte('$')
	return regexp.MustCompile(b.String()), params
}

// specPath maps a request path to the path the specs describe: the 2010 API's .xml and
// extension-less forms are documented only as .json.
func specPath(p string) string {
	if !strings.HasPrefix(p, "/2010-04-01/") {
		return p
	}
	if base, ok := strings.CutSuffix(p, ".xml"); ok {
		return base + ".json"
	}
	if !strings.Contains(p[strings.LastIndexByte(p, '/'):], ".") {
		return p + ".json"
	}
	return p
}

// find returns the operation for the request's method and path, with its path parameters.
func (c *Contract) find(r *http.Request) (*operation, map[string]string, error) {
	p := specPath(r.URL.Path)
	pathFound := false
	for i := range c.ops {
		op := &c.ops[i]
		m := op.path.FindStringSubmatch(p)
		if m == nil {
			continue
		}
		pathFound = true
		if op.method != r.Method {
			continue
		}
		params := make(map[string]string, len(op.params))
		for j, name := range op.params {
			params[name] = m[j+1]
		}
		return op, params, nil
	}
	if pathFound {
		return nil, nil, fmt.Errorf("method %s not allowed on %s by Twilio's OpenAPI", r.Method, r.URL.Path)
	}
	return nil, nil, fmt.Errorf("no operation for %s in Twilio's OpenAPI", r.URL.Path)
}

func (c *Contract) options() *openapi3filter.Options {
	return &openapi3filter.Options{
		MultiError:              true,
		SkipSettingDefaults:     true,
		AuthenticationFunc:      basicAuthPresent,
		SchemaValidationOptions: []openapi3.SchemaValidationOption{openapi3.DisableSchemaErrorDetails()},
	}
}

// basicAuthPresent checks the specs' only security scheme, HTTP Basic: credentials must
// be there (whether they are right is the simulator's business).
func basicAuthPresent(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	s := in.SecurityScheme
	if s == nil || s.Type != "http" || !strings.EqualFold(s.Scheme, "basic") {
		return fmt.Errorf("security scheme %q is not HTTP Basic", in.SecuritySchemeName)
	}
	user, pass, ok := in.RequestValidationInput.Request.BasicAuth()
	if !ok || user == "" || pass == "" {
		return errors.New("missing HTTP Basic credentials (Authorization header)")
	}
	return nil
}

// Check validates one outbound request against the matching operation of Twilio's
// OpenAPI: path and its parameters, method, Content-Type, form body field types, patterns
// and required fields, and the presence of Basic credentials. body is the request body
// (r.Body is not read). The error names every problem found.
func (c *Contract) Check(r *http.Request, body []byte) error {
	op, params, err := c.find(r)
	if err != nil {
		return fmt.Errorf("%s %s: %w", r.Method, r.URL.Path, err)
	}
	req := r.Clone(r.Context())
	req.Body = io.NopCloser(bytes.NewReader(body))
	req.ContentLength = int64(len(body))
	in := &openapi3filter.RequestValidationInput{
		Request:    req,
		PathParams: params,
		Route:      op.route,
		Options:    c.options(),
	}
	if err := openapi3filter.ValidateRequest(context.WithoutCancel(r.Context()), in); err != nil {
		return fmt.Errorf("%s %s: %w", r.Method, r.URL.Path, err)
	}
	return nil
}

// CheckResponse validates a response to r against the operation's documented responses.
// Twilio documents only the JSON success answers (201 for creates): other statuses and
// XML bodies pass.
func (c *Contract) CheckResponse(r *http.Request, status int, header http.Header, body []byte) error {
	op, params, err := c.find(r)
	if err != nil {
		return fmt.Errorf("%s %s: %w", r.Method, r.URL.Path, err)
	}
	if !strings.HasPrefix(header.Get("Content-Type"), "application/json") {
		return nil
	}
	opts := c.options()
	opts.ExcludeRequestBody = true
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{
			Request: r, PathParams: params, Route: op.route, Options: opts,
		},
		Status:  status,
		Header:  header,
		Body:    io.NopCloser(bytes.NewReader(body)),
		Options: opts,
	}
	if err := openapi3filter.ValidateResponse(context.WithoutCancel(r.Context()), in); err != nil {
		return fmt.Errorf("%s %s: response %d: %w", r.Method, r.URL.Path, status, err)
	}
	return nil
}
