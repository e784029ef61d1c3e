package mapping

import (
	"bytes"
	"encoding/xml"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"

	"github.com/tidwall/gjson"
)

// Body formats.
const (
	FormatAuto = "auto"
	FormatForm = "form"
	FormatJSON = "json"
	FormatXML  = "xml"
	FormatText = "text"
	FormatNone = "none"
)

// Limits on what an inbound request may contain, so that no request can make the
// parser work or allocate without bound.
const (
	maxFormKeys  = 256
	maxXMLNodes  = 1024
	maxXMLDepth  = 32
	maxPathParts = 32
)

// Inbound is a parsed request: only the parts the mapping reads are filled.
type Inbound struct {
	Method      string
	Path        string
	ContentType string
	// Format is the body format actually found (form, json, xml, text or none).
	Format string
	Header http.Header
	// RawQuery is parsed on first use.
	RawQuery string
	query    url.Values
	Form     url.Values
	JSON     []byte
	// XML maps element paths ("a/b/c") and bare local names ("c") to their text,
	// first occurrence only; attributes are "a/b/@name".
	XML  map[string]string
	Body []byte
	// PathParams are the {name} segments of RequestSpec.Path.
	PathParams map[string]string
	BasicUser  string
	BasicPass  string
	hasBasic   bool
	// form is where a small form body's values are parsed to, in the
	// Inbound's own allocation.
	form struct {
		vals [formVals]string
		buf  [formBytes]byte
		used bool
	}
}

// Sizes of a form body parsed within the Inbound: an OTP request has a few
// short fields.
const (
	formVals  = 6
	formBytes = 192
)

// queryGet is Query().Get(key) without parsing (and allocating) an empty
// query string.
func (in *Inbound) queryGet(key string) string {
	if in.query == nil && in.RawQuery == "" {
		return ""
	}
	return in.Query().Get(key)
}

// Query returns the parsed query string.
func (in *Inbound) Query() url.Values {
	if in.query == nil {
		in.query, _ = url.ParseQuery(in.RawQuery)
		if in.query == nil {
			in.query = url.Values{}
		}
	}
	return in.query
}

// ParseRequest reads what the mapping needs from r and its already-read body.
// It fails with an *InputError naming "method", "path" or "body".
func (m *Mapping) ParseRequest(r *http.Request, body []byte) (*Inbound, error) {
	in := &Inbound{
		Method:      r.Method,
		Path:        r.URL.Path,
		ContentType: r.Header.Get("Content-Type"),
		Header:      r.Header,
		RawQuery:    r.URL.RawQuery,
		Body:        body,
	}
	if !m.allowsMethod(r.Method) {
		return nil, &InputError{Field: "method", Reason: "must be one of " + strings.Join(m.methods, ", "), Status: http.StatusMethodNotAllowed, Problem: ProblemInvalid}
	}
	if m.path != nil {
		params, ok := m.path.match(r.URL.Path)
		if !ok {
			return nil, &InputError{Field: "path", Reason: "does not match " + m.path.pattern, Status: http.StatusNotFound, Problem: ProblemInvalid}
		}
		in.PathParams = params
	}
	if m.needsBasic {
		in.BasicUser, in.BasicPass, in.hasBasic = r.BasicAuth()
	}
	if err := m.parseBody(in); err != nil {
		return nil, err
	}
	return in, nil
}

func (m *Mapping) allowsMethod(method string) bool {
	for _, x := range m.methods {
		if x == method {
			return true
		}
	}
	return false
}

func (m *Mapping) parseBody(in *Inbound) error {
	body := bytes.TrimSpace(in.Body)
	format := m.format
	if format == FormatAuto {
		format = detectFormat(in.ContentType, body)
	}
	in.Format = format
	if len(body) == 0 {
		in.Format = FormatNone
		return nil
	}
	switch format {
	case FormatForm:
		if bytes.Count(body, []byte("&")) >= maxFormKeys {
			return &InputError{Field: "body", Reason: "has too many form parameters", Problem: ProblemInvalid}
		}
		var form url.Values
		var err error
		if !in.form.used { // the inline storage is written once, never under live strings
			in.form.used = true
			form, err = parseFormInto(body, in.form.vals[:], in.form.buf[:0])
		} else {
			form, err = parseForm(body)
		}
		if err != nil {
			return &InputError{Field: "body", Reason: "is not a valid form-encoded body", Problem: ProblemInvalid}
		}
		in.Form = form
	case FormatJSON:
		if !gjson.ValidBytes(body) {
			// Products that paste a macro into a JSON template unescaped send
			// raw line breaks inside strings: escape those, nothing else.
			fixed, changed := escapeControlInStrings(body)
			if !changed || !gjson.ValidBytes(fixed) {
				return &InputError{Field: "body", Reason: "is not valid JSON", Problem: ProblemInvalid}
			}
			body = fixed
		}
		in.JSON = body
	case FormatXML:
		x, err := flattenXML(body)
		if err != nil {
			// The same products paste "&" into XML unescaped: read a bare
			// "&" as "&amp;" and try once more.
			if fixed, changed := escapeBareAmpersands(body); changed {
				x, err = flattenXML(fixed)
			}
		}
		if err != nil {
			return &InputError{Field: "body", Reason: "is not valid XML: " + err.Error(), Problem: ProblemInvalid}
		}
		in.XML = x
	case FormatNone:
		// GET-style mappings ignore a body.
	}
	return nil
}

