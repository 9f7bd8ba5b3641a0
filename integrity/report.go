package integrity

import (
	"bufio"
	"fmt"
	"io"
	"strings"

	"github.com/ip2adb/ip2adb"
)

// Document is the JSON object that `ip2adb integrity --format json` and
// `ip2adb auto-heal --format json` print (DESIGN.md): the checks, the sample
// issues, the repairs and the summary. The repairer fills RunID, DryRun and
// Repairs and updates Summary.
type Document struct {
	RunID   string         `json:"run_id"`
	DryRun  bool           `json:"dry_run"`
	Checks  []CheckResult  `json:"checks"`
	Issues  []ip2adb.Issue `json:"issues"`
	Repairs []any          `json:"repairs"`
	Summary Summary        `json:"summary"`
}

// Document returns the report as the JSON document of DESIGN.md, with no
// run id and no repairs. Lists are never null.
func (r Report) Document() Document {
	d := Document{Checks: r.Checks, Issues: r.Issues, Repairs: []any{}, Summary: r.Summary}
	if d.Checks == nil {
		d.Checks = []CheckResult{}
	}
	if d.Issues == nil {
		d.Issues = []ip2adb.Issue{}
	}
	return d
}

// textPerCategory is how many issues the text report shows per category.
const textPerCategory = 5

// categoryOrder is the order of the integrity categories in the text report.
func categoryOrder() []string {
	return []string{
		ip2adb.CategoryForeignKey, ip2adb.CategoryRequiredField, ip2adb.CategoryEnumValue,
		ip2adb.CategoryDateLogic, ip2adb.CategoryEmploymentLogic, ip2adb.CategoryContactLogic,
		ip2adb.CategoryDuplicate, ip2adb.CategoryDataAnomaly, ip2adb.CategoryFileSystem,
	}
}

// WriteText writes the report for people: counts by severity and the
// auto-fixable count, then the issues grouped by category (the first five
// of each, then "… and N more" counted over the full counts), then the
// checks that failed with their errors, the checks that do not apply to
// the live schema with their reasons, the rules that constraints already
// enforce, and notes on how checks adapted to the schema.
func WriteText(w io.Writer, r Report) error {
	bw := bufio.NewWriter(w)
	s := r.Summary
	failed := r.Failed()
	na := r.NotApplicable()
	fmt.Fprintf(bw, "Integrity report: %d checks", len(r.Checks))
	if len(failed) > 0 {
		fmt.Fprintf(bw, ", %d failed", len(failed))
	}
	if len(na) > 0 {
		fmt.Fprintf(bw, ", %d not applicable", len(na))
	}
	fmt.Fprintln(bw)
	fmt.Fprintf(bw, "  critical %d · warning %d · info %d · auto-fixable %d\n", s.Critical, s.Warning, s.Info, s.AutoFixable)

	// Categories in the usual order, then any others in check order.
	var cats []string
	seen := map[string]bool{}
	total := map[string]int{}
	issues := map[string][]ip2adb.Issue{}
	for _, c := range r.Checks {
		if c.Err != nil || c.Count == 0 {
			continue
		}
		total[c.Category] += c.Count
		issues[c.Category] = append(issues[c.Category], c.Issues...)
	}
	for _, c := range categoryOrder() {
		if total[c] > 0 {
			cats, seen[c] = append(cats, c), true
		}
	}
	for _, c := range r.Checks {
		if total[c.Category] > 0 && !seen[c.Category] {
			cats, seen[c.Category] = append(cats, c.Category), true
		}
	}
	if len(cats) == 0 && len(failed) == 0 {
		fmt.Fprintln(bw, "\nNo issues found.")
	}
	for _, cat := range cats {
		fmt.Fprintf(bw, "\n%s (%d)\n", cat, total[cat])
		if len(issues[cat]) == 0 {
			// No samples kept (MaxIssues < 0): say which checks found how many.
			for _, c := range r.Checks {
				if c.Category == cat && c.Err == nil && c.Count > 0 {
					fmt.Fprintf(bw, "  %-8s %s: %d found (no samples kept)\n", c.Severity, c.Name, c.Count)
				}
			}
			continue
		}
		shown := issues[cat]
		if len(shown) > textPerCategory {
			shown = shown[:textPerCategory]
		}
		for _, is := range shown {
			fix := ""
			if is.Fix != nil {
				fix = "  [auto-fix: " + string(is.Fix.Action) + "]"
			}
			fmt.Fprintf(bw, "  %-8s %s: %s%s\n", is.Severity, is.Check, oneLine(is.Description), fix)
		}
		if more := total[cat] - len(shown); more > 0 {
			fmt.Fprintf(bw, "  … and %d more\n", more)
		}
	}
	if len(failed) > 0 {
		fmt.Fprintf(bw, "\nFailed checks (%d):\n", len(failed))
		for _, c := range failed {
			cat := c.Category
			if cat == "" {
				cat = "uncategorised"
			}
			fmt.Fprintf(bw, "  %s (%s): %s\n", c.Name, cat, oneLine(c.Error))
		}
	}
	WriteSchemaNotes(bw, r.Checks)
	return bw.Flush()
}

// WriteSchemaNotes writes, for people, how the checks met the live schema:
// those not applicable with their reasons, the rules a constraint already
// enforces (the checks still run), and notes on checks that adapted. It
// writes nothing when there is nothing to say.
func WriteSchemaNotes(w io.Writer, checks []CheckResult) {
	section := func(title string, line func(CheckResult) string) {
		var lines []string
		for _, c := range checks {
			if l := line(c); l != "" {
				lines = append(lines, "  "+c.Name+": "+oneLine(l))
			}
		}
		if len(lines) > 0 {
			fmt.Fprintf(w, "\n%s (%d):\n%s\n", title, len(lines), strings.Join(lines, "\n"))
		}
	}
	section("Not applicable to this schema", func(c CheckResult) string {
		if c.Status == StatusNotApplicable {
			return c.Reason
		}
		return ""
	})
	section("Enforced by the schema (checked anyway)", func(c CheckResult) string {
		if c.Status != StatusNotApplicable {
			return c.EnforcedBy
		}
		return ""
	})
	section("Notes", func(c CheckResult) string {
		if c.Status != StatusNotApplicable {
			return c.Reason
		}
		return ""
	})
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
