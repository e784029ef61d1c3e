package delivery_test

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/delivery"
)

func TestPromQLMetrics(t *testing.T) {
	t.Parallel()
	tests := []struct {
		expr string
		want []string
	}{
		{`sum by (outcome) (rate(caddy_twilio_sms_requests_total{route=~"$route"}[$__rate_interval]))`, []string{"caddy_twilio_sms_requests_total"}},
		{`histogram_quantile(0.95, sum by (le) (rate(a_bucket{x="y(z)"}[5m])))`, []string{"a_bucket"}},
		{`sum without (instance, job) (x) / on (route) group_left (mapping) y`, []string{"x", "y"}},
		{`max by (account, state) (b{state!="closed"}) == 1 and bool c offset 1h`, []string{"b", "c"}},
		{`topk(10, sum by (error_code) (increase(m{a="b", c!=""}[$__range])))`, []string{"m"}},
		{`rate(x[5m:1m]) * 1e3 + 0x1f - .5 + inf + nan`, []string{"x"}},
		{`x + ${var} + $var + [[old]] + x # comment y`, []string{"x"}},
		{`{__name__="hidden"}`, nil},
		{`sum(rate(ns:recorded:rate5m[5m]))`, []string{"ns:recorded:rate5m"}},
		{"label_replace(v, \"dst\", \"$1\", \"src\", `(.*)`)", []string{"v"}},
		{`vector(1)`, nil},
	}
	for _, tc := range tests {
		if got := delivery.PromQLMetrics(tc.expr); !slices.Equal(got, tc.want) {
			t.Errorf("PromQLMetrics(%s) = %v, want %v", tc.expr, got, tc.want)
		}
	}
}

func TestDashboardMetricsParsesPanelsAndVariables(t *testing.T) {
	t.Parallel()
	dash := `{"panels":[{"type":"row","panels":[{"targets":[{"expr":"rate(b[1m])"}]}]},{"targets":[{"expr":"a"},{"expr":"sum(b)"}]}],
	  "templating":{"list":[{"type":"query","query":"label_values(c_total, route)"},{"type":"query","query":{"query":"label_values(route)"}},
	  {"type":"query","query":{"query":"query_result(topk(3, d))"}},{"type":"datasource","query":"prometheus"},{"type":"custom","query":"x,y"}]}}`
	got, err := delivery.DashboardMetrics([]byte(dash))
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"a", "b", "c_total", "d"}; !slices.Equal(got, want) {
		t.Errorf("DashboardMetrics = %v, want %v", got, want)
	}
	for _, bad := range []string{`{`, `[]`, `{"title":"no panels"}`} {
		if _, err := delivery.DashboardMetrics([]byte(bad)); err == nil {
			t.Errorf("DashboardMetrics(%s) accepted", bad)
		}
	}
}

// TestExampleDashboard holds examples/grafana/dashboard.json to the metrics
// the module exports (caddymodule/metrics.go's list) and the ones this
// package proposes (MetricNames): every name it queries must be one of them.
func TestExampleDashboard(t *testing.T) {
	t.Parallel()
	dash, err := os.ReadFile("../../examples/grafana/dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	names, err := delivery.DashboardMetrics(dash)
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile("../../caddymodule/metrics.go")
	if err != nil {
		t.Fatal(err)
	}
	known := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^//\s+(caddy_twilio_sms_[a-z_]+)\{?`).FindAllStringSubmatch(string(src), -1) {
		known[m[1]] = true
	}
	if len(known) < 10 {
		t.Fatalf("read only %d metric names from caddymodule/metrics.go: %v", len(known), known)
	}
	for _, n := range delivery.MetricNames {
		known[n] = true
	}
	used := map[string]bool{}
	for _, n := range names {
		family := n
		for _, suffix := range []string{"_bucket", "_sum", "_count"} {
			if base, ok := strings.CutSuffix(n, suffix); ok && known[base] {
				family = base
			}
		}
		if !known[family] {
			t.Errorf("the dashboard queries %s, which no one exports", n)
		}
		used[family] = true
	}
	for n := range known {
		if !used[n] {
			t.Errorf("the dashboard shows nothing of %s", n)
		}
	}
}
