package mapping

import (
	"bytes"
	"encoding/json"
)

// Spec is a mapping file as written by an operator. Field names are the JSON
// keys. mappings/schema.json describes each key and value, and is what checks
// them (Parse); mappings/REFERENCE.md is rendered from it. The comments here
// say what the Go side does with them.
type Spec struct {
	// Name identifies the mapping in logs and metrics. Defaults to the file name.
	Name string `json:"name,omitempty"`
	// Description is free text for humans.
	Description string `json:"description,omitempty"`
	// Request says what the caller sends.
	Request RequestSpec `json:"request"`
	// Options are named string settings with their defaults, readable in
	// expressions as options.<name> and overridable per route (Caddyfile `option`).
	Options map[string]string `json:"options,omitempty"`
	// RequiredOptions are options without a default that every route must
	// set (Caddyfile `option <name> <value>`): Compile fails naming the
	// first one a route leaves unset or empty, unless Config.WithoutRoute
	// (`caddy twilio-sms check <file>`), where they read "" and the checks
	// that read them are skipped. Each is an option like the others
	// (options.<name>) and must not also be in Options.
	RequiredOptions []string `json:"required_options,omitempty"`
	// RouteDefaults are the route settings the product needs, which a route
	// that sets its own overrides (Spec.Defaults, Mapping.Defaults).
	RouteDefaults *RouteDefaultsSpec `json:"route_defaults,omitempty"`
	// Let are named expressions, in the order written: each may be used by
	// name in every expression below it, as if written there in
	// parentheses. See Lets.
	Let Lets `json:"let,omitempty"`
	// Tables are lookup tables of strings, numbers and booleans by key,
	// readable as tables.<name>[key], nil for a key it does not have
	// (tables.codes[result.field] ?? 0).
	Tables map[string]map[string]any `json:"tables,omitempty"`
	// Templates are message texts with {{name}} placeholders, readable with
	// template(key) and filled with fill(text, vars), or both at once with
	// render(key), which fills every field read before it. Overridable per
	// route.
	Templates map[string]string `json:"templates,omitempty"`
	// TemplateFallback is the template key used when template(key) has no such key.
	TemplateFallback string `json:"template_fallback,omitempty"`
	// TemplateRequires lists placeholders every template must contain, e.g. ["code"]:
	// a template without {{code}} would send an SMS without the code.
	TemplateRequires []string `json:"template_requires,omitempty"`
	// Checks are rules over the effective options, checked once by Compile after
	// the route's overrides: a route whose options break one fails to provision
	// with the check's message (e.g. two markers where one contains the other).
	Checks []CheckSpec `json:"checks,omitempty"`
	// Fields are read or computed in order; later fields may use earlier ones.
	Fields []FieldSpec `json:"fields,omitempty"`
	// Twilio maps fields onto each Twilio API's form parameters.
	Twilio TwilioSpec `json:"twilio"`
	// Reply says what the caller gets back.
	Reply ReplySpec `json:"reply"`

	// src is the file Parse read, as written, for the line and column of
	// errors Compile finds; nil when the Spec was built in code.
	src []byte
}

// CheckSpec is one provisioning rule.
type CheckSpec struct {
	// Expr is a boolean expression that sees only options, e.g.
	// "options.risk_check in ['enable', 'disable']".
	Expr string `json:"expr"`
	// Message tells the operator what is wrong when Expr is false.
	Message string `json:"message"`
}

// RequestSpec describes the inbound request.
type RequestSpec struct {
	// Methods accepted: GET, POST or PUT. Default ["POST"].
	Methods []string `json:"methods,omitempty"`
	// Format of the body: one of the Format* constants. Default FormatAuto.
	Format string `json:"format,omitempty"`
	// Path is an optional pattern such as "/2010-04-01/Accounts/{AccountSid}/Messages{ext}"
	// whose {name} segments become path:name sources. A request whose path does not
	// match is invalid. {ext} matches "", ".json" or ".xml" at the end.
	Path string `json:"path,omitempty"`
	// MaxBodyBytes caps the inbound body. Default 65536.
	MaxBodyBytes int64 `json:"max_body_bytes,omitempty"`
}

// FieldSpec is one named value.
type FieldSpec struct {
	// Name is an identifier usable in expressions ([a-z_][a-z0-9_]*). The names
	// "to" (destination) and "from" (caller's preferred sender) have a meaning
	// for routing.
	Name string `json:"name"`
	// From lists sources tried in order; the first non-empty wins. A source is
	// "kind:arg" ("form:to", "json:recipient.phone") or "body", with a kind
	// from SourceKinds.
	From []string `json:"from,omitempty"`
	// Value is an expression computing the field from earlier fields when no
	// source gave a value (or instead of sources when From is empty).
	Value string `json:"value,omitempty"`
	// Default is used when neither From nor Value gave a value.
	Default string `json:"default,omitempty"`
	// Required rejects the request when the field ends up empty.
	Required bool `json:"required,omitempty"`
	// Type validates and normalizes: one of the Type* constants. Default
	// TypeText. Phone and sender fields use Config.Phone (or Config.PhoneFor).
	Type string `json:"type,omitempty"`
	// MaxLength caps the value in characters. Default 4096.
	MaxLength int `json:"max_length,omitempty"`
	// Assume says how the product writes phone numbers that have no "+", for
	// fields of type "phone" only: AssumeInternational ("international":
	// country code first, as PingOne's NUMBER_ONLY format or Logto send them)
	// or AssumeNational ("national": in the route's default region). Empty
	// means auto: the phone normalizer decides, and refuses a number it could
	// read both ways. A route's Config.Assume (the Caddyfile's setting) wins
	// over it. Any other value, or assume on another type, fails the schema.
	Assume string `json:"assume,omitempty"`
	// Pattern is a regular expression the whole value must match.
	Pattern string `json:"pattern,omitempty"`
	// Secret marks a value that is never shown by explain or logs (e.g. a password).
	Secret bool `json:"secret,omitempty"`
}

