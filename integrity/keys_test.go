package integrity

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/ip2adb/ip2adb"
	"github.com/ip2adb/ip2adb/catalog"
	"github.com/ip2adb/ip2adb/internal/testdb"
	"github.com/jmoiron/sqlx"
)

// keysSchema is a schema that is not IP2A's: contractors keyed by a text
// code and soft-deleted by deleted_at alone, crews keyed by an integer
// column not named id, dispatch lines keyed by two columns, and notes
// with no key at all (one an override gives a key).
var keysSchema = []string{
	`CREATE TABLE contractors (code VARCHAR(20) PRIMARY KEY, name TEXT, rating INTEGER, doc_path TEXT,
		deleted_at TIMESTAMP, created_at TIMESTAMP)`,
	`CREATE TABLE crews (crew_no INTEGER PRIMARY KEY, name TEXT)`,
	`CREATE TABLE dispatch_lines (local INTEGER NOT NULL, seq INTEGER NOT NULL, contractor_code VARCHAR(20),
		crew_no INTEGER, start_date DATE, end_date DATE, is_open BOOLEAN, PRIMARY KEY (local, seq))`,
	`CREATE TABLE notes (ref TEXT, body TEXT)`,
	`CREATE TABLE line_notes (local INTEGER, seq INTEGER, body TEXT)`,
	`CREATE TABLE badges (id UUID PRIMARY KEY, holder TEXT)`,
	`CREATE TABLE shifts (sid TEXT PRIMARY KEY, crew_no INTEGER REFERENCES crews (crew_no))`,

	`INSERT INTO contractors (code, name, rating, doc_path, deleted_at) VALUES
		('C-01', 'Ada', 3, 'docs/c01.pdf', NULL),
		('C-02', NULL, 5, 'docs/c02.pdf', NULL),
		('C-03', '', 9, NULL, NULL),
		('C-04', NULL, 7, 'docs/gone.pdf', '2024-01-01 00:00:00'),
		('B-9', NULL, 2, NULL, NULL),
		('c-05', 'Lower', 0, '../outside.pdf', NULL)`,
	`INSERT INTO crews (crew_no, name) VALUES (10, 'North'), (20, 'South'), (30, 'Idle')`,
	`INSERT INTO dispatch_lines (local, seq, contractor_code, crew_no, start_date, end_date, is_open) VALUES
		(46, 1, 'C-01', 10, '2024-01-01', '2024-02-01', TRUE),
		(46, 2, 'C-01', 10, '2024-03-01', '2024-02-01', TRUE),
		(46, 3, 'X-99', 20, '2024-01-01', NULL, FALSE),
		(7, 1, 'C-04', 20, '2024-05-01', '2024-04-01', TRUE),
		(7, 2, 'C-01', NULL, '2024-01-01', NULL, TRUE),
		(112, 1, NULL, 20, NULL, NULL, FALSE)`,
	`INSERT INTO shifts (sid, crew_no) VALUES ('S-1', 10), ('S-2', NULL)`,
	`INSERT INTO notes (ref, body) VALUES ('n1', NULL), ('n2', 'ok')`,
	`INSERT INTO line_notes (local, seq, body) VALUES (46, 3, 'x')`,
	`INSERT INTO badges (id, holder) VALUES ('7c9e6679-7425-40de-944b-e07fc1f90ae7', NULL),
		('0f8fad5b-d9cb-469f-a165-70867728950e', NULL), ('16fd2706-8baf-433b-82eb-8c7fada847da', 'Ada')`,
}

// keyIssue is what the test asserts of an issue.
type keyIssue struct {
	Check       string
	RecordID    *int64
	Key         map[string]any
	PrimaryKey  []string
	RecordKey   map[string]any
	Description string
	Fingerprint string
}

