package twilio

import (
	"net/url"
	"slices"
)

// maxSortedKeys is how many form keys are sorted in a buffer on the stack; a
// form with more (none that the adapter builds) sorts a slice on the heap.
const maxSortedKeys = 32

// formLen is the length of v's form encoding: the length of url.Values.Encode,
// without building it.
func formLen(v url.Values) int {
	n := 0
	for k, vs := range v {
		kl := escapedLen(k)
		for _, s := range vs {
			if n > 0 {
				n++ // '&'
			}
			n += kl + 1 + escapedLen(s)
		}
	}
	return n
}

// appendForm appends v's form encoding to dst: byte for byte what
// url.Values.Encode gives (keys sorted, each escaped as url.QueryEscape does),
// without its intermediate strings.
func appendForm(dst []byte, v url.Values) []byte {
	if len(v) == 0 {
		return dst
	}
	var stack [maxSortedKeys]string
	keys := stack[:0]
	for k := range v {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	start := len(dst)
	for _, k := range keys {
		for _, s := range v[k] {
			if len(dst) > start {
				dst = append(dst, '&')
			}
			dst = appendQueryEscape(dst, k)
			dst = append(dst, '=')
			dst = appendQueryEscape(dst, s)
		}
	}
	return dst
}

// unreserved reports the bytes url.QueryEscape leaves as they are: letters,
// digits and "-_.~". A space becomes '+', everything else %XX.
func unreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '_' || c == '.' || c == '~'
}

func escapedLen(s string) int {
	n := len(s)
	for i := 0; i < len(s); i++ {
		if c := s[i]; c != ' ' && !unreserved(c) {
			n += 2
		}
	}
	return n
}

func appendQueryEscape(dst []byte, s string) []byte {
	const upperhex = "0123456789ABCDEF"
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case unreserved(c):
			dst = append(dst, c)
		case c == ' ':
			dst = append(dst, '+')
		default:
			dst = append(dst, '%', upperhex[c>>4], upperhex[c&15])
		}
	}
	return dst
}

// AppendForm appends v's form encoding to dst: byte for byte what
// url.Values.Encode returns (keys sorted, url.QueryEscape), without its
// intermediate strings; with a buffer of the caller's, no allocation at all
// (for example, to key duplicate suppression on the parameters).
func AppendForm(dst []byte, v url.Values) []byte { return appendForm(dst, v) }
