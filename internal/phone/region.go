package phone

import (
	"strings"

	"github.com/nyaruka/phonenumbers"
)

// ValidRegion reports whether code is a region libphonenumber knows ("US", "GB"); used at provisioning.
// Case does not matter. The pseudo-regions "ZZ" (unknown) and "001" (non-geographic) are not regions.
func ValidRegion(code string) bool {
	if len(code) != 2 {
		return false
	}
	code = strings.ToUpper(code)
	return code != phonenumbers.UNKNOWN_REGION && phonenumbers.GetSupportedRegions()[code]
}

// Region returns the ISO region of an E.164 number ("IN" for +91...), "" if unknown. For geo allow/deny lists.
//
// A calling code used by one region gives that region even when the number is
// not valid (a lenient Normalizer may let such numbers through). A calling
// code shared by several regions (+1: US, CA, JM, ...; +44: GB, GG, IM, JE;
// +7: RU, KZ; +47, +61, +212, +262, +290, +358, +590, +599) gives
// libphonenumber's region for a valid number, and otherwise the region whose
// leading digits the number starts with (JM for +1 876) or, failing that, the
// one region whose number patterns follow the number furthest, through at
// least its area code: a merely possible +1 number with a Canadian area code
// is "CA". When no single region does (an unassigned area code; +1 900 and
// other ranges every NANPA region lists), Region returns "", and so it does
// for non-geographic codes (+800, +882, ...).
func Region(e164 string) string {
	cc := CallingCode(e164)
	if cc == "" {
		return ""
	}
	regions := phonenumbers.GetRegionCodesForCountryCode(atoi(cc))
	if len(regions) == 1 {
		return realRegion(regions[0])
	}
	if r, ok := results.get([]byte(e164)); ok {
		return r.region
	}
	return regionOf(e164)
}

// regionOf finds the region of a number whose calling code several regions
// share; Region without the cache.
func regionOf(e164 string) string {
	var num phonenumbers.PhoneNumber
	if err := phonenumbers.ParseToNumber(e164, phonenumbers.UNKNOWN_REGION, &num); err != nil {
		return ""
	}
	// Valid for a region, or starting with a region's leading digits.
	if r := phonenumbers.GetRegionCodeForNumber(&num); r != "" {
		return realRegion(r)
	}
	return regionByPrefix(int(num.GetCountryCode()), phonenumbers.GetNationalSignificantNumber(&num),
		phonenumbers.GetLengthOfNationalDestinationCode(&num))
}

func realRegion(r string) string {
	if len(r) != 2 || r == phonenumbers.UNKNOWN_REGION {
		return "" // "001" for non-geographic numbers
	}
	return r
}

// CallingCode returns the country calling code digits of an E.164 number ("91", "1", "44"), "" if unknown.
// e164 must be "+" and digits only (at most 15), as Normalize returns.
func CallingCode(e164 string) string {
	if len(e164) < 2 || len(e164) > 16 || e164[0] != '+' || !asciiDigits(e164[1:]) {
		return ""
	}
	codes := phonenumbers.GetSupportedCallingCodes()
	// Calling codes are a prefix code: at most one of 1, 2 or 3 digits matches.
	for l := 1; l <= 3 && l < len(e164); l++ {
		if cc := e164[1 : 1+l]; codes[atoi(cc)] {
			return cc
		}
	}
	return ""
}

// atoi converts up to three ASCII digits.
func atoi(s string) int {
	v := 0
	for i := 0; i < len(s); i++ {
		v = v*10 + int(s[i]-'0')
	}
	return v
}
