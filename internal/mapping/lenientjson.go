package mapping

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"unicode/utf8"
)

// RepairJSONObject reads a JSON object as products write it into templates and
// returns it as strict, compact JSON. PingOne's notification template
// {"OTP":${otp}} is sent unquoted, so a code with a leading zero is invalid JSON
// ({"OTP":012345}) or, read as a number, loses its zero. Here every run of digits
// becomes a string with every digit kept, bare words ({"user":jdoe}) become
// strings, and keys may be bare. Valid JSON comes out unchanged except that
// integers become strings.
func RepairJSONObject(s string) (string, error) {
	p := &lenientParser{s: s}
	p.skipSpace()
	if p.peek() != '{' {
		return "", errNotObject
	}
	var out bytes.Buffer
	if err := p.value(&out, 0); err != nil {
		return "", err
	}
	p.skipSpace()
	if p.i != len(p.s) {
		return "", errors.New("has text after the JSON object")
	}
	return out.String(), nil
}

const maxLenientDepth = 16

type lenientParser struct {
	s string
	i int
}

func (p *lenientParser) peek() byte {
	if p.i < len(p.s) {
		return p.s[p.i]
	}
	return 0
}

func (p *lenientParser) skipSpace() {
	for p.i < len(p.s) && strings.IndexByte(" \t\r\n", p.s[p.i]) >= 0 {
		p.i++
	}
}

func (p *lenientParser) value(out *bytes.Buffer, depth int) error {
	if depth > maxLenientDepth {
		return errors.New("is nested too deeply")
	}
	p.skipSpace()
	switch p.peek() {
	case '{':
		return p.object(out, depth)
	case '[':
		return p.array(out, depth)
	case '"':
		str, err := p.str()
		if err != nil {
			return err
		}
		writeJSONString(out, str)
		return nil
	case 0:
		return errors.New("ends too early")
	}
	tok := p.bare()
	switch {
	case tok == "":
		return errors.New("has an empty value")
	case tok == "true" || tok == "false" || tok == "null":
		out.WriteString(tok)
	case isDigits(tok):
		writeJSONString(out, tok)
	case isJSONNumber(tok):
		out.WriteString(tok) // a number such as -1.5
	default:
		writeJSONString(out, tok)
	}
	return nil
}

func (p *lenientParser) object(out *bytes.Buffer, depth int) error {
	p.i++ // {
	out.WriteByte('{')
	first := true
	for {
		p.skipSpace()
		if p.peek() == '}' {
			p.i++
			out.WriteByte('}')
			return nil
		}
		if !first {
			if p.peek() != ',' {
				return errors.New("is missing a comma between members")
			}
			p.i++
			p.skipSpace()
			if p.peek() == '}' { // trailing comma
				continue
			}
			out.WriteByte(',')
		}
		first = false
		var key string
		var err error
		if p.peek() == '"' {
			if key, err = p.str(); err != nil {
				return err
			}
		} else {
			start := p.i
			for p.i < len(p.s) && p.s[p.i] != ':' && p.s[p.i] != '}' && p.s[p.i] != ',' {
				p.i++
			}
			key = strings.TrimSpace(p.s[start:p.i])
			if key == "" {
				return errors.New("has a member without a name")
			}
		}
		p.skipSpace()
		if p.peek() != ':' {
			return errors.New("is missing a colon after a member name")
		}
		p.i++
		writeJSONString(out, key)
		out.WriteByte(':')
		if err := p.value(out, depth+1); err != nil {
			return err
		}
	}
}

func (p *lenientParser) array(out *bytes.Buffer, depth int) error {
	p.i++ // [
	out.WriteByte('[')
	first := true
	for {
		p.skipSpace()
		if p.peek() == ']' {
			p.i++
			out.WriteByte(']')
			return nil
		}
		if p.peek() == 0 {
			return errors.New("has an unclosed array")
		}
		if !first {
			if p.peek() != ',' {
				return errors.New("is missing a comma between array items")
			}
			p.i++
			out.WriteByte(',')
		}
		first = false
		if err := p.value(out, depth+1); err != nil {
			return err
		}
	}
}

// str reads a double-quoted JSON string and returns its value.
func (p *lenientParser) str() (string, error) {
	start := p.i
	p.i++
	for p.i < len(p.s) {
		switch p.s[p.i] {
		case '\\':
			p.i += 2
			continue
		case '"':
			p.i++
			var v string
			if err := json.Unmarshal([]byte(p.s[start:p.i]), &v); err != nil {
				return "", errors.New("has an invalid string")
			}
			return v, nil
		}
		p.i++
	}
	return "", errors.New("has an unterminated string")
}

// bare reads an unquoted token up to the next delimiter. A placeholder the
// product left unreplaced, such as ${otp}, is read whole, braces included.
func (p *lenientParser) bare() string {
	start := p.i
	closing := true // whether a "}" may still follow
	for p.i < len(p.s) && strings.IndexByte(",}]", p.s[p.i]) < 0 {
		if closing && strings.HasPrefix(p.s[p.i:], "${") {
			end := strings.IndexByte(p.s[p.i:], '}')
			if end > 0 {
				p.i += end + 1
				continue
			}
			closing = false
		}
		p.i++
	}
	return strings.TrimSpace(p.s[start:p.i])
}

// isJSONNumber reports whether a bare token is a JSON number. Checking
// json.Valid alone would also pass a quoted string that followed a character
// skipSpace does not skip (a form feed), and write it unescaped.
func isJSONNumber(tok string) bool {
	return tok != "" && (tok[0] == '-' || (tok[0] >= '0' && tok[0] <= '9')) && json.Valid([]byte(tok))
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// writeJSONString appends s as a JSON string, escaping like encoding/json
// (including <, > and & so a body is safe to embed in HTML).
func writeJSONString(out *bytes.Buffer, s string) {
	const hex = "0123456789abcdef"
	out.WriteByte('"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < 0x80 {
			switch {
			case c == '"' || c == '\\':
				out.WriteByte('\\')
				out.WriteByte(c)
			case c == '\n':
				out.WriteString(`\n`)
			case c == '\r':
				out.WriteString(`\r`)
			case c == '\t':
				out.WriteString(`\t`)
			case c < 0x20 || c == '<' || c == '>' || c == '&':
				out.WriteString(`\u00`)
				out.WriteByte(hex[c>>4])
				out.WriteByte(hex[c&0xf])
			default:
				out.WriteByte(c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError:
			// An invalid byte and a real U+FFFD come out the same, so that
			// repairing twice changes nothing.
			out.WriteString(`\ufffd`)
		case r == '\u2028' || r == '\u2029':
			out.WriteString(`\u202`)
			out.WriteByte(hex[r&0xf])
		default:
			out.WriteString(s[i : i+size])
		}
		i += size
	}
	out.WriteByte('"')
}
