package notify

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ip2adb/ip2adb"
)

// Rank orders priorities: low 1, medium 2, high 3, critical 4, anything
// else 0.
func (p Priority) Rank() int {
	switch p {
	case Low:
		return 1
	case Medium:
		return 2
	case High:
		return 3
	case Critical:
		return 4
	}
	return 0
}

// Policy holds the thresholds of the notification policy. A zero field takes
// the original system's value (see [DefaultPolicy]).
type Policy struct {
	// HighWarnings: more than this many warnings make a HIGH notification
	// (default 10).
	HighWarnings int
	// HighAttach is how many warnings a HIGH notification carries (default 50).
	HighAttach int
	// MediumTotal: more than this many issues in all, and no critical one,
	// make a MEDIUM notification (default 100).
	MediumTotal int
	// MediumAttach is how many issues a MEDIUM notification carries
	// (default 20).
	MediumAttach int
	// MaxIssues caps the issues any notification carries, whatever its
	// priority, so that its webhook body and its notification-log line
	// stay small however many issues remain (default 100,
	// DefaultMaxIssues; negative: none attached). IssueCount stays the
	// full count; IssuesTruncated says how many were left out.
	MaxIssues int
	// Wording names the product and the command that lists every issue
	// in the recommended actions (zero value: ip2adb's own words; see
	// [Wording]).
	Wording Wording
}

// DefaultMaxIssues is the default of [Policy.MaxIssues]: at most 100 issues
// attached to a notification (a webhook body of some 40 KB).
const DefaultMaxIssues = 100

// NoIssues is the [Policy.MaxIssues] that attaches no issue: the
// notification still says how many there are (IssueCount).
const NoIssues = -1

// DefaultPolicy returns the thresholds of the original system: HIGH above 10
// warnings (50 attached), MEDIUM above 100 issues (20 attached); and at
// most 100 issues attached to any notification.
func DefaultPolicy() Policy {
	return Policy{HighWarnings: 10, HighAttach: 50, MediumTotal: 100, MediumAttach: 20, MaxIssues: DefaultMaxIssues}
}

func (p Policy) withDefaults() Policy {
	d := DefaultPolicy()
	if p.HighWarnings <= 0 {
		p.HighWarnings = d.HighWarnings
	}
	if p.HighAttach <= 0 {
		p.HighAttach = d.HighAttach
	}
	if p.MediumTotal <= 0 {
		p.MediumTotal = d.MediumTotal
	}
	if p.MediumAttach <= 0 {
		p.MediumAttach = d.MediumAttach
	}
	switch {
	case p.MaxIssues == 0:
		p.MaxIssues = d.MaxIssues
	case p.MaxIssues < 0:
		p.MaxIssues = 0
	}
	return p
}

// Decide applies the notification policy to the issues that could not be
// fixed automatically (Decide does not look at Issue.Fix: the caller passes
// what remains after repair). It is a pure function of its arguments:
//
//   - CRITICAL when any issue is critical; the critical issues attached.
//   - HIGH when there are more than p.HighWarnings warnings; the first
//     p.HighAttach warnings attached.
//   - MEDIUM when there are more than p.MediumTotal issues in all (and no
//     critical one); the first p.MediumAttach issues attached.
//   - LOW when there are 1 to p.HighWarnings warnings and at most
//     p.MediumTotal issues; the warnings attached.
//
// It returns false when no rule applies (no issues, or only a few
// informational ones). Whatever the priority, at most p.MaxIssues issues
// are attached. The notification's fingerprint hashes the sorted
// fingerprints of the issues it is about (see [Fingerprint]); IssueCount
// counts them, Issues holds those attached and IssuesTruncated how many of
// them were left out. The id is
// DBADM-<unix seconds>-<first 8 hex digits of the fingerprint>.
func Decide(issues []ip2adb.Issue, p Policy, now time.Time) (Notification, bool) {
	n, _, ok := decide(issues, p, now)
	return n, ok
}

