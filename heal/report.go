package heal

import (
	"bufio"
	"fmt"
	"io"
	"strings"

	"github.com/ip2adb/ip2adb"
	"github.com/ip2adb/ip2adb/integrity"
)

// DefaultUndoCommand is the command [WriteText] names for undoing a run:
// "Undo with: ip2adb undo RUN_ID".
const DefaultUndoCommand = "ip2adb undo"

// TextOptions configure the text report of a run. The zero value writes
// ip2adb's own wording.
type TextOptions struct {
	// UndoCommand is the command, followed by the run id, that undoes a
	// run; DefaultUndoCommand when empty.
	UndoCommand string
}

// WriteText writes the run r for people, as `ip2adb auto-heal` and
// `ip2adb integrity --repair` print it: the run id, what was found, each
// repair, what remains, what became of the notification on each channel
// and how to undo the run; then the integrity report of what remains
// ([integrity.WriteText]), or, when nothing remains, the notes on how the
// checks adapted to the schema. It is TextOptions{}.WriteText.
func WriteText(w io.Writer, r Result) error { return TextOptions{}.WriteText(w, r) }

// WriteText writes the run r for people; see the function [WriteText].
func (o TextOptions) WriteText(w io.Writer, r Result) error {
	undo := o.UndoCommand
	if undo == "" {
		undo = DefaultUndoCommand
	}
	bw := bufio.NewWriter(w)
	mode := ""
	if r.DryRun {
		mode = " (dry run: nothing was changed)"
	}
	f := r.Found.Summary
	fmt.Fprintf(bw, "Run %s%s\n", r.RunID, mode)
	fmt.Fprintf(bw, "Found: critical %d · warning %d · info %d · auto-fixable %d\n", f.Critical, f.Warning, f.Info, f.AutoFixable)
	if len(r.Repairs) == 0 {
		fmt.Fprintln(bw, "Nothing to repair.")
	} else {
		verb := "Repaired"
		if r.DryRun {
			verb = "Would repair"
		}
		fmt.Fprintf(bw, "%s %d rows:\n", verb, r.Summary.Fixed)
		for _, rp := range r.Repairs {
			fmt.Fprintf(bw, "  %-12s %-22s %7d  %s\n", rp.Action, rp.Table, rp.Rows, rp.Check)
		}
	}
	s := r.Summary
	fmt.Fprintf(bw, "Remaining: critical %d · warning %d · info %d (%d in all)", s.Critical, s.Warning, s.Info, s.Remaining)
	if s.FailedChecks > 0 {
		fmt.Fprintf(bw, " · %d failed checks", s.FailedChecks)
	}
	fmt.Fprintln(bw)
	writeNotificationsText(bw, r)
	if !r.DryRun && len(r.Repairs) > 0 {
		fmt.Fprintf(bw, "Undo with: %s %s\n", undo, r.RunID)
	}
	if s.Remaining > 0 || s.FailedChecks > 0 {
		fmt.Fprintln(bw)
		if err := bw.Flush(); err != nil {
			return err
		}
		return integrity.WriteText(w, r.Remaining)
	}
	integrity.WriteSchemaNotes(bw, r.Checks)
	return bw.Flush()
}

// writeNotificationsText writes what became of the notification about the
// remaining issues: how many notifications went out, then each channel's
// outcome (sent, failed with its error, suppressed by dedup).
func writeNotificationsText(w io.Writer, r Result) {
	if len(r.Notifications) == 0 && r.AlertErr == nil {
		return
	}
	fmt.Fprintf(w, "Notifications sent: %d\n", r.NotificationsSent)
	failed := false
	for _, d := range r.Notifications {
		fmt.Fprintf(w, "  %-10s  %s", d.Outcome, d.Channel)
		if d.Error != "" {
			failed = true
			fmt.Fprintf(w, ": %s", d.Error)
		}
		fmt.Fprintln(w)
	}
	if r.AlertErr != nil && !failed {
		// A joined error has one line per channel.
		fmt.Fprintf(w, "  notification error: %s\n", strings.ReplaceAll(r.AlertErr.Error(), "\n", "; "))
	}
}

// Export writes the run r in format: with [ip2adb.JSON] the JSON object of
// DESIGN.md (indented by two spaces, as `ip2adb auto-heal --format json`
// prints it), with [ip2adb.Text] the text report of [WriteText]. Any
// other format is an error and writes nothing.
func Export(w io.Writer, format ip2adb.Format, r Result) error {
	switch format {
	case ip2adb.JSON:
		return ip2adb.WriteJSON(w, r)
	case ip2adb.Text:
		return WriteText(w, r)
	}
	return ip2adb.UnknownFormat(format)
}
