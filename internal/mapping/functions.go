package mapping

import (
	"encoding/json"
	"encoding/xml"
	"errors"
	"maps"
	"regexp"
	"strings"

	"github.com/expr-lang/expr"

	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/phone"
)

// placeholderRE matches {{ name }} like Logto's replaceSendMessageHandlebars.
var placeholderRE = regexp.MustCompile(`{{\s*([\w.]+)\s*}}`)

// functions are the helpers expressions may call, beyond expr's builtins.
//
//	template(key)           the route's template text for key (or the fallback key)
//	fill(text, vars)        replaces {{name}} with vars[name]; unknown names stay as they are
//	render(key)             fill(template(key), fields): every field read before it, secret ones left out
//	render(key, vars)       the same, vars adding to or replacing the fields
//	digits(s)               only the ASCII digits of s
//	spaced(s)               "123" -> "1 2 3", so text-to-speech reads digit by digit
//	twiml(s)                a TwiML <Response>: Say/Pause fragments kept (within TwiML's limits), other text spoken
//	twiml(s, voice, lang)   the same with <Say voice= language=>
//	json(v)                 compact JSON encoding of v
//	json_object(s)          s repaired into a JSON object ({"OTP":012345} keeps its digits)
//	xml_escape(s)           s with &, <, >, quotes and line breaks escaped for XML text
//	mask(s)                 a phone number with its middle hidden (phone.Mask)
//
// twiml and json_object fail on what the caller sent (a forbidden TwiML verb,
// pauses or loops over TwiML's limits such as MaxPauseSeconds, a message that
// is not a JSON object): those failures are *InputError values, so the request
// is answered as invalid input naming the field, not as a mapping bug.
func (c *compiler) functions() []expr.Option {
	return []expr.Option{
		expr.Function("template", func(p ...any) (any, error) {
			return c.template(p[0].(string)), nil
		}, new(func(string) string)),
		// render(key) and render(key, vars) reach here as render(key, fields)
		// and render(key, fields, vars) (renderPatcher).
		expr.Function("render", func(p ...any) (any, error) {
			vars, _ := p[1].(map[string]any)
			if len(p) == 3 {
				extra, _ := p[2].(map[string]any)
				vars = maps.Clone(vars)
				maps.Copy(vars, extra)
			}
			return fill(c.template(p[0].(string)), vars), nil
		}, new(func(string, map[string]any) string), new(func(string, map[string]any, map[string]any) string)),
		expr.Function("fill", func(p ...any) (any, error) {
			vars, _ := p[1].(map[string]any)
			return fill(p[0].(string), vars), nil
		}, new(func(string, map[string]any) string)),
		expr.Function("digits", func(p ...any) (any, error) {
			return digitsOnly(p[0].(string)), nil
		}, new(func(string) string)),
		expr.Function("spaced", func(p ...any) (any, error) {
			return spaced(p[0].(string)), nil
		}, new(func(string) string)),
		expr.Function("twiml", func(p ...any) (any, error) {
			voice, lang := "", ""
			if len(p) == 3 {
				voice, lang = p[1].(string), p[2].(string)
			}
			out, err := TwiML(p[0].(string), voice, lang)
			var limit *twimlLimitError
			switch {
			case errors.As(err, &limit):
				return nil, &InputError{Reason: limit.reason, Problem: ProblemInvalid}
			case err != nil:
				return nil, &InputError{Reason: "cannot be spoken: " + err.Error(), Problem: ProblemInvalid}
			}
			return out, nil
		}, new(func(string) string), new(func(string, string, string) string)),
		expr.Function("json", func(p ...any) (any, error) {
			b, err := json.Marshal(p[0])
			return string(b), err
		}, new(func(any) string)),
		expr.Function("json_object", func(p ...any) (any, error) {
			out, err := RepairJSONObject(p[0].(string))
			if err != nil {
				return nil, &InputError{Reason: err.Error(), Problem: ProblemInvalid}
			}
			return out, nil
		}, new(func(string) string)),
		expr.Function("xml_escape", func(p ...any) (any, error) {
			var b strings.Builder
			if err := xml.EscapeText(&b, []byte(p[0].(string))); err != nil {
				return nil, err
			}
			return b.String(), nil
		}, new(func(string) string)),
		expr.Function("mask", func(p ...any) (any, error) {
			return phone.Mask(p[0].(string)), nil
		}, new(func(string) string)),
	}
}

func (c *compiler) template(key string) string {
	if t, ok := c.templates[key]; ok {
		return t
	}
	return c.templates[c.fallback]
}

func fill(text string, vars map[string]any) string {
	if !strings.Contains(text, "{{") {
		return text
	}
	return placeholderRE.ReplaceAllStringFunc(text, func(m string) string {
		name := placeholderRE.FindStringSubmatch(m)[1]
		if v, ok := lookupDotted(vars, name); ok {
			return toString(v)
		}
		return m
	})
}

func lookupDotted(vars map[string]any, name string) (any, bool) {
	var cur any = vars
	for _, part := range strings.Split(name, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[part]; !ok {
			return nil, false
		}
	}
	return cur, true
}

// placeholders lists the {{names}} used in text.
func placeholders(text string) map[string]bool {
	out := map[string]bool{}
	for _, m := range placeholderRE.FindAllStringSubmatch(text, -1) {
		out[m[1]] = true
	}
	return out
}

func digitsOnly(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] >= '0' && s[i] <= '9' {
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

func spaced(s string) string {
	var b strings.Builder
	for i, r := range s {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteRune(r)
	}
	return b.String()
}

var errNotObject = errors.New("is not a JSON object")
