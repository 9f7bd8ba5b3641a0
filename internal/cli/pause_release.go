//go:build !ip2adb_crashtest

package cli

import "github.com/ip2adb/ip2adb/heal"

// pauseHook returns r: the crash-test pause hook (pauseEnv) is compiled only
// into binaries built with -tags ip2adb_crashtest.
func (a *app) pauseHook(r heal.Repairer) heal.Repairer { return r }
