package mapping

import (
	"fmt"
	"net/http"
	"strings"
)

// ConfigError is one problem with a mapping: in its file (found by the
// schema while loading, or by Compile), or in a route's settings for it.
// Error() is "file:line:col: path: message", the parts not known left out;
// `caddy run` and `caddy twilio-sms check` print the same text.
type ConfigError struct {
	// File names the mapping: "builtin:pingone" or the path given.
	File string
	// Path leads to the part at fault from the top of the file: object keys
	// (string) and array indexes (int). Empty for the whole file, a syntax
	// error (Line and Col say where) or a problem with the route's settings.
	Path Path
	// Key is set when the fault is the name of Path's last key (an unknown
	// or repeated key), not its value; the position is then the name's.
	Key bool
	// Line and Col are where the problem is in the file, 1-based, Col
	// counting bytes; 0 when not known (a Spec built in code, the route's
	// settings).
	Line, Col int
	Err       error

	// route marks a problem with the route's settings, not in the file.
	route bool
}

func (e *ConfigError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d:%d", e.Line, e.Col)
	}
	if len(e.Path) > 0 {
		b.WriteString(": " + e.Path.String())
	}
	b.WriteString(": " + e.Err.Error())
	return b.String()
}

func (e *ConfigError) Unwrap() error { return e.Err }

// Path names a part of a mapping file by object keys (string) and array
// indexes (int), from the top: {"fields", 1, "from", 0}.
type Path []any

// String renders the path as errors show it: fields[1].from[0],
// twilio.messages.Body; a key that is not a plain word is quoted
// (reply.success.headers["X Bad"]).
func (p Path) String() string {
	var b strings.Builder
	for i, t := range p {
		switch t := t.(type) {
		case int:
			fmt.Fprintf(&b, "[%d]", t)
		case string:
			if !plainKey(t) {
				fmt.Fprintf(&b, "[%q]", t)
				continue
			}
			if i > 0 {
				b.WriteByte('.')
			}
			b.WriteString(t)
		default:
			fmt.Fprintf(&b, "[%v]", t)
		}
	}
	return b.String()
}

func plainKey(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !(r == '_' || r == '-' || r == '$' || r == '@' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

// at is a ConfigError for the part at path; Compile and Parse fill in the
// file and the position.
func at(err error, path ...any) *ConfigError { return &ConfigError{Path: path, Err: err} }

// routeErr is a ConfigError about the route's settings for the mapping (an
// option override, a field's sources), which are not in the file.
func routeErr(err error) *ConfigError { return &ConfigError{Err: err, route: true} }

// Problems lists the problems err holds, in order: every *ConfigError joined
// in it (the schema reports all it finds at once), or err itself; nil for nil.
func Problems(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, Problems(e)...)
		}
		return out
	}
	return []error{err}
}

// InputError is a bad inbound request: it names the field and why, is safe to
// show to the caller and to log (it never contains the field's value), and means
// nothing was sent to Twilio.
type InputError struct {
	// Field is the mapping field, or "body", "method", "path".
	Field string
	// Reason completes the sentence "field <Field> ...".
	Reason string
	// Status is the HTTP status the adapter suggests (400, 405, 413, 415).
	Status int
	// Problem is what is wrong, one of the Problem* constants (missing,
	// invalid, too_long, no_sender, auth); "" lets Kind derive it from
	// Status. It becomes result.problem (Result.Invalid).
	Problem string
}

func (e *InputError) Error() string { return fmt.Sprintf("field %q %s", e.Field, e.Reason) }

// HTTPStatus is the suggested status, 400 by default.
func (e *InputError) HTTPStatus() int {
	if e.Status == 0 {
		return http.StatusBadRequest
	}
	return e.Status
}
