package mapping

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"strings"

	"github.com/tidwall/gjson"
)

// Reply is the answer for the caller.
type Reply struct {
	Status int
	Header http.Header
	Body   []byte
}

// Reply renders the answer for res: success when res.OK, invalid for bad input,
// failure otherwise. v may come from NewValues when fields could not be read.
// It fills res.SuggestedStatus when unset, and res.Problem and
// res.TwilioCode (Classify).
func (m *Mapping) Reply(v *Values, res *Result) (*Reply, error) {
	if res.SuggestedStatus == 0 || res.OK {
		res.Suggest()
	}
	m.Classify(v, res)
	cases := m.failure
	switch {
	case res.OK:
		cases = m.success
	case res.Outcome == OutcomeInvalid:
		cases = m.invalid
	}
	env := v.env
	env["result"] = res
	defer delete(env, "result")
	for i := range cases {
		rc := &cases[i]
		if rc.when != nil {
			ok, err := rc.when.run(env)
			if err != nil {
				return nil, fmt.Errorf("mapping %s: %s.when: %w", m.file, rc.where, err)
			}
			if ok != true {
				continue
			}
		}
		return m.render(rc, env, res)
	}
	return nil, fmt.Errorf("mapping %s: %w", m.file, ErrNoReplyCase)
}

func (m *Mapping) render(rc *replyCase, env map[string]any, res *Result) (*Reply, error) {
	fail := func(part string, err error) (*Reply, error) {
		return nil, fmt.Errorf("mapping %s: %s%s: %w", m.file, rc.where, part, err)
	}
	st, err := rc.status.run(env)
	if err != nil {
		return fail(".status", err)
	}
	status, ok := st.(int)
	if !ok || status < 100 || status > 599 {
		return fail(".status", fmt.Errorf("gave %v, not an HTTP status", st))
	}
	// The answer, its Content-Type value and its body's buffer in one
	// allocation, the body's bytes in one more, at the size this case gave
	// last time.
	alloc := &replyAlloc{Reply: Reply{Status: status, Header: make(http.Header, len(rc.headers)+1)}}
	out := &alloc.Reply
	buf := &alloc.body
	buf.Grow(rc.sizeHint())
	contentType := rc.contentType
	switch rc.format {
	case ReplyJSON:
		if err := writeJSON(buf, rc.body, env); err != nil {
			return fail(".body", err)
		}
		if contentType == "" {
			contentType = "application/json"
		}
	case ReplyXML:
		if err := writeXML(buf, rc.root, rc.body, env); err != nil {
			return fail(".body", err)
		}
		if contentType == "" {
			contentType = "application/xml"
		}
	case ReplyText:
		s, err := rc.body.prog.runString(env)
		if err != nil {
			return fail(".body", err)
		}
		buf.WriteString(s)
		if contentType == "" {
			contentType = "text/plain; charset=utf-8"
		}
	case ReplyForm:
		form := url.Values{}
		if rc.body != nil {
			for i, k := range rc.body.keys {
				ch := rc.body.children[i]
				if ch.kind == nodeLiteral {
					form.Set(k, strings.Trim(string(ch.literal), `"`))
					continue
				}
				s, err := ch.prog.runString(env)
				if err != nil {
					return fail(".body."+k, err)
				}
				form.Set(k, s)
			}
		}
		buf.WriteString(form.Encode())
		if contentType == "" {
			contentType = "application/x-www-form-urlencoded"
		}
	case ReplyTwilio:
		var own []byte
		if rc.body != nil && !hasTwilioJSON(res) {
			var tmp bytes.Buffer
			if err := writeJSON(&tmp, rc.body, env); err != nil {
				return fail(".body", err)
			}
			if !gjson.ParseBytes(tmp.Bytes()).IsObject() {
				return fail(".body", errors.New("did not give an object"))
			}
			own = tmp.Bytes()
		}
		ct, err := writeTwilio(buf, rc.root, res, own)
		if err != nil {
			return fail(".body", err)
		}
		if contentType == "" {
			contentType = ct
		}
		// Twilio's own headers (request id, duration, concurrency) go back
		// with its reply as Twilio sent them.
		for k, v := range res.TwilioHeader {
			out.Header[k] = v
		}
	}
	if rc.format != ReplyEmpty {
		// Header.Set, with the value slice from the same allocation as the
		// Reply: the answer's own, capped at one element.
		alloc.contentType[0] = contentType
		out.Header["Content-Type"] = alloc.contentType[:1:1]
	}
	for _, h := range rc.headers {
		s, err := h.prog.runString(env)
		if err != nil {
			return fail(".headers."+h.name, err)
		}
		if s != "" {
			if strings.ContainsAny(s, "\r\n") {
				return fail(".headers."+h.name, fmt.Errorf("value contains a line break"))
			}
			out.Header.Set(h.name, s)
		}
	}
	out.Body = buf.Bytes()
	rc.learnSize(len(out.Body))
	return out, nil
}

// replyAlloc is a Reply with room for its Content-Type value.
type replyAlloc struct {
	Reply
	contentType [1]string
	body        bytes.Buffer
}

