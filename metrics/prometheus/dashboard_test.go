package prometheus_test

import (
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	wsprom "github.com/wsrpc/wsrpc-go/metrics/prometheus"
)

// TestDashboardNamesExist keeps the Grafana dashboard of examples/ in step
// with the metrics: every series its queries name is one this package
// exports.
func TestDashboardNamesExist(t *testing.T) {
	b, err := os.ReadFile("../../examples/grafana/wsrpc-dashboard.json")
	require.NoError(t, err)
	var dash struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	require.NoError(t, json.Unmarshal(b, &dash))
	require.NotEmpty(t, dash.Panels)

	exported := map[string]bool{}
	fq := regexp.MustCompile(`fqName: "([^"]+)"`)
	for _, m := range []*wsprom.Metrics{wsprom.NewServerMetrics(&wsprom.Options{Registerer: prometheus.NewRegistry()}),
		wsprom.NewClientMetrics(&wsprom.Options{Registerer: prometheus.NewRegistry()})} {
		dc := make(chan *prometheus.Desc, 64)
		m.Describe(dc)
		close(dc)
		for d := range dc {
			exported[fq.FindStringSubmatch(d.String())[1]] = true
		}
	}
	require.Len(t, exported, 18)
	name := regexp.MustCompile(`wsrpc_[a-z_]+`)
	for _, p := range dash.Panels {
		require.NotEmpty(t, p.Targets, p.Title)
		for _, tg := range p.Targets {
			for _, n := range name.FindAllString(tg.Expr, -1) {
				base := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(n, "_bucket"), "_count"), "_sum")
				require.True(t, exported[base], "panel %q queries %s, which the metrics do not export", p.Title, n)
			}
		}
	}
}
