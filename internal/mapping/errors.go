package mapping

import (
	"fmt"
	"net/http"
)

// ConfigError is a mapping file problem found while loading or compiling. It
// names the file, the position when known, and the field or part at fault.
type ConfigError struct {
	File string
	// Pos is "line:column" in the file, or "" when not known.
	Pos string
	// Where names the part: `field "to"`, `twilio.messages.Body`, `reply.success[0].status`.
	Where string
	Err   error
}

func (e *ConfigError) Error() string {
	s := "mapping " + e.File
	if e.Pos != "" {
		s += ":" + e.Pos
	}
	if e.Where != "" {
		s += ": " + e.Where
	}
	return s + ": " + e.Err.Error()
}

func (e *ConfigError) Unwrap() error { return e.Err }

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
}

func (e *InputError) Error() string { return fmt.Sprintf("field %q %s", e.Field, e.Reason) }

// HTTPStatus is the suggested status, 400 by default.
func (e *InputError) HTTPStatus() int {
	if e.Status == 0 {
		return http.StatusBadRequest
	}
	return e.Status
}
