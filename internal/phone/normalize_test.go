package phone

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// normalizeCases are shared with the fuzz seeds and the benchmarks.
// Numbers: +14155552671 (San Francisco), +447400123456 (libphonenumber's
// example GB mobile), +919876543210 (IN mobile). +447700900123 is in Ofcom's
// drama range 07700 900000-900999, which libphonenumber deliberately marks
// as not valid, so it only passes a lenient Normalizer.
var normalizeCases = []struct {
	name    string
	region  string
	assume  string
	lenient bool
	raw     string
	want    string // "" when an error is expected
	reason  string
}{
	// E.164 and international without "+".
	{name: "e164", raw: "+14155552671", want: "+14155552671"},
	{name: "e164 with region", region: "GB", raw: "+14155552671", want: "+14155552671"},
	{name: "digits with region US", region: "US", raw: "14155552671", want: "+14155552671"},
	{name: "digits without region read as international", raw: "14155552671", want: "+14155552671"},
	{name: "pingone number_only GB region invalid nationally", region: "GB", raw: "14155552671", want: "+14155552671"},
	{name: "pingone number_only IN from US", region: "US", raw: "919876543210", want: "+919876543210"},
	{name: "national US", region: "US", raw: "4155552671", want: "+14155552671"},
	{name: "region lower case", region: "us", raw: "4155552671", want: "+14155552671"},

	// The "+" a form decoder turned into a space.
	{name: "space for plus", raw: " 14155552671", want: "+14155552671"},
	{name: "space for plus GB region", region: "GB", raw: " 14155552671", want: "+14155552671"},
	{name: "two spaces for plus", raw: "  447400123456", want: "+447400123456"},
	{name: "space for plus drama number lenient", lenient: true, raw: "  447700900123", want: "+447700900123"},
	{name: "space for plus drama number strict", raw: "  447700900123", reason: reasonInvalid},
	{name: "space for plus drama number strict with region", region: "US", raw: "  447700900123", reason: reasonInvalid},
	{name: "space for plus formatted", region: "US", raw: " 44 7400 123456", want: "+447400123456"},
	// Security review: the space was trimmed and the digits read nationally,
	// sending the code to +14792345678 and +49491711234567.
	{name: "decoded plus NO number from US", region: "US", raw: " 4792345678", want: "+4792345678"},
	{name: "decoded plus DE mobile from DE", region: "DE", raw: " 491711234567", want: "+491711234567"},
	{name: "decoded plus is international when national is assumed", region: "US", assume: AssumeNational, raw: " 4792345678", want: "+4792345678"},
	{name: "decoded plus before US national digits is not read nationally", region: "US", raw: " 4155552671", reason: reasonTooShort},
	{name: "decoded plus tab", region: "DE", raw: "\t491711234567", want: "+491711234567"},
	{name: "decoded plus in parentheses", region: "US", raw: "( 44) 7400 123456", want: "+447400123456"},
	{name: "decoded plus after tel", region: "GB", raw: "tel: 14155552671", want: "+14155552671"},
	{name: "decoded plus percent-encoded space", region: "DE", raw: "%20491711234567", want: "+491711234567"},
	{name: "decoded plus then extension", region: "US", raw: " 4792345678 x2", want: "+4792345678"},

	// Readings without "+": all are computed, two different numbers are refused.
	{name: "ambiguous NO digits from US", region: "US", raw: "4792345678", reason: reasonAmbiguous},
	{name: "ambiguous DE digits from DE", region: "DE", raw: "491711234567", reason: reasonAmbiguous},
	{name: "ambiguous DE digits assume international", region: "DE", assume: AssumeInternational, raw: "491711234567", want: "+491711234567"},
	{name: "ambiguous DE digits assume national", region: "DE", assume: AssumeNational, raw: "491711234567", want: "+49491711234567"},
	{name: "ambiguous US national or Egypt", region: "US", raw: "(201) 555-0123", reason: reasonAmbiguous},
	{name: "US national assume national", region: "US", assume: AssumeNational, raw: "(201) 555-0123", want: "+12015550123"},
	{name: "US national assume national any case", region: "US", assume: "National", raw: "(201) 555-0123", want: "+12015550123"},
	{name: "US national assume international is Egypt", region: "US", assume: AssumeInternational, raw: "(201) 555-0123", want: "+2015550123"},
	{name: "unknown assume is auto", region: "US", assume: "sideways", raw: "(201) 555-0123", reason: reasonAmbiguous},
	{name: "ambiguous CN national or US", region: "CN", raw: "131 2345 6789", reason: reasonAmbiguous},
	{name: "CN assume national", region: "CN", assume: AssumeNational, raw: "131 2345 6789", want: "+8613123456789"},
	{name: "CN assume international", region: "CN", assume: AssumeInternational, raw: "131 2345 6789", want: "+13123456789"},
	{name: "same number both ways is not ambiguous", region: "US", raw: "14155552671", want: "+14155552671"},
	{name: "lenient ambiguous possible readings", region: "US", lenient: true, raw: "4667979227", reason: reasonAmbiguous},
	{name: "lenient possible reading assume national", region: "US", assume: AssumeNational, lenient: true, raw: "4667979227", want: "+14667979227"},
	{name: "lenient possible reading assume international", region: "US", assume: AssumeInternational, lenient: true, raw: "4667979227", want: "+4667979227"},
	{name: "assume national needs region", assume: AssumeNational, raw: "4155552671", reason: reasonNoRegion},
	{name: "assume national drops international readings", region: "GB", assume: AssumeNational, raw: "14155552671", reason: reasonTooLong},
	{name: "assume national keeps IDD of region", region: "US", assume: AssumeNational, raw: "011 44 7400 123456", want: "+447400123456"},
	{name: "assume national plus", region: "US", assume: AssumeNational, raw: "+44 7400 123456", want: "+447400123456"},
	{name: "assume national netiq", region: "US", assume: AssumeNational, raw: `44\7400123456`, want: "+447400123456"},
	{name: "assume international 00", region: "US", assume: AssumeInternational, raw: "0044 7400 123456", want: "+447400123456"},
	{name: "assume international no region", assume: AssumeInternational, raw: "447400123456", want: "+447400123456"},
	{name: "assume international trunk zero", region: "GB", assume: AssumeInternational, raw: "07400 123456", reason: reasonCountry},

	// Un-decoded plus and other percent-encoding.
	{name: "percent plus", raw: "%2B14155552671", want: "+14155552671"},
	{name: "percent plus lower", raw: "%2b14155552671", want: "+14155552671"},
	{name: "percent encoded spaces", raw: "%2B1%20415%20555%202671", want: "+14155552671"},
	{name: "bad percent", raw: "%2X14155552671", reason: reasonChars},
	{name: "double encoded", raw: "%252B14155552671", reason: reasonChars},

	// International prefixes.
	{name: "00 without region", raw: "0044 7400 123456", want: "+447400123456"},
	{name: "00 from US", region: "US", raw: "0044 7400 123456", want: "+447400123456"},
	{name: "00 from GB", region: "GB", raw: "0044 7400 123456", want: "+447400123456"},
	{name: "00 with (0)", region: "DE", raw: "0044 (0)7400 123456", want: "+447400123456"},
	{name: "00 drama lenient", lenient: true, raw: "0044 7700 900123", want: "+447700900123"},
	{name: "00 drama strict", region: "US", raw: "0044 7700 900123", reason: reasonInvalid},
	{name: "011 from US", region: "US", raw: "011 44 7400 123456", want: "+447400123456"},
	{name: "0011 from AU", region: "AU", raw: "0011 1 415 555 2671", want: "+14155552671"},
	{name: "011 without region", raw: "011 44 7400 123456", reason: reasonNoRegion},

	// Active Directory styles.
	{name: "ad parentheses", region: "US", raw: "(415) 555-2671", want: "+14155552671"},
	{name: "ad dots", region: "US", raw: "415.555.2671", want: "+14155552671"},
	{name: "ad slash", region: "US", raw: "415/555-2671", want: "+14155552671"},
	{name: "ad international", raw: "+1 (415) 555-2671", want: "+14155552671"},
	{name: "ad trunk zero in parentheses", raw: "+44 (0)7400 123456", want: "+447400123456"},
	{name: "ad trunk zero drama lenient", lenient: true, raw: "+44 (0)7700 900123", want: "+447700900123"},
	{name: "ad plus in parentheses", raw: "(+44) 7400 123456", want: "+447400123456"},
	{name: "ad india dashes", raw: "+91-98765-43210", want: "+919876543210"},
	{name: "ad india national", region: "IN", raw: "098765 43210", want: "+919876543210"},
	{name: "ad gb national", region: "GB", raw: "07400 123456", want: "+447400123456"},
	{name: "ad nbsp", raw: "+1\u00a0415\u00a0555\u00a02671", want: "+14155552671"},
	{name: "ad en dash", region: "US", raw: "415\u2013555\u20132671", want: "+14155552671"},
	{name: "trailing newline", raw: "+14155552671\r\n", want: "+14155552671"},

	// Extensions are dropped, never made part of the number.
	{name: "extension x2", region: "US", raw: "415-555-2671 x2", want: "+14155552671"},
	{name: "extension X2 no space", region: "US", raw: "4155552671X2", want: "+14155552671"},
	{name: "extension ext. 2", region: "US", raw: "415-555-2671 ext. 2", want: "+14155552671"},
	{name: "extension ext 2", region: "US", raw: "415-555-2671 ext 2", want: "+14155552671"},
	{name: "extension EXT: 2", region: "US", raw: "415-555-2671 EXT: 2", want: "+14155552671"},
	{name: "extension extn 2", region: "US", raw: "415-555-2671 extn 2", want: "+14155552671"},
	{name: "extension word", region: "US", raw: "415-555-2671 extension 2", want: "+14155552671"},
	{name: "extension ;ext=2", region: "US", raw: "415-555-2671;ext=2", want: "+14155552671"},
	{name: "extension tel ;ext=2", raw: "tel:+1-415-555-2671;ext=2", want: "+14155552671"},
	{name: "extension hash", region: "US", raw: "415-555-2671#2", want: "+14155552671"},
	{name: "extension hash spaced", region: "US", raw: "415-555-2671 # 2", want: "+14155552671"},
	{name: "extension e164", raw: "+14155552671 x2", want: "+14155552671"},
	{name: "extension netiq", raw: `1\4155552671 x2`, want: "+14155552671"},
	{name: "extension percent-encoded", raw: "%2B14155552671%3Bext%3D2", want: "+14155552671"},
	// Security review: "/ 2" was read as part of the number, +41555526712.
	{name: "slash extension US is refused not sent to Switzerland", region: "US", raw: "415-555-2671 / 2", reason: reasonAmbiguousExtension},
	{name: "tilde extension US is refused not sent to Switzerland", region: "US", raw: "415-555-2671 ~ 2", reason: reasonAmbiguousExtension},
	{name: "full-width slash extension US", region: "US", raw: "415-555-2671 \uFF0F 2", reason: reasonAmbiguousExtension},
	{name: "slash extension US assume national", region: "US", assume: AssumeNational, raw: "415-555-2671 / 2", want: "+14155552671"},
	{name: "tilde extension US assume national", region: "US", assume: AssumeNational, raw: "415-555-2671 ~ 2", want: "+14155552671"},
	{name: "slash extension US lenient", region: "US", lenient: true, raw: "415-555-2671 / 2", reason: reasonAmbiguousExtension},
	{name: "slash extension e164", raw: "+1 415 555 2671 / 2", want: "+14155552671"},
	{name: "tilde extension e164", raw: "+1 415 555 2671 ~ 12", want: "+14155552671"},
	{name: "slash extension decoded plus", region: "DE", raw: " 1 415 555 2671 / 2", want: "+14155552671"},
	{name: "slash inside DE number", region: "DE", raw: "0171/1234567", want: "+491711234567"},
	{name: "spaced slash inside DE number", region: "DE", raw: "0171 / 1234567", want: "+491711234567"},
	{name: "slash inside DE landline", region: "DE", raw: "030/1234567", want: "+49301234567"},
	{name: "slash inside DE number international", raw: "+49 171/1234567", want: "+491711234567"},
	{name: "slash both readings valid", region: "DE", raw: "030 / 12345 / 67", reason: reasonAmbiguousExtension},
	{name: "slash only the last counts", region: "US", raw: "415/555-2671", want: "+14155552671"},
	{name: "extension then slash", region: "DE", raw: "0171/1234567 x2", want: "+491711234567"},
	{name: "letters before an extension", region: "US", raw: "415-555-2671 fax 2", reason: reasonLetters},
	{name: "extension alone", raw: "x2", reason: reasonLetters},
	{name: "extension too long", region: "US", raw: "555-2671 x12345678901", reason: reasonLetters},
	{name: "extension in the middle", raw: "+1 415 x2 555 2671", reason: reasonLetters},
	{name: "hash with no extension", raw: "+14155552671 #", reason: reasonChars},
	{name: "tel extension not last", raw: "tel:+14155552671;ext=2;isub=1", reason: reasonChars},

	// NetIQ Advanced Authentication.
	{name: "netiq", raw: `91\9876543210`, want: "+919876543210"},
	{name: "netiq plus", raw: `+91\9876543210`, want: "+919876543210"},
	{name: "netiq us", region: "GB", raw: `1\4155552671`, want: "+14155552671"},
	{name: "netiq trunk zero", raw: `44\07400123456`, want: "+447400123456"},
	{name: "netiq spaced", raw: `91 \ 98765 43210`, want: "+919876543210"},
	{name: "netiq plus in national", raw: `91\+9876543210`, reason: reasonChars},
	{name: "netiq bad country code", raw: `abc\9876543210`, reason: reasonChars},
	{name: "netiq long country code", raw: `9123\9876543210`, reason: reasonChars},
	{name: "netiq two backslashes", raw: `91\98765\43210`, reason: reasonChars},
	{name: "netiq unknown country code", raw: `999\9876543210`, reason: reasonCountry},
	{name: "netiq empty national", raw: `91\`, reason: reasonInvalid},

	// tel: URIs.
	{name: "tel", raw: "tel:+14155552671", want: "+14155552671"},
	{name: "tel upper case with dashes", raw: "TEL:+1-415-555-2671", want: "+14155552671"},
	{name: "tel national", region: "US", raw: "tel:415-555-2671", want: "+14155552671"},
	{name: "tel extension", raw: "tel:+14155552671;ext=12", want: "+14155552671"},
	{name: "tel phone-context", raw: "tel:5552671;phone-context=+1415", reason: reasonChars},
	{name: "tel only", raw: "tel:", reason: reasonEmpty},

	// Other scripts' digits.
	{name: "full-width", raw: "\uFF0B\uFF11\uFF14\uFF11\uFF15\uFF15\uFF15\uFF15\uFF12\uFF16\uFF17\uFF11", want: "+14155552671"},
	{name: "arabic-indic", raw: "+١٤١٥٥٥٥٢٦٧١", want: "+14155552671"},
	{name: "extended arabic-indic", region: "US", raw: "۴۱۵۵۵۵۲۶۷۱", want: "+14155552671"},
	{name: "devanagari not supported", raw: "+१४१५५५५२६७१", reason: reasonChars},

	// Lenient.
	{name: "unassigned area code strict", raw: "+11234567890", reason: reasonInvalid},
	{name: "unassigned area code lenient", lenient: true, raw: "+11234567890", want: "+11234567890"},
	{name: "lenient still checks length", lenient: true, raw: "+1415555267", reason: reasonTooShort},
	{name: "lenient prefers valid reading", lenient: true, region: "GB", raw: "14155552671", want: "+14155552671"},
	// Found by FuzzNormalize: "+61000000" read back as "+6100000".
	{name: "lenient result must read back as itself", lenient: true, region: "AU", raw: "0000000", reason: reasonInvalid},

	// Rejections.
	{name: "empty", raw: "", reason: reasonEmpty},
	{name: "blank", raw: " \t ", reason: reasonEmpty},
	{name: "letters", raw: "call me", reason: reasonLetters},
	{name: "letters around a number", raw: "call me at +14155552671", reason: reasonLetters},
	{name: "vanity", raw: "+1 800 FLOWERS", reason: reasonLetters},
	{name: "extension x", raw: "+1 415 555 2671 x123", want: "+14155552671"},
	{name: "extension ext", region: "US", raw: "(415) 555-2671 ext. 12", want: "+14155552671"},
	{name: "hash", raw: "+14155552671#", reason: reasonChars},
	{name: "second plus", raw: "+1+4155552671", reason: reasonChars},
	{name: "plus after digits", raw: "1+4155552671", reason: reasonChars},
	{name: "only punctuation", raw: "+()-", reason: reasonInvalid},
	{name: "raw too long", raw: "+1" + strings.Repeat(" ", 60) + "4155552671", reason: reasonTooLong},
	{name: "too many digits", raw: "+" + strings.Repeat("1", 21), reason: reasonTooLong},
	{name: "too long for country", raw: "+1415555267100", reason: reasonTooLong},
	{name: "three digits", raw: "123", reason: reasonTooShort},
	{name: "too short for country", raw: "+1415555267", reason: reasonTooShort},
	{name: "too short nationally", region: "US", raw: "555-2671", reason: reasonInvalid},
	{name: "invalid for country", raw: "+11234567890", reason: reasonInvalid},
	{name: "drama number strict", raw: "+447700900123", reason: reasonInvalid},
	{name: "unknown country code", raw: "+999 123 4567", reason: reasonCountry},
	{name: "national without region", raw: "(415) 555-2671", reason: reasonNoRegion},
	{name: "trunk zero without region", raw: "07400 123456", reason: reasonNoRegion},
	{name: "unknown region is no region", region: "XX", raw: "07400 123456", reason: reasonNoRegion},
	{name: "pseudo region ZZ is no region", region: "ZZ", raw: "4155552671", reason: reasonNoRegion},
	{name: "invalid utf-8", raw: "+1415\xff5552671", reason: reasonChars},
}

func TestNormalize(t *testing.T) {
	for _, tc := range normalizeCases {
		t.Run(tc.name, func(t *testing.T) {
			n := Normalizer{DefaultRegion: tc.region, Lenient: tc.lenient, Assume: tc.assume}
			got, err := n.Normalize(tc.raw)
			if tc.want != "" {
				if err != nil || got != tc.want {
					t.Fatalf("Normalize(%q) = %q, %v; want %q", tc.raw, got, err, tc.want)
				}
				if again, err := n.Normalize(got); err != nil || again != got {
					t.Fatalf("Normalize(%q) = %q, %v; not idempotent", got, again, err)
				}
				return
			}
			var perr *Error
			if !errors.As(err, &perr) {
				t.Fatalf("Normalize(%q) = %q, %v; want *Error %q", tc.raw, got, err, tc.reason)
			}
			if got != "" || perr.Reason != tc.reason {
				t.Fatalf("Normalize(%q) = %q, %q; want reason %q", tc.raw, got, perr.Reason, tc.reason)
			}
		})
	}
}

// TestTwilioMagicNumbers: Twilio's test credentials only act on the numbers
// +1 500 555 000X, and the simulator and the integration tests use them.
// libphonenumber's metadata has 500 as a NANP personal-communications area
// code, so they are valid as they are, strictly and in every region.
func TestTwilioMagicNumbers(t *testing.T) {
	for x := range 10 {
		want := fmt.Sprintf("+1500555000%d", x)
		for _, region := range []string{"", "US", "GB", "IN"} {
			for _, raw := range []string{want, want[1:], " " + want[1:], "%2B" + want[1:], `1\500555000` + want[11:]} {
				got, err := Normalizer{DefaultRegion: region}.Normalize(raw)
				if err != nil || got != want {
					t.Errorf("region %q: Normalize(%q) = %q, %v; want %q", region, raw, got, err, want)
				}
			}
		}
		if got, err := (Normalizer{}).NormalizeSender(want); err != nil || got != want {
			t.Errorf("NormalizeSender(%q) = %q, %v", want, got, err)
		}
	}
}

func TestErrorNeverEchoesInput(t *testing.T) {
	for _, tc := range normalizeCases {
		if tc.want != "" {
			continue
		}
		_, err := Normalizer{DefaultRegion: tc.region, Lenient: tc.lenient, Assume: tc.assume}.Normalize(tc.raw)
		if err == nil {
			t.Fatalf("%s: no error", tc.name)
		}
		checkReason(t, tc.raw, err)
	}
}

// checkReason fails unless err is one of the fixed reasons and does not
// contain raw (when raw has a digit: a reason has none, and a digit-free
// input such as "s in" may legitimately be part of "has letters in it").
func checkReason(t testing.TB, raw string, err error) {
	t.Helper()
	var perr *Error
	if !errors.As(err, &perr) {
		t.Fatalf("error %T is not *Error", err)
	}
	known := false
	for _, r := range reasons {
		known = known || perr.Reason == r
	}
	if !known {
		t.Fatalf("unknown reason %q", perr.Reason)
	}
	if len(raw) > 3 && strings.ContainsAny(raw, "0123456789") && strings.Contains(err.Error(), raw) {
		t.Fatalf("error %q echoes the input", err.Error())
	}
}

// TestSpaceBeforeParenthesis: white space before a parenthesis is not a
// decoded "+": " (201) 555-0123" is read like "(201) 555-0123", and since
// +1 201 555 0123 and +20 1555 0123 are both numbers, it is refused rather
// than sent to either (it was sent to Egypt).
func TestSpaceBeforeParenthesis(t *testing.T) {
	got, err := Normalizer{DefaultRegion: "US"}.Normalize(" (201) 555-0123")
	if err == nil && got != "+12015550123" {
		t.Fatalf(`" (201) 555-0123" with region US = %s, want +12015550123 or a refusal`, got)
	}
	got, err = Normalizer{DefaultRegion: "US", Assume: AssumeNational}.Normalize(" (201) 555-0123")
	if err != nil || got != "+12015550123" {
		t.Errorf(`national reading: %q, %v; want +12015550123`, got, err)
	}
}
