package mapping

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/twilio"
)

// Values are one request's fields, plus the environment expressions see.
type Values struct {
	env     map[string]any
	route   *Route
	request *Request
	// own holds route and request, in the same allocation as the Values.
	own struct {
		route   Route
		request Request
	}
}

// newValues makes a Values whose route and request point into itself.
func (m *Mapping) newValues(route *Route, req *Request) *Values {
	v := &Values{env: make(map[string]any, m.envSize)}
	v.own.route, v.own.request = *route, *req
	v.route, v.request = &v.own.route, &v.own.request
	return v
}

// Field returns a field's value ("" when absent or unknown).
func (v *Values) Field(name string) string {
	if v == nil {
		return ""
	}
	s, _ := v.env[name].(string)
	return s
}

// Route is the route data expressions see; the handler sets the sender on it.
func (v *Values) Route() *Route { return v.route }

// NewValues makes an environment with every field empty, for answering a request
// that failed before its fields could be read.
func (m *Mapping) NewValues(route Route, req Request) *Values {
	v := m.newValues(&route, &req)
	v.env["options"] = m.options
	v.env["tables"] = m.tables
	v.env["route"] = v.route
	v.env["request"] = v.request
	for i := range m.fields {
		v.env[m.fields[i].name] = ""
	}
	return v
}

// Extract reads, computes and validates every field. A bad value is an
// *InputError naming the field; an expression failing at run time is a plain error
// (a mapping bug, answered as a failure).
func (m *Mapping) Extract(in *Inbound, route Route) (*Values, error) {
	req := Request{Method: in.Method, Path: in.Path, Format: in.Format, ContentType: in.ContentType, Ext: in.PathParams["ext"]}
	v := m.newValues(&route, &req)
	v.env["options"] = m.options
	v.env["tables"] = m.tables
	v.env["route"] = v.route
	v.env["request"] = v.request
	for i := range m.fields {
		f := &m.fields[i]
		val := ""
		for _, s := range f.sources {
			if val = s.get(in); val != "" {
				break
			}
		}
		if val == "" && f.value != nil {
			var err error
			if val, err = f.value.runString(v.env); err != nil {
				if ie := asInputError(err, f.name); ie != nil {
					m.clearFrom(v, i)
					return v, ie
				}
				return v, fmt.Errorf("mapping %s: field %q: %w", m.file, f.name, err)
			}
		}
		if val == "" {
			val = f.def
		}
		norm, err := m.check(f, val)
		if err != nil {
			m.clearFrom(v, i)
			return v, err
		}
		v.env[f.name] = norm
	}
	return v, nil
}

// clearFrom empties field i and every later one, so replies to a request that
// failed at field i never see half-read values.
func (m *Mapping) clearFrom(v *Values, i int) {
	for _, rest := range m.fields[i:] {
		v.env[rest.name] = ""
	}
}

func (m *Mapping) check(f *field, val string) (string, error) {
	if val == "" {
		if f.required {
			return "", &InputError{Field: f.name, Reason: "is required", Problem: ProblemMissing}
		}
		return "", nil
	}
	if len(val) > 4*f.maxLen || utf8.RuneCountInString(val) > f.maxLen {
		return "", &InputError{Field: f.name, Reason: fmt.Sprintf("is longer than %d characters", f.maxLen), Problem: ProblemTooLong}
	}
	if !utf8.ValidString(val) {
		return "", &InputError{Field: f.name, Reason: "is not valid UTF-8", Problem: ProblemInvalid}
	}
	switch f.typ {
	case TypePhone, TypeSender:
		norm := f.phone.Normalize
		if f.typ == TypeSender {
			norm = f.phone.NormalizeSender
		}
		// A Twilio channel address ("whatsapp:+4915…") keeps its channel;
		// the number behind it is read and checked like any other.
		channel, number := splitChannel(val)
		n, err := norm(number)
		if err != nil {
			return "", &InputError{Field: f.name, Reason: err.Error(), Problem: ProblemInvalid}
		}
		val = channel + n
	case TypeDigits:
		if !isDigits(val) {
			return "", &InputError{Field: f.name, Reason: "must contain only digits", Problem: ProblemInvalid}
		}
	case TypeJSON:
		j, err := RepairJSONObject(val)
		if err != nil {
			return "", &InputError{Field: f.name, Reason: err.Error(), Problem: ProblemInvalid}
		}
		val = j
	}
	if f.pattern != nil && !f.pattern.MatchString(val) {
		return "", &InputError{Field: f.name, Reason: "does not have the expected format", Problem: ProblemInvalid}
	}
	return val, nil
}

