package phone

import (
	"regexp"
	"strings"
	"testing"

	"github.com/nyaruka/phonenumbers"
)

var e164Pattern = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)

// fuzzRegions are the DefaultRegion values a fuzz input can select with its
// region byte.
var fuzzRegions = []string{"", "US", "GB", "IN", "DE", "AU", "BR", "xx"}

func FuzzNormalize(f *testing.F) {
	for _, tc := range normalizeCases {
		f.Add(tc.raw, regionIndex(tc.region), tc.lenient)
	}
	regions, nums := exampleNumbers()
	for i, num := range nums {
		e164 := phonenumbers.Format(num, phonenumbers.E164)
		f.Add(e164[1:], uint8(0), false)
		if r := regionIndex(regions[i]); r != 0 {
			f.Add(phonenumbers.Format(num, phonenumbers.NATIONAL), r, i%2 == 0)
		}
	}
	f.Fuzz(func(t *testing.T, raw string, region uint8, lenient bool) {
		n := Normalizer{DefaultRegion: fuzzRegions[int(region)%len(fuzzRegions)], Lenient: lenient}
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
		}

		sender, err := n.NormalizeSender(raw)
		if err != nil {
			checkReason(t, raw, err)
		} else if sender == "" || len(sender) > maxInput {
			t.Fatalf("NormalizeSender(%q) = %q", raw, sender)
		}
	})
}

func regionIndex(region string) uint8 {
	for i, r := range fuzzRegions {
		if r == region {
			return uint8(i)
		}
	}
	return 0
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
