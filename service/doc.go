// Package service runs ip2adb as a long-lived service: auto-heal and
// resilience on cron schedules, with /healthz, /readyz, Prometheus metrics
// at /metrics, a server-rendered status page at / and POST /api/runs to run
// now. [New] takes the runs as functions (the command line passes its own
// auto-heal and resilience), so a Go program can embed the service with its
// own database handle and rules.
//
// What the metrics and the page show lives in a small state file under the
// log dir ([Store]); every command of the command line updates it too, so a
// cron job, the service and a node_exporter textfile ([WriteMetricsFile])
// report the same numbers. The package keeps no global state: each
// [Service] has its own Prometheus registry.
package service
