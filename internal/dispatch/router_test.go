package dispatch

import (
	"slices"
	"testing"
)

func names(plan []*Account) []string {
	out := make([]string, len(plan))
	for i, a := range plan {
		out[i] = a.Name
	}
	return out
}

func TestRouterPlan(t *testing.T) {
	india, uk, jamaica, nanp := acct("india", 2), acct("uk", 3), acct("jamaica", 4), acct("nanp", 5)
	backup, backup2 := acct("backup", 8), acct("backup2", 9)
	r, err := NewRouter(acct("main", 1), []CountryRule{
		{Prefix: "+91", Account: india},
		{Prefix: "44", Account: uk},
		{Prefix: "1", Account: nanp},
		{Prefix: "1876", Account: jamaica},
		{Prefix: "1809", Account: uk}, // the same account may serve several prefixes
	}, []Account{backup, india, backup2})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		to   string
		want []string
	}{
		{"india subaccount for +91", "+919812345678", []string{"india", "backup", "backup2"}},
		{"uk subaccount for +44", "+447700900123", []string{"uk", "backup", "india", "backup2"}},
		{"unlisted country goes to main", "+33612345678", []string{"main", "backup", "india", "backup2"}},
		{"longest prefix 1876 beats 1", "+18765550100", []string{"jamaica", "backup", "india", "backup2"}},
		{"plain 1 for the rest of nanp", "+14155550100", []string{"nanp", "backup", "india", "backup2"}},
		{"same account on a second prefix", "+18095550100", []string{"uk", "backup", "india", "backup2"}},
		{"without plus", "919812345678", []string{"india", "backup", "backup2"}},
		{"short input", "+9", []string{"main", "backup", "india", "backup2"}},
		{"empty input", "", []string{"main", "backup", "india", "backup2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := names(r.Plan(tt.to)); !slices.Equal(got, tt.want) {
				t.Fatalf("Plan(%q) = %v, want %v", tt.to, got, tt.want)
			}
		})
	}
	t.Run("plan does not allocate", func(t *testing.T) {
		if n := testing.AllocsPerRun(100, func() { _ = r.Plan("+18765550100") }); n != 0 {
			t.Fatalf("Plan allocates %v times", n)
		}
	})
	t.Run("router literal still works", func(t *testing.T) {
		lit := &Router{Main: acct("main", 1), Countries: []CountryRule{{Prefix: "+91", Account: india}}, Fallback: []Account{backup}}
		if got := names(lit.Plan("+919812345678")); !slices.Equal(got, []string{"india", "backup"}) {
			t.Fatalf("Plan = %v", got)
		}
	})
}

func TestNewRouterErrors(t *testing.T) {
	main := acct("main", 1)
	india, backup := acct("india", 2), acct("backup", 8)
	mainTwin := main
	mainTwin.Name = "main-again"
	otherIndia := acct("india", 3) // same name, different account
	broken := acct("broken", 4)
	broken.AccountSID = "AC1"
	tests := []struct {
		name      string
		main      Account
		countries []CountryRule
		fallback  []Account
		err       string
	}{
		{name: "valid", main: main, countries: []CountryRule{{"91", india}}, fallback: []Account{backup}},
		{name: "invalid main", main: broken, err: "main: |AccountSID"},
		{name: "duplicate prefix", main: main, countries: []CountryRule{{"91", india}, {"+91", india}},
			err: "countries[1] (prefix +91): duplicate prefix, already used by countries[0]"},
		{name: "prefix with letters", main: main, countries: []CountryRule{{"9a", india}}, err: "countries[0] (prefix 9a): prefix must be 1 to 4 digits"},
		{name: "prefix too long", main: main, countries: []CountryRule{{"44", india}, {"18765", india}}, err: "countries[1] (prefix 18765)"},
		{name: "empty prefix", main: main, countries: []CountryRule{{"+", india}}, err: "countries[0] (prefix +)"},
		{name: "prefix starting with 0", main: main, countries: []CountryRule{{"044", india}}, err: "countries[0] (prefix 044)"},
		{name: "invalid country account", main: main, countries: []CountryRule{{"44", india}, {"33", broken}}, err: "countries[1] (prefix 33): |AccountSID"},
		{name: "same name for two accounts", main: main, countries: []CountryRule{{"91", india}, {"92", otherIndia}},
			err: `countries[1] (prefix 92): account name "india" is already used by countries[0] (prefix 91)`},
		{name: "fallback to main loops", main: main, fallback: []Account{backup, main}, err: `fallback[1]: account "main" is the main account`},
		{name: "fallback to a renamed copy of main loops", main: main, fallback: []Account{mainTwin}, err: `fallback[0]: account "main-again" is the main account`},
		{name: "fallback twice", main: main, fallback: []Account{backup, india, backup}, err: `fallback[2]: account "backup" is already fallback[0]`},
		{name: "fallback name clash", main: main, countries: []CountryRule{{"91", india}}, fallback: []Account{otherIndia},
			err: `fallback[0]: account name "india" is already used by countries[0]`},
		{name: "invalid fallback", main: main, fallback: []Account{broken}, err: "fallback[0]: |AccountSID"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewRouter(tt.main, tt.countries, tt.fallback)
			wantErr(t, err, tt.err)
		})
	}
}
