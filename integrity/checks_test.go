package integrity_test

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/ip2adb/ip2adb"
	"github.com/ip2adb/ip2adb/integrity"
	"github.com/ip2adb/ip2adb/internal/dbx"
	"github.com/ip2adb/ip2adb/internal/testdb"
	"github.com/jmoiron/sqlx"
)

// TestGenericChecks covers the options of the declarative checks that the
// IP2A rules do not use: compound keys, one-sided ranges, thresholds,
// AllowBlank, children without soft delete, a custom Keep order.
func TestGenericChecks(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlx.DB) {
		testdb.MustExec(t, db, `INSERT INTO students (id, first_name, last_name, email, status, application_date, enrollment_date) VALUES
			(1, 'Ann', 'Lee', 'a@x', 'applied', '2024-01-01', '2024-02-01'),
			(2, 'ann', 'Lee', 'b@x', 'applied', '2024-01-01', NULL),
			(3, 'Ann', 'Lee', 'c@x', 'enrolled', '2024-01-01', '2023-12-01'),
			(4, 'Bo', 'Ng', 'd@x', 'applied', NULL, NULL),
			(5, 'Bo', 'Ng', 'e@x', 'applied', NULL, NULL)`)
		testdb.MustExec(t, db, `INSERT INTO locations (id, name, capacity) VALUES (1, 'Hall', 10), (2, '', 500), (3, 'Annex', NULL)`)
		testdb.MustExec(t, db, `INSERT INTO grievances (id, member_id, organization_id, status) VALUES (1, 1, 1, 'open'), (2, 1, 2, 'open'), (3, 2, 1, 'closed')`)

		stu := func(name string) integrity.Meta {
			return integrity.Meta{Name: name, Category: ip2adb.CategoryDuplicate, Severity: ip2adb.Warning, Table: "students", SoftDelete: true}
		}
		loc := func(name string) integrity.Meta {
			return integrity.Meta{Name: name, Category: ip2adb.CategoryDataAnomaly, Severity: ip2adb.Info, Table: "locations"}
		}
		type out struct {
			Count int
			IDs   []int64
			Keys  []map[string]any
		}
		for _, tc := range []struct {
			check integrity.Checker
			want  out
		}{
			{integrity.Unique{Meta: stu("compound"), Keys: []integrity.Key{{Name: "first", Expr: "lower(first_name)"}, {Name: "last_name"}}, Where: "status = 'applied'"},
				out{Count: 2, Keys: []map[string]any{{"first": "ann", "last_name": "Lee"}, {"first": "bo", "last_name": "Ng"}}}},
			{integrity.Range{Meta: loc("min only"), Column: "capacity", Min: int64(100)}, out{Count: 1, IDs: []int64{1}}},
			{integrity.Range{Meta: loc("max only"), Column: "capacity", Max: int64(100)}, out{Count: 1, IDs: []int64{2}}},
			{integrity.Required{Meta: loc("allow blank"), Columns: []string{"name", "capacity"}, AllowBlank: true}, out{Count: 1, IDs: []int64{3}}},
			{integrity.Required{Meta: loc("no blank"), Columns: []string{"name"}}, out{Count: 1, IDs: []int64{2}}},
			{integrity.OneOf{Meta: loc("blank invalid"), Column: "name", Values: []string{"Hall", "Annex"}}, out{Count: 1, IDs: []int64{2}}},
			{integrity.OneOf{Meta: loc("blank skipped"), Column: "name", Values: []string{"Hall", "Annex"}, SkipBlank: true}, out{}},
			{integrity.OneOf{Meta: stu("null valid"), Column: "enrollment_date", Values: []string{"2024-02-01"}}, out{Count: 1, IDs: []int64{3}}},
			{integrity.OneOf{Meta: stu("null invalid"), Column: "enrollment_date", Values: []string{"2024-02-01"}, NullInvalid: true}, out{Count: 4, IDs: []int64{2, 3, 4, 5}}},
			{integrity.DateOrder{Meta: stu("dates"), Start: "application_date", End: "enrollment_date"}, out{Count: 1, IDs: []int64{3}}},
			{integrity.HasChildren{Meta: loc("no grievances"), ChildTable: "grievances", ChildColumn: "organization_id"}, out{Count: 1, IDs: []int64{3}}},
			{integrity.Aggregate{Meta: loc("above threshold"), Where: "capacity IS NOT NULL", Threshold: 1}, out{Count: 1, Keys: []map[string]any{{}}}},
			{integrity.Aggregate{Meta: loc("at threshold"), Where: "capacity IS NOT NULL", Threshold: 2}, out{}},
			{integrity.AtMostOne{Meta: integrity.Meta{Name: "one open per member", Table: "grievances"}, GroupBy: []string{"member_id"}, Where: "status = 'open'"},
				out{Count: 1, Keys: []map[string]any{{"member_id": int64(1)}}}},
			{integrity.SQL{Meta: loc("custom"), Where: "capacity > ?", Args: []any{50}}, out{Count: 1, IDs: []int64{2}}},
		} {
			t.Run(tc.check.Name(), func(t *testing.T) {
				res, err := tc.check.Check(context.Background(), db, 10)
				if err != nil {
					t.Fatal(err)
				}
				got := out{Count: res.Count}
				for _, is := range res.Issues {
					if is.RecordID != nil {
						got.IDs = append(got.IDs, *is.RecordID)
					} else {
						got.Keys = append(got.Keys, is.Key)
					}
				}
				if d := cmp.Diff(tc.want, got); d != "" {
					t.Errorf("(-want +got):\n%s", d)
				}
			})
		}

		// Keep chooses the row an AtMostOne fix leaves alone.
		for keep, want := range map[string][]int64{"id ASC": {2}, "": {1}, "organization_id DESC, id": {1}} {
			c := integrity.AtMostOne{Meta: integrity.Meta{Table: "grievances"}, GroupBy: []string{"member_id"}, Where: "status = 'open'", Keep: keep}
			where, args := c.Predicate()
			var ids []int64
			if err := db.Select(&ids, dbx.DialectOf(db).Rebind("SELECT id FROM grievances WHERE "+where+" ORDER BY id"), args...); err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(want, ids); d != "" {
				t.Errorf("Keep %q: rows to repair (-want +got):\n%s", keep, d)
			}
		}
	}, testdb.WithSchema())
}
