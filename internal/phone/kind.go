package phone

import "github.com/nyaruka/phonenumbers"

// The kinds of number Kind reports: the classes SMS pumping and toll fraud
// use, which the adapter refuses unless configured otherwise.
const (
	// KindPremiumRate: the caller pays a surcharge to the recipient (+1 900,
	// +44 9).
	KindPremiumRate = "premium_rate"
	// KindSharedCost: the caller pays part of the recipient's cost (+44 84).
	KindSharedCost = "shared_cost"
	// KindUAN: universal access ("company") numbers, routed on by the owner.
	KindUAN = "uan"
	// KindPersonalNumber: numbers that follow a person and forward anywhere
	// (+44 70, NANP 5XX area codes, which include Twilio's test numbers
	// +1 500 555 000X).
	KindPersonalNumber = "personal_number"
	// KindNonGeographic: every number of a calling code that belongs to no
	// country, which libphonenumber files under "001": +800 and +808
	// (international freephone and shared cost), +870 (Inmarsat), +878,
	// +881 (satellite), +882 and +883 (international networks), +888 and
	// +979 (international premium rate).
	KindNonGeographic = "non_geographic"
)

// RiskyKinds lists every value Kind returns other than "", in a stable order.
var RiskyKinds = []string{KindPremiumRate, KindSharedCost, KindUAN, KindPersonalNumber, KindNonGeographic}

// riskyTypes are the number types behind the first four kinds, in the same
// order.
var riskyTypes = [...]phonenumbers.PhoneNumberType{
	phonenumbers.PREMIUM_RATE, phonenumbers.SHARED_COST, phonenumbers.UAN, phonenumbers.PERSONAL_NUMBER,
}

// ValidKind reports whether s is one of RiskyKinds (exactly, in lower
// case); for configuration checks.
func ValidKind(s string) bool {
	for _, k := range RiskyKinds {
		if s == k {
			return true
		}
	}
	return false
}

// Kind returns the risky class of an E.164 number, one of RiskyKinds, or ""
// for every other number (mobile, fixed line, toll free, ...) and for input
// that is not "+" and digits with a known calling code.
//
// A non-geographic calling code gives KindNonGeographic whatever follows.
// Otherwise a valid number's class is libphonenumber's number type
// (GetNumberType). A number libphonenumber does not call valid (a lenient
// Normalizer lets possible ones through) is matched against the number type
// patterns of every region of its calling code: the type whose pattern
// follows its digits furthest wins, a risky type on a tie. So +1 900 000 0000,
// not valid because no exchange starts with 0, is still KindPremiumRate.
func Kind(e164 string) string {
	cc := CallingCode(e164)
	if cc == "" {
		return ""
	}
	code := atoi(cc)
	if nonGeographic(code) {
		return KindNonGeographic
	}
	if r, ok := results.get([]byte(e164)); ok {
		return r.kind
	}
	var num phonenumbers.PhoneNumber
	if err := phonenumbers.ParseToNumber(e164, phonenumbers.UNKNOWN_REGION, &num); err != nil {
		return ""
	}
	if typ := phonenumbers.GetNumberType(&num); typ != phonenumbers.UNKNOWN {
		return kindOfType(false, typ)
	}
	return kindOfType(false, typeByPrefix(code, phonenumbers.GetNationalSignificantNumber(&num)))
}

// nonGeographic reports whether calling code cc belongs to no region.
func nonGeographic(cc int) bool {
	regions := phonenumbers.GetRegionCodesForCountryCode(cc)
	return len(regions) == 1 && regions[0] == phonenumbers.REGION_CODE_FOR_NON_GEO_ENTITY
}

// kindOfType maps a number type to Kind's answer.
func kindOfType(nonGeo bool, typ phonenumbers.PhoneNumberType) string {
	if nonGeo {
		return KindNonGeographic
	}
	switch typ {
	case phonenumbers.PREMIUM_RATE:
		return KindPremiumRate
	case phonenumbers.SHARED_COST:
		return KindSharedCost
	case phonenumbers.UAN:
		return KindUAN
	case phonenumbers.PERSONAL_NUMBER:
		return KindPersonalNumber
	}
	return ""
}

// TypeOf returns libphonenumber's number type of an E.164 number
// (GetNumberType) as a snake_case word, for logs and metrics: "mobile",
// "fixed_line", "fixed_line_or_mobile", "toll_free", "premium_rate",
// "shared_cost", "voip", "personal_number", "pager", "uan", "voicemail", or
// "unknown" (not valid, or not "+" and digits). Where libphonenumber cannot
// tell a fixed line from a mobile (US, CA, ...) it says
// "fixed_line_or_mobile".
func TypeOf(e164 string) string {
	if CallingCode(e164) == "" {
		return typeWords[phonenumbers.UNKNOWN]
	}
	if r, ok := results.get([]byte(e164)); ok {
		return typeWord(r.typ)
	}
	var num phonenumbers.PhoneNumber
	if err := phonenumbers.ParseToNumber(e164, phonenumbers.UNKNOWN_REGION, &num); err != nil {
		return typeWords[phonenumbers.UNKNOWN]
	}
	return typeWord(phonenumbers.GetNumberType(&num))
}

var typeWords = [...]string{
	phonenumbers.FIXED_LINE:           "fixed_line",
	phonenumbers.MOBILE:               "mobile",
	phonenumbers.FIXED_LINE_OR_MOBILE: "fixed_line_or_mobile",
	phonenumbers.TOLL_FREE:            "toll_free",
	phonenumbers.PREMIUM_RATE:         "premium_rate",
	phonenumbers.SHARED_COST:          "shared_cost",
	phonenumbers.VOIP:                 "voip",
	phonenumbers.PERSONAL_NUMBER:      "personal_number",
	phonenumbers.PAGER:                "pager",
	phonenumbers.UAN:                  "uan",
	phonenumbers.VOICEMAIL:            "voicemail",
	phonenumbers.UNKNOWN:              "unknown",
}

func typeWord(typ phonenumbers.PhoneNumberType) string {
	if typ < 0 || int(typ) >= len(typeWords) {
		return typeWords[phonenumbers.UNKNOWN]
	}
	return typeWords[typ]
}
