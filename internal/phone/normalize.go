package phone

import (
	"strings"

	"github.com/nyaruka/phonenumbers"
)

// The values of Normalizer.Assume.
const (
	// AssumeInternational reads digits without a "+" only as international:
	// after "00", or country code first.
	AssumeInternational = "international"
	// AssumeNational reads digits without a "+" only as a national number
	// of DefaultRegion (which libphonenumber also lets carry the region's
	// own international prefix, "011" from the US).
	AssumeNational = "national"
)

// ValidAssume reports whether s is a value for Normalizer.Assume: "" (both
// readings, ambiguity refused), AssumeInternational or AssumeNational. Case
// does not matter. Used at provisioning.
func ValidAssume(s string) bool {
	return s == "" || strings.EqualFold(s, AssumeInternational) || strings.EqualFold(s, AssumeNational)
}

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
	// Assume says how the product writes numbers without a "+":
	// AssumeInternational, AssumeNational (needs DefaultRegion), or "" for
	// both, in which case digits that read as two different numbers are
	// refused. A "+", a space a form decoder made of one, and NetIQ's
	// "cc\national" are international whatever Assume says. Case does not
	// matter; a value ValidAssume rejects is treated as "".
	Assume string
}

// Reading modes, from Normalizer.Assume; also the first byte of a cache key
// for input without a "+".
const (
	modeAuto          = 'a'
	modeInternational = 'i'
	modeNational      = 'n'
)

func (n Normalizer) mode() byte {
	switch {
	case n.Assume == "":
		return modeAuto
	case strings.EqualFold(n.Assume, AssumeInternational):
		return modeInternational
	case strings.EqualFold(n.Assume, AssumeNational):
		return modeNational
	}
	return modeAuto
}

// Normalize returns raw in E.164 ("+14155552671") or an *Error. The error text never contains raw.
func (n Normalizer) Normalize(raw string) (string, error) {
	in, err := clean(raw)
	if err != nil {
		return "", err
	}
	region, mode := n.region(), n.mode()
	var kb [maxKey]byte
	key := cacheKey(kb[:0], &in, region, mode)
	if r, ok := results.get(key); ok {
		return r.e164, nil
	}
	r, valid, err := n.normalize(&in, region, mode)
	if err != nil {
		return "", err
	}
	if valid {
		results.put(string(key), r)
		if string(key) != r.e164 {
			results.put(r.e164, r) // for Normalize(r.e164), Region, Kind and TypeOf
		}
	}
	return r.e164, nil
}

// maxKey is the longest cache key: mode, region, digits and a "/".
const maxKey = 1 + 2 + maxDigits + 1

// cacheKey appends the cache key of in to b (see cache.go).
func cacheKey(b []byte, in *input, region string, mode byte) []byte {
	switch {
	case in.plus:
		b = append(b, '+')
	case region == "":
		b = append(b, mode, '-', '-')
	default:
		b = append(b, mode)
		b = append(b, region...)
	}
	if in.ext == 0 {
		return append(b, in.digits()...)
	}
	b = append(b, in.head()...)
	b = append(b, '/')
	return append(b, in.buf[in.n-in.ext:in.n]...)
}

// attempt is one reading of a number: a text for libphonenumber and the
// region to read it in.
type attempt struct {
	text   string
	region string
}

// readings returns the readings of digits (see the package documentation)
// and the index of the one whose failure is reported when none is accepted,
// or -1 with the reason to give instead.
func readings(digits string, plus bool, region string, mode byte) (tries [3]attempt, n int, explain int, reason string) {
	add := func(t attempt) int {
		tries[n] = t
		n++
		return n - 1
	}
	explain = -1
	if plus {
		explain = add(attempt{"+" + digits, phonenumbers.UNKNOWN_REGION})
		return tries, n, explain, ""
	}
	if mode != modeInternational && region != "" {
		explain = add(attempt{digits, region})
	}
	if mode != modeNational {
		if len(digits) > 2 && digits[0] == '0' && digits[1] == '0' && digits[2] != '0' {
			// The writer most likely meant "00" as an international prefix.
			explain = add(attempt{"+" + digits[2:], phonenumbers.UNKNOWN_REGION})
		}
		if digits[0] != '0' {
			i := add(attempt{"+" + digits, phonenumbers.UNKNOWN_REGION})
			if mode == modeInternational && explain < 0 {
				explain = i
			}
		}
	}
	switch {
	case explain >= 0:
	case mode == modeInternational:
		// "0..." with no "00" and a country code after it: no country code
		// starts with 0.
		reason = reasonCountry
	default:
		// Digits with no "+", no "00" and no region that are not a valid
		// international number were most likely written nationally.
		reason = reasonNoRegion
	}
	return tries, n, explain, reason
}

