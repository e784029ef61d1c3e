package mapping

import (
	"errors"
	"fmt"
	"net/textproto"
	"strings"

	"github.com/tidwall/gjson"
)

// source reads one value from an Inbound; "" means absent.
type source struct {
	text string
	get  func(in *Inbound) string
	// basic is set for basic:user / basic:password, which need r.BasicAuth.
	basic bool
}

// sourceKinds reads each kind of field source, "kind:arg" or a bare kind
// (arg ""): given the argument, the function that reads it from an Inbound.
// It is the one list of source kinds in Go; mappings/schema.json ($defs/source)
// describes the same kinds, and a test keeps the two in step.
var sourceKinds = []struct {
	kind string
	read func(arg string) (get func(in *Inbound) string, basic bool, err error)
}{
	{"form", withArg(func(arg string) func(in *Inbound) string {
		return func(in *Inbound) string { return in.Form.Get(arg) }
	})},
	{"query", withArg(func(arg string) func(in *Inbound) string {
		return func(in *Inbound) string { return in.queryGet(arg) }
	})},
	{"param", withArg(func(arg string) func(in *Inbound) string {
		return func(in *Inbound) string {
			if v := in.Form.Get(arg); v != "" {
				return v
			}
			return in.queryGet(arg)
		}
	})},
	{"json", withArg(func(arg string) func(in *Inbound) string {
		return func(in *Inbound) string { return jsonString(in.JSON, arg) }
	})},
	{"xml", withArg(func(arg string) func(in *Inbound) string {
		return func(in *Inbound) string { return in.XML[arg] }
	})},
	{"header", withArg(func(arg string) func(in *Inbound) string {
		name := textproto.CanonicalMIMEHeaderKey(arg)
		return func(in *Inbound) string { return in.Header.Get(name) }
	})},
	{"path", withArg(func(arg string) func(in *Inbound) string {
		return func(in *Inbound) string { return in.PathParams[arg] }
	})},
	{"basic", func(arg string) (func(in *Inbound) string, bool, error) {
		switch arg {
		case "user":
			return func(in *Inbound) string { return in.BasicUser }, true, nil
		case "password":
			return func(in *Inbound) string { return in.BasicPass }, true, nil
		}
		return nil, false, errors.New(`must be "basic:user" or "basic:password"`)
	}},
	{"any", withArg(func(arg string) func(in *Inbound) string {
		jsonPath := gjson.Escape(arg)
		return func(in *Inbound) string {
			if v := in.Form.Get(arg); v != "" {
				return v
			}
			if v := in.queryGet(arg); v != "" {
				return v
			}
			if in.JSON != nil {
				if v := jsonString(in.JSON, jsonPath); v != "" {
					return v
				}
			}
			return in.XML[arg]
		}
	})},
	{"body", func(arg string) (func(in *Inbound) string, bool, error) {
		if arg != "" {
			return nil, false, errors.New(`is "body", with nothing after it`)
		}
		return func(in *Inbound) string { return string(in.Body) }, false, nil
	}},
}

// withArg makes a source kind that needs a non-empty argument.
func withArg(get func(arg string) func(in *Inbound) string) func(string) (func(in *Inbound) string, bool, error) {
	return func(arg string) (func(in *Inbound) string, bool, error) {
		if arg == "" {
			return nil, false, errors.New("needs something after the colon")
		}
		return get(arg), false, nil
	}
}

// SourceKinds lists the kinds of field source, in the order the mapping
// reference lists them: a source is "kind:arg" ("form:to", "basic:user") or,
// for kind body, the kind alone. mappings/REFERENCE.md says what each reads.
func SourceKinds() []string {
	out := make([]string, len(sourceKinds))
	for i, k := range sourceKinds {
		out[i] = k.kind
	}
	return out
}

// compileSource reads a source string. The schema has checked those in
// mapping files; a route's field overrides (Config.Fields) come here
// unchecked.
func compileSource(s string) (source, error) {
	kind, arg, _ := strings.Cut(s, ":")
	for _, k := range sourceKinds {
		if k.kind != kind {
			continue
		}
		get, basic, err := k.read(arg)
		if err != nil {
			return source{}, fmt.Errorf("source %q %w", s, err)
		}
		return source{text: s, get: get, basic: basic}, nil
	}
	return source{}, fmt.Errorf("source %q has no known kind (%s)", s, strings.Join(SourceKinds(), ", "))
}

// jsonString reads a gjson path as text: strings unquoted, integers with their
// exact digits (gjson keeps Raw for integers), objects and arrays as raw JSON.
func jsonString(body []byte, path string) string {
	if body == nil {
		return ""
	}
	r := gjson.GetBytes(body, path)
	switch r.Type {
	case gjson.Null:
		return ""
	case gjson.JSON:
		return r.Raw
	}
	return r.String()
}
