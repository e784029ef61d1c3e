package phone

import "github.com/nyaruka/phonenumbers"

// Error is returned for a number that cannot be normalized. Reason is safe to
// show to callers and to log: it is one of a fixed set of phrases and never
// contains any part of the input, so it cannot leak the phone number.
// Callers usually prefix it with what was rejected: "'To' " + err.Error().
type Error struct{ Reason string }

func (e *Error) Error() string { return e.Reason }

// The fixed set of reasons. Each reads after a subject ("the number ...").
const (
	reasonEmpty     = "is empty"
	reasonLetters   = "has letters in it"
	reasonChars     = "has characters that do not belong in a phone number"
	reasonTooLong   = "is too long"
	reasonTooShort  = "is too short"
	reasonNoRegion  = "has no country code and no default region is set"
	reasonCountry   = "has an unknown country code"
	reasonInvalid   = "is not a valid phone number"
	reasonAmbiguous = "could be read as more than one number: " +
		"say whether the product sends international or national numbers"
	reasonAmbiguousExtension = "could be read as more than one number: " +
		`the digits after "/" or "~" may be an extension or part of the number; ` +
		`write an extension after "x" or leave it out`
)

// reasons lists every Reason this package returns; tests check against it.
var reasons = []string{
	reasonEmpty, reasonLetters, reasonChars, reasonTooLong, reasonTooShort,
	reasonNoRegion, reasonCountry, reasonInvalid, reasonAmbiguous,
	reasonAmbiguousExtension,
}

func fail(reason string) error { return &Error{Reason: reason} }

// parseReason turns a phonenumbers.Parse error into a Reason.
func parseReason(err error) string {
	switch err {
	case phonenumbers.ErrTooShortNSN, phonenumbers.ErrTooShortAfterIDD:
		return reasonTooShort
	case phonenumbers.ErrNumTooLong:
		return reasonTooLong
	case phonenumbers.ErrInvalidCountryCode:
		return reasonCountry
	default:
		return reasonInvalid
	}
}

// validationReason explains why a parsed number was not accepted.
func validationReason(num *phonenumbers.PhoneNumber) string {
	switch phonenumbers.IsPossibleNumberWithReason(num) {
	case phonenumbers.TOO_SHORT:
		return reasonTooShort
	case phonenumbers.TOO_LONG:
		return reasonTooLong
	case phonenumbers.INVALID_COUNTRY_CODE:
		return reasonCountry
	default:
		return reasonInvalid
	}
}
