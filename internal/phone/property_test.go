package phone

import (
	"errors"
	"os"
	"slices"
	"sort"
	"testing"

	"github.com/nyaruka/phonenumbers"
)

// exampleNumber is one of libphonenumber's example numbers, in the forms a
// product might send it.
type exampleNumber struct {
	region   string // "001" for a non-geographic calling code
	typ      string
	e164     string
	intl     string // "+44 7400 123456"
	national string // "07400 123456"
}

// allExampleNumbers returns, for every region libphonenumber supports, its
// valid example number of each type, and the example number of every
// non-geographic calling code; in a stable order.
func allExampleNumbers() []exampleNumber {
	types := []phonenumbers.PhoneNumberType{
		phonenumbers.FIXED_LINE, phonenumbers.MOBILE, phonenumbers.TOLL_FREE, phonenumbers.PREMIUM_RATE,
		phonenumbers.SHARED_COST, phonenumbers.VOIP, phonenumbers.PERSONAL_NUMBER, phonenumbers.PAGER,
		phonenumbers.UAN, phonenumbers.VOICEMAIL,
	}
	var out []exampleNumber
	add := func(region string, typ phonenumbers.PhoneNumberType, num *phonenumbers.PhoneNumber) {
		if num == nil || !phonenumbers.IsValidNumber(num) {
			return // missing, or not valid for its own metadata
		}
		out = append(out, exampleNumber{
			region:   region,
			typ:      typeWord(typ),
			e164:     phonenumbers.Format(num, phonenumbers.E164),
			intl:     phonenumbers.Format(num, phonenumbers.INTERNATIONAL),
			national: phonenumbers.Format(num, phonenumbers.NATIONAL),
		})
	}
	for _, region := range sortedRegions() {
		for _, typ := range types {
			add(region, typ, phonenumbers.GetExampleNumberForType(region, typ))
		}
	}
	var codes []int
	for cc := range phonenumbers.GetSupportedGlobalNetworkCallingCodes() {
		codes = append(codes, cc)
	}
	sort.Ints(codes)
	for _, cc := range codes {
		add(phonenumbers.REGION_CODE_FOR_NON_GEO_ENTITY, phonenumbers.UNKNOWN, phonenumbers.GetExampleNumberForNonGeoEntity(cc))
	}
	return out
}

func sortedRegions() []string {
	var regions []string
	for r := range phonenumbers.GetSupportedRegions() {
		regions = append(regions, r)
	}
	sort.Strings(regions)
	return regions
}

// propertyRegions are the default regions the property test reads numbers
// from: no region, the regions named below, and every step-th other
// region in alphabetical order (none if step is 0, all if it is 1).
func propertyRegions(step int) []string {
	must := []string{"US", "CA", "GB", "DE", "FR", "IN", "AU", "BR", "CH", "NO", "RU", "KZ", "IT", "NL", "JP", "CN"}
	out := append([]string{""}, must...)
	for i, r := range sortedRegions() {
		if step > 0 && i%step == 0 && !slices.Contains(must, r) {
			out = append(out, r)
		}
	}
	return out
}

// propertyExtensions are appended to every spelling: an extension is
// dropped, never made part of the number.
var propertyExtensions = []string{"", " x2", " ext. 2", " / 2", " ~ 2", ";ext=2"}

