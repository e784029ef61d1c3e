package mapping

import (
	"mime"
	"net/url"
	"os"
	"strings"
	"unsafe"
)

// mediaType is the media type mime.ParseMediaType returns for a
// Content-Type: lower case, without parameters, "" when it is not one. It
// parses no parameters (which cost a map per request) unless they could
// change the answer: only a second parameter can (a duplicate name makes
// ParseMediaType return ""), so a value with two or more ';' goes to
// ParseMediaType itself.
func mediaType(contentType string) string {
	base, params, _ := strings.Cut(contentType, ";")
	if strings.IndexByte(params, ';') >= 0 {
		mt, _, _ := mime.ParseMediaType(contentType)
		return mt
	}
	mt := strings.TrimSpace(strings.ToLower(base))
	if !validMediaType(mt) {
		return ""
	}
	return mt
}

// validMediaType is mime's check of a type or type/subtype.
func validMediaType(s string) bool {
	typ, rest := consumeToken(s)
	if typ == "" {
		return false
	}
	if rest == "" {
		return true
	}
	rest, ok := strings.CutPrefix(rest, "/")
	if !ok {
		return false
	}
	sub, rest := consumeToken(rest)
	return sub != "" && rest == ""
}

func consumeToken(v string) (token, rest string) {
	for i := range len(v) {
		if !isTokenChar(v[i]) {
			return v[:i], v[i:]
		}
	}
	return v, ""
}

// isTokenChar: US-ASCII except controls, space and the tspecials of RFC 2045.
func isTokenChar(c byte) bool {
	return c > ' ' && c < 0x7f && !strings.ContainsRune(`()<>@,;:\"/[]?=`, rune(c))
}

// stdQuery makes parseForm defer to url.ParseQuery when the process sets
// its own limit on the number of parameters (GODEBUG urlmaxqueryparams),
// which only ParseQuery knows.
var stdQuery = strings.Contains(os.Getenv("GODEBUG"), "urlmaxqueryparams")

// parseForm is url.ParseQuery(string(body)) with fewer allocations: the
// unescaped keys and values share one buffer, and the first value of each
// key one slice. It fails when ParseQuery would (a ';' in a pair, a bad
// %-escape); the map it would return alongside is not needed then.
func parseForm(body []byte) (url.Values, error) { return parseFormInto(body, nil, nil) }

// parseFormInto is parseForm using vals and buf for the values and the
// unescaped bytes when they are large enough. buf must not be written
// again while the result is in use: the strings are views of it.
func parseFormInto(body []byte, vals []string, buf []byte) (url.Values, error) {
	if stdQuery {
		return url.ParseQuery(string(body))
	}
	// First pass: validate, count the pairs and the unescaped bytes.
	pairs, size := 0, 0
	for rest := body; len(rest) > 0; {
		var pair []byte
		pair, rest = cutByte(rest, '&')
		if len(pair) == 0 {
			continue
		}
		if indexByte(pair, ';') >= 0 {
			return nil, errSimple("invalid semicolon separator in query")
		}
		n, ok := unescapedLen(pair) // key, '=' (one byte fewer) and value
		if !ok {
			return nil, errSimple("invalid URL escape")
		}
		pairs++
		size += n
	}
	form := make(url.Values, pairs)
	if pairs == 0 {
		return form, nil
	}
	if len(vals) < pairs {
		vals = make([]string, pairs)
	}
	if cap(buf) < size {
		buf = make([]byte, 0, size)
	}
	buf = buf[:0:size]
	// Second pass: unescape into buf, which never grows, so each string
	// made over its bytes stays valid and unchanged.
	i := 0
	for rest := body; len(rest) > 0; {
		var pair []byte
		pair, rest = cutByte(rest, '&')
		if len(pair) == 0 {
			continue
		}
		k, v := cutByte(pair, '=')
		var key, value string
		buf, key = appendUnescaped(buf, k)
		buf, value = appendUnescaped(buf, v)
		if old, ok := form[key]; ok {
			form[key] = append(old, value)
			continue
		}
		vals[i] = value
		form[key] = vals[i : i+1 : i+1]
		i++
	}
	return form, nil
}

func cutByte(b []byte, c byte) (before, after []byte) {
	if i := indexByte(b, c); i >= 0 {
		return b[:i], b[i+1:]
	}
	return b, nil
}

func indexByte(b []byte, c byte) int {
	for i, x := range b {
		if x == c {
			return i
		}
	}
	return -1
}

// unescapedLen is the length of pair's key and value once unescaped, and
// whether every %-escape in it is well formed.
func unescapedLen(pair []byte) (int, bool) {
	n, sep := 0, false
	for i := 0; i < len(pair); i++ {
		switch pair[i] {
		case '%':
			// An escape cannot straddle the first '=' (not a hex digit), so
			// checking the whole pair checks key and value alike.
			if i+2 >= len(pair) || !ishex(pair[i+1]) || !ishex(pair[i+2]) {
				return 0, false
			}
			i += 2
		case '=':
			if !sep {
				sep = true // the separator; later ones are value bytes
				continue
			}
		}
		n++
	}
	return n, true
}

// appendUnescaped appends s unescaped as url.QueryUnescape does ('+' is a
// space) and returns the string over the appended bytes.
func appendUnescaped(buf, s []byte) ([]byte, string) {
	start := len(buf)
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '%':
			buf = append(buf, unhex(s[i+1])<<4|unhex(s[i+2]))
			i += 2
		case '+':
			buf = append(buf, ' ')
		default:
			buf = append(buf, c)
		}
	}
	if len(buf) == start {
		return buf, ""
	}
	return buf, unsafe.String(&buf[start], len(buf)-start)
}

func ishex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case '0' <= c && c <= '9':
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}
