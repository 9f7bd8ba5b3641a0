package resilience_test

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/ip2adb/ip2adb/resilience"
)

func TestOptionsError(t *testing.T) {
	for _, tc := range []struct {
		opt  resilience.Options
		want string
	}{
		{resilience.Options{Workers: -1}, "workers must not be negative"},
		{resilience.Options{DiskWarnPercent: 95}, "disk warning threshold 95% is above the critical one 90%"},
		{resilience.Options{Depth: resilience.Depth{DeadTupleRatio: 2}}, "dead tuple ratio must be between 0 and 1 and its floor not negative"},
	} {
		for name, err := range map[string]error{"Validate": tc.opt.Validate(), "Probes": probesErr(tc.opt)} {
			var oe *resilience.OptionsError
			if !errors.As(err, &oe) {
				t.Errorf("%s(%+v) = %v, want an *OptionsError", name, tc.opt, err)
				continue
			}
			if diff := cmp.Diff(tc.want, err.Error()); diff != "" {
				t.Errorf("%s error (-want +got):\n%s", name, diff)
			}
		}
	}
	if err := (resilience.Options{}).Validate(); err != nil {
		t.Errorf("Validate of the zero Options = %v", err)
	}
}

func probesErr(opt resilience.Options) error {
	_, err := resilience.Probes(opt)
	return err
}