// candidate collects the accepted readings of one digit string: the
// distinct valid ones and, in lenient mode, the distinct possible ones that
// read back as themselves.
type candidate struct {
	valid, possible []result
	err             error // why the reading the writer most likely meant failed
}

func addResult(list []result, r result) []result {
	for _, x := range list {
		if x.e164 == r.e164 {
			return list
		}
	}
	return append(list, r)
}

// read computes every reading of digits.
func read(digits string, plus bool, region string, mode byte, lenient bool) candidate {
	var (
		c    candidate
		nums [3]phonenumbers.PhoneNumber
		errs [3]error
	)
	tries, n, explain, reason := readings(digits, plus, region, mode)
	for i, t := range tries[:n] {
		num := &nums[i]
		errs[i] = phonenumbers.ParseToNumber(t.text, t.region, num)
		if errs[i] != nil || num.GetExtension() != "" {
			continue
		}
		if typ := phonenumbers.GetNumberType(num); typ != phonenumbers.UNKNOWN {
			// Valid: GetNumberType is IsValidNumber's test.
			c.valid = addResult(c.valid, newResult(num, typ))
		} else if lenient && possible(num) {
			if r := newResult(num, typ); stable(r.e164) {
				c.possible = addResult(c.possible, r)
			}
		}
	}
	switch {
	case len(c.valid) > 0:
	case explain < 0:
		c.err = fail(reason)
	case errs[explain] != nil:
		c.err = fail(parseReason(errs[explain]))
	default:
		c.err = fail(validationReason(&nums[explain]))
	}
	return c
}

// normalize reads a cleaned number every way it can be read (see the package
// documentation) and returns the one valid result; in lenient mode, when none
// is valid, the one possible result (valid false). Two different results are
// refused, never chosen between.
func (n Normalizer) normalize(in *input, region string, mode byte) (r result, valid bool, err error) {
	digits := string(in.digits())
	var cands [2]candidate
	cands[0] = read(digits, in.plus, region, mode, n.Lenient)
	c := cands[:1]
	if in.ext > 0 {
		// The digits after the last "/" or "~" are an extension if the
		// digits before it are a number.
		cands[1] = read(digits[:in.n-in.ext], in.plus, region, mode, n.Lenient)
		c = cands[:2]
	}
	if r, ok, err := pick(c, true); ok || err != nil {
		return r, err == nil, err
	}
	if n.Lenient {
		if r, ok, err := pick(c, false); ok || err != nil {
			return r, false, err
		}
	}
	return result{}, false, cands[0].err
}

// pick returns the one valid (or possible) result of the candidates, false
// if there is none, or an error if there is more than one.
func pick(cands []candidate, valid bool) (r result, ok bool, err error) {
	for _, c := range cands {
		list := c.possible
		if valid {
			list = c.valid
		}
		switch {
		case len(list) == 0:
		case len(list) > 1:
			return result{}, false, fail(reasonAmbiguous)
		case ok && list[0].e164 != r.e164:
			return result{}, false, fail(reasonAmbiguousExtension)
		default:
			r, ok = list[0], true
		}
	}
	if ok && !isE164(r.e164) {
		return result{}, false, fail(reasonInvalid)
	}
	return r, ok, nil
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
	return isE164(e164) && phonenumbers.ParseToNumber(e164, phonenumbers.UNKNOWN_REGION, &num) == nil &&
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

// newResult formats num, of type typ, as a result. Its region and kind are
// only filled in for valid numbers: those are the results that are cached.
func newResult(num *phonenumbers.PhoneNumber, typ phonenumbers.PhoneNumberType) result {
	r := result{e164: phonenumbers.Format(num, phonenumbers.E164), typ: typ}
	if typ != phonenumbers.UNKNOWN {
		region := phonenumbers.GetRegionCodeForNumber(num)
		r.region = realRegion(region)
		r.kind = kindOfType(region == phonenumbers.REGION_CODE_FOR_NON_GEO_ENTITY, typ)
	}
	return r
}

// isE164 reports whether s matches ^\+[1-9][0-9]{6,14}$.
func isE164(s string) bool {
	return len(s) >= 8 && len(s) <= 16 && s[0] == '+' && s[1] != '0' && asciiDigits(s[1:])
}