// TwilioSpec gives, per Twilio API, the form parameters as expressions. An
// expression that yields "" leaves the parameter out. From and
// MessagingServiceSid are set by the route's sender settings, not here.
type TwilioSpec struct {
	// API is an optional expression choosing "messages", "calls" or "studio" per
	// request. Default: studio when the route has a studio_flow_sid, calls when
	// the route's channel is voice, messages otherwise.
	API      string            `json:"api,omitempty"`
	Messages map[string]string `json:"messages,omitempty"`
	Calls    map[string]string `json:"calls,omitempty"`
	Studio   map[string]string `json:"studio,omitempty"`
}

// RouteDefaultsSpec is the "route_defaults" of a mapping file: settings a
// route that uses the mapping takes unless it sets its own.
type RouteDefaultsSpec struct {
	// Timeout is the request's whole budget, a Go duration ("3s").
	Timeout string `json:"timeout,omitempty"`
	// Dedup is the window within which an identical request is answered
	// from the first one's result, a Go duration ("2m"), or "off".
	Dedup string `json:"dedup,omitempty"`
	// DefaultRegion is the ISO 3166 region national numbers are read in.
	DefaultRegion string `json:"default_region,omitempty"`
	// AssumeNumbers is how the product writes numbers without "+":
	// AssumeInternational or AssumeNational.
	AssumeNumbers string `json:"assume_numbers,omitempty"`
}

// ReplySpec holds the answers. Each may be one case, a list of cases with
// "when" conditions (the first case whose condition holds is used), or a
// group of cases with defaults.
type ReplySpec struct {
	// Defaults are keys every case of success, failure and invalid takes
	// when neither it nor its group's defaults set them (no "when").
	Defaults *ReplyCase `json:"defaults,omitempty"`
	// Success is used when Twilio accepted the request.
	Success Cases `json:"success,omitzero"`
	// Failure is used when Twilio refused, was unreachable, timed out, or the
	// adapter refused (rate limit, geo block).
	Failure Cases `json:"failure,omitzero"`
	// Invalid is used for bad input (a field missing or malformed). Default: Failure.
	Invalid Cases `json:"invalid,omitzero"`
}

// Cases are one reply's cases, written as one ReplyCase, a list of them, or
// a group: {"defaults": {...}, "cases": [...]}, whose defaults every case of
// the group takes for the keys it does not set (headers name by name).
type Cases struct {
	// Defaults are the group's defaults; nil when none.
	Defaults *ReplyCase
	// List are the cases, tried in order.
	List []ReplyCase
	// Group is set when the cases are written as a group (its cases are
	// then at "cases" in the file), with or without defaults.
	Group bool
}

// One is a reply of a single case.
func One(c ReplyCase) Cases { return Cases{List: []ReplyCase{c}} }

// IsZero reports a reply with no cases.
func (c Cases) IsZero() bool { return c.Defaults == nil && len(c.List) == 0 && !c.Group }

type caseGroup struct {
	Defaults *ReplyCase  `json:"defaults,omitempty"`
	Cases    []ReplyCase `json:"cases"`
}

// UnmarshalJSON accepts an object (one case, or a group when it has
// "cases" or "defaults") or an array of objects.
func (c *Cases) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '{' {
		var keys map[string]json.RawMessage
		if err := json.Unmarshal(b, &keys); err != nil {
			return err
		}
		_, hasCases := keys["cases"]
		_, hasDefaults := keys["defaults"]
		if hasCases || hasDefaults {
			var g caseGroup
			if err := json.Unmarshal(b, &g); err != nil {
				return err
			}
			*c = Cases{Defaults: g.Defaults, List: g.Cases, Group: true}
			return nil
		}
		var one ReplyCase
		if err := json.Unmarshal(b, &one); err != nil {
			return err
		}
		*c = One(one)
		return nil
	}
	var many []ReplyCase
	if err := json.Unmarshal(b, &many); err != nil {
		return err
	}
	*c = Cases{List: many}
	return nil
}

// MarshalJSON writes a group when there are defaults or Group is set, a
// list otherwise.
func (c Cases) MarshalJSON() ([]byte, error) {
	if c.Defaults != nil || c.Group {
		return json.Marshal(caseGroup{Defaults: c.Defaults, Cases: c.List})
	}
	if c.List == nil {
		return []byte("[]"), nil
	}
	return json.Marshal(c.List)
}

// ReplyCase is one answer shape. As defaults (ReplySpec.Defaults, a
// group's), every key but When.
type ReplyCase struct {
	// When is a boolean expression; empty means always.
	When string `json:"when,omitempty"`
	// Status is an expression giving the HTTP status. Default: 200 for success,
	// result.suggested_status otherwise.
	Status string `json:"status,omitempty"`
	// ContentType of the answer. Default by format.
	ContentType string `json:"content_type,omitempty"`
	// Headers are extra response headers, values as expressions.
	Headers map[string]string `json:"headers,omitempty"`
	// Format of Body: one of the Reply* constants. Default ReplyJSON.
	Format string `json:"format,omitempty"`
	// Root is the XML root element (format xml), or "json"/"xml" for format twilio.
	Root string `json:"root,omitempty"`
	// Body is the template described by Format.
	Body json.RawMessage `json:"body,omitempty"`
}