// API chooses the Twilio API: the mapping's twilio.api expression, or studio when
// the route has a flow, calls for the voice channel, messages otherwise.
func (m *Mapping) API(v *Values) (twilio.API, error) {
	var api twilio.API
	if m.api != nil {
		s, err := m.api.runString(v.env)
		if err != nil {
			return "", fmt.Errorf("mapping %s: twilio.api: %w", m.file, err)
		}
		api = twilio.API(s)
	} else {
		switch {
		case v.route.StudioFlowSID != "":
			api = twilio.Studio
		case v.route.Channel == "voice":
			api = twilio.Calls
		default:
			api = twilio.Messages
		}
	}
	if !api.Valid() {
		return "", fmt.Errorf("mapping %s: twilio.api gave %q, not messages, calls or studio", m.file, api)
	}
	if !m.Supports(api) {
		return "", fmt.Errorf("mapping %s has no twilio.%s section", m.file, api)
	}
	return api, nil
}

// Params computes the Twilio form parameters for api (without From and
// MessagingServiceSid, which the handler adds per account). Twilio's limits are
// checked here so that a too-long message never costs a call.
func (m *Mapping) Params(v *Values, api twilio.API) (url.Values, error) {
	list := m.params[api]
	out := make(url.Values, len(list)+2)
	// One backing array for every parameter's single value; each slice is
	// capped at its own element, so appending to one never touches another.
	vals := make([]string, len(list))
	for i, p := range list {
		name := p.prog.blame(p.name)
		s, err := p.prog.runString(v.env)
		if err != nil {
			if ie := asInputError(err, name); ie != nil {
				return nil, ie
			}
			return nil, fmt.Errorf("mapping %s: twilio.%s.%s: %w", m.file, api, p.name, err)
		}
		if s == "" {
			continue
		}
		switch {
		case p.name == "Body" && utf8.RuneCountInString(s) > MaxBodyChars:
			return nil, &InputError{Field: name, Reason: fmt.Sprintf("is longer than Twilio's %d-character limit", MaxBodyChars), Problem: ProblemTooLong}
		case p.name == "Twiml" && utf8.RuneCountInString(s) > MaxTwimlChars:
			return nil, &InputError{Field: name, Reason: fmt.Sprintf("makes TwiML longer than Twilio's %d-character limit", MaxTwimlChars), Problem: ProblemTooLong}
		case p.name == "Parameters":
			// Studio reads Parameters as a JSON object: send the repaired form, so
			// {"OTP":012345} arrives as {"OTP":"012345"}.
			j, err := RepairJSONObject(s)
			if err != nil {
				return nil, &InputError{Field: name, Reason: "does not give Studio a JSON object: " + err.Error(), Problem: ProblemInvalid}
			}
			s = j
		}
		vals[i] = s
		out[p.name] = vals[i : i+1 : i+1]
	}
	if out.Get("To") == "" {
		return nil, &InputError{Field: "to", Reason: "is required", Problem: ProblemMissing}
	}
	return out, nil
}

// ErrNoReplyCase means no reply case's "when" held.
var ErrNoReplyCase = errors.New("no reply case matched")

// channelPrefixes are the Twilio channel addresses whose part after the
// prefix is a phone number.
var channelPrefixes = []string{"whatsapp:"}

// splitChannel splits "whatsapp:+4915…" into its channel prefix and number.
func splitChannel(v string) (channel, number string) {
	for _, p := range channelPrefixes {
		if len(v) > len(p) && strings.EqualFold(v[:len(p)], p) {
			return p, v[len(p):]
		}
	}
	return "", v
}