// decide is Decide that also returns the sorted, unique fingerprints of the
// issues the notification is about.
func decide(issues []ip2adb.Issue, p Policy, now time.Time) (Notification, []string, bool) {
	p = p.withDefaults()
	check := p.Wording.withDefaults().CheckCommand
	var critical, warnings []ip2adb.Issue
	for _, is := range issues {
		switch is.Severity {
		case ip2adb.Critical:
			critical = append(critical, is)
		case ip2adb.Warning:
			warnings = append(warnings, is)
		}
	}
	var (
		n        Notification
		about    []ip2adb.Issue
		attached []ip2adb.Issue
	)
	switch {
	case len(critical) > 0:
		about, attached = critical, firstN(critical, p.MaxIssues)
		n.Priority = Critical
		n.Title = "Critical database issues need immediate attention"
		n.Message = fmt.Sprintf("%s could not be fixed automatically and need%s manual repair now.",
			plural(len(critical), "critical issue"), verbS(len(critical)))
		if len(attached) < len(critical) {
			n.Message += fmt.Sprintf(" %s attached.", capitalize(attachedPhrase(len(attached), len(critical))))
		}
		n.RecommendedAction = numbered(
			"Review the critical issues listed here and repair them by hand today.",
			"Back up the database before any manual change.",
			"Run `"+check+"` afterwards to confirm that they are gone.",
			"Find the import, script or user action that caused them so that they do not come back.",
		)
	case len(warnings) > p.HighWarnings:
		about, attached = warnings, firstN(warnings, min(p.HighAttach, p.MaxIssues))
		n.Priority = High
		n.Title = "Many data quality warnings need review"
		n.Message = fmt.Sprintf("%s could not be fixed automatically (more than %d); %s attached.",
			plural(len(warnings), "warning"), p.HighWarnings, attachedPhrase(len(attached), len(warnings)))
		n.RecommendedAction = numbered(
			"Review the attached warnings, starting with the most frequent checks.",
			"Fix the affected records by hand or correct the process that creates them.",
			"Run `"+check+"` to see the full list.",
			"Schedule a data cleanup if the count keeps growing.",
		)
	case len(issues) > p.MediumTotal:
		about, attached = issues, firstN(issues, min(p.MediumAttach, p.MaxIssues))
		n.Priority = Medium
		n.Title = "High number of data issues detected"
		n.Message = fmt.Sprintf("%s could not be fixed automatically (more than %d); %s attached.",
			plural(len(issues), "issue"), p.MediumTotal, attachedPhrase(len(attached), len(issues)))
		n.RecommendedAction = numbered(
			"Run `"+check+"` to review all the issues.",
			"Look for a common cause, such as one import or one data entry habit.",
			"Plan a cleanup of the affected tables.",
		)
	case len(warnings) > 0:
		about, attached = warnings, firstN(warnings, p.MaxIssues)
		n.Priority = Low
		n.Title = "Minor data quality warnings"
		n.Message = fmt.Sprintf("%s could not be fixed automatically.", plural(len(warnings), "warning"))
		if len(attached) < len(warnings) {
			n.Message += fmt.Sprintf(" %s attached.", capitalize(attachedPhrase(len(attached), len(warnings))))
		}
		n.RecommendedAction = numbered(
			"Review the attached warnings when convenient.",
			"Fix the affected records by hand if the warnings are real problems.",
		)
	default:
		return Notification{}, nil, false
	}
	fps := fingerprints(about)
	n.Timestamp = now.UTC()
	n.Fingerprint = hashSorted(fps)
	n.IssueCount = len(about)
	n.Issues = slices.Clone(attached)
	n.IssuesTruncated = n.IssueCount - len(n.Issues)
	n.ID = fmt.Sprintf("DBADM-%d-%s", now.Unix(), n.Fingerprint[:8])
	return n, fps, true
}

// Fingerprint identifies a set of issues: a SHA-256 (128 bits, hex) over the
// sorted [ip2adb.Issue.Fingerprint] of each, so it never depends on issue
// text or order.
func Fingerprint(issues []ip2adb.Issue) string {
	return hashSorted(fingerprints(issues))
}

// fingerprints returns the sorted, unique fingerprints of issues.
func fingerprints(issues []ip2adb.Issue) []string {
	fps := make([]string, len(issues))
	for i, is := range issues {
		fps[i] = is.Fingerprint()
	}
	slices.Sort(fps)
	return slices.Compact(fps)
}

// hashSorted hashes sorted fingerprints into a notification fingerprint.
func hashSorted(fps []string) string {
	h := sha256.New()
	for _, fp := range fps {
		h.Write([]byte(fp))
		h.Write([]byte{'\n'})
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

func firstN(issues []ip2adb.Issue, n int) []ip2adb.Issue {
	if len(issues) > n {
		return issues[:n]
	}
	return issues
}

func numbered(actions ...string) []string {
	out := make([]string, len(actions))
	for i, a := range actions {
		out[i] = fmt.Sprintf("%d. %s", i+1, a)
	}
	return out
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

func verbS(n int) string {
	if n == 1 {
		return "s"
	}
	return ""
}

func attachedPhrase(attached, total int) string {
	switch attached {
	case total:
		return "all of them"
	case 0:
		return "none"
	}
	return fmt.Sprintf("the first %d", attached)
}

// capitalize upper-cases the first letter of an ASCII phrase.
func capitalize(s string) string {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return s
	}
	return string(s[0]-'a'+'A') + s[1:]
}

// describeIssue renders one issue on one line for people.
func describeIssue(is ip2adb.Issue) string {
	var b strings.Builder
	fmt.Fprintf(&b, "[%s] %s · %s", is.Severity, is.Check, is.Table)
	if is.RecordID != nil {
		fmt.Fprintf(&b, " #%d", *is.RecordID)
	} else if len(is.Key) > 0 {
		keys := make([]string, 0, len(is.Key))
		for k := range is.Key {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = fmt.Sprintf("%s=%v", k, is.Key[k])
		}
		b.WriteString(" (" + strings.Join(parts, ", ") + ")")
	}
	if is.Description != "" {
		b.WriteString(": " + is.Description)
	}
	return b.String()
}

// TestNotification is the notification `ip2adb notify-test` sends: low
// priority, no issues, saying that it is a test (in [DefaultWording]; see
// [Wording.TestNotification]).
func TestNotification(now time.Time) Notification {
	return Wording{}.TestNotification(now)
}
