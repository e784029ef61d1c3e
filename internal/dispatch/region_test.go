package dispatch

import "testing"

func TestHost(t *testing.T) {
	tests := []struct {
		name, product, edge, region, want string
	}{
		{"global", "api", "", "", "api.twilio.com"},
		{"edge and region", "api", "dublin", "ie1", "api.dublin.ie1.twilio.com"},
		{"edge only defaults to us1", "api", "ashburn", "", "api.ashburn.us1.twilio.com"},
		{"region only like twilio-go", "api", "", "au1", "api.au1.twilio.com"},
		{"studio", "studio", "sydney", "au1", "studio.sydney.au1.twilio.com"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Host(tt.product, tt.edge, tt.region); got != tt.want {
				t.Fatalf("Host(%q, %q, %q) = %q, want %q", tt.product, tt.edge, tt.region, got, tt.want)
			}
		})
	}
}

func TestBaseURLs(t *testing.T) {
	tests := []struct {
		name, edge, region  string
		wantAPI, wantStudio string
		err                 string
	}{
		{name: "global", wantAPI: "https://api.twilio.com", wantStudio: "https://studio.twilio.com"},
		{name: "ie1 via dublin", edge: "dublin", region: "ie1", wantAPI: "https://api.dublin.ie1.twilio.com", wantStudio: "https://studio.dublin.ie1.twilio.com"},
		{name: "au1 via sydney", edge: "sydney", region: "au1", wantAPI: "https://api.sydney.au1.twilio.com", wantStudio: "https://studio.sydney.au1.twilio.com"},
		{name: "edge only", edge: "sao-paulo", wantAPI: "https://api.sao-paulo.us1.twilio.com", wantStudio: "https://studio.sao-paulo.us1.twilio.com"},
		{name: "unknown edge", edge: "paris", region: "ie1", err: `edge "paris"|dublin`},
		{name: "uppercase edge", edge: "Dublin", region: "ie1", err: `edge "Dublin"`},
		{name: "bad region", edge: "dublin", region: "ireland", err: `region "ireland"`},
		{name: "region with dots", edge: "dublin", region: "i.1", err: `region "i.1"`},
		{name: "region without edge is retired", region: "ie1", err: `region "ie1" needs an edge|2026-04-28`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api, studio, err := BaseURLs(tt.edge, tt.region)
			wantErr(t, err, tt.err)
			if api != tt.wantAPI || studio != tt.wantStudio {
				t.Fatalf("BaseURLs = %q, %q; want %q, %q", api, studio, tt.wantAPI, tt.wantStudio)
			}
		})
	}
}
