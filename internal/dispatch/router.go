package dispatch

import (
	"fmt"
	"slices"
)

// CountryRule sends destinations whose dialing code starts with Prefix through
// Account, like NetIQ's "Country Dialing Code Filter" per subaccount.
type CountryRule struct {
	// Prefix is the country dialing code digits: "91", "44", "1876". A leading
	// '+' is accepted and ignored.
	Prefix string
	// Account is the (sub)account for these destinations.
	Account Account
}

// Router chooses the accounts a message goes through: the primary account for
// the destination, then the fallback accounts in order. Build it with NewRouter;
// it is read-only afterwards and safe for concurrent use.
type Router struct {
	// Main serves every destination no country rule matches.
	Main Account
	// Countries are per-dialing-code subaccounts; the longest matching prefix wins.
	Countries []CountryRule
	// Fallback accounts are tried in order after the primary one, when the
	// dispatch policy allows a fallback.
	Fallback []Account

	byPrefix map[string]int // normalized prefix -> index into Countries and plans
	mainPlan []*Account
	plans    [][]*Account
}

// NewRouter validates the accounts and the rules and precomputes every plan.
// It rejects an invalid account, a prefix that is not 1 to 4 digits (no leading
// 0; an optional leading '+'), a duplicate prefix, two different accounts with
// the same Name, and a fallback list that names the main account or the same
// account twice (a loop). An account is "the same" when it has the same Name,
// or the same SID, credentials, hosts, messaging service and senders.
// Errors name the offending entry: "countries[1] (prefix 44): …", "fallback[0]: …".
//
// The slices are copied: later changes by the caller have no effect.
func NewRouter(main Account, countries []CountryRule, fallback []Account) (*Router, error) {
	r := &Router{
		Main:      main,
		Countries: slices.Clone(countries),
		Fallback:  slices.Clone(fallback),
		byPrefix:  make(map[string]int, len(countries)),
	}
	if err := r.Main.Validate(); err != nil {
		return nil, fmt.Errorf("main: %w", err)
	}
	// Every distinct configuration must have a distinct name, since names label
	// metrics and answers; the same account may serve several prefixes.
	byName := map[string]string{main.Name: "main"}
	named := map[string]*Account{main.Name: &r.Main}
	for i := range r.Countries {
		c := &r.Countries[i]
		where := fmt.Sprintf("countries[%d] (prefix %s)", i, c.Prefix)
		p, ok := normalizePrefix(c.Prefix)
		if !ok {
			return nil, fmt.Errorf("%s: prefix must be 1 to 4 digits of a country dialing code, optionally after '+', not starting with 0", where)
		}
		if j, dup := r.byPrefix[p]; dup {
			return nil, fmt.Errorf("%s: duplicate prefix, already used by countries[%d]", where, j)
		}
		r.byPrefix[p] = i
		if err := c.Account.Validate(); err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
		if other, ok := named[c.Account.Name]; ok && !sameRoute(other, &c.Account) {
			return nil, fmt.Errorf("%s: account name %q is already used by %s for a different account", where, c.Account.Name, byName[c.Account.Name])
		}
		if _, ok := named[c.Account.Name]; !ok {
			named[c.Account.Name] = &c.Account
			byName[c.Account.Name] = where
		}
	}
	for i := range r.Fallback {
		f := &r.Fallback[i]
		where := fmt.Sprintf("fallback[%d]", i)
		if err := f.Validate(); err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
		if f.Name == r.Main.Name || sameRoute(f, &r.Main) {
			return nil, fmt.Errorf("%s: account %q is the main account: falling back to it would loop", where, f.Name)
		}
		for j := range i {
			if f.Name == r.Fallback[j].Name || sameRoute(f, &r.Fallback[j]) {
				return nil, fmt.Errorf("%s: account %q is already fallback[%d]: the chain would loop", where, f.Name, j)
			}
		}
		if other, ok := named[f.Name]; ok && !sameRoute(other, f) {
			return nil, fmt.Errorf("%s: account name %q is already used by %s for a different account", where, f.Name, byName[f.Name])
		}
	}
	r.Main.prepare()
	for i := range r.Countries {
		r.Countries[i].Account.prepare()
	}
	for i := range r.Fallback {
		r.Fallback[i].prepare()
	}
	r.mainPlan = r.chain(&r.Main)
	r.plans = make([][]*Account, len(r.Countries))
	for i := range r.Countries {
		r.plans[i] = r.chain(&r.Countries[i].Account)
	}
	return r, nil
}

// chain is primary followed by the fallbacks that are not the primary itself.
func (r *Router) chain(primary *Account) []*Account {
	plan := make([]*Account, 0, 1+len(r.Fallback))
	plan = append(plan, primary)
	for i := range r.Fallback {
		if r.Fallback[i].Name != primary.Name {
			plan = append(plan, &r.Fallback[i])
		}
	}
	return plan
}

// Plan returns the accounts for a destination in E.164 ("+918…"): the primary
// account (the country rule with the longest matching prefix, else Main)
// followed by the fallback accounts in order, without repeats. The slice is
// shared by every call: do not modify it. Plan does not allocate.
func (r *Router) Plan(toE164 string) []*Account {
	if r.byPrefix == nil { // not built by NewRouter
		primary := &r.Main
		if i := r.match(toE164); i >= 0 {
			primary = &r.Countries[i].Account
		}
		return r.chain(primary)
	}
	if i := r.match(toE164); i >= 0 {
		return r.plans[i]
	}
	return r.mainPlan
}

// match returns the index of the country rule with the longest prefix of to, or -1.
func (r *Router) match(to string) int {
	if len(to) > 0 && to[0] == '+' {
		to = to[1:]
	}
	for n := min(4, len(to)); n >= 1; n-- {
		if r.byPrefix != nil {
			if i, ok := r.byPrefix[to[:n]]; ok {
				return i
			}
			continue
		}
		for i := range r.Countries {
			if p, _ := normalizePrefix(r.Countries[i].Prefix); p == to[:n] {
				return i
			}
		}
	}
	return -1
}

func normalizePrefix(p string) (string, bool) {
	if len(p) > 0 && p[0] == '+' {
		p = p[1:]
	}
	if !isDigits(p, 1, 4) || p[0] == '0' {
		return "", false
	}
	return p, true
}

// sameRoute reports whether two accounts would send the same request the same
// way: same account, credentials, hosts, messaging service and senders.
func sameRoute(a, b *Account) bool {
	return a.AccountSID == b.AccountSID && a.Username == b.Username && a.Password == b.Password &&
		a.APIURL() == b.APIURL() && a.StudioURL() == b.StudioURL() &&
		a.MessagingServiceSID == b.MessagingServiceSID &&
		slices.EqualFunc(a.Senders, b.Senders, func(x, y Sender) bool {
			return x.Number == y.Number && x.Type == y.Type && x.SMS == y.SMS && x.Voice == y.Voice &&
				slices.Equal(x.Countries, y.Countries)
		})
}
