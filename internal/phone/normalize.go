package phone

import (
	"strings"

	"github.com/nyaruka/phonenumbers"
)

// Normalizer turns a phone number as a product sends it into E.164.
// The zero value is ready to use and safe for concurrent use.
type Normalizer struct {
	// DefaultRegion is the ISO 3166-1 alpha-2 region ("US", "GB", "IN") used for numbers
	// written in national format. Empty means national formats are rejected
	// (digits without + are then read as international: country code first).
	// Case does not matter. A code ValidRegion rejects is treated as empty;
	// check it with ValidRegion when provisioning.
	DefaultRegion string
	// Lenient accepts numbers that are possible (right length for the country) but not
	// assigned according to libphonenumber's metadata. Default false: strict validity.
	Lenient bool
}

// Normalize returns raw in E.164 ("+14155552671") or an *Error. The error text never contains raw.
func (n Normalizer) Normalize(raw string) (string, error) {
	in, err := clean(raw)
	if err != nil {
		return "", err
	}
	return n.normalize(in)
}

// attempt is one reading of a number: a text for libphonenumber and the
// region to read it in.
type attempt struct {
	text   string
	region string
}

// normalize tries the readings of a cleaned number in order (see the package
// documentation) and returns the first valid one. In lenient mode, when none
// is valid, it returns the first possible one: a valid reading always wins
// over a merely possible one.
func (n Normalizer) normalize(in input) (string, error) {
	var attempts [3]attempt
	tries := attempts[:0]
	explain := -1 // the reading whose failure is reported
	if in.plus {
		tries = append(tries, attempt{in.text(), phonenumbers.UNKNOWN_REGION})
		explain = 0
	} else {
		if region := n.region(); region != "" {
			tries = append(tries, attempt{in.digits, region})
			explain = 0
		}
		if strings.HasPrefix(in.digits, "00") && in.digits[2] != '0' {
			explain = len(tries)
			tries = append(tries, attempt{"+" + in.digits[2:], phonenumbers.UNKNOWN_REGION})
		}
		if in.digits[0] != '0' {
			tries = append(tries, attempt{"+" + in.digits, phonenumbers.UNKNOWN_REGION})
		}
	}

	var (
		nums [len(attempts)]phonenumbers.PhoneNumber
		errs [len(attempts)]error
	)
	for i, t := range tries {
		errs[i] = phonenumbers.ParseToNumber(t.text, t.region, &nums[i])
		if errs[i] == nil && nums[i].GetExtension() == "" && phonenumbers.IsValidNumber(&nums[i]) {
			return e164(&nums[i])
		}
	}
	if n.Lenient {
		for i := range tries {
			if errs[i] == nil && nums[i].GetExtension() == "" &&
				phonenumbers.IsPossibleNumberWithReason(&nums[i]) == phonenumbers.IS_POSSIBLE {
				return e164(&nums[i])
			}
		}
	}

	// Explain the failure of the reading the writer most likely meant: the
	// only one for "+..."; the "00" one for "00..."; else the national one.
	// Digits with no "+", no "00" and no region that are not a valid
	// international number were most likely written nationally.
	switch {
	case explain < 0:
		return "", fail(reasonNoRegion)
	case errs[explain] != nil:
		return "", fail(parseReason(errs[explain]))
	default:
		return "", fail(validationReason(&nums[explain]))
	}
}

// region returns DefaultRegion in upper case, or "" if it is not a region.
func (n Normalizer) region() string {
	if n.DefaultRegion == "" {
		return ""
	}
	r := strings.ToUpper(n.DefaultRegion)
	if !ValidRegion(r) {
		return ""
	}
	return r
}

// e164 formats num and checks the result has the E.164 shape: "+", a
// non-zero digit, 7 to 15 digits in all.
func e164(num *phonenumbers.PhoneNumber) (string, error) {
	s := phonenumbers.Format(num, phonenumbers.E164)
	if !isE164(s) {
		return "", fail(reasonInvalid)
	}
	return s, nil
}

// isE164 reports whether s matches ^\+[1-9][0-9]{6,14}$.
func isE164(s string) bool {
	return len(s) >= 8 && len(s) <= 16 && s[0] == '+' && s[1] != '0' && asciiDigits(s[1:])
}
