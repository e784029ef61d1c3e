package mapping

import (
	"fmt"
	"strings"
	"time"
)

// RouteDefaults are the route settings a mapping declares for its product
// ("route_defaults"): what a route that uses the mapping takes for each
// setting it does not set itself. The zero value of a field means the
// mapping declares nothing for it.
type RouteDefaults struct {
	// Timeout is the request's whole budget (Caddyfile `timeout`).
	Timeout time.Duration
	// Dedup is the duplicate window (Caddyfile `dedup <window>`); DedupOff
	// is set for "off" (`dedup off`).
	Dedup    time.Duration
	DedupOff bool
	// DefaultRegion is the ISO 3166 region, upper case (`default_region`).
	DefaultRegion string
	// AssumeNumbers is AssumeInternational or AssumeNational
	// (`assume_numbers`). Compile applies it itself when Config.Assume is
	// empty; a route that builds its phone normalizer from it gets the
	// same reading.
	AssumeNumbers string
}

// Defaults returns the route settings the file declares, for a route
// to apply before it compiles the mapping (default_region and
// assume_numbers shape the phone normalizer Compile takes). It is the zero
// value when the file declares none or one of them does not parse (Compile
// reports that).
func (s *Spec) Defaults() RouteDefaults {
	d, err := s.routeDefaults()
	if err != nil {
		return RouteDefaults{}
	}
	return d
}

// Defaults returns the route settings the mapping declares (see
// Spec.Defaults).
func (m *Mapping) Defaults() RouteDefaults { return m.defaults }

// routeDefaults reads route_defaults; the schema has checked the syntax,
// this the values (a duration too large to hold, a region not upper case).
func (s *Spec) routeDefaults() (RouteDefaults, error) {
	var d RouteDefaults
	rd := s.RouteDefaults
	if rd == nil {
		return d, nil
	}
	duration := func(key, v string) (time.Duration, error) {
		t, err := time.ParseDuration(v)
		if err == nil && t <= 0 {
			err = fmt.Errorf("must be longer than 0")
		}
		if err != nil {
			return 0, at(fmt.Errorf("%q is not a duration: %w", v, err), "route_defaults", key)
		}
		return t, nil
	}
	var err error
	if rd.Timeout != "" {
		if d.Timeout, err = duration("timeout", rd.Timeout); err != nil {
			return RouteDefaults{}, err
		}
	}
	switch rd.Dedup {
	case "":
	case "off":
		d.DedupOff = true
	default:
		if d.Dedup, err = duration("dedup", rd.Dedup); err != nil {
			return RouteDefaults{}, err
		}
	}
	d.DefaultRegion = strings.ToUpper(rd.DefaultRegion)
	d.AssumeNumbers = strings.ToLower(rd.AssumeNumbers)
	if !ValidAssume(d.AssumeNumbers) {
		return RouteDefaults{}, at(fmt.Errorf("%q is not %q or %q", rd.AssumeNumbers, AssumeInternational, AssumeNational), "route_defaults", "assume_numbers")
	}
	return d, nil
}
