package simulator

import "unicode/utf16"

// GSM 03.38 default alphabet, and its extension table whose characters take two septets.
const (
	gsm7Basic     = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
	gsm7Extension = "\f^{}\\[~]|€"
)

var gsm7Septets = func() map[rune]int {
	m := make(map[rune]int, 140)
	for _, r := range gsm7Basic {
		m[r] = 1
	}
	for _, r := range gsm7Extension {
		m[r] = 2
	}
	return m
}()

// segments counts the SMS segments of body: GSM-7 fits 160 septets in one segment and 153
// per segment when concatenated; a single character outside GSM-7 switches the whole body
// to UCS-2, 70 UTF-16 units in one segment, 67 when concatenated. An empty body (media
// only) is one segment.
func segments(body string) int {
	septets, gsm := 0, true
	for _, r := range body {
		n, ok := gsm7Septets[r]
		if !ok {
			gsm = false
			break
		}
		septets += n
	}
	single, multi, units := 160, 153, septets
	if !gsm {
		single, multi, units = 70, 67, len(utf16.Encode([]rune(body)))
	}
	if units <= single {
		return 1
	}
	return (units + multi - 1) / multi
}