// TestGeneralKeys: the declarative checks name rows by the table's primary
// key — text, an integer column not named id, several columns, one set by
// an override — on both databases, fused or not; a table without a key is
// not applicable; a Keep order naming a missing column is refused at bind
// time; the soft-delete filter follows a deleted_at-only table.
func TestGeneralKeys(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlx.DB) {
		ctx := context.Background()
		for _, q := range keysSchema {
			testdb.MustExec(t, db, q)
		}
		root := t.TempDir()
		if err := os.MkdirAll(filepath.Join(root, "docs"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, "docs", "c01.pdf"), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
		model, err := catalog.Read(ctx, db, catalog.Options{Tables: map[string]catalog.Override{
			"line_notes": {PrimaryKey: []string{"local", "seq"}},
		}})
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(catalog.SoftDelete{DeletedAt: "deleted_at"}, model.Table("contractors").SoftDelete); d != "" {
			t.Fatalf("contractors' soft delete (-want +got):\n%s", d)
		}

		meta := func(name, table string) Meta {
			return Meta{Name: name, Category: ip2adb.CategoryDataAnomaly, Severity: ip2adb.Warning, Table: table, SoftDelete: true}
		}
		checks := []Checker{
			Required{Meta: meta("contractor.name", "contractors"), Columns: []string{"name"}},
			Range{Meta: meta("contractor.rating", "contractors"), Column: "rating", Min: int64(1), Max: int64(5)},
			SQL{Meta: meta("contractor.low", "contractors"), Where: "rating < ?", Args: []any{3}, Show: []string{"name"}},
			FileExists{Meta: meta("contractor.doc", "contractors"), PathColumn: "doc_path", Root: root},
			ForeignKey{Meta: meta("line.contractor", "dispatch_lines"), Column: "contractor_code", References: "contractors"},
			ForeignKey{Meta: meta("line.crew", "dispatch_lines"), Column: "crew_no", References: "crews"},
			DateOrder{Meta: meta("line.dates", "dispatch_lines"), Start: "start_date", End: "end_date"},
			NotInFuture{Meta: meta("line.future", "dispatch_lines"), Column: "start_date", Now: func() time.Time { return time.Date(2026, 11, 28, 15, 0, 0, 0, time.UTC) }},
			HasChildren{Meta: meta("crew.no_lines", "crews"), ChildTable: "dispatch_lines", ChildColumn: "crew_no"},
			AtMostOne{Meta: meta("contractor.one_open_line", "dispatch_lines"), GroupBy: []string{"contractor_code"}, Where: "is_open"},
			AtMostOne{Meta: meta("contractor.keep_missing", "dispatch_lines"), GroupBy: []string{"contractor_code"}, Where: "is_open", Keep: "created_at DESC NULLS LAST, seq"},
			Required{Meta: meta("note.body", "notes"), Columns: []string{"body"}},
			Required{Meta: meta("line_note.body", "line_notes"), Columns: []string{"body"}},
			ForeignKey{Meta: meta("line_note.line", "line_notes"), Column: "local", References: "dispatch_lines"},
			ForeignKey{Meta: meta("line_note.line_by_column", "line_notes"), Column: "local", References: "dispatch_lines", RefColumn: "local"},
			Required{Meta: meta("badge.holder", "badges"), Columns: []string{"holder"}},
			ForeignKey{Meta: meta("shift.crew", "shifts"), Column: "crew_no", References: "crews"},
		}
		type checkView struct {
			Name, Status, Reason, Error, EnforcedBy string
			Count                                   int
		}
		// The foreign key constraint's referenced column is the default.
		shiftFK := ""
		if model.ForeignKeysEnforced {
			shiftFK = "shifts_crew_no_fkey"
			if model.Dialect == catalog.SQLite {
				shiftFK = "FOREIGN KEY shifts(crew_no) REFERENCES crews(crew_no)"
			}
		}
		wantChecks := []checkView{
			{Name: "contractor.name", Status: StatusOK, Count: 3},
			{Name: "contractor.rating", Status: StatusOK, Count: 2},
			{Name: "contractor.low", Status: StatusOK, Count: 2},
			{Name: "contractor.doc", Status: StatusOK, Count: 2},
			{Name: "line.contractor", Status: StatusOK, Count: 1},
			{Name: "line.crew", Status: StatusOK, Count: 0},
			{Name: "line.dates", Status: StatusOK, Count: 2},
			{Name: "line.future", Status: StatusOK, Count: 0},
			{Name: "crew.no_lines", Status: StatusOK, Count: 1},
			{Name: "contractor.one_open_line", Status: StatusOK, Count: 1},
			{Name: "contractor.keep_missing", Status: StatusFailed,
				Error: `keep order "created_at DESC NULLS LAST, seq": table dispatch_lines has no column created_at`},
			{Name: "note.body", Status: StatusNotApplicable, Reason: "table notes has no primary key and no id column to name its rows by"},
			{Name: "line_note.body", Status: StatusOK, Count: 0},
			{Name: "line_note.line", Status: StatusNotApplicable,
				Reason: "table dispatch_lines has a primary key of 2 columns (local, seq); a reference to it must name its column"},
			{Name: "line_note.line_by_column", Status: StatusOK, Count: 0},
			{Name: "badge.holder", Status: StatusOK, Count: 2},
			{Name: "shift.crew", Status: StatusOK, EnforcedBy: shiftFK},
		}
		code := func(c string) map[string]any { return map[string]any{"code": c} }
		line := func(local, seq int64) map[string]any { return map[string]any{"local": local, "seq": seq} }
		row := func(check string, key map[string]any, desc string) keyIssue {
			is := keyIssue{Check: check, Key: key, RecordKey: key, Description: desc}
			for k := range key {
				is.PrimaryKey = append(is.PrimaryKey, k)
			}
			if len(key) == 2 {
				is.PrimaryKey = []string{"local", "seq"}
			}
			return is
		}
		crew := keyIssue{Check: "crew.no_lines", RecordID: ip2adb.Ptr[int64](30), PrimaryKey: []string{"crew_no"},
			RecordKey: map[string]any{"crew_no": int64(30)}, Description: "crews 30 has no dispatch_lines"}
		// Text keys in byte order on both databases: "B-9" < "C-…" < "c-05".
		wantIssues := []keyIssue{
			row("contractor.name", code("B-9"), "contractors B-9: missing name"),
			row("contractor.name", code("C-02"), "contractors C-02: missing name"),
			row("contractor.name", code("C-03"), "contractors C-03: missing name"),
			row("contractor.rating", code("C-03"), "contractors C-03: rating 9 is outside 1..5"),
			row("contractor.rating", code("c-05"), "contractors c-05: rating 0 is outside 1..5"),
			row("contractor.low", code("B-9"), "contractors B-9: name NULL"),
			row("contractor.low", code("c-05"), `contractors c-05: name "Lower"`),
			row("contractor.doc", code("C-02"), `contractors C-02: file "docs/c02.pdf" not found in `+root),
			row("contractor.doc", code("c-05"), `contractors c-05: file "../outside.pdf" is outside the files root `+root),
			row("line.contractor", line(46, 3), `dispatch_lines (local 46, seq 3): contractor_code "X-99" has no row in contractors`),
			row("line.dates", line(7, 1), "dispatch_lines (local 7, seq 1): end_date 2024-04-01 is before start_date 2024-05-01"),
			row("line.dates", line(46, 2), "dispatch_lines (local 46, seq 2): end_date 2024-02-01 is before start_date 2024-03-01"),
			crew,
			{Check: "contractor.one_open_line", Key: map[string]any{"contractor_code": "C-01"},
				Description: `dispatch_lines: 3 rows with is_open for contractor_code "C-01" (at most one allowed)`},
			// A uuid key named id is a key like any other: in Key.
			row("badge.holder", map[string]any{"id": "0f8fad5b-d9cb-469f-a165-70867728950e"},
				"badges 0f8fad5b-d9cb-469f-a165-70867728950e: missing holder"),
			row("badge.holder", map[string]any{"id": "7c9e6679-7425-40de-944b-e07fc1f90ae7"},
				"badges 7c9e6679-7425-40de-944b-e07fc1f90ae7: missing holder"),
		}
		// Fingerprints (after "check|table|"): the integer key as before,
		// any other key as its JSON.
		for i := range wantIssues {
			is := &wantIssues[i]
			switch {
			case is.RecordID != nil:
				is.Fingerprint = "30|null"
			default:
				b, err := json.Marshal(is.Key)
				if err != nil {
					t.Fatal(err)
				}
				is.Fingerprint = "-|" + string(b)
			}
		}
		if got := wantIssues[9].Fingerprint; got != `-|{"local":46,"seq":3}` {
			t.Fatalf("composite fingerprint %s", got)
		}

		for _, separate := range []bool{false, true} {
			rep := Run(ctx, db, checks, RunOptions{Model: model, separate: separate})
			var gotChecks []checkView
			for _, c := range rep.Checks {
				gotChecks = append(gotChecks, checkView{c.Name, c.Status, c.Reason, c.Error, c.EnforcedBy, c.Count})
			}
			if d := cmp.Diff(wantChecks, gotChecks); d != "" {
				t.Errorf("separate=%v: checks (-want +got):\n%s", separate, d)
			}
			var gotIssues []keyIssue
			for _, is := range rep.Issues {
				fp := strings.TrimPrefix(is.Fingerprint(), is.Check+"|"+is.Table+"|")
				gotIssues = append(gotIssues, keyIssue{is.Check, is.RecordID, is.Key, is.PrimaryKey, is.RecordKey(), is.Description, fp})
			}
			if d := cmp.Diff(wantIssues, gotIssues, cmpopts.EquateEmpty()); d != "" {
				t.Errorf("separate=%v: issues (-want +got):\n%s", separate, d)
			}
		}

		// The rows a fix would change, by the checks' predicates: the
		// composite key of AtMostOne keeps the last line (no creation
		// time: by the primary key, descending).
		bound := Prepare(model, checks)
		type lineKey struct{ Local, Seq int64 }
		var extra []lineKey
		where, args := bound[9].(Predicater).Predicate()
		if err := db.SelectContext(ctx, &extra, db.Rebind("SELECT local, seq FROM dispatch_lines WHERE "+where+" ORDER BY local, seq"), args...); err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff([]lineKey{{7, 2}, {46, 1}}, extra); d != "" {
			t.Errorf("at-most-one rows to repair (-want +got):\n%s", d)
		}
		if got := bound[9].(AtMostOne).Keep; got != "local DESC, seq DESC" {
			t.Errorf("default Keep = %q, want by the primary key", got)
		}
	})
}
