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
	region := n.region()
	var kb [2 + maxDigits]byte
	key := cacheKey(kb[:0], &in, region)
	if r, ok := results.get(key); ok {
		return r.e164, nil
	}
	r, valid, err := n.normalize(&in, region)
	if err != nil {
		return "", err
	}
	if valid {
		results.put(string(key), r)
		if string(key) != r.e164 {
			results.put(r.e164, r) // for Normalize(r.e164) and Region(r.e164)
		}
	}
	return r.e164, nil
}

// cacheKey appends the cache key of in to b (see cache.go).
func cacheKey(b []byte, in *input, region string) []byte {
	switch {
	case in.plus:
		b = append(b, '+')
	case region == "":
		b = append(b, "--"...)
	default:
		b = append(b, region...)
	}
	return append(b, in.digits()...)
}

// attempt is one reading of a number: a text for libphonenumber and the
// region to read it in.
type attempt struct {
	text   string
	region string
}

// normalize tries the readings of a cleaned number in order (see the package
// documentation) and returns the first valid one. In lenient mode, when none
// is valid, it returns the first possible one (valid false): a valid reading
// always wins over a merely possible one.
func (n Normalizer) normalize(in *input, region string) (r result, valid bool, err error) {
	digits := string(in.digits())
	var attempts [3]attempt
	tries := attempts[:0]
	explain := -1 // the reading whose failure is reported
	if in.plus {
		tries = append(tries, attempt{"+" + digits, phonenumbers.UNKNOWN_REGION})
		explain = 0
	} else {
		if region != "" {
			tries = append(tries, attempt{digits, region})
			explain = 0
		}
		if strings.HasPrefix(digits, "00") && digits[2] != '0' {
			explain = len(tries)
			tries = append(tries, attempt{"+" + digits[2:], phonenumbers.UNKNOWN_REGION})
		}
		if digits[0] != '0' {
			tries = append(tries, attempt{"+" + digits, phonenumbers.UNKNOWN_REGION})
		}
	}

	var (
		nums [len(attempts)]phonenumbers.PhoneNumber
		errs [len(attempts)]error
	)
	for i, t := range tries {
		errs[i] = phonenumbers.ParseToNumber(t.text, t.region, &nums[i])
		if errs[i] != nil || nums[i].GetExtension() != "" {
			continue
		}
		// IsValidNumber, keeping the region it finds on the way.
		if region := phonenumbers.GetRegionCodeForNumber(&nums[i]); phonenumbers.IsValidNumberForRegion(&nums[i], region) {
			r, err := e164(&nums[i], region)
			return r, err == nil, err
		}
	}
	if n.Lenient {
		for i := range tries {
			if errs[i] == nil && nums[i].GetExtension() == "" && possible(&nums[i]) {
				if r, err := e164(&nums[i], ""); err == nil && stable(r.e164) {
					return r, false, nil
				}
			}
		}
	}

	// Explain the failure of the reading the writer most likely meant: the
	// only one for "+..."; the "00" one for "00..."; else the national one.
	// Digits with no "+", no "00" and no region that are not a valid
	// international number were most likely written nationally.
	switch {
	case explain < 0:
		return result{}, false, fail(reasonNoRegion)
	case errs[explain] != nil:
		return result{}, false, fail(parseReason(errs[explain]))
	default:
		return result{}, false, fail(validationReason(&nums[explain]))
	}
}

func possible(num *phonenumbers.PhoneNumber) bool {
	return phonenumbers.IsPossibleNumberWithReason(num) == phonenumbers.IS_POSSIBLE
}

// stable reports whether a merely possible E.164 result reads back as
// itself, so that Normalize(result) == result. Numbers nobody has assigned
// can still start with the national prefix: "+61000000" reads back as
// "+6100000" because "0" is stripped again. Valid numbers do not do this.
func stable(e164 string) bool {
	var num phonenumbers.PhoneNumber
	return phonenumbers.ParseToNumber(e164, phonenumbers.UNKNOWN_REGION, &num) == nil &&
		possible(&num) && phonenumbers.Format(&num, phonenumbers.E164) == e164
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
func e164(num *phonenumbers.PhoneNumber, region string) (result, error) {
	s := phonenumbers.Format(num, phonenumbers.E164)
	if !isE164(s) {
		return result{}, fail(reasonInvalid)
	}
	return result{e164: s, region: realRegion(region)}, nil
}

// isE164 reports whether s matches ^\+[1-9][0-9]{6,14}$.
func isE164(s string) bool {
	return len(s) >= 8 && len(s) <= 16 && s[0] == '+' && s[1] != '0' && asciiDigits(s[1:])
}
