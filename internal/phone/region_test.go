package phone

import (
	"testing"

	"github.com/nyaruka/phonenumbers"
)

func TestValidRegion(t *testing.T) {
	cases := []struct {
		code string
		want bool
	}{
		{"US", true}, {"GB", true}, {"IN", true}, {"gb", true}, {"Gb", true},
		{"", false}, {"ZZ", false}, {"001", false}, {"XX", false}, {"USA", false}, {"U", false}, {"UK", false},
	}
	for _, tc := range cases {
		if got := ValidRegion(tc.code); got != tc.want {
			t.Errorf("ValidRegion(%q) = %v; want %v", tc.code, got, tc.want)
		}
	}
}

func TestRegionAndCallingCode(t *testing.T) {
	cases := []struct {
		name   string
		e164   string
		region string
		cc     string
	}{
		{"us", "+14155552671", "US", "1"},
		{"canada shares +1", "+16045550123", "CA", "1"},
		{"jamaica shares +1", "+18762345678", "JM", "1"},
		{"twilio magic number", "+15005550006", "US", "1"},
		{"gb", "+447400123456", "GB", "44"},
		{"jersey shares +44", "+447797123456", "JE", "44"},
		{"drama number is gb but not valid", "+447700900123", "", "44"},
		{"india", "+919876543210", "IN", "91"},
		{"india invalid still india", "+911234", "IN", "91"},
		{"three digit code", "+35312345678", "IE", "353"},
		{"russia", "+74951234567", "RU", "7"},
		{"non-geographic", "+80012345678", "", "800"},
		{"unknown code", "+9991234567", "", ""},
		{"no plus", "14155552671", "", ""},
		{"formatted", "+1 415 555 2671", "", ""},
		{"empty", "", "", ""},
		{"plus only", "+", "", ""},
		{"too long", "+1234567890123456", "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := Region(tc.e164); got != tc.region {
				t.Errorf("Region(%q) = %q; want %q", tc.e164, got, tc.region)
			}
			if got := CallingCode(tc.e164); got != tc.cc {
				t.Errorf("CallingCode(%q) = %q; want %q", tc.e164, got, tc.cc)
			}
		})
	}
}

// TestRegionOfPossibleNumbers: a lenient Normalizer lets through numbers
// that are possible but not valid; a country allow list needs their region
// all the same, from the area code.
func TestRegionOfPossibleNumbers(t *testing.T) {
	cases := []struct {
		name   string
		e164   string
		region string
	}{
		{"canadian area code, exchange 055", "+16040550123", "CA"},
		{"canadian area code 416", "+14160550123", "CA"},
		{"us area code, exchange 055", "+14150550123", "US"},
		{"us area code 234", "+12340550123", "US"},
		{"jamaica by leading digits", "+18760550123", "JM"},
		{"unassigned area code", "+12005550123", ""},
		{"premium rate area code every NANPA region has", "+19000000000", ""},
		{"drama range: GB and JE both list 7700", "+447700900123", ""},
		{"kazakhstan by leading digits", "+77990000000", "KZ"},
		{"russia by leading digits", "+73000000000", "RU"},
		{"+7 6 is neither", "+76000000000", ""},
		{"aland by leading digits", "+35818000000", "AX"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			num, err := phonenumbers.Parse(tc.e164, phonenumbers.UNKNOWN_REGION)
			if err != nil || phonenumbers.IsValidNumber(num) || !phonenumbers.IsPossibleNumber(num) {
				t.Fatalf("%s is not a possible but invalid number", tc.e164)
			}
			results.reset()
			if got := Region(tc.e164); got != tc.region {
				t.Errorf("Region(%q) = %q; want %q", tc.e164, got, tc.region)
			}
			// What a lenient Normalizer returns is what Region is asked.
			got, err := Normalizer{Lenient: true}.Normalize(tc.e164)
			if err != nil || got != tc.e164 {
				t.Fatalf("lenient Normalize(%q) = %q, %v", tc.e164, got, err)
			}
			if got := Region(tc.e164); got != tc.region {
				t.Errorf("after Normalize: Region(%q) = %q; want %q", tc.e164, got, tc.region)
			}
		})
	}
}

func TestValidAssume(t *testing.T) {
	for s, want := range map[string]bool{
		"": true, AssumeInternational: true, AssumeNational: true, "National": true, "INTERNATIONAL": true,
		"auto": false, "intl": false, "nat": false, " national": false,
	} {
		if got := ValidAssume(s); got != want {
			t.Errorf("ValidAssume(%q) = %v; want %v", s, got, want)
		}
	}
}
