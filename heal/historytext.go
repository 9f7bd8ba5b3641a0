package heal

import (
	"bufio"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/ip2adb/ip2adb"
)

// WriteRecordsText writes the runs recs for people, one line each, as
// `ip2adb history` lists them: time (UTC), run id, what was found, fixed,
// left and notified, the duration and the outcome (ok or FAILED, dry run,
// the error); "  none" when there is none. Run ids and errors are written
// through [ip2adb.Printable].
func WriteRecordsText(w io.Writer, recs []Record) error {
	bw := bufio.NewWriter(w)
	if len(recs) == 0 {
		fmt.Fprintln(bw, "  none")
	}
	for _, r := range recs {
		fmt.Fprintf(bw, "  %s  %-26s found %d · fixed %d · attention %d · notified %d · %dms  %s\n",
			r.Timestamp.UTC().Format(time.DateTime), ip2adb.Printable(r.RunID), r.IssuesFound, r.IssuesFixed,
			r.IssuesRequiringAttention, r.NotificationsSent, r.DurationMS, outcome(r))
	}
	return bw.Flush()
}

// outcome is the last column of a run's line: ok or FAILED, dry run, and
// the error.
func outcome(r Record) string {
	var parts []string
	if r.Success {
		parts = append(parts, "ok")
	} else {
		parts = append(parts, "FAILED")
	}
	if r.DryRun {
		parts = append(parts, "dry run")
	}
	if r.ErrorMessage != nil && *r.ErrorMessage != "" {
		parts = append(parts, ip2adb.Printable(*r.ErrorMessage))
	}
	return strings.Join(parts, " · ")
}

// WriteSummaryText writes the health summary s for people, as `ip2adb
// history` and `ip2adb auto-heal --summary` print it: the period and
// status, the runs, the issues found, fixed and requiring attention, the
// auto-fix rate and the most recent run.
func WriteSummaryText(w io.Writer, s HealthSummary) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "Health summary, last %d days: %s\n", s.PeriodDays, strings.ToUpper(s.Status))
	fmt.Fprintf(bw, "  runs %d (%d successful)\n", s.TotalRuns, s.SuccessfulRuns)
	fmt.Fprintf(bw, "  issues found %d · fixed %d · requiring attention %d\n", s.IssuesFound, s.IssuesFixed, s.IssuesRequiringAttention)
	fmt.Fprintf(bw, "  auto-fix rate %.1f %%\n", s.AutoFixRate)
	if s.MostRecentRun != nil {
		fmt.Fprintf(bw, "  most recent run %s at %s\n", ip2adb.Printable(s.MostRecentRun.RunID), s.MostRecentRun.Timestamp.UTC().Format(time.DateTime+" MST"))
	}
	return bw.Flush()
}
