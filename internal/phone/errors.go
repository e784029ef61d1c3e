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
	reasonExtension = "has an extension, which cannot receive text messages"
	reasonChars     = "has characters that do not belong in a phone number"
	reasonTooLong   = "is too long"
	reasonTooShort  = "is too short"
	reasonNoRegion  = "has no country code and no default region is set"
	reasonCountry   = "has an unknown country code"
	reasonInvalid   = "is not a valid phone number"
)

// reasons lists every Reason this package returns; tests check against it.
var reasons = []string{
	reasonEmpty, reasonLetters, reasonExtension, reasonChars, reasonTooLong,
	reasonTooShort, reasonNoRegion, reasonCountry, reasonInvalid,
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
