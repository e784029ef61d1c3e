package phone

import "strings"

// NormalizeSender is like Normalize but also accepts what Twilio accepts as a sender:
// short codes (3 to 8 digits, returned as digits only), alphanumeric sender IDs
// (1 to 11 characters of letters, digits and spaces with at least one letter, returned as is),
// and NetIQ's "91\9191919191" (country code, backslash, national number).
//
// Surrounding white space is ignored for short codes and sender IDs, so
// " ACME " gives "ACME". A short code may be written with spaces or hyphens
// ("12 345"). Anything else goes through Normalize as it came, so that a
// space a form decoder made of a "+" still means "+"; Normalize also reads
// the NetIQ form.
func (n Normalizer) NormalizeSender(raw string) (string, error) {
	if len(raw) > maxInput {
		return "", fail(reasonTooLong)
	}
	s := strings.TrimSpace(raw)
	if code, ok := shortCode(s); ok {
		return code, nil
	}
	if IsAlphanumericSenderID(s) {
		return s, nil
	}
	return n.Normalize(raw) // raw: a leading space may be a decoded "+"
}

// shortCode returns the digits of s if s is 3 to 8 ASCII digits, optionally
// separated by spaces or hyphens.
func shortCode(s string) (string, bool) {
	var (
		buf [8]byte
		n   int
	)
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			if n == len(buf) {
				return "", false
			}
			buf[n] = c
			n++
		case (c == ' ' || c == '-') && n > 0:
		default:
			return "", false
		}
	}
	if n < 3 {
		return "", false
	}
	if n == len(s) {
		return s, true
	}
	return string(buf[:n]), true
}

// IsAlphanumericSenderID reports whether s is an alphanumeric sender ID: 1
// to 11 ASCII letters, digits and spaces, at least one of them a letter.
func IsAlphanumericSenderID(s string) bool {
	if len(s) == 0 || len(s) > 11 {
		return false
	}
	letter := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
			letter = true
		case c >= '0' && c <= '9', c == ' ':
		default:
			return false
		}
	}
	return letter
}
