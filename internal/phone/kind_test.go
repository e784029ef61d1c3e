package phone

import (
	"fmt"
	"slices"
	"testing"

	"github.com/nyaruka/phonenumbers"
)

func TestKind(t *testing.T) {
	cases := []struct {
		name string
		e164 string
		kind string
		typ  string
	}{
		{"us premium rate", "+19005550123", KindPremiumRate, "premium_rate"},
		{"us premium rate, exchange 000, not valid", "+19000000000", KindPremiumRate, "unknown"},
		{"us premium rate, exchange 123, not valid", "+19001234567", KindPremiumRate, "unknown"},
		{"gb premium rate", "+449098765432", KindPremiumRate, "premium_rate"},
		{"gb 97, not valid, only premium rate starts with 9", "+449712345678", KindPremiumRate, "unknown"},
		{"gb personal number", "+447012345678", KindPersonalNumber, "personal_number"},
		{"gb uan", "+443001234567", KindUAN, "uan"},
		{"twilio test number is a NANP personal number", "+15005550006", KindPersonalNumber, "personal_number"},
		{"international freephone", "+80012345678", KindNonGeographic, "toll_free"},
		{"international freephone, not possible", "+8001234", KindNonGeographic, "unknown"},
		{"satellite", "+881612345678", KindNonGeographic, "mobile"},
		{"international premium rate", "+979123456789", KindNonGeographic, "premium_rate"},
		{"international networks", "+882345678901", KindNonGeographic, ""},
		{"us number", "+14155552671", "", "fixed_line_or_mobile"},
		{"gb mobile", "+447400123456", "", "mobile"},
		{"in mobile", "+919876543210", "", "mobile"},
		{"us toll free", "+18005550123", "", "toll_free"},
		{"possible us number", "+14150550123", "", "unknown"},
		{"unknown calling code", "+9991234567", "", "unknown"},
		{"no plus", "19005550123", "", "unknown"},
		{"formatted", "+1 900 555 0123", "", "unknown"},
		{"empty", "", "", "unknown"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for pass := range 2 {
				if pass == 1 {
					// Again with the number in the cache, when it is valid.
					_, _ = Normalizer{}.Normalize(tc.e164)
				}
				if got := Kind(tc.e164); got != tc.kind {
					t.Errorf("pass %d: Kind(%q) = %q; want %q", pass, tc.e164, got, tc.kind)
				}
				if tc.typ != "" {
					if got := TypeOf(tc.e164); got != tc.typ {
						t.Errorf("pass %d: TypeOf(%q) = %q; want %q", pass, tc.e164, got, tc.typ)
					}
				}
			}
		})
	}
}

// TestKindOfExampleNumbers: every region's example number of each risky type
// is of that kind, every example of a non-geographic calling code is
// non-geographic, and the examples of the other types are of no kind.
func TestKindOfExampleNumbers(t *testing.T) {
	types := []phonenumbers.PhoneNumberType{
		phonenumbers.FIXED_LINE, phonenumbers.MOBILE, phonenumbers.TOLL_FREE, phonenumbers.PREMIUM_RATE,
		phonenumbers.SHARED_COST, phonenumbers.VOIP, phonenumbers.PERSONAL_NUMBER, phonenumbers.PAGER,
		phonenumbers.UAN, phonenumbers.VOICEMAIL,
	}
	results.reset()
	seen := map[string]bool{}
	for region := range phonenumbers.GetSupportedRegions() {
		for _, typ := range types {
			num := phonenumbers.GetExampleNumberForType(region, typ)
			if num == nil || !phonenumbers.IsValidNumber(num) {
				continue
			}
			e164 := phonenumbers.Format(num, phonenumbers.E164)
			own := phonenumbers.GetNumberType(num) // an example may be valid as another type
			want := kindOfType(false, own)
			if got := Kind(e164); got != want {
				t.Errorf("%s %s: Kind(%q) = %q; want %q", region, typeWord(typ), e164, got, want)
			}
			if got := TypeOf(e164); got != typeWord(own) {
				t.Errorf("%s: TypeOf(%q) = %q; want %q", region, e164, got, typeWord(own))
			}
			seen[typeWord(own)] = true
		}
	}
	for _, k := range []string{KindPremiumRate, KindSharedCost, KindUAN, KindPersonalNumber} {
		if !seen[k] {
			t.Errorf("no example number of type %s", k)
		}
	}
	codes := 0
	for cc := range phonenumbers.GetSupportedGlobalNetworkCallingCodes() {
		codes++
		num := phonenumbers.GetExampleNumberForNonGeoEntity(cc)
		if num == nil {
			t.Errorf("+%d: no example number", cc)
			continue
		}
		e164 := phonenumbers.Format(num, phonenumbers.E164)
		if got := Kind(e164); got != KindNonGeographic {
			t.Errorf("Kind(%q) = %q; want %q", e164, got, KindNonGeographic)
		}
		if got := Region(e164); got != "" {
			t.Errorf("Region(%q) = %q; want \"\"", e164, got)
		}
	}
	for _, cc := range []int{800, 808, 870, 878, 881, 882, 883, 888, 979} {
		if e164 := fmt.Sprintf("+%d123456789", cc); Kind(e164) != KindNonGeographic || !nonGeographic(cc) {
			t.Errorf("Kind(%q) = %q; want %q", e164, Kind(e164), KindNonGeographic)
		}
	}
	if codes < 9 {
		t.Errorf("only %d non-geographic calling codes", codes)
	}
}

func TestRiskyKinds(t *testing.T) {
	want := []string{"premium_rate", "shared_cost", "uan", "personal_number", "non_geographic"}
	if !slices.Equal(RiskyKinds, want) {
		t.Fatalf("RiskyKinds = %q; want %q", RiskyKinds, want)
	}
	for _, k := range want {
		if !ValidKind(k) {
			t.Errorf("ValidKind(%q) = false", k)
		}
	}
	for _, k := range []string{"", "mobile", "toll_free", "PREMIUM_RATE", "premium rate", "unknown"} {
		if ValidKind(k) {
			t.Errorf("ValidKind(%q) = true", k)
		}
	}
	for typ := phonenumbers.FIXED_LINE; typ <= phonenumbers.UNKNOWN; typ++ {
		if w := typeWord(typ); w == "" || (kindOfType(false, typ) != "" && kindOfType(false, typ) != w) {
			t.Errorf("type %d: word %q, kind %q", typ, w, kindOfType(false, typ))
		}
	}
}
