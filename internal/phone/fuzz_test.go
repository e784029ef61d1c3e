package phone

import (
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/nyaruka/phonenumbers"
)

var e164Pattern = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)

// fuzzRegions are the DefaultRegion values a fuzz input can select with its
// region byte, and fuzzAssume the Assume values: the byte is
// region + len(fuzzRegions)*assume.
var (
	fuzzRegions = []string{"", "US", "GB", "IN", "DE", "AU", "BR", "xx"}
	fuzzAssume  = []string{"", AssumeInternational, AssumeNational}
)

// fuzzSeeds are spellings of the review's findings, each read with every
// Assume value: decoded plus, extensions and "/" or "~" that may be part of
// the number.
var fuzzSeeds = []struct {
	region, raw string
}{
	{"US", " 4792345678"}, {"DE", " 491711234567"}, {"DE", "491711234567"},
	{"US", "4792345678"}, {"US", "(201) 555-0123"}, {"", " 1 415 555 2671 / 2"},
	{"US", "415-555-2671 x2"}, {"US", "415-555-2671 ext. 2"}, {"US", "415-555-2671 ext 2"},
	{"US", "415-555-2671;ext=2"}, {"", "tel:+1-415-555-2671;ext=2"}, {"US", "415-555-2671#2"},
	{"US", "415-555-2671 / 2"}, {"US", "415-555-2671 ~ 2"}, {"DE", "0171/1234567"},
	{"DE", "030 / 12345 / 67"}, {"GB", "( 44) 7400 123456 EXT: 12"}, {"IN", `91\98765 43210 / 1`},
	{"AU", "%200412345678"}, {"BR", "0055 11 96123 4567 ~ 0"},
}

func FuzzNormalize(f *testing.F) {
	for _, tc := range normalizeCases {
		f.Add(tc.raw, fuzzIndex(tc.region, tc.assume), tc.lenient)
	}
	for i, s := range fuzzSeeds {
		for _, assume := range fuzzAssume {
			f.Add(s.raw, fuzzIndex(s.region, assume), i%2 == 0)
		}
	}
	regions, nums := exampleNumbers()
	for i, num := range nums {
		e164 := phonenumbers.Format(num, phonenumbers.E164)
		f.Add(e164[1:], uint8(0), false)
		if r := fuzzIndex(regions[i], ""); r != 0 {
			f.Add(phonenumbers.Format(num, phonenumbers.NATIONAL), r, i%2 == 0)
		}
	}
	f.Fuzz(func(t *testing.T, raw string, region uint8, lenient bool) {
		n := Normalizer{
			DefaultRegion: fuzzRegions[int(region)%len(fuzzRegions)],
			Assume:        fuzzAssume[int(region)/len(fuzzRegions)%len(fuzzAssume)],
			Lenient:       lenient,
		}
		got, err := n.Normalize(raw)
		want, wantErr := normalizeUncached(n, raw)
		sameResult(t, "Normalize", got, err, want, wantErr)
		if err != nil {
			if got != "" {
				t.Fatalf("Normalize(%q) = %q with error %v", raw, got, err)
			}
			checkReason(t, raw, err)
		} else {
			if !e164Pattern.MatchString(got) {
				t.Fatalf("Normalize(%q) = %q, not E.164", raw, got)
			}
			// Idempotent, checked without the cache: Normalize stores its
			// result under the E.164 key too.
			if again, err := normalizeUncached(n, got); err != nil || again != got {
				t.Fatalf("Normalize(%q) = %q, but Normalize(%q) = %q, %v", raw, got, got, again, err)
			}
			if cc := CallingCode(got); cc == "" {
				t.Fatalf("CallingCode(%q) is empty", got)
			}
			if r, u := Region(got), regionUncached(got); r != u {
				t.Fatalf("Region(%q) = %q cached, %q uncached", got, r, u)
			}
			if k, u := Kind(got), kindUncached(got); k != u {
				t.Fatalf("Kind(%q) = %q cached, %q uncached", got, k, u)
			}
			if k := Kind(got); k != "" && !ValidKind(k) {
				t.Fatalf("Kind(%q) = %q", got, k)
			}
		}

		sender, err := n.NormalizeSender(raw)
		if err != nil {
			checkReason(t, raw, err)
		} else if sender == "" || len(sender) > maxInput {
			t.Fatalf("NormalizeSender(%q) = %q", raw, sender)
		}
	})
}

// fuzzIndex returns the region byte that selects region and assume (the
// first region, "", when region is not in fuzzRegions).
func fuzzIndex(region, assume string) uint8 {
	var r, a int
	for i, x := range fuzzRegions {
		if x == region {
			r = i
		}
	}
	for i, x := range fuzzAssume {
		if x == assume {
			a = i
		}
	}
	return uint8(r + len(fuzzRegions)*a)
}

func FuzzMask(f *testing.F) {
	for _, tc := range normalizeCases {
		f.Add(tc.raw)
		f.Add(tc.want)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := Mask(s)
		if got == "" {
			t.Fatalf("Mask(%q) is empty", s)
		}
		in, out := countDigits(s), countDigits(got)
		if in >= 10 && out > 7 {
			t.Fatalf("Mask(%q) = %q shows %d digits", s, got, out)
		}
		if out > 0 && out >= in {
			t.Fatalf("Mask(%q) = %q shows every digit", s, got)
		}
		if !strings.Contains(got, "•••") {
			t.Fatalf("Mask(%q) = %q hides nothing", s, got)
		}
	})
}

func countDigits(s string) int {
	n := 0
	for _, r := range s {
		if r >= '0' && r <= '9' {
			n++
		}
	}
	return n
}

// FuzzRegionKind feeds Region, Kind and TypeOf "+" and any digits, valid,
// possible or neither: they must answer from their fixed sets, the same with
// and without the cache.
func FuzzRegionKind(f *testing.F) {
	for _, s := range []string{
		"16040550123", "19000000000", "449712345678", "80012345678", "447700900123",
		"77990000000", "35818000000", "5999", "2901234", "6189160000", "14155552671",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, digits string) {
		if len(digits) > 15 || !asciiDigits(digits) {
			return
		}
		e164 := "+" + digits
		region, kind, typ := Region(e164), Kind(e164), TypeOf(e164)
		if region != "" && !ValidRegion(region) {
			t.Fatalf("Region(%q) = %q", e164, region)
		}
		if kind != "" && !ValidKind(kind) {
			t.Fatalf("Kind(%q) = %q", e164, kind)
		}
		if !slices.Contains(typeWords[:], typ) {
			t.Fatalf("TypeOf(%q) = %q", e164, typ)
		}
		if u := kindUncached(e164); u != kind {
			t.Fatalf("Kind(%q) = %q cached, %q uncached", e164, kind, u)
		}
		if u := regionUncached(e164); u != region {
			t.Fatalf("Region(%q) = %q cached, %q uncached", e164, region, u)
		}
	})
}
