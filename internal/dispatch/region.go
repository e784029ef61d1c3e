package dispatch

import (
	"fmt"
	"strings"
)

// Edges are Twilio's public edge locations (reference 6.6).
var Edges = []string{"sydney", "sao-paulo", "dublin", "frankfurt", "tokyo", "singapore", "ashburn", "umatilla", "roaming"}

// Host builds a Twilio hostname the way twilio-go's RequestHandler.BuildUrl does:
// {product}.{edge}.{region}.twilio.com, with region "us1" when only an edge is
// given, {product}.{region}.twilio.com when only a region is given, and
// {product}.twilio.com when neither is. It does not validate; BaseURLs does.
func Host(product, edge, region string) string {
	if edge != "" && region == "" {
		region = "us1"
	}
	var b strings.Builder
	b.Grow(len(product) + len(edge) + len(region) + 13)
	b.WriteString(product)
	for _, p := range [...]string{edge, region} {
		if p != "" {
			b.WriteByte('.')
			b.WriteString(p)
		}
	}
	b.WriteString(".twilio.com")
	return b.String()
}

// BaseURLs returns the https base URLs of the 2010 API and of Studio for an edge
// and region, after validating them: the edge must be one of Edges and the region
// must look like "ie1" or "au1". Both empty gives the global hosts.
//
// A region without an edge is rejected, although Host can build it: Twilio
// retired the edge-less regional hostnames (api.ie1.twilio.com …) on 2026-04-28
// (https://www.twilio.com/docs/global-infrastructure/edge-locations/legacy-regions),
// so such a configuration would fail on every login instead of at provisioning.
// Remember that credentials are per region: an IE1 account needs IE1 tokens or keys.
func BaseURLs(edge, region string) (api, studio string, err error) {
	if edge != "" && !validEdge(edge) {
		return "", "", fmt.Errorf("edge %q: must be one of %s", edge, strings.Join(Edges, ", "))
	}
	if region != "" && !validRegion(region) {
		return "", "", fmt.Errorf("region %q: must be two lowercase letters and a digit, such as ie1 or au1", region)
	}
	if region != "" && edge == "" {
		return "", "", fmt.Errorf("region %q needs an edge (for example dublin with ie1, sydney with au1): Twilio retired the edge-less regional hostnames on 2026-04-28", region)
	}
	return "https://" + Host("api", edge, region), "https://" + Host("studio", edge, region), nil
}

func validEdge(edge string) bool {
	for _, e := range Edges {
		if e == edge {
			return true
		}
	}
	return false
}

// validRegion matches ^[a-z]{2}[0-9]$.
func validRegion(r string) bool {
	return len(r) == 3 && r[0] >= 'a' && r[0] <= 'z' && r[1] >= 'a' && r[1] <= 'z' && r[2] >= '0' && r[2] <= '9'
}
