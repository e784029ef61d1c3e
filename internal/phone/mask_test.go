package phone

import "testing"

func TestMask(t *testing.T) {
	cases := []struct {
		name string
		in   string
		want string
	}{
		{"gb", "+447700900123", "+4477••••123"},
		{"us", "+14155552671", "+1415••••671"},
		{"ten digits", "4155552671", "415••••671"},
		{"eight digits", "+12345678", "+1••••678"},
		{"seven digits", "1234567", "••••67"},
		{"six digits short code", "123456", "••••56"},
		{"five digits short code", "12345", "••••5"},
		{"four digits", "1234", "••••"},
		{"one digit", "+1", "+••••"},
		{"fifteen digits", "+123456789012345", "+1234••••345"},
		{"formatted", "+1 (415) 555-2671", "+1415••••671"},
		{"space for plus", " 14155552671", "1415••••671"},
		{"alphanumeric sender", "ACME", "•••"},
		{"letters", "call me", "•••"},
		{"empty", "", "•••"},
		{"plus only", "+", "•••"},
		{"netiq", `91\9876543210`, "•••"},
		{"full-width", "\uFF11\uFF14\uFF11\uFF15\uFF15\uFF15\uFF15\uFF12\uFF16\uFF17\uFF11", "•••"},
		{"invalid utf-8", "\xff\xfe", "•••"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := Mask(tc.in); got != tc.want {
				t.Errorf("Mask(%q) = %q; want %q", tc.in, got, tc.want)
			}
		})
	}
}