// Reply body sizes: the first buffer of a case, and the most it learns.
const (
	defaultReplySize = 256
	maxReplySizeHint = 16 << 10
)

// sizeHint is the capacity to start the case's body with: the size of its
// last body, so that rendering one seldom grows the buffer.
func (rc *replyCase) sizeHint() int {
	if rc.size != nil {
		if n := rc.size.Load(); n > 0 {
			return int(n)
		}
	}
	return defaultReplySize
}

func (rc *replyCase) learnSize(n int) {
	if rc.size != nil && n > 0 && int32(n) != rc.size.Load() {
		rc.size.Store(int32(min(n, maxReplySizeHint)))
	}
}

func writeJSON(buf *bytes.Buffer, n *node, env map[string]any) error {
	if n == nil {
		buf.WriteString("{}")
		return nil
	}
	switch n.kind {
	case nodeObject:
		buf.WriteByte('{')
		for i, k := range n.keys {
			if i > 0 {
				buf.WriteByte(',')
			}
			writeJSONString(buf, k)
			buf.WriteByte(':')
			if err := writeJSON(buf, n.children[i], env); err != nil {
				return fmt.Errorf("%s: %w", k, err)
			}
		}
		buf.WriteByte('}')
	case nodeArray:
		buf.WriteByte('[')
		for i, ch := range n.children {
			if i > 0 {
				buf.WriteByte(',')
			}
			if err := writeJSON(buf, ch, env); err != nil {
				return err
			}
		}
		buf.WriteByte(']')
	case nodeLiteral:
		buf.Write(n.literal)
	case nodeExpr:
		if f, ok := n.prog.resultValue(env); ok {
			// What the VM would give, written without boxing it first.
			switch f.Kind() {
			case reflect.String:
				writeJSONString(buf, f.String())
				return nil
			case reflect.Int:
				buf.Write(strconv.AppendInt(buf.AvailableBuffer(), f.Int(), 10))
				return nil
			case reflect.Bool:
				buf.WriteString(strconv.FormatBool(f.Bool()))
				return nil
			}
		}
		v, err := n.prog.run(env)
		if err != nil {
			return err
		}
		switch x := v.(type) {
		case string:
			writeJSONString(buf, x)
		case int:
			buf.Write(strconv.AppendInt(buf.AvailableBuffer(), int64(x), 10))
		case bool:
			buf.WriteString(strconv.FormatBool(x))
		case nil:
			buf.WriteString("null")
		default:
			b, err := json.Marshal(x)
			if err != nil {
				return err
			}
			buf.Write(b)
		}
	}
	return nil
}

func writeXML(buf *bytes.Buffer, root string, n *node, env map[string]any) error {
	buf.WriteString(xml.Header[:len(xml.Header)-1])
	enc := xml.NewEncoder(buf)
	if err := writeXMLElement(enc, root, n, env); err != nil {
		return err
	}
	return enc.Flush()
}

func writeXMLElement(enc *xml.Encoder, name string, n *node, env map[string]any) error {
	se := xml.StartElement{Name: xml.Name{Local: name}}
	if n == nil {
		if err := enc.EncodeToken(se); err != nil {
			return err
		}
		return enc.EncodeToken(se.End())
	}
	switch n.kind {
	case nodeObject:
		for i, k := range n.keys {
			if strings.HasPrefix(k, "@") {
				s, err := scalarText(n.children[i], env)
				if err != nil {
					return err
				}
				se.Attr = append(se.Attr, xml.Attr{Name: xml.Name{Local: k[1:]}, Value: s})
			}
		}
		if err := enc.EncodeToken(se); err != nil {
			return err
		}
		for i, k := range n.keys {
			if strings.HasPrefix(k, "@") {
				continue
			}
			if err := writeXMLElement(enc, k, n.children[i], env); err != nil {
				return fmt.Errorf("%s: %w", k, err)
			}
		}
		return enc.EncodeToken(se.End())
	case nodeArray:
		// An array repeats the element once per item.
		for _, ch := range n.children {
			if err := writeXMLElement(enc, name, ch, env); err != nil {
				return err
			}
		}
		return nil
	}
	s, err := scalarText(n, env)
	if err != nil {
		return err
	}
	if err := enc.EncodeToken(se); err != nil {
		return err
	}
	if s != "" {
		if err := enc.EncodeToken(xml.CharData(s)); err != nil {
			return err
		}
	}
	return enc.EncodeToken(se.End())
}

func scalarText(n *node, env map[string]any) (string, error) {
	if n.kind == nodeLiteral {
		if string(n.literal) == "null" {
			return "", nil
		}
		var s any
		_ = json.Unmarshal(n.literal, &s)
		return toString(s), nil
	}
	if n.kind != nodeExpr {
		return "", fmt.Errorf("expected a value")
	}
	return n.prog.runString(env)
}

func hasTwilioJSON(res *Result) bool {
	return len(res.TwilioBody) > 0 && gjson.ValidBytes(res.TwilioBody)
}

