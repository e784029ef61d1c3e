package caddymodule

import (
	"os"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/delivery"
)

// TestDashboardMetricsExist: every metric the example Grafana dashboard
// queries is one the adapter registers (histogram series by their family).
func TestDashboardMetricsExist(t *testing.T) {
	data, err := os.ReadFile("../examples/grafana/dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	names, err := delivery.DashboardMetrics(data)
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	for _, c := range newMetrics().collectors() {
		reg.MustRegister(c)
	}
	registered := map[string]bool{}
	ch := make(chan *prometheus.Desc, 256)
	go func() {
		for _, c := range newMetrics().collectors() {
			c.Describe(ch)
		}
		close(ch)
	}()
	for d := range ch {
		s := d.String() // Desc{fqName: "…", …}
		if i := strings.Index(s, `fqName: "`); i >= 0 {
			rest := s[i+len(`fqName: "`):]
			registered[rest[:strings.IndexByte(rest, '"')]] = true
		}
	}
	if len(names) == 0 {
		t.Fatal("the dashboard queries no metric")
	}
	for _, n := range names {
		base := n
		for _, suffix := range []string{"_bucket", "_sum", "_count"} {
			base = strings.TrimSuffix(base, suffix)
		}
		if !registered[n] && !registered[base] {
			t.Errorf("the dashboard queries %s, which the adapter does not register", n)
		}
	}
}

// registeredMetrics are the metric names the adapter registers.
func registeredMetrics() map[string]bool {
	out := map[string]bool{}
	ch := make(chan *prometheus.Desc, 256)
	go func() {
		for _, c := range newMetrics().collectors() {
			c.Describe(ch)
		}
		close(ch)
	}()
	for d := range ch {
		s := d.String()
		if i := strings.Index(s, `fqName: "`); i >= 0 {
			rest := s[i+len(`fqName: "`):]
			out[rest[:strings.IndexByte(rest, '"')]] = true
		}
	}
	return out
}

// TestREADMEMetricsTable: the README's metric table lists exactly the
// metrics the adapter registers.
func TestREADMEMetricsTable(t *testing.T) {
	data, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "| `caddy_twilio_sms_") {
			name := strings.TrimPrefix(line, "| `")
			documented[name[:strings.IndexByte(name, '`')]] = true
		}
	}
	registered := registeredMetrics()
	for n := range registered {
		if !documented[n] {
			t.Errorf("%s is registered but not in the README's metric table", n)
		}
	}
	for n := range documented {
		if !registered[n] {
			t.Errorf("the README's metric table lists %s, which is not registered", n)
		}
	}
}
