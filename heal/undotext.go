package heal

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/ip2adb/ip2adb"
)

// blockedIDsShown is how many ids of blocked rows the undo text lists per
// table.
const blockedIDsShown = 20

// WriteUndoText writes what an undo did (or, in a dry run, would do) for
// people, as `ip2adb undo` prints it: the rows restored, each reverted
// step, the rows a constraint blocked (the first 20 ids, or keys, of each
// table) and how to redo the run. What the journal holds — run ids, check, table and
// constraint names — is data, and is written through [ip2adb.Printable].
// It is TextOptions{}.WriteUndoText.
func WriteUndoText(w io.Writer, res UndoResult) error { return TextOptions{}.WriteUndoText(w, res) }

// WriteUndoText writes what an undo did for people; see the function
// [WriteUndoText].
func (o TextOptions) WriteUndoText(out io.Writer, res UndoResult) error {
	undo := o.UndoCommand
	if undo == "" {
		undo = DefaultUndoCommand
	}
	p := ip2adb.Printable
	w := bufio.NewWriter(out)
	switch {
	case res.Rows == 0 && len(res.Blocked) > 0:
		fmt.Fprintf(w, "Nothing of %s could be restored (nothing was changed)\n", p(res.Undoes))
	case res.DryRun:
		fmt.Fprintf(w, "Dry run: undoing %s would restore %d rows (nothing was changed)\n", p(res.Undoes), res.Rows)
	default:
		fmt.Fprintf(w, "Undid %s as run %s: %d rows restored\n", p(res.Undoes), p(res.RunID), res.Rows)
	}
	for _, s := range res.Steps {
		fmt.Fprintf(w, "  %-12s %-22s %7d  %s\n", p(s.Action), p(s.Table), s.Rows, p(s.Check))
	}
	if len(res.Blocked) > 0 {
		fmt.Fprintf(w, "Blocked, left as they are (restore the parents first, then run %s %s again):\n", undo, p(res.Undoes))
		for _, b := range res.Blocked {
			what, keys := "ids", make([]string, 0, len(b.RecordIDs))
			for _, id := range b.RecordIDs {
				keys = append(keys, strconv.FormatInt(id, 10))
			}
			if len(b.RecordIDs) == 0 && len(b.Keys) > 0 {
				what, keys = "keys", b.Keys
			}
			n := min(len(keys), blockedIDsShown)
			shown := make([]string, 0, n)
			for _, k := range keys[:n] {
				shown = append(shown, p(k))
			}
			more := ""
			if len(keys) > blockedIDsShown {
				more = fmt.Sprintf(" … and %d more", len(keys)-blockedIDsShown)
			}
			fmt.Fprintf(w, "  %-22s %7d  %s (%s %s%s)\n", p(b.Table), b.Rows, p(b.Constraint), what, strings.Join(shown, ", "), more)
		}
	}
	if !res.DryRun && res.Rows > 0 {
		fmt.Fprintf(w, "Redo with: %s %s\n", undo, p(res.RunID))
	}
	return w.Flush()
}
