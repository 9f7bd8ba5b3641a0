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
// names its table and the row's primary key; a group issue (several rows
// sharing a value, or an aggregate) has a nil RecordID and names its group
// in Key.
//
// A row's key is held in one of two ways, so that the JSON of a table keyed
// by one integer column stays {"record_id": 812, "key": {}}:
//
//   - a single integer key: RecordID holds it and Key is empty;
//     PrimaryKey names the column unless it is "id";
//   - any other key (text, uuid, several columns): RecordID is nil, Key
//     holds the key's columns, such as {"code": "C-17"} or
//     {"local": 46, "seq": 3}, and PrimaryKey names them.
//
// [Issue.RecordKey] returns the key either way; [Issue.SetRecordKey] sets it.
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
	// RecordID is the primary key of the offending row when it is a single
	// integer column; nil for group issues and rows with any other key.
	RecordID *int64 `json:"record_id"`
	// Key names the group of a group issue, such as {"organization_id": 12},
	// or holds the primary key of a row issue whose key is not a single
	// integer column, such as {"code": "C-17"}; empty for rows with a
	// RecordID.
	Key map[string]any `json:"key"`
	// PrimaryKey names the primary-key columns of the row a row issue is
	// about, in key order — unless the key is the single column "id" (the
	// IP2A convention), when it is nil; nil for group issues. It is not part
	// of the JSON (record_id and key carry the values) nor of the
	// fingerprint.
	PrimaryKey []string `json:"-"`
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
// record id or key (a group's, or a row's primary key when it is not a
// single integer) — never by its text, so that a reworded description is
// still the same issue. Issues of rows keyed by one integer column have
// the fingerprint they had before general keys.
func (i Issue) Fingerprint() string {
	key, _ := json.Marshal(i.Key) // map keys marshal sorted
	id := "-"
	if i.RecordID != nil {
		id = fmt.Sprint(*i.RecordID)
	}
	return fmt.Sprintf("%s|%s|%s|%s", i.Check, i.Table, id, key)
}

// RecordKey returns the primary key of the row a row issue is about, by
// column: {"id": int64(812)} for RecordID 812 on a table keyed by id,
// {"contractor_id": int64(5)} when PrimaryKey names that column, and a copy
// of Key for any other key, such as {"code": "C-17"}. It returns nil for a
// group issue (no RecordID, no PrimaryKey).
func (i Issue) RecordKey() map[string]any {
	if i.RecordID != nil {
		col := "id"
		if len(i.PrimaryKey) == 1 {
			col = i.PrimaryKey[0]
		}
		return map[string]any{col: *i.RecordID}
	}
	if len(i.PrimaryKey) == 0 {
		return nil
	}
	out := make(map[string]any, len(i.Key))
	for k, v := range i.Key {
		out[k] = v
	}
	return out
}

// SetRecordKey makes i a row issue about the row whose primary-key columns
// cols hold vals (in the same order). A single column holding an integer
// (int, int32 or int64) goes to RecordID, with Key emptied; any other key
// goes to Key, with RecordID nil. PrimaryKey is set to cols, or nil when
// cols is just "id" with an integer value, so that issues of id-keyed
// tables are exactly what they were before general keys. It panics when
// cols and vals differ in length.
func (i *Issue) SetRecordKey(cols []string, vals []any) {
	if len(cols) != len(vals) {
		panic(fmt.Sprintf("ip2adb: SetRecordKey with %d columns and %d values", len(cols), len(vals)))
	}
	if len(cols) == 1 {
		var id int64
		ok := true
		switch v := vals[0].(type) {
		case int64:
			id = v
		case int:
			id = int64(v)
		case int32:
			id = int64(v)
		default:
			ok = false
		}
		if ok {
			i.RecordID, i.Key, i.PrimaryKey = &id, nil, nil
			if cols[0] != "id" {
				i.PrimaryKey = []string{cols[0]}
			}
			return
		}
	}
	i.RecordID = nil
	i.PrimaryKey = append([]string(nil), cols...)
	i.Key = make(map[string]any, len(cols))
	for k, c := range cols {
		i.Key[c] = vals[k]
	}
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
