package resilience_test

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/ip2adb/ip2adb/resilience"
)

func TestNewProbe(t *testing.T) {
	p := resilience.NewProbe("replication_lag", func(_ context.Context, env resilience.Env) (resilience.Result, error) {
		return resilience.Result{Summary: "looked at " + env.LogDir}, nil
	})
	if p.Name() != "replication_lag" {
		t.Errorf("Name() = %q", p.Name())
	}
	res, err := p.Probe(context.Background(), resilience.Env{LogDir: "logs"})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(resilience.Result{Summary: "looked at logs"}, res); diff != "" {
		t.Errorf("Probe (-want +got):\n%s", diff)
	}
}
