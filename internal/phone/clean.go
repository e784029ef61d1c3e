package phone

import (
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"
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
	// maxExtension bounds the digits of an extension that is dropped.
	// Longer runs after "x" are not an extension; the letter is refused.
	maxExtension = 10
)

// input is a cleaned number: only ASCII digits, whether it was written in
// international form (with a "+", a space a form decoder made of one, or as
// NetIQ's "cc\national"), and how many of its last digits followed the last
// "/" or "~" and so may be an extension. The digits live in an array so that
// cleaning and a cache hit allocate nothing.
type input struct {
	buf  [maxDigits]byte
	n    int
	ext  int // trailing digits after the last "/" or "~", 0 if none
	plus bool
}

func (in *input) digits() []byte { return in.buf[:in.n] }

// head returns the digits before the last "/" or "~" (only when in.ext > 0).
func (in *input) head() []byte { return in.buf[:in.n-in.ext] }

// clean checks raw and reduces it to digits and a plus flag. It removes what
// transports and directories add around a number (surrounding space;
// percent-encoding; "tel:"; punctuation; an extension) and rewrites NetIQ's
// "91\9876543210" as +919876543210. White space before the first digit is
// the "+" a form decoder turned into a space, and makes the number
// international. Anything else that is not a digit, a separator or a leading
// "+" rejects the input, so libphonenumber never sees letters (it would read
// "1-800-FLOWERS" as digits and pick a number out of "call me at
// 4155552671").
func clean(raw string) (input, error) {
	if len(raw) > maxInput {
		return input{}, fail(reasonTooLong)
	}
	s := raw
	if strings.IndexByte(s, '%') >= 0 {
		// A value that was never URL-decoded: "%2B14155552671". PathUnescape
		// leaves a literal "+" alone, unlike QueryUnescape.
		u, err := url.PathUnescape(s)
		if err != nil || strings.IndexByte(u, '%') >= 0 {
			return input{}, fail(reasonChars) // malformed or encoded twice
		}
		s = u
	}
	decodedPlus := spaceBeforeDigit(s)
	s = strings.TrimSpace(s)
	if len(s) >= 4 && strings.EqualFold(s[:4], "tel:") {
		s = strings.TrimSpace(s[4:])
	}
	if s == "" {
		return input{}, fail(reasonEmpty)
	}
	s = dropExtension(s)
	if strings.IndexByte(s, ';') >= 0 {
		// RFC 3966 parameters other than a final ";ext=": "phone-context"
		// and "isub" say the digits alone are not the number.
		return input{}, fail(reasonChars)
	}
	var (
		in  input
		err error
	)
	if i := strings.IndexByte(s, '\\'); i >= 0 {
		in, err = netIQ(s, i)
	} else {
		in, err = scan(s)
	}
	if err != nil {
		return input{}, err
	}
	in.plus = in.plus || decodedPlus
	return in, nil
}

// spaceBeforeDigit reports whether the first digit of s comes right after
// white space: " 4792345678", "( 44) 7400 123456", "tel: 1...", the "+" a
// form decoder turned into a space sits just before the country code. White
// space before other characters (" (201) 555-0123") is only white space.
func spaceBeforeDigit(s string) bool {
	space := false
	for _, r := range s {
		switch {
		case digitValue(r) >= 0:
			return space
		case unicode.IsSpace(r):
			space = true
		default:
			space = false
		}
	}
	return false
}

// extensionMarkers are the words that introduce an extension, longest
// first; any case, optionally followed by "." or ":".
var extensionMarkers = [...]string{"extension", "extn", "ext", "x"}

// dropExtension returns s without a trailing extension, which SMS cannot
// reach: ";ext=12", "#12", "x12", "ext. 12", "extn: 12", "extension 12" (1 to
// maxExtension digits; a marker word must not follow a letter, so "fax 12"
// keeps its letters and is refused). Anything else is returned unchanged.
// An extension after "/" or "~" is not dropped here: those characters also
// separate parts of a number ("0171/1234567"); see scan.
func dropExtension(s string) string {
	j, nd := len(s), 0
	for j > 0 {
		r, size := utf8.DecodeLastRuneInString(s[:j])
		if digitValue(r) < 0 {
			break
		}
		j -= size
		nd++
	}
	if nd == 0 || nd > maxExtension {
		return s
	}
	rest := s[:j]
	if hasSuffixFold(rest, ";ext=") {
		return trimRightSpace(rest[:len(rest)-len(";ext=")])
	}
	rest = trimRightSpace(rest)
	if strings.HasSuffix(rest, "#") {
		return trimRightSpace(rest[:len(rest)-1])
	}
	if strings.HasSuffix(rest, ".") || strings.HasSuffix(rest, ":") {
		rest = rest[:len(rest)-1]
	}
	for _, m := range extensionMarkers {
		if !hasSuffixFold(rest, m) {
			continue
		}
		main := rest[:len(rest)-len(m)]
		if r, _ := utf8.DecodeLastRuneInString(main); main == "" || unicode.IsLetter(r) {
			return s
		}
		return trimRightSpace(main)
	}
	return s
}

func hasSuffixFold(s, suffix string) bool {
	return len(s) >= len(suffix) && strings.EqualFold(s[len(s)-len(suffix):], suffix)
}

func trimRightSpace(s string) string { return strings.TrimRightFunc(s, unicode.IsSpace) }

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

// scan collects the digits of s and checks every other character. It notes
// how many digits follow the last "/" or "~" when only digits and white
// space do ("415-555-2671 / 2", but also "0171/1234567"): the caller decides
// whether they are an extension.
func scan(s string) (input, error) {
	var (
		in      input
		letters bool
		other   bool
		slash   = -1 // digits before the last "/" or "~"
		tail    bool // only digits and white space since then
	)
	for i, r := range s {
		switch {
		case r == '+' || r == '\uFF0B':
			// A single plus, before any digit: "+1 ...", "(+44) 7400 ...".
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
		case isSlash(r):
			slash, tail = in.n, true
		case isSeparator(r):
			tail = tail && unicode.IsSpace(r)
		default:
			if r == utf8.RuneError {
				return input{}, fail(reasonChars)
			}
			other = true
		}
	}
	switch {
	case letters:
		return input{}, fail(reasonLetters)
	case other:
		return input{}, fail(reasonChars)
	case in.n == 0:
		return input{}, fail(reasonInvalid)
	case in.n < minDigits:
		return input{}, fail(reasonTooShort)
	}
	if slash > 0 && tail && in.n > slash {
		in.ext = in.n - slash
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

// isSlash reports the separators that directories also put before an
// extension: "/" and "~" and their Unicode variants.
func isSlash(r rune) bool {
	switch r {
	case '/', '~',
		'\u2053', '\u223C', // swung dash, tilde operator
		'\uFF0F', '\uFF5E': // full-width / ~
		return true
	}
	return false
}

// isSeparator reports the punctuation people put between digits; the same set
// libphonenumber accepts (its VALID_PUNCTUATION without "x"), less isSlash.
func isSeparator(r rune) bool {
	switch r {
	case '-', '.', '(', ')', '[', ']',
		'\u00AD', '\u200B', '\u2060', // soft hyphen, zero-width space and word joiner
		'\u30FC',                               // katakana long sound
		'\uFF08', '\uFF09', '\uFF3B', '\uFF3D', // full-width ( ) [ ]
		'\uFF0D', '\uFF0E', // full-width - .
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
