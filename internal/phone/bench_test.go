package phone

import (
	"fmt"
	"testing"
)

// Each Normalize benchmark has a "cached" case (the same number every time:
// the configured sender, a retry, Region after Normalize), an "uncached" case
// cycling through 10,000 distinct numbers, more than the cache holds, so that
// every call misses (first-time recipients), and "nocache", the same inputs
// computed without touching the cache (what a miss costs without the cache's
// bookkeeping).

func benchNormalize(b *testing.B, n Normalizer, format string) {
	inputs := make([]string, 10000)
	for i := range inputs {
		inputs[i] = fmt.Sprintf(format, i)
		if _, err := normalizeUncached(n, inputs[i]); err != nil {
			b.Fatalf("%q: %v", inputs[i], err)
		}
	}
	b.Run("cached", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := n.Normalize(inputs[0]); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("nocache", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if _, err := normalizeUncached(n, inputs[i]); err != nil {
				b.Fatal(err)
			}
			i = (i + 1) % len(inputs)
		}
	})
	b.Run("uncached", func(b *testing.B) {
		results.reset()
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if _, err := n.Normalize(inputs[i]); err != nil {
				b.Fatal(err)
			}
			i = (i + 1) % len(inputs)
		}
	})
}

func BenchmarkNormalizeE164(b *testing.B) {
	benchNormalize(b, Normalizer{DefaultRegion: "US"}, "+1415555%04d")
}

func BenchmarkNormalizeNational(b *testing.B) {
	benchNormalize(b, Normalizer{DefaultRegion: "US"}, "(415) 555-%04d")
}

// BenchmarkNormalizeInternationalNoPlus is PingOne's NUMBER_ONLY seen from
// a region where the national reading is tried and fails first.
func BenchmarkNormalizeInternationalNoPlus(b *testing.B) {
	benchNormalize(b, Normalizer{DefaultRegion: "GB"}, "1415555%04d")
}

func BenchmarkNormalizeInvalid(b *testing.B) {
	n := Normalizer{DefaultRegion: "US"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := n.Normalize("+11234567890"); err == nil {
			b.Fatal("no error")
		}
	}
}

func BenchmarkNormalizeSenderShortCode(b *testing.B) {
	n := Normalizer{DefaultRegion: "US"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := n.NormalizeSender("12345"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMask(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_ = Mask("+447700900123")
	}
}

func BenchmarkRegion(b *testing.B) {
	for _, e164 := range []string{"+919876543210", "+14155552671"} {
		b.Run(e164[:3]+"/cached", func(b *testing.B) {
			results.reset()
			if _, err := (Normalizer{}).Normalize(e164); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				_ = Region(e164)
			}
		})
		b.Run(e164[:3]+"/uncached", func(b *testing.B) {
			results.reset()
			b.ReportAllocs()
			for b.Loop() {
				_ = Region(e164)
			}
		})
	}
}

// BenchmarkKind: "cached" is a number Normalize has seen (what a guard asks
// after Normalize), "valid" one it has not, "possible" a number that is not
// valid (+1 900 000 0000), matched against every NANPA region's patterns.
func BenchmarkKind(b *testing.B) {
	for _, c := range []struct{ name, e164 string }{
		{"cached", "+19005550123"}, {"valid", "+19005550123"}, {"possible", "+19000000000"},
	} {
		b.Run(c.name, func(b *testing.B) {
			results.reset()
			if c.name == "cached" {
				if _, err := (Normalizer{}).Normalize(c.e164); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportAllocs()
			for b.Loop() {
				if Kind(c.e164) != KindPremiumRate {
					b.Fatal("not premium rate")
				}
			}
		})
	}
}
