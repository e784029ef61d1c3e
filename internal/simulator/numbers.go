package simulator

import (
	"regexp"
	"strings"
)

// Phone numbers and sender IDs, and the magic test numbers of
// https://www.twilio.com/docs/iam/test-credentials.

var (
	e164Pattern        = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)
	shortCodePattern   = regexp.MustCompile(`^[0-9]{3,8}$`)
	alphanumericSender = regexp.MustCompile(`^[A-Za-z0-9 ]{1,11}$`)
	messagingService   = regexp.MustCompile(`^MG[0-9a-fA-F]{32}$`)
	applicationSID     = regexp.MustCompile(`^AP[0-9a-fA-F]{32}$`)
)

// magicPrefix starts every magic test number.
const magicPrefix = "+1500555"

const magicValidFrom = "+15005550006"

// isMagic reports whether n is in the range of Twilio's magic test numbers.
func isMagic(n string) bool {
	return strings.HasPrefix(n, magicPrefix) && e164Pattern.MatchString(n)
}

// validSender reports whether from is an E.164 number, a short code or an alphanumeric
// sender ID (up to 11 characters with at least one letter).
func validSender(from string) bool {
	if e164Pattern.MatchString(from) || shortCodePattern.MatchString(from) {
		return true
	}
	return alphanumericSender.MatchString(from) && strings.ContainsFunc(from, func(r rune) bool {
		return r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z'
	})
}

// formatted renders a NANP number like Twilio's to_formatted / from_formatted
// ("(415) 867-5309"); other values come back unchanged.
func formatted(n string) string {
	if len(n) == 12 && strings.HasPrefix(n, "+1") && e164Pattern.MatchString(n) {
		return "(" + n[2:5] + ") " + n[5:8] + "-" + n[8:]
	}
	return n
}

// splitChannel splits a Messages address into its channel ("" for SMS/MMS, "whatsapp")
// and its phone number: whatsapp:+14155550100 is channel whatsapp, number +14155550100.
func splitChannel(addr string) (channel, number string) {
	if n, ok := strings.CutPrefix(addr, "whatsapp:"); ok {
		return "whatsapp", n
	}
	return "", addr
}

// validRecipient reports whether to is an E.164 number or a whatsapp:+E.164 address.
func validRecipient(to string) bool {
	_, n := splitChannel(to)
	return e164Pattern.MatchString(n)
}
