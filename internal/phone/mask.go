package phone

import "strings"

// bullets replaces the hidden digits. It is always four, whatever their
// number, so a masked number does not tell its length either.
const bullets = "••••"

// Mask hides the middle of a number for logs: "+447700900123" -> "+4477••••123" (keep "+", up to
// the first 4 digits and the last 3; at least 4 digits are always masked; short inputs are masked
// except the last 2). Never panics, works on any string (non-numbers are fully masked to "•••").
//
// In detail: a number is an optional "+" and ASCII digits, possibly with the
// separators " -.()/" (which are dropped), as a directory or a product would
// write it. With 8 digits or more the first min(4, digits-7) and the last 3 are
// kept; with 5 to 7 digits only the last 1 or 2; with 4 or fewer none. The
// hidden digits are always shown as "••••".
func Mask(s string) string {
	s = strings.TrimSpace(s)
	plus := strings.HasPrefix(s, "+")
	if plus {
		s = s[1:]
	}
	var (
		buf [maxInput]byte
		n   int
	)
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			if n == len(buf) {
				return "•••"
			}
			buf[n] = c
			n++
		case c == ' ' || c == '-' || c == '.' || c == '(' || c == ')' || c == '/':
		default:
			return "•••"
		}
	}
	if n == 0 {
		return "•••"
	}
	head, tail := 0, 0
	if n >= 8 {
		head, tail = min(4, n-7), 3
	} else {
		tail = max(0, min(2, n-4))
	}
	var b strings.Builder
	b.Grow(1 + head + len(bullets) + tail)
	if plus {
		b.WriteByte('+')
	}
	b.Write(buf[:head])
	b.WriteString(bullets)
	b.Write(buf[n-tail : n])
	return b.String()
}
