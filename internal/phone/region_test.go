package phone

import "testing"

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