// detectFormat picks the body format from Content-Type, then from the first byte.
func detectFormat(contentType string, body []byte) string {
	if len(body) == 0 {
		return FormatNone
	}
	mt := mediaType(contentType)
	switch {
	case mt == "application/x-www-form-urlencoded":
		return FormatForm
	case mt == "application/json" || strings.HasSuffix(mt, "+json"):
		return FormatJSON
	case mt == "application/xml" || mt == "text/xml" || strings.HasSuffix(mt, "+xml"):
		return FormatXML
	}
	switch body[0] {
	case '{', '[':
		return FormatJSON
	case '<':
		return FormatXML
	}
	if bytes.IndexByte(body, '=') > 0 {
		return FormatForm
	}
	return FormatText
}

// flattenXML reads an XML document into path -> text, bounded in nodes and depth.
func flattenXML(body []byte) (map[string]string, error) {
	dec := xml.NewDecoder(bytes.NewReader(body))
	dec.Strict = true
	out := make(map[string]string, 8)
	var stack []string
	// text holds each open element's own text. Byte slices, not
	// strings.Builder: growing the slice copies its elements, and a copied
	// Builder that was written to panics on the next write.
	var text [][]byte
	nodes := 0
	put := func(k, v string) {
		if _, ok := out[k]; !ok {
			out[k] = v
		}
	}
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, errSimple("malformed document")
		}
		switch t := tok.(type) {
		case xml.StartElement:
			nodes++
			if nodes > maxXMLNodes || len(stack) >= maxXMLDepth {
				return nil, errSimple("document too large or too deep")
			}
			stack = append(stack, t.Name.Local)
			text = append(text, nil)
			p := strings.Join(stack, "/")
			for _, a := range t.Attr {
				put(p+"/@"+a.Name.Local, a.Value)
				put("@"+a.Name.Local, a.Value)
			}
		case xml.CharData:
			if n := len(text); n > 0 {
				text[n-1] = append(text[n-1], t...)
			}
		case xml.EndElement:
			n := len(stack)
			if n == 0 {
				return nil, errSimple("unbalanced document")
			}
			v := strings.TrimSpace(string(text[n-1]))
			put(strings.Join(stack, "/"), v)
			put(stack[n-1], v)
			stack, text = stack[:n-1], text[:n-1]
		}
	}
	if len(stack) != 0 || nodes == 0 {
		return nil, errSimple("incomplete document")
	}
	return out, nil
}

// escapeControlInStrings escapes control characters (U+0000 to U+001F) that
// appear inside JSON strings, which JSON forbids raw. It reports whether it
// changed anything.
func escapeControlInStrings(body []byte) ([]byte, bool) {
	const hex = "0123456789abcdef"
	var out []byte
	inString, escaped := false, false
	for i, c := range body {
		switch {
		case escaped:
			escaped = false
		case inString && c == '\\':
			escaped = true
		case c == '"':
			inString = !inString
		case inString && c < 0x20:
			if out == nil {
				out = append(make([]byte, 0, len(body)+16), body[:i]...)
			}
			switch c {
			case '\n':
				out = append(out, '\\', 'n')
			case '\r':
				out = append(out, '\\', 'r')
			case '\t':
				out = append(out, '\\', 't')
			default:
				out = append(out, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			continue
		}
		if out != nil {
			out = append(out, c)
		}
	}
	if out == nil {
		return body, false
	}
	return out, true
}

// entityRE matches what may follow "&" in well-formed XML.
var entityRE = regexp.MustCompile(`^&(?:[A-Za-z_][A-Za-z0-9._-]*|#[0-9]+|#x[0-9A-Fa-f]+);`)

// escapeBareAmpersands turns every "&" that does not start an entity or
// character reference into "&amp;". It reports whether it changed anything.
func escapeBareAmpersands(body []byte) ([]byte, bool) {
	if bytes.IndexByte(body, '&') < 0 {
		return body, false
	}
	var out []byte
	changed := false
	for i := 0; i < len(body); i++ {
		c := body[i]
		if c == '&' && !entityRE.Match(body[i:min(len(body), i+40)]) {
			out = append(out, "&amp;"...)
			changed = true
			continue
		}
		out = append(out, c)
	}
	return out, changed
}

type errSimple string

func (e errSimple) Error() string { return string(e) }

// pathPattern matches "/a/{name}/b{ext}".
type pathPattern struct {
	pattern string
	parts   []string
}

func compilePath(p string) (*pathPattern, error) {
	parts := strings.Split(p, "/")
	if len(parts) > maxPathParts {
		return nil, errSimple("has too many segments")
	}
	for i, s := range parts {
		if strings.Contains(s, "{ext}") && (i != len(parts)-1 || !strings.HasSuffix(s, "{ext}")) {
			return nil, errSimple("{ext} may only end the last segment")
		}
		if strings.Count(s, "{") != strings.Count(s, "}") {
			return nil, errSimple("has an unbalanced brace in segment " + s)
		}
	}
	return &pathPattern{pattern: p, parts: parts}, nil
}

func (pp *pathPattern) match(path string) (map[string]string, bool) {
	segs := strings.Split(path, "/")
	if len(segs) != len(pp.parts) {
		return nil, false
	}
	params := make(map[string]string, 2)
	for i, part := range pp.parts {
		seg := segs[i]
		if strings.HasSuffix(part, "{ext}") {
			prefix := strings.TrimSuffix(part, "{ext}")
			ext := ""
			for _, e := range []string{".json", ".xml"} {
				if strings.HasSuffix(seg, e) {
					ext = e
					seg = strings.TrimSuffix(seg, e)
					break
				}
			}
			params["ext"] = ext
			part = prefix
		}
		if strings.HasPrefix(part, "{") && strings.HasSuffix(part, "}") {
			if seg == "" {
				return nil, false
			}
			params[part[1:len(part)-1]] = seg
			continue
		}
		if part != seg {
			return nil, false
		}
	}
	return params, true
}
