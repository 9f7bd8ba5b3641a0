package resilience

import (
	"bufio"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/ip2adb/ip2adb"
)

// WriteText writes r as a report a person can scan: the counts by
// severity, one line per probe, then the findings grouped by category,
// most severe first, each with its recommended action.
func (r Report) WriteText(w io.Writer) error {
	bw := bufio.NewWriter(w)
	s := r.Summary
	fmt.Fprintf(bw, "Resilience report · %s\n", r.Time.UTC().Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(bw, "Findings: %d critical · %d warning · %d info · %d failed probes\n\n",
		s.Critical, s.Warning, s.Info, s.FailedProbes)

	fmt.Fprintln(bw, "Probes")
	width := 0
	for _, p := range r.Probes {
		width = max(width, len(p.Name))
	}
	for _, p := range r.Probes {
		line := p.Summary
		if p.Error != "" {
			line = "FAILED: " + p.Error
		}
		fmt.Fprintf(bw, "  %-*s %7s  %s\n", width, p.Name, fmt.Sprintf("%d ms", p.DurationMS), line)
	}

	if len(r.Findings) == 0 {
		fmt.Fprintln(bw, "\nNo findings: the database, its file store and its backups look healthy.")
		return bw.Flush()
	}
	var cats []string
	by := map[string][]ip2adb.Issue{}
	for _, f := range r.Findings {
		if _, ok := by[f.Category]; !ok {
			cats = append(cats, f.Category)
		}
		by[f.Category] = append(by[f.Category], f)
	}
	fmt.Fprintln(bw, "\nFindings by category")
	for _, c := range cats {
		list := by[c]
		slices.SortStableFunc(list, func(a, b ip2adb.Issue) int { return b.Severity.Rank() - a.Severity.Rank() })
		fmt.Fprintf(bw, "\n%s (%d)\n", c, len(list))
		for _, f := range list {
			fmt.Fprintf(bw, "  %-8s  %s\n", strings.ToUpper(string(f.Severity)), f.Description)
			if f.Recommendation != "" {
				fmt.Fprintf(bw, "  %-8s  → %s\n", "", f.Recommendation)
			}
		}
	}
	return bw.Flush()
}
