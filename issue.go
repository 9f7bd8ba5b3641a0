package ip2adb

import (
	"encoding/json"
	"fmt"
)

// Severity ranks how urgent an issue is. The zero value is invalid; use
// [Info], [Warning] or [Critical].
type Severity string

// The three severities, in rising order of urgency.
const (
	Info     Severity = "info"
	Warning  Severity = "warning"
	Critical Severity = "critical"
)

// Rank orders severities: info 1, warning 2, critical 3, anything else 0.
func (s Severity) Rank() int {
	switch s {
	case Info:
		return 1
	case Warning:
		return 2
	case Critical:
		return 3
	}
	return 0
}

// ParseSeverity returns the severity named s ("info", "warning", "critical").
func ParseSeverity(s string) (Severity, error) {
	switch sv := Severity(s); sv {
	case Info, Warning, Critical:
		return sv, nil
	}
	return "", fmt.Errorf("unknown severity %q (want info, warning or critical)", s)
}

// Categories of issues. The integrity categories are the words of the
// original system; the resilience categories name its probes.
const (
	CategoryForeignKey      = "foreign_key"
	CategoryRequiredField   = "required_field"
	CategoryEnumValue       = "enum_value"
	CategoryDateLogic       = "date_logic"
	CategoryEmploymentLogic = "employment_logic"
	CategoryContactLogic    = "contact_logic"
	CategoryDuplicate       = "duplicate"
	CategoryDataAnomaly     = "data_anomaly"
	CategoryFileSystem      = "file_system"

	CategoryFileCorruption   = "file_corruption"
	CategoryStorageCapacity  = "storage_capacity"
	CategoryOrphanedFiles    = "orphaned_files"
	CategoryDatabaseGrowth   = "database_growth"
	CategoryDataStaleness    = "data_staleness"
	CategoryDataDistribution = "data_distribution"
	CategoryQueryPerformance = "query_performance"
	CategoryIndexHealth      = "index_health"
	CategoryBackupStatus     = "backup_status"

	CategoryTransactionWraparound = "transaction_wraparound"
	CategoryVacuumHealth          = "vacuum_health"
	CategorySessions              = "sessions"
	CategoryReplication           = "replication"
	CategoryBloat                 = "bloat"
	// CategoryServer is the one finding that replaces the failures of
	// every probe when the server restarted or went into recovery during
	// the report.
	CategoryServer = "server"
)

// Issue is one problem found in the database or its file store. A row issue
// names its table and RecordID; a group issue (several rows sharing a value,
// or an aggregate) has a nil RecordID and names its group in Key.
type Issue struct {
	// Check is the name of the check that found the issue, such as
	// "employment.end_before_start".
	Check string `json:"check"`
	// Category is one of the Category* constants.
	Category string `json:"category"`
	// Severity is how urgent the issue is.
	Severity Severity `json:"severity"`
	// Table is the table holding the offending row or rows.
	Table string `json:"table"`
	// RecordID is the primary key of the offending row; nil for group issues.
	RecordID *int64 `json:"record_id"`
	// Key names the group of a group issue, such as {"organization_id": 12};
	// empty for row issues.
	Key map[string]any `json:"key"`
	// Description is a sentence for people. Nothing parses it.
	Description string `json:"description"`
	// Details carries structured facts about the issue (counts, values).
	Details map[string]any `json:"details,omitempty"`
	// Recommendation says what an administrator should do.
	Recommendation string `json:"recommendation,omitempty"`
	// Fix is the automatic repair for the issue, nil when none is safe.
	Fix *Fix `json:"fix,omitempty"`
}

// AutoFixable reports whether the issue carries an automatic fix.
func (i Issue) AutoFixable() bool { return i.Fix != nil }

// MarshalJSON writes the issue with an "auto_fixable" field and a non-nil
// "key" object, as the JSON contract requires.
func (i Issue) MarshalJSON() ([]byte, error) {
	type plain Issue
	out := struct {
		plain
		AutoFixable bool `json:"auto_fixable"`
	}{plain(i), i.AutoFixable()}
	if out.Key == nil {
		out.Key = map[string]any{}
	}
	return json.Marshal(out)
}

// Fingerprint identifies the issue by what it is about — check, table and
// record id or group key — never by its text, so that a reworded description
// is still the same issue.
func (i Issue) Fingerprint() string {
	key, _ := json.Marshal(i.Key) // map keys marshal sorted
	id := "-"
	if i.RecordID != nil {
		id = fmt.Sprint(*i.RecordID)
	}
	return fmt.Sprintf("%s|%s|%s|%s", i.Check, i.Table, id, key)
}

// Action is what a Fix does to the rows it selects.
type Action string

// The repair actions. ActionDelete removes rows; on tables with an is_deleted
// column the repairer soft-deletes them instead. ActionSetValue and
// ActionSetNull change one column.
const (
	ActionDelete     Action = "delete"
	ActionSoftDelete Action = "soft_delete"
	ActionSetValue   Action = "set_value"
	ActionSetNull    Action = "set_null"
)

// Fix is a set-based repair described as data: apply Action to the rows of
// Table selected by Where. Where is an SQL boolean expression over the
// unaliased table (the check's own predicate), so one statement repairs every
// offending row and nothing parses issue text.
type Fix struct {
	// Action is what to do with the selected rows.
	Action Action `json:"action"`
	// Table is the table to change.
	Table string `json:"table"`
	// Column is the column set by ActionSetValue and ActionSetNull.
	Column string `json:"column,omitempty"`
	// Value is the new value for ActionSetValue.
	Value any `json:"value,omitempty"`
	// Where selects the rows to repair; it must not be empty.
	Where string `json:"-"`
	// Args are the bind arguments of Where, written with "?" placeholders.
	Args []any `json:"-"`
}

// Ptr returns a pointer to v; handy for RecordID.
func Ptr[T any](v T) *T { return &v }
