package integrity_test

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/ip2adb/ip2adb"
	"github.com/ip2adb/ip2adb/catalog"
	"github.com/ip2adb/ip2adb/integrity"
	"github.com/ip2adb/ip2adb/internal/testdb"
	"github.com/jmoiron/sqlx"
)

func TestNeeds(t *testing.T) {
	m := func(table string) integrity.Meta { return integrity.Meta{Name: "x", Table: table} }
	tests := []struct {
		name  string
		check integrity.Checker
		want  map[string][]string
	}{
		{"foreign key", integrity.ForeignKey{Meta: m("a"), Column: "p_id", References: "p", RefColumn: "key"},
			map[string][]string{"a": {"p_id"}, "p": {"key"}}},
		{"polymorphic", integrity.ForeignKey{Meta: m("a"), Column: "rid", TypeColumn: "rtype", Targets: map[string]string{"x": "xs"}},
			map[string][]string{"a": {"rid", "rtype"}}},
		{"required and reads", integrity.Required{Meta: integrity.Meta{Table: "a", Reads: map[string][]string{"b": {"c"}, "a": {"id", "z"}}},
			Columns: []string{"x", "y"}},
			map[string][]string{"a": {"id", "z", "x", "y"}, "b": {"c"}}},
		{"fix column", integrity.WithFix(integrity.DateOrder{Meta: m("a"), Start: "s", End: "e"},
			integrity.Repair{Action: ip2adb.ActionSetNull, Column: "e2"}),
			map[string][]string{"a": {"s", "e", "e2"}}},
		{"unique expression", integrity.Unique{Meta: m("a"), Keys: []integrity.Key{{Name: "n"}, {Name: "e", Expr: "lower(e)"}}},
			map[string][]string{"a": {"n"}}},
		{"has children", integrity.HasChildren{Meta: m("a"), ChildTable: "c", ChildColumn: "a_id", Show: []string{"name"}},
			map[string][]string{"a": {"name"}, "c": {"a_id"}}},
		{"custom func", integrity.NewCheck(integrity.Meta{Name: "f", Reads: map[string][]string{"q": {"r"}}}, nil),
			map[string][]string{"q": {"r"}}},
		{"first applicable", integrity.FirstApplicable{integrity.Range{Meta: integrity.Meta{Table: "a",
			Reads: map[string][]string{"b": {"c"}}}, Column: "n"}},
			map[string][]string{"a": {}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if d := cmp.Diff(tc.want, integrity.Needs(tc.check)); d != "" {
				t.Errorf("Needs (-want +got):\n%s", d)
			}
		})
	}
}

// TestBindFaults: what cannot be bound fails loudly, what does not apply
// says why, and a custom check may find out at run time that it does not
// apply.
func TestBindFaults(t *testing.T) {
	db := testdb.RealPostgres(t)
	ctx := context.Background()
	m, err := catalog.Read(ctx, db, catalog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	meta := integrity.Meta{Name: "x", Category: ip2adb.CategoryEnumValue, Severity: ip2adb.Critical, Table: "members"}
	checks := []integrity.Checker{
		// No label of memberstatus stands for "pending".
		integrity.Aggregate{Meta: meta, Where: "CAST(status AS TEXT) = ?",
			Args: []any{integrity.EnumValue{Table: "members", Column: "status", Text: "pending"}}},
		integrity.WithFix(integrity.OneOf{Meta: meta, Column: "status", Values: []string{"active"}},
			integrity.Repair{Action: ip2adb.ActionSetValue, Column: "status", Value: "pending"}),
		// Case-insensitive: "retired" is RETIRED.
		integrity.Aggregate{Meta: meta, Where: "CAST(status AS TEXT) = ?",
			Args: []any{integrity.EnumValue{Table: "members", Column: "status", Text: "retired"}}},
		integrity.NewCheck(meta, func(context.Context, *sqlx.DB, int) (integrity.Result, error) {
			return integrity.Result{}, &integrity.NotApplicableError{Reason: "no dues module"}
		}),
		integrity.FirstApplicable{},
		integrity.WithFix(integrity.DateOrder{Meta: integrity.Meta{Table: "member_employments"}, Start: "start_date", End: "end_date"},
			integrity.Repair{Action: ip2adb.ActionSetNull, Column: "ended_on"}),
	}
	rep := integrity.Run(ctx, db, checks, integrity.RunOptions{Model: m})
	type res struct{ Status, Error, Reason string }
	var got []res
	for _, c := range rep.Checks {
		got = append(got, res{c.Status, c.Error, c.Reason})
	}
	labels := "ACTIVE, INACTIVE, SUSPENDED, RETIRED, DECEASED"
	want := []res{
		{"failed", `"pending" is no label of enum memberstatus (members.status): ` + labels, ""},
		{"failed", `repair value: "pending" is no label of enum memberstatus (members.status): ` + labels, ""},
		{"ok", "", ""},
		{"not_applicable", "", "no dues module"},
		{"failed", "FirstApplicable has no alternatives", ""},
		{"not_applicable", "", "table member_employments has no column ended_on"},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("results (-want +got):\n%s", d)
	}
	if rep.Summary.FailedChecks != 3 {
		t.Errorf("failed checks %d, want 3", rep.Summary.FailedChecks)
	}

	_, err = integrity.Bind(m, integrity.Range{Meta: integrity.Meta{Table: "ghosts"}, Column: "n"})
	var na *integrity.NotApplicableError
	if !errors.As(err, &na) || na.Reason != "no table ghosts" || err.Error() != "not applicable: no table ghosts" {
		t.Errorf("Bind on a missing table: %v", err)
	}
}

func TestCheckSchema(t *testing.T) {
	db := testdb.SQLite(t)
	testdb.MustExec(t, db, "CREATE TABLE invoices (id integer PRIMARY KEY, members integer)")
	m, err := catalog.Read(context.Background(), db, catalog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	dues := integrity.Range{Meta: integrity.Meta{Table: "dues"}, Column: "amount"}
	paid := integrity.ForeignKey{Meta: integrity.Meta{Table: "payments"}, Column: "dues_id", References: "dues"}
	owed := integrity.ForeignKey{Meta: integrity.Meta{Table: "dues"}, Column: "member_id", References: "accounts"}
	err = integrity.CheckSchema(m, []integrity.Checker{dues, paid, owed})
	var se *integrity.SchemaError
	// The tables in the checks' order: each check's own table first.
	want := "not the database the checks are for: none of dues, payments, accounts exists"
	if !errors.As(err, &se) || err.Error() != want {
		t.Errorf("got %v\nwant %s", err, want)
	}
	se.Database = "a dues ledger"
	if want := "not a dues ledger: none of dues, payments, accounts exists"; se.Error() != want {
		t.Errorf("got %v\nwant %s", se, want)
	}
	// One table of the rule set is enough; checks that declare no table
	// never make a database foreign.
	for _, checks := range [][]integrity.Checker{
		{integrity.Range{Meta: integrity.Meta{Table: "invoices"}, Column: "total"}, integrity.Range{Meta: integrity.Meta{Table: "members"}}},
		{integrity.NewCheck(integrity.Meta{Name: "x"}, nil)},
		nil,
	} {
		if err := integrity.CheckSchema(m, checks); err != nil {
			t.Errorf("CheckSchema: %v", err)
		}
	}
}
