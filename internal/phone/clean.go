package phone

import (
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/nyaruka/phonenumbers"
)

const (
	// maxInput caps the raw input before any work is done. The longest
	// reasonable spelling ("tel:+44 (0) 7700-900-123", "%2B1 (415) 555-2671")
	// is well under it.
	maxInput = 64
	// minDigits and maxDigits bound the digits of the input: no telephone
	// number is shorter than 4 digits even nationally, and the longest
	// E.164 number (15 digits) behind the longest international prefix
	// ("011", "0011") with a "(0)" is under 20.
	minDigits = 4
	maxDigits = 20
)

// input is a cleaned number: only ASCII digits, and whether it was written
// in international form (with a "+" or as NetIQ's "cc\national"). The digits
// live in an array so that cleaning and a cache hit allocate nothing.
type input struct {
	buf  [maxDigits]byte
	n    int
	plus bool
}

func (in *input) digits() []byte { return in.buf[:in.n] }

// clean checks raw and reduces it to digits and a plus flag. It removes what
// transports and directories add around a number (surrounding space,
// including the space a form decoder makes of a "+"; percent-encoding;
// "tel:"; punctuation) and rewrites NetIQ's "91\9876543210" as +919876543210.
// Anything else that is not a digit, a separator or a leading "+" rejects the
// input, so libphonenumber never sees letters (it would read "1-800-FLOWERS"
// as digits and pick a number out of "call me at 4155552671").
func clean(raw string) (input, error) {
	if len(raw) > maxInput {
		return input{}, fail(reasonTooLong)
	}
	s := strings.TrimSpace(raw)
	if strings.IndexByte(s, '%') >= 0 {
		// A value that was never URL-decoded: "%2B14155552671". PathUnescape
		// leaves a literal "+" alone, unlike QueryUnescape.
		u, err := url.PathUnescape(s)
		if err != nil || strings.IndexByte(u, '%') >= 0 {
			return input{}, fail(reasonChars) // malformed or encoded twice
		}
		s = strings.TrimSpace(u)
	}
	if len(s) >= 4 && strings.EqualFold(s[:4], "tel:") {
		s = strings.TrimSpace(s[4:])
		if i := strings.IndexByte(s, ';'); i >= 0 {
			// RFC 3966 parameters. Only an extension is worth naming.
			if strings.Contains(strings.ToLower(s[i:]), ";ext=") {
				return input{}, fail(reasonExtension)
			}
			return input{}, fail(reasonChars)
		}
	}
	if s == "" {
		return input{}, fail(reasonEmpty)
	}
	if i := strings.IndexByte(s, '\\'); i >= 0 {
		return netIQ(s, i)
	}
	return scan(s)
}

// netIQ reads NetIQ Advanced Authentication's "<country code>\<national
// number>" ("91\9191919191", also seen with a "+"). The national part may
// carry its trunk prefix ("44\07700900123"); libphonenumber strips it.
func netIQ(s string, i int) (input, error) {
	cc := strings.TrimSpace(strings.TrimPrefix(s[:i], "+"))
	if cc == "" || len(cc) > 3 || cc[0] == '0' || !asciiDigits(cc) {
		return input{}, fail(reasonChars)
	}
	in, err := scan(strings.TrimSpace(s[i+1:]))
	if err != nil {
		return input{}, err
	}
	if in.plus {
		return input{}, fail(reasonChars) // "91\+91..."
	}
	if in.n+len(cc) > maxDigits {
		return input{}, fail(reasonTooLong)
	}
	copy(in.buf[len(cc):], in.buf[:in.n])
	copy(in.buf[:], cc)
	in.n += len(cc)
	in.plus = true
	return in, nil
}

// scan collects the digits of s and checks every other character.
func scan(s string) (input, error) {
	var (
		in      input
		letters bool
		other   bool
	)
	for i, r := range s {
		switch {
		case r == '+' || r == '\uFF0B':
			// A single plus, before any digit: "+1 ...", "(+44) 7700 ...".
			if in.plus || in.n > 0 || (i > 0 && s[0] != '(') {
				other = true
			}
			in.plus = true
		case digitValue(r) >= 0:
			if in.n == len(in.buf) {
				return input{}, fail(reasonTooLong)
			}
			in.buf[in.n] = byte('0' + digitValue(r))
			in.n++
		case unicode.IsLetter(r):
			letters = true
		case isSeparator(r):
		default:
			if r == utf8.RuneError {
				return input{}, fail(reasonChars)
			}
			other = true
		}
	}
	switch {
	case letters:
		// An extension ("x123", "ext. 12") is the one kind of letters that
		// comes from a directory in good faith; say so.
		if num, ext := phonenumbers.MaybeSeparateExtensionFromPhone(s); ext != "" && !hasLetter(num) {
			return input{}, fail(reasonExtension)
		}
		return input{}, fail(reasonLetters)
	case other:
		return input{}, fail(reasonChars)
	case in.n == 0:
		return input{}, fail(reasonInvalid)
	case in.n < minDigits:
		return input{}, fail(reasonTooShort)
	}
	return in, nil
}

// digitValue returns the value of the digits libphonenumber understands:
// ASCII, full-width and Arabic-Indic (both forms). Other scripts' digits are
// rejected rather than guessed.
func digitValue(r rune) int {
	switch {
	case r >= '0' && r <= '9':
		return int(r - '0')
	case r >= '\uFF10' && r <= '\uFF19':
		return int(r - '\uFF10')
	case r >= '\u0660' && r <= '\u0669':
		return int(r - '\u0660')
	case r >= '\u06F0' && r <= '\u06F9':
		return int(r - '\u06F0')
	}
	return -1
}

// isSeparator reports the punctuation people put between digits; the same set
// libphonenumber accepts (its VALID_PUNCTUATION without "x").
func isSeparator(r rune) bool {
	switch r {
	case '-', '.', '(', ')', '[', ']', '/', '~',
		'\u00AD', '\u200B', '\u2060', // soft hyphen, zero-width space and word joiner
		'\u2053', '\u223C', '\u30FC', // swung dash, tilde operator, katakana long sound
		'\uFF08', '\uFF09', '\uFF3B', '\uFF3D', '\uFF5E', // full-width ( ) [ ] ~
		'\uFF0D', '\uFF0E', '\uFF0F', // full-width - . /
		'\u2212': // minus sign
		return true
	}
	return unicode.IsSpace(r) || unicode.Is(unicode.Pd, r)
}

func asciiDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func hasLetter(s string) bool {
	for _, r := range s {
		if unicode.IsLetter(r) {
			return true
		}
	}
	return false
}
