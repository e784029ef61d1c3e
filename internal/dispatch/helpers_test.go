package dispatch

import (
	"fmt"
	"strings"
	"testing"
)

// sid returns a well-formed SID: prefix and n as 32 hex digits.
func sid(prefix string, n int) string { return fmt.Sprintf("%s%032x", prefix, n) }

// acct returns a valid account named name with its own SID and token.
func acct(name string, n int) Account {
	return Account{Name: name, AccountSID: sid("AC", n), Username: sid("AC", n), Password: fmt.Sprintf("token-%d", n)}
}

// wantErr checks that err is nil when want is empty, else that it contains every
// comma-free fragment of want separated by '|'.
func wantErr(t *testing.T, err error, want string) {
	t.Helper()
	if want == "" {
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		return
	}
	if err == nil {
		t.Fatalf("no error, want one containing %q", want)
	}
	for _, frag := range strings.Split(want, "|") {
		if !strings.Contains(err.Error(), frag) {
			t.Fatalf("error %q does not contain %q", err, frag)
		}
	}
}