// writeTwilio relays Twilio's own reply (the Twilio-compatible dialect). Twilio's
// JSON is passed through when the caller wants JSON; for XML it is converted to
// Twilio's XML shape. When there is no Twilio body (the adapter answered by
// itself), the mapping's own body (a JSON object, when given) or an equivalent
// summary of the result stands in for it.
func writeTwilio(buf *bytes.Buffer, want string, res *Result, own []byte) (string, error) {
	body := res.TwilioBody
	isJSON := hasTwilioJSON(res)
	if !isJSON && own != nil {
		body, isJSON = own, true
	}
	if want == "json" {
		if isJSON {
			buf.Write(body)
			if res.TwilioContentType != "" && len(res.TwilioBody) > 0 {
				return res.TwilioContentType, nil // Twilio's own, exactly
			}
			return "application/json; charset=utf-8", nil
		}
		writeJSONObject(buf, synthesize(res))
		return "application/json; charset=utf-8", nil
	}
	buf.WriteString("<?xml version='1.0' encoding='UTF-8'?>\n")
	enc := xml.NewEncoder(buf)
	root := xml.StartElement{Name: xml.Name{Local: "TwilioResponse"}}
	if err := enc.EncodeToken(root); err != nil {
		return "", err
	}
	var obj gjson.Result
	if isJSON {
		obj = gjson.ParseBytes(body)
	} else {
		var tmp bytes.Buffer
		writeJSONObject(&tmp, synthesize(res))
		obj = gjson.ParseBytes(tmp.Bytes())
	}
	elem := "RestException"
	if res.OK {
		elem = "Message"
		switch res.API {
		case "calls":
			elem = "Call"
		case "studio":
			elem = "Execution"
		}
	}
	if err := writeTwilioXML(enc, elem, obj, 0); err != nil {
		return "", err
	}
	if err := enc.EncodeToken(root.End()); err != nil {
		return "", err
	}
	return "application/xml", enc.Flush()
}

type kv struct {
	k string
	v any
}

func synthesize(res *Result) []kv {
	if res.OK {
		return []kv{{"sid", res.Sid}, {"status", res.Status}, {"account_sid", res.AccountSID}}
	}
	code := res.ErrorCode
	msg := res.ErrorMessage
	if msg == "" {
		msg = res.Reason
	}
	return []kv{{"code", code}, {"message", msg}, {"more_info", res.MoreInfo}, {"status", res.SuggestedStatus}}
}

func writeJSONObject(buf *bytes.Buffer, fields []kv) {
	buf.WriteByte('{')
	for i, f := range fields {
		if i > 0 {
			buf.WriteByte(',')
		}
		writeJSONString(buf, f.k)
		buf.WriteByte(':')
		switch x := f.v.(type) {
		case string:
			writeJSONString(buf, x)
		case int:
			buf.WriteString(strconv.Itoa(x))
		}
	}
	buf.WriteByte('}')
}

// writeTwilioXML writes a JSON value as Twilio's XML: snake_case keys become
// PascalCase elements, null becomes an empty element, resource URIs lose their
// .json extension.
func writeTwilioXML(enc *xml.Encoder, name string, v gjson.Result, depth int) error {
	if depth > 8 {
		return nil
	}
	se := xml.StartElement{Name: xml.Name{Local: name}}
	if err := enc.EncodeToken(se); err != nil {
		return err
	}
	var err error
	switch {
	case v.IsObject():
		v.ForEach(func(k, val gjson.Result) bool {
			el := pascal(k.String())
			if !xmlNameRE.MatchString(el) {
				return true
			}
			if (el == "Uri" || name == "SubresourceUris") && val.Type == gjson.String {
				// Twilio's XML names resources without the .json of its JSON.
				if u, ok := strings.CutSuffix(val.String(), ".json"); ok {
					err = writeTwilioText(enc, el, u)
					return err == nil
				}
			}
			err = writeTwilioXML(enc, el, val, depth+1)
			return err == nil
		})
	case v.IsArray():
		v.ForEach(func(_, val gjson.Result) bool {
			err = writeTwilioXML(enc, "Item", val, depth+1)
			return err == nil
		})
	case v.Type == gjson.Null:
	default:
		err = enc.EncodeToken(xml.CharData(v.String()))
	}
	if err != nil {
		return err
	}
	return enc.EncodeToken(se.End())
}

func writeTwilioText(enc *xml.Encoder, name, text string) error {
	se := xml.StartElement{Name: xml.Name{Local: name}}
	if err := enc.EncodeToken(se); err != nil {
		return err
	}
	if err := enc.EncodeToken(xml.CharData(text)); err != nil {
		return err
	}
	return enc.EncodeToken(se.End())
}

func pascal(s string) string {
	var b strings.Builder
	up := true
	for _, r := range s {
		if r == '_' {
			up = true
			continue
		}
		if up && r >= 'a' && r <= 'z' {
			r -= 'a' - 'A'
		}
		up = false
		b.WriteRune(r)
	}
	return b.String()
}
