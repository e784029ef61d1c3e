package phone

import "testing"

func BenchmarkNormalizeE164(b *testing.B) {
	n := Normalizer{DefaultRegion: "US"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := n.Normalize("+14155552671"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkNormalizeNational(b *testing.B) {
	n := Normalizer{DefaultRegion: "US"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := n.Normalize("(415) 555-2671"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkNormalizeInternationalNoPlus is PingOne's NUMBER_ONLY seen from
// a region where the national reading fails first.
func BenchmarkNormalizeInternationalNoPlus(b *testing.B) {
	n := Normalizer{DefaultRegion: "GB"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := n.Normalize("14155552671"); err != nil {
			b.Fatal(err)
		}
	}
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

func BenchmarkMask(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_ = Mask("+447700900123")
	}
}

func BenchmarkRegion(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_ = Region("+14155552671")
	}
}