// TestNeverAnotherNumber is the property the security review asked for:
// every spelling of every example number, read from a spread of default
// regions in every reading mode that allows it, gives exactly that number
// or is refused; it is never read as another number.
//
// The spellings: E.164; international format; "00" and digits; " " and
// digits (a decoded "+"); digits, country code first; national format
// (read from the number's own region only); each as it is and with every
// propertyExtensions suffix. The modes: auto (Assume "") for all of them;
// AssumeInternational for the international ones; AssumeNational for
// E.164, international format, decoded plus and national format. (A product
// declared to send national numbers that sends "0049..." or "49..." breaks
// the declaration; so does national format to AssumeInternational.)
//
// Spellings with a "+" (and digits in international mode) have one reading,
// so those without a "/" or "~" must not only give no other number but be
// accepted, unless the number is too short for E.164 (IR's UAN +98 9601).
//
// Lenient Normalizers are not run: every example number is valid, and a
// valid reading is chosen or refused before any merely possible one is
// looked at, so lenient and strict give the same answers here.
//
// The default regions are no region and 42 regions, the 16 named in
// propertyRegions and every 9th other one (about 13 s); PHONE_ALL_REGIONS=1
// reads from all of them. Under the race detector, which makes
// libphonenumber's regular expressions about fifteen times slower (over
// 200 s for the default sample) and has no goroutines to watch here, every
// 8th example number is read from no region, its own and the 16 named ones.
func TestNeverAnotherNumber(t *testing.T) {
	step, every, minRegions := 9, 1, 43
	switch {
	case os.Getenv("PHONE_ALL_REGIONS") != "":
		step, minRegions = 1, 200
	case raceEnabled:
		step, every, minRegions = 0, 8, 17
	}
	nums := allExampleNumbers()
	regions := propertyRegions(step)
	if len(nums) < 1000 || len(regions) < minRegions {
		t.Fatalf("%d numbers, %d regions", len(nums), len(regions))
	}
	results.reset()
	type tally struct{ ok, refused int }
	tallies := map[string]*tally{}
	failures := 0
	check := func(spelling string, n Normalizer, raw, want string, mustAccept bool) {
		got, err := n.Normalize(raw)
		tl := tallies[spelling]
		if tl == nil {
			tl = &tally{}
			tallies[spelling] = tl
		}
		switch {
		case err == nil && got == want:
			tl.ok++
			return
		case err == nil:
			t.Errorf("Normalizer{DefaultRegion: %q, Assume: %q}.Normalize(%q) = %q; want %q or an error",
				n.DefaultRegion, n.Assume, raw, got, want)
		case mustAccept:
			t.Errorf("Normalizer{DefaultRegion: %q, Assume: %q}.Normalize(%q) = %v; want %q",
				n.DefaultRegion, n.Assume, raw, err, want)
		default:
			var perr *Error
			if !errors.As(err, &perr) || !slices.Contains(reasons, perr.Reason) {
				t.Errorf("Normalize(%q): unknown error %v", raw, err)
			}
			tl.refused++
			return
		}
		if failures++; failures > 50 {
			t.FailNow()
		}
	}
	for i, num := range nums {
		if i%every != 0 {
			continue
		}
		digits := num.e164[1:]
		// libphonenumber reads back what it formats, except a few national
		// formats (AR mobiles, "09 15-2345-6789"); those are still checked
		// for giving no other number.
		for _, ext := range propertyExtensions {
			slash := ext == " / 2" || ext == " ~ 2"
			for _, sp := range []struct{ name, raw string }{
				{"e164", num.e164}, {"international format", num.intl}, {"decoded plus", " " + digits},
			} {
				for _, n := range []Normalizer{
					{DefaultRegion: num.region}, {DefaultRegion: "US", Assume: AssumeNational}, {Assume: AssumeInternational},
				} {
					check(sp.name+ext, n, sp.raw+ext, num.e164, !slash && isE164(num.e164))
				}
			}
			if ValidRegion(num.region) {
				for _, assume := range []string{"", AssumeNational} {
					check("national format"+ext, Normalizer{DefaultRegion: num.region, Assume: assume}, num.national+ext, num.e164, false)
				}
			}
			for _, sp := range []struct{ name, raw string }{
				{"00 and digits", "00" + digits}, {"digits", digits},
			} {
				check(sp.name+ext+" (international)", Normalizer{Assume: AssumeInternational}, sp.raw+ext, num.e164, !slash && isE164(num.e164))
				for _, region := range regions {
					check(sp.name+ext, Normalizer{DefaultRegion: region}, sp.raw+ext, num.e164, false)
				}
				if ValidRegion(num.region) && !slices.Contains(regions, num.region) {
					check(sp.name+ext, Normalizer{DefaultRegion: num.region}, sp.raw+ext, num.e164, false)
				}
			}
		}
	}
	names := make([]string, 0, len(tallies))
	for name := range tallies {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		tl := tallies[name]
		t.Logf("%-40s %7d exact %7d refused", name, tl.ok, tl.refused)
	}
	t.Logf("%d example numbers (every %d), %d default regions and each number's own", len(nums), every, len(regions))
}
