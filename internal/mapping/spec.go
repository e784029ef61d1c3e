package mapping

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// Spec is a mapping file as written by an operator. Field names are the JSON keys.
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
	// Templates are message texts with {{name}} placeholders, readable with
	// template(key) and filled with fill(text, vars). Overridable per route.
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
	Fields []FieldSpec `json:"fields"`
	// Twilio maps fields onto each Twilio API's form parameters.
	Twilio TwilioSpec `json:"twilio"`
	// Reply says what the caller gets back.
	Reply ReplySpec `json:"reply"`

	// src is the file Parse read, for the line and column of errors Compile
	// finds (nil when the Spec was built in code).
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
	// Methods accepted, upper case. Default ["POST"].
	Methods []string `json:"methods,omitempty"`
	// Format of the body: "auto" (by Content-Type, then by sniffing), "form",
	// "json", "xml", "text" or "none" (GET with a query string). Default "auto".
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
	// "kind:arg": form:<key>, query:<key>, param:<key> (form, then query),
	// json:<gjson path>, xml:<element path or name>, header:<Name>,
	// path:<name>, basic:user, basic:password, any:<key> (form, query, JSON
	// top-level key, XML element), or "body" (the whole body as text).
	From []string `json:"from,omitempty"`
	// Value is an expression computing the field from earlier fields when no
	// source gave a value (or instead of sources when From is empty).
	Value string `json:"value,omitempty"`
	// Default is used when neither From nor Value gave a value.
	Default string `json:"default,omitempty"`
	// Required rejects the request when the field ends up empty.
	Required bool `json:"required,omitempty"`
	// Type validates and normalizes: "text" (default), "phone" (E.164 via
	// libphonenumber and the route's default region), "sender" (phone, short code,
	// alphanumeric ID or NetIQ CC\number), "digits", "json" (must be a JSON object;
	// lenient forms such as {"OTP":012345} are repaired with the digits kept).
	Type string `json:"type,omitempty"`
	// MaxLength caps the value in characters. Default 4096.
	MaxLength int `json:"max_length,omitempty"`
	// Assume says how the product writes phone numbers that have no "+", for
	// fields of type "phone" only: AssumeInternational ("international":
	// country code first, as PingOne's NUMBER_ONLY format or Logto send them)
	// or AssumeNational ("national": in the route's default region). Empty
	// means auto: the phone normalizer decides, and refuses a number it could
	// read both ways. A route's Config.Assume (the Caddyfile's setting) wins
	// over it. Any other value fails Compile.
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

// ReplySpec holds the answers. Each may be one case or a list of cases with
// "when" conditions; the first case whose condition holds is used.
type ReplySpec struct {
	// Success is used when Twilio accepted the request.
	Success Cases `json:"success"`
	// Failure is used when Twilio refused, was unreachable, timed out, or the
	// adapter refused (rate limit, geo block).
	Failure Cases `json:"failure"`
	// Invalid is used for bad input (a field missing or malformed). Default: Failure.
	Invalid Cases `json:"invalid,omitempty"`
}

// Cases is one ReplyCase or a list of them.
type Cases []ReplyCase

// UnmarshalJSON accepts an object or an array of objects.
func (c *Cases) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '{' {
		var one ReplyCase
		if err := strictUnmarshal(b, &one); err != nil {
			return err
		}
		*c = Cases{one}
		return nil
	}
	var many []ReplyCase
	if err := strictUnmarshal(b, &many); err != nil {
		return err
	}
	*c = many
	return nil
}

