package phone

import (
	"errors"
	"testing"
)

func TestNormalizeSender(t *testing.T) {
	cases := []struct {
		name   string
		region string
		raw    string
		want   string
		reason string
	}{
		{name: "e164", raw: "+15005550006", want: "+15005550006"},
		{name: "space for plus", raw: " 15005550006", want: "+15005550006"},
		{name: "national with region", region: "US", raw: "(415) 555-2671", want: "+14155552671"},
		{name: "netiq", raw: `91\9191919191`, want: "+919191919191"},
		{name: "netiq plus", raw: `+91\9876543210`, want: "+919876543210"},
		{name: "tel", raw: "tel:+14155552671", want: "+14155552671"},
		{name: "short code 5", raw: "12345", want: "12345"},
		{name: "short code 3", raw: "123", want: "123"},
		{name: "short code 8", raw: "12345678", want: "12345678"},
		{name: "short code spaced", raw: " 123 456 ", want: "123456"},
		{name: "short code dashed", raw: "12-345", want: "12345"},
		{name: "short code 8 digits wins over national", region: "SG", raw: "81234567", want: "81234567"},
		{name: "alphanumeric", raw: "ACME", want: "ACME"},
		{name: "alphanumeric with digits and space", raw: "Acme Bank 2", want: "Acme Bank 2"},
		{name: "alphanumeric 11", raw: "ABCDEFGHIJK", want: "ABCDEFGHIJK"},
		{name: "alphanumeric 1", raw: "A", want: "A"},
		{name: "alphanumeric trimmed", raw: " ACME ", want: "ACME"},
		{name: "alphanumeric 12 too long", raw: "ABCDEFGHIJKL", reason: reasonLetters},
		{name: "alphanumeric punctuation", raw: "ACME-BANK", reason: reasonLetters},
		{name: "alphanumeric non-ascii", raw: "BANQUE\u00c9", reason: reasonLetters},
		{name: "two digits", raw: "12", reason: reasonTooShort},
		{name: "nine digits no region", raw: "123456789", reason: reasonNoRegion},
		{name: "short code with plus", raw: "+12345", reason: reasonTooShort},
		{name: "empty", raw: "", reason: reasonEmpty},
		{name: "too long", raw: string(make([]byte, 65)), reason: reasonTooLong},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Normalizer{DefaultRegion: tc.region}.NormalizeSender(tc.raw)
			if tc.want != "" {
				if err != nil || got != tc.want {
					t.Fatalf("NormalizeSender(%q) = %q, %v; want %q", tc.raw, got, err, tc.want)
				}
				return
			}
			var perr *Error
			if !errors.As(err, &perr) || perr.Reason != tc.reason {
				t.Fatalf("NormalizeSender(%q) = %q, %v; want reason %q", tc.raw, got, err, tc.reason)
			}
		})
	}
}
