package phone

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/nyaruka/phonenumbers"
)

// normalizeUncached is Normalize without the cache.
func normalizeUncached(n Normalizer, raw string) (string, error) {
	in, err := clean(raw)
	if err != nil {
		return "", err
	}
	r, _, err := n.normalize(&in, n.region(), n.mode())
	return r.e164, err
}

// regionUncached is Region without the cache.
func regionUncached(e164 string) string {
	cc := CallingCode(e164)
	if cc == "" {
		return ""
	}
	if regions := phonenumbers.GetRegionCodesForCountryCode(atoi(cc)); len(regions) == 1 {
		return realRegion(regions[0])
	}
	return regionOf(e164)
}

// kindUncached is Kind without the cache.
func kindUncached(e164 string) string {
	cc := CallingCode(e164)
	if cc == "" {
		return ""
	}
	if nonGeographic(atoi(cc)) {
		return KindNonGeographic
	}
	var num phonenumbers.PhoneNumber
	if phonenumbers.ParseToNumber(e164, phonenumbers.UNKNOWN_REGION, &num) != nil {
		return ""
	}
	if typ := phonenumbers.GetNumberType(&num); typ != phonenumbers.UNKNOWN {
		return kindOfType(false, typ)
	}
	return kindOfType(false, typeByPrefix(atoi(cc), phonenumbers.GetNationalSignificantNumber(&num)))
}

// typeUncached is TypeOf without the cache.
func typeUncached(e164 string) string {
	num, err := phonenumbers.Parse(e164, phonenumbers.UNKNOWN_REGION)
	if CallingCode(e164) == "" || err != nil {
		return "unknown"
	}
	return typeWord(phonenumbers.GetNumberType(num))
}

// sameResult fails unless the two Normalize outcomes are identical.
func sameResult(t testing.TB, what string, got string, gotErr error, want string, wantErr error) {
	t.Helper()
	var ge, we *Error
	errors.As(gotErr, &ge)
	errors.As(wantErr, &we)
	if got != want || (ge == nil) != (we == nil) || (ge != nil && ge.Reason != we.Reason) {
		t.Fatalf("%s: cached %q, %v; uncached %q, %v", what, got, gotErr, want, wantErr)
	}
}

func TestCacheMatchesComputation(t *testing.T) {
	results.reset()
	// Twice: the first pass fills the cache, the second reads it, in an
	// order where entries made by one case are read by another.
	for pass := range 2 {
		for _, tc := range normalizeCases {
			n := Normalizer{DefaultRegion: tc.region, Lenient: tc.lenient, Assume: tc.assume}
			got, err := n.Normalize(tc.raw)
			want, wantErr := normalizeUncached(n, tc.raw)
			sameResult(t, fmt.Sprintf("pass %d %s", pass, tc.name), got, err, want, wantErr)
			strict := Normalizer{DefaultRegion: tc.region, Assume: tc.assume}
			got, err = strict.Normalize(tc.raw)
			want, wantErr = normalizeUncached(strict, tc.raw)
			sameResult(t, fmt.Sprintf("pass %d %s strict", pass, tc.name), got, err, want, wantErr)
			if tc.want != "" {
				if r, u := Region(tc.want), regionUncached(tc.want); r != u {
					t.Fatalf("Region(%q) = %q cached, %q uncached", tc.want, r, u)
				}
				if k, u := Kind(tc.want), kindUncached(tc.want); k != u {
					t.Fatalf("Kind(%q) = %q cached, %q uncached", tc.want, k, u)
				}
				if k, u := TypeOf(tc.want), typeUncached(tc.want); k != u {
					t.Fatalf("TypeOf(%q) = %q cached, %q uncached", tc.want, k, u)
				}
			}
		}
	}
	if results.len() == 0 {
		t.Fatal("nothing was cached")
	}
}

func TestCacheDoesNotKeepPossibleNumbers(t *testing.T) {
	results.reset()
	lenient := Normalizer{Lenient: true}
	if got, err := lenient.Normalize("+11234567890"); err != nil || got != "+11234567890" {
		t.Fatalf("lenient: %q, %v", got, err)
	}
	if got, err := (Normalizer{}).Normalize("+11234567890"); err == nil {
		t.Fatalf("strict after lenient: %q, want an error", got)
	}
}

func TestCacheIsBounded(t *testing.T) {
	results.reset()
	n := Normalizer{DefaultRegion: "US"}
	for i := range 3 * cacheGeneration {
		raw := fmt.Sprintf("(415) 555-%04d", i%10000)
		if _, err := n.Normalize(raw); err != nil {
			t.Fatalf("Normalize(%q): %v", raw, err)
		}
	}
	if l := results.len(); l > 2*cacheGeneration {
		t.Fatalf("cache holds %d entries, cap %d", l, 2*cacheGeneration)
	}
}

func TestCacheConcurrent(t *testing.T) {
	results.reset()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			n := Normalizer{DefaultRegion: "US"}
			for i := range 500 {
				raw := fmt.Sprintf("415555%04d", (g*131+i)%700)
				want := "+1" + raw
				if got, err := n.Normalize(raw); err != nil || got != want {
					t.Errorf("Normalize(%q) = %q, %v", raw, got, err)
					return
				}
				if r := Region(want); r != "US" {
					t.Errorf("Region(%q) = %q", want, r)
					return
				}
			}
		})
	}
	wg.Wait()
}
