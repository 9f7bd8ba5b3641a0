package service

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"time"

	"github.com/ip2adb/ip2adb"
	"github.com/prometheus/client_golang/prometheus"
)

// Collector is a prometheus.Collector of the ip2adb_* metrics. Each
// collection reads the state from its Store, so what the service serves and
// what a cron run writes to a metrics file are the same numbers:
//
//	ip2adb_issues{check,severity}                  gauge: rows or groups left open by the last check
//	ip2adb_check_failed{check}                     gauge: 1 when the check could not run
//	ip2adb_last_run_timestamp_seconds{kind}        gauge
//	ip2adb_last_success_timestamp_seconds{kind}    gauge
//	ip2adb_last_run_success{kind}                  gauge: 1 or 0
//	ip2adb_run_duration_seconds{kind}              gauge: how long the last run took
//	ip2adb_repairs_total{check,action}             counter: rows repaired
//	ip2adb_notifications_total{channel,outcome}    counter: sent, failed or suppressed
//	ip2adb_runs_skipped_total{kind,reason}         counter: scheduled runs skipped
//	ip2adb_resilience_findings{category,severity}  gauge: findings of the latest report
//	ip2adb_database_size_bytes                     gauge
//	ip2adb_disk_full_forecast_seconds              gauge: +Inf when the database does not grow
//
// kind is heal (auto-heal), repair (integrity --repair) or resilience. A
// state file that cannot be read fails the collection, loudly.
//
// The disk-full forecast is in seconds, the base unit, not in days:
// promtool check metrics rejects a metric named in days.
type Collector struct {
	store Store

	issues, checkFailed                    *prometheus.Desc
	lastRun, lastSuccess, lastOK, duration *prometheus.Desc
	repairs, notifications, skipped        *prometheus.Desc
	findings, dbSize, forecast             *prometheus.Desc
}

// NewCollector returns the collector of the state kept in store.
func NewCollector(store Store) *Collector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("ip2adb_"+name, help, labels, nil)
	}
	return &Collector{
		store:         store,
		issues:        d("issues", "Rows or groups each check found and the last heal or repair run left open.", "check", "severity"),
		checkFailed:   d("check_failed", "1 when the check could not run in the last heal or repair run.", "check"),
		lastRun:       d("last_run_timestamp_seconds", "When the last run of each kind started, in Unix seconds.", "kind"),
		lastSuccess:   d("last_success_timestamp_seconds", "When the last successful run of each kind started, in Unix seconds.", "kind"),
		lastOK:        d("last_run_success", "1 when the last run of each kind succeeded (no run error, no failed check or probe).", "kind"),
		duration:      d("run_duration_seconds", "How long the last run of each kind took.", "kind"),
		repairs:       d("repairs_total", "Rows repaired, by check and action.", "check", "action"),
		notifications: d("notifications_total", "Notifications by channel and outcome (sent, failed, suppressed).", "channel", "outcome"),
		skipped:       d("runs_skipped_total", "Scheduled runs skipped, by kind and reason (locked: another run held the run lock).", "kind", "reason"),
		findings:      d("resilience_findings", "Findings of the latest resilience report, by category and severity.", "category", "severity"),
		dbSize:        d("database_size_bytes", "Size of the database at the latest resilience report."),
		forecast:      d("disk_full_forecast_seconds", "Time until the disk holding the database is full at the current growth, in seconds (+Inf when it does not grow)."),
	}
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.issues, c.checkFailed, c.lastRun, c.lastSuccess, c.lastOK, c.duration,
		c.repairs, c.notifications, c.skipped, c.findings, c.dbSize, c.forecast} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	s, err := c.store.Load()
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.issues, err)
		return
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
	}
	for _, cs := range issueSeries(s.Checks) {
		gauge(c.issues, float64(cs.Count), cs.Name, string(cs.Severity))
	}
	seen := map[string]bool{}
	for _, cs := range s.Checks {
		if seen[cs.Name] {
			continue
		}
		seen[cs.Name] = true
		gauge(c.checkFailed, b2f(cs.Error != ""), cs.Name)
	}
	for _, r := range s.LastRuns {
		gauge(c.lastRun, unix(r.Time), r.Kind)
		if !r.LastSuccess.IsZero() {
			gauge(c.lastSuccess, unix(r.LastSuccess), r.Kind)
		}
		gauge(c.lastOK, b2f(r.Success), r.Kind)
		gauge(c.duration, r.DurationSeconds, r.Kind)
	}
	for _, r := range s.Repairs {
		counter(c.repairs, r.Rows, r.Check, string(r.Action))
	}
	for _, n := range s.Notifications {
		counter(c.notifications, n.Count, n.Channel, n.Outcome)
	}
	for _, k := range s.Skipped {
		counter(c.skipped, k.Count, k.Kind, k.Reason)
	}
	if rs := s.Resilience; rs != nil {
		for _, f := range findingSeries(rs) {
			gauge(c.findings, f.n, f.category, string(f.severity))
		}
		if rs.DatabaseBytes != nil {
			gauge(c.dbSize, float64(*rs.DatabaseBytes))
		}
		switch {
		case rs.DaysUntilFull != nil:
			gauge(c.forecast, *rs.DaysUntilFull*86400)
		case rs.NotGrowing:
			gauge(c.forecast, math.Inf(1))
		}
	}
}

