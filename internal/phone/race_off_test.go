//go:build !race

package phone

// raceEnabled: the race detector makes libphonenumber's regular expressions
// about fifteen times slower.
const raceEnabled = false
