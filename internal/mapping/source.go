package mapping

import (
	"errors"
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

func compileSource(s string) (source, error) {
	if s == "body" {
		return source{text: s, get: func(in *Inbound) string { return string(in.Body) }}, nil
	}
	kind, arg, ok := strings.Cut(s, ":")
	if !ok || arg == "" {
		return source{}, errors.New(`source must be "kind:arg" (form, query, param, json, xml, header, path, basic, any) or "body"`)
	}
	src := source{text: s}
	switch kind {
	case "form":
		src.get = func(in *Inbound) string { return in.Form.Get(arg) }
	case "query":
		src.get = func(in *Inbound) string { return in.Query().Get(arg) }
	case "param":
		src.get = func(in *Inbound) string {
			if v := in.Form.Get(arg); v != "" {
				return v
			}
			return in.Query().Get(arg)
		}
	case "json":
		src.get = func(in *Inbound) string { return jsonString(in.JSON, arg) }
	case "xml":
		src.get = func(in *Inbound) string { return in.XML[arg] }
	case "header":
		name := textproto.CanonicalMIMEHeaderKey(arg)
		src.get = func(in *Inbound) string { return in.Header.Get(name) }
	case "path":
		src.get = func(in *Inbound) string { return in.PathParams[arg] }
	case "basic":
		switch arg {
		case "user":
			src.get = func(in *Inbound) string { return in.BasicUser }
		case "password":
			src.get = func(in *Inbound) string { return in.BasicPass }
		default:
			return source{}, errors.New(`basic source must be "basic:user" or "basic:password"`)
		}
		src.basic = true
	case "any":
		jsonPath := gjson.Escape(arg)
		src.get = func(in *Inbound) string {
			if v := in.Form.Get(arg); v != "" {
				return v
			}
			if v := in.Query().Get(arg); v != "" {
				return v
			}
			if in.JSON != nil {
				if v := jsonString(in.JSON, jsonPath); v != "" {
					return v
				}
			}
			return in.XML[arg]
		}
	default:
		return source{}, errors.New("unknown source kind " + kind)
	}
	return src, nil
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
