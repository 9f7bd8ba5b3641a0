package cli

import (
	"path/filepath"
	"time"

	"github.com/ip2adb/ip2adb/heal"
	"github.com/ip2adb/ip2adb/resilience"
	"github.com/ip2adb/ip2adb/service"
	"github.com/urfave/cli/v2"
)

// This file keeps the service state (LOG_DIR/status/state.json) that the
// metrics and the status page of `ip2adb serve` read, and writes
// --metrics-file: every run of auto-heal and resilience is recorded there,
// whether it ran from cron or from serve.

// recordHeal records a run of cy in the state when the run keeps a
// history (auto-heal; integrity --repair writes neither) and returns why
// the state could not be saved, if it could not.
func (a *app) recordHeal(g Globals, cy *heal.Cycle, res heal.Result, runErr error) error {
	if cy.LogDir == "" {
		return nil
	}
	kind := cy.Kind
	if kind == "" {
		kind = heal.KindHeal
	}
	return (service.Store{LogDir: g.LogDir}).Update(func(s *service.State) {
		s.RecordHeal(kind, "cli", res, runErr)
	})
}

// recordResilience records a resilience report in the state.
func (a *app) recordResilience(g Globals, trigger string, rep resilience.Report, dur time.Duration, runErr error) {
	a.updateState(g, func(s *service.State) { s.RecordResilience(trigger, rep, dur, runErr) })
}

func (a *app) updateState(g Globals, fn func(*service.State)) {
	if err := (service.Store{LogDir: g.LogDir}).Update(fn); err != nil {
		a.logger(g).Error(err, "save the service state (metrics and status page)")
	}
}

// withMetricsFile wraps a command's action: with --metrics-file (or
// IP2ADB_METRICS_FILE) the metrics are written to that file, atomically,
// once the command has run — also when it failed, but not for bad input.
// A missing directory is bad input (exit 2, nothing run).
func (a *app) withMetricsFile(action cli.ActionFunc) cli.ActionFunc {
	return func(c *cli.Context) error {
		g, err := a.globals(c)
		if err != nil || g.MetricsFile == "" {
			return action(c)
		}
		if err := requireDir("metrics-file", filepath.Dir(g.MetricsFile)); err != nil {
			return usagef("--metrics-file %s: directory %s does not exist", g.MetricsFile, filepath.Dir(g.MetricsFile))
		}
		err = action(c)
		if badInput(err) {
			return err
		}
		if werr := service.WriteMetricsFile(g.MetricsFile, service.Store{LogDir: g.LogDir}); werr != nil {
			if err == nil {
				return werr
			}
			a.logger(g).Error(werr, "write the metrics file")
		}
		return err
	}
}
