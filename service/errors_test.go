package service

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/ip2adb/ip2adb/heal"
	"github.com/ip2adb/ip2adb/resilience"
	"github.com/jmoiron/sqlx"
)

func TestConfigError(t *testing.T) {
	ok := Config{
		Connect:    func(context.Context) (*sqlx.DB, error) { return nil, errors.New("no") },
		Heal:       func(context.Context, *sqlx.DB) (heal.Result, error) { return heal.Result{}, nil },
		Resilience: func(context.Context, *sqlx.DB) (resilience.Report, error) { return resilience.Report{}, nil },
		LogDir:     t.TempDir(),
	}
	with := func(f func(*Config)) Config { c := ok; f(&c); return c }
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"no Connect", newErr(with(func(c *Config) { c.Connect = nil })), "service: Config.Connect is nil"},
		{"bad schedule", newErr(with(func(c *Config) { c.HealSchedule = "every day" })), "heal schedule \"every day\": expected exactly 5 fields, found 2: [every day] (want a cron expression such as \"0 2 * * *\" or @daily, @weekly, @every 6h)"},
		{"open listener", newErr(with(func(c *Config) { c.Listen = "0.0.0.0:8080" })), "refusing to listen on 0.0.0.0:8080 without an auth token: only a loopback address (127.0.0.1, ::1, localhost) may serve the status page openly"},
		{"CheckListen", CheckListen("localhost", ""), "listen address \"localhost\": want HOST:PORT, such as " + DefaultListen},
	} {
		var ce *ConfigError
		if !errors.As(tc.err, &ce) {
			t.Errorf("%s: %v, want a *ConfigError", tc.name, tc.err)
			continue
		}
		if errors.As(ce.Err, new(*ConfigError)) {
			t.Errorf("%s: a ConfigError wraps another", tc.name)
		}
		if diff := cmp.Diff(tc.want, tc.err.Error()); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tc.name, diff)
		}
	}
}

func newErr(cfg Config) error {
	_, err := New(cfg)
	return err
}
