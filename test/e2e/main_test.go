package e2e

import (
	"fmt"
	"os"
	"testing"
)

// TestMain runs the tests, then scans every captured log against every value
// the tests registered (see registry_test.go) and fails the run if one
// appears. Each test's cleanup already scanned its own processes; this pass
// catches a value first used by a later test.
func TestMain(m *testing.M) {
	registerSubstr("message", "every test message", messageMarker)
	code := m.Run()
	fresh, lines, procs := finalScan()
	for i, v := range fresh {
		if i == 50 {
			fmt.Fprintf(os.Stderr, "log redaction: %d more lines not listed\n", len(fresh)-i)
			break
		}
		fmt.Fprintf(os.Stderr, "FAIL log redaction (final scan): %s\n", v)
	}
	if len(fresh) > 0 && code == 0 {
		code = 1
	}
	if testing.Verbose() && procs > 0 {
		registry.RLock()
		n := len(registry.substr) + len(registry.words)
		registry.RUnlock()
		fmt.Printf("log redaction: scanned %d log lines of %d caddy processes for %d registered values\n", lines, procs, n)
	}
	os.Exit(code)
}
