package gateway

import (
	"strings"

	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/phone"
)

// Destinations are the rules on where a message may go, checked before
// anything is sent or any limit is spent.
type Destinations struct {
	// Allow (when non-nil, exclusive) and Deny are ISO regions.
	Allow, Deny map[string]bool
	// AllowKinds opens number kinds that phone.Kind reports and that are
	// refused by default (phone.RiskyKinds: toll fraud carriers).
	AllowKinds map[string]bool
	// SimulatorOnly: every upstream is the loopback simulator, where
	// Twilio's magic test numbers (+1 500 555 xxxx, personal numbers to
	// libphonenumber) cost nothing and are let through.
	SimulatorOnly bool
}

// magicTestPrefix starts Twilio's magic test numbers.
const magicTestPrefix = "+1500555"

// Check returns the refusing kind ("country" or a number kind) and a reason
// safe to show and log (no number), or "" when the destination is allowed.
func (d *Destinations) Check(e164 string) (kind, reason string) {
	region := phone.Region(e164)
	switch {
	case region == "" && (d.Allow != nil || d.Deny != nil):
		return "country", "the destination's country cannot be told, and this route allows only some countries"
	case region != "" && (d.Allow != nil && !d.Allow[region] || d.Deny[region]):
		return "country", "sending to region " + region + " is not allowed on this route"
	}
	k := phone.Kind(e164)
	if k == "" || d.AllowKinds[k] {
		return "", ""
	}
	if k == phone.KindPersonalNumber && d.SimulatorOnly && strings.HasPrefix(e164, magicTestPrefix) {
		return "", ""
	}
	return k, "sending to " + strings.ReplaceAll(strings.TrimSuffix(k, "_number"), "_", " ") + " numbers is not allowed on this route (allow_number_types " + k + " opens them)"
}
