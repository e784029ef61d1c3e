package phone

import (
	"errors"
	"fmt"
	"testing"

	"github.com/nyaruka/phonenumbers"
)

// exampleNumbers returns libphonenumber's example numbers: for every region,
// a mobile and a fixed-line number.
func exampleNumbers() (regions []string, nums []*phonenumbers.PhoneNumber) {
	for region := range phonenumbers.GetSupportedRegions() {
		for _, typ := range []phonenumbers.PhoneNumberType{phonenumbers.MOBILE, phonenumbers.FIXED_LINE} {
			if num := phonenumbers.GetExampleNumberForType(region, typ); num != nil {
				regions = append(regions, region)
				nums = append(nums, num)
			}
		}
	}
	return regions, nums
}

// TestExampleNumbers runs every region's example numbers through Normalize
// as their country writes them (national format, with DefaultRegion), in
// international format, in E.164 and as E.164 without the "+". Written
// nationally, a number may also be another country's number written
// country code first ("(201) 555-0123" from the US is also +20 1555 0123):
// that is refused unless national numbers are assumed.
func TestExampleNumbers(t *testing.T) {
	regions, nums := exampleNumbers()
	if len(nums) < 400 {
		t.Fatalf("only %d example numbers", len(nums))
	}
	for i, num := range nums {
		region := regions[i]
		want := phonenumbers.Format(num, phonenumbers.E164)
		if !phonenumbers.IsValidNumber(num) {
			continue // a few examples are not valid for their own metadata
		}
		national := phonenumbers.Format(num, phonenumbers.NATIONAL)
		cases := []struct {
			n         Normalizer
			raw       string
			ambiguous bool // may be refused as ambiguous
		}{
			{Normalizer{DefaultRegion: region}, national, true},
			{Normalizer{DefaultRegion: region, Assume: AssumeNational}, national, false},
			{Normalizer{}, phonenumbers.Format(num, phonenumbers.INTERNATIONAL), false},
			{Normalizer{DefaultRegion: "US"}, want, false},
			{Normalizer{}, want[1:], false},
			{Normalizer{DefaultRegion: region, Assume: AssumeInternational}, want[1:], false},
		}
		for _, c := range cases {
			// Skip spellings libphonenumber itself does not read back (its
			// national format of AR mobiles, "09 15-2345-6789").
			ref := c.raw
			if c.n.region() == "" && ref[0] != '+' {
				ref = "+" + ref // what Normalize reads digits as without a region
			}
			if own, err := phonenumbers.Parse(ref, c.n.region()); err != nil ||
				phonenumbers.Format(own, phonenumbers.E164) != want || !phonenumbers.IsValidNumber(own) {
				t.Logf("%s: libphonenumber does not read %q back", region, c.raw)
				continue
			}
			got, err := c.n.Normalize(c.raw)
			var perr *Error
			if c.ambiguous && errors.As(err, &perr) && perr.Reason == reasonAmbiguous {
				continue
			}
			if err != nil || got != want {
				t.Errorf("%s: Normalizer{%q}.Normalize(%q) = %q, %v; want %q", region, c.n.DefaultRegion, c.raw, got, err, want)
			}
		}
		// Example numbers may be shared: IM's is also a valid GB number.
		if got, own := Region(want), phonenumbers.GetRegionCodeForNumber(num); got != own {
			t.Errorf("Region(%q) = %q; want %q", want, got, own)
		}
		if cc := CallingCode(want); cc != fmt.Sprint(num.GetCountryCode()) {
			t.Errorf("CallingCode(%q) = %q; want %d", want, cc, num.GetCountryCode())
		}
	}
}