// ReplyCase is one answer shape.
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
	// Format of Body: "json" (an object whose string leaves are expressions;
	// numbers, booleans and null are literals), "xml" (the same object rendered as
	// elements under Root; keys starting with "@" are attributes), "text" (a single
	// expression), "form" (an object of expressions, form-encoded), "twilio" (Twilio's
	// own reply relayed, as JSON or, with Root "xml", converted to Twilio's XML) or
	// "empty". With format twilio, Body is optional: an object like format json's
	// (snake_case keys such as code, message, more_info, status), or one
	// expression giving a map, used instead of the built-in summary when Twilio
	// gave no body to relay, that is when the adapter answered by itself (bad
	// input, rate limit, Twilio unreachable).
	Format string `json:"format,omitempty"`
	// Root is the XML root element (format xml), or "json"/"xml" for format twilio.
	Root string `json:"root,omitempty"`
	// Body is the template described by Format.
	Body json.RawMessage `json:"body,omitempty"`
}

// Parse decodes a mapping file strictly: unknown keys are errors, and every error
// carries the line and column.
func Parse(file string, data []byte) (*Spec, error) {
	var s Spec
	if err := strictUnmarshal(data, &s); err != nil {
		return nil, &ConfigError{File: file, Pos: position(data, err), Err: err}
	}
	s.src = data
	return &s, nil
}

func strictUnmarshal(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("unexpected data after the top-level object")
	}
	return nil
}

// position finds line:column of a JSON decoding error, when it has an offset.
func position(data []byte, err error) string {
	var off int64 = -1
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		off = se.Offset - 1 // the offending character, not the one after it
	case errors.As(err, &te):
		off = te.Offset - 1 // the value's last character
	}
	if off < 0 {
		// DisallowUnknownFields errors carry no offset: find the key's first use.
		const p = `json: unknown field "`
		if msg := err.Error(); len(msg) > len(p) && msg[:len(p)] == p {
			off = keyOffset(data, msg[len(p):len(msg)-1])
		}
	}
	if off < 0 {
		return ""
	}
	return lineCol(data, int(off))
}

// keyOffset finds the first place "key" is used as an object key (followed by
// a colon), -1 if none: the same text may appear earlier as a value.
func keyOffset(data []byte, key string) int64 {
	quoted := []byte(`"` + key + `"`)
	for start := 0; ; {
		i := bytes.Index(data[start:], quoted)
		if i < 0 {
			return -1
		}
		at := start + i
		rest := bytes.TrimLeft(data[at+len(quoted):], " \t\r\n")
		if len(rest) > 0 && rest[0] == ':' {
			return int64(at)
		}
		start = at + 1
	}
}

func lineCol(data []byte, off int) string {
	if off > len(data) {
		off = len(data)
	}
	line, col := 1, 1
	for _, c := range data[:off] {
		if c == '\n' {
			line++
			col = 1
		} else {
			col++
		}
	}
	return fmt.Sprintf("%d:%d", line, col)
}

// valuePos is "line:column" of the value at path in a JSON document (object
// keys and array indexes, e.g. "fields", "2", "assume"), or "" when data is
// nil, not JSON, or has no such value.
func valuePos(data []byte, path ...string) string {
	if data == nil {
		return ""
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	for depth := 0; ; depth++ {
		if depth == len(path) {
			// The next token is the value: skip to its first character.
			off := int(dec.InputOffset())
			for off < len(data) && bytes.IndexByte([]byte(" \t\r\n,:"), data[off]) >= 0 {
				off++
			}
			return lineCol(data, off)
		}
		tok, err := dec.Token()
		if err != nil {
			return ""
		}
		switch tok {
		case json.Delim('{'):
			found := false
			for dec.More() {
				k, err := dec.Token()
				if err != nil {
					return ""
				}
				if k == path[depth] {
					found = true
					break
				}
				if skipValue(dec) != nil {
					return ""
				}
			}
			if !found {
				return ""
			}
		case json.Delim('['):
			want, err := strconv.Atoi(path[depth])
			if err != nil || want < 0 {
				return ""
			}
			i := 0
			for ; i < want && dec.More(); i++ {
				if skipValue(dec) != nil {
					return ""
				}
			}
			if i < want || !dec.More() {
				return ""
			}
		default:
			return ""
		}
	}
}

// skipValue reads one whole value from dec.
func skipValue(dec *json.Decoder) error {
	var raw json.RawMessage
	return dec.Decode(&raw)
}