// issueSeries is one ip2adb_issues series per check that ran (a failed
// check, or one that does not apply to the schema, has no count and no
// series); a check whose severity is unknown (nothing found, no declared
// severity) counts under "info".
func issueSeries(checks []CheckStatus) []CheckStatus {
	var out []CheckStatus
	seen := map[[2]string]int{}
	for _, cs := range checks {
		if cs.Error != "" || cs.NotApplicable {
			continue
		}
		if cs.Severity == "" {
			cs.Severity = ip2adb.Info
		}
		k := [2]string{cs.Name, string(cs.Severity)}
		if i, ok := seen[k]; ok {
			out[i].Count += cs.Count
			continue
		}
		seen[k] = len(out)
		out = append(out, cs)
	}
	return out
}

type findingCount struct {
	category string
	severity ip2adb.Severity
	n        float64
}

// findingSeries counts the findings by category and severity, with a zero
// for every severity of every category that has findings, so that an alert
// sees a critical count go back to 0.
func findingSeries(rs *ResilienceStatus) []findingCount {
	var cats []string
	n := map[string]map[ip2adb.Severity]float64{}
	for _, f := range rs.Findings {
		if n[f.Category] == nil {
			n[f.Category] = map[ip2adb.Severity]float64{}
			cats = append(cats, f.Category)
		}
		n[f.Category][f.Severity]++
	}
	var out []findingCount
	for _, c := range cats {
		for _, sev := range []ip2adb.Severity{ip2adb.Critical, ip2adb.Warning, ip2adb.Info} {
			out = append(out, findingCount{c, sev, n[c][sev]})
		}
	}
	return out
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func unix(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

// NewRegistry returns a registry with the ip2adb_* collector of store and,
// when runtime is set, the process and Go collectors (the service's
// /metrics; a textfile for node_exporter leaves them out, since
// node_exporter exports its own).
func NewRegistry(store Store, runtime bool) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(NewCollector(store))
	if runtime {
		registerRuntime(reg)
	}
	return reg
}

// WriteMetricsFile writes the ip2adb_* metrics of store to path in the
// node_exporter textfile-collector format, atomically (a temporary file in
// the same directory, then a rename).
func WriteMetricsFile(path string, store Store) error {
	if st, err := os.Stat(filepath.Dir(path)); err != nil || !st.IsDir() {
		return fmt.Errorf("metrics file %s: directory %s does not exist", path, filepath.Dir(path))
	}
	if err := prometheus.WriteToTextfile(path, NewRegistry(store, false)); err != nil {
		return fmt.Errorf("metrics file: %w", err)
	}
	return nil
}
