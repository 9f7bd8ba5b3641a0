package integrity_test

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/ip2adb/ip2adb"
	"github.com/ip2adb/ip2adb/integrity"
	"github.com/jmoiron/sqlx"
)

// TestNewCheck: the check of NewCheck is named and described by its Meta
// and classifies the issues its function leaves unclassified.
func TestNewCheck(t *testing.T) {
	meta := integrity.Meta{Name: "hall.unpaid", Category: ip2adb.CategoryDataAnomaly, Severity: ip2adb.Warning, Table: "dues"}
	var gotLimit int
	c := integrity.NewCheck(meta, func(_ context.Context, _ *sqlx.DB, limit int) (integrity.Result, error) {
		gotLimit = limit
		return integrity.Result{Count: 2, Issues: []ip2adb.Issue{
			{RecordID: ip2adb.Ptr(int64(4)), Description: "unpaid"},
			{Check: "hall.other", Category: ip2adb.CategoryDuplicate, Severity: ip2adb.Critical, Table: "members", Description: "own"},
		}}, nil
	})
	if c.Name() != "hall.unpaid" {
		t.Errorf("Name() = %q", c.Name())
	}
	if diff := cmp.Diff(meta, integrity.Describe(c)); diff != "" {
		t.Errorf("Describe (-want +got):\n%s", diff)
	}
	res, err := c.Check(context.Background(), nil, 7)
	if err != nil {
		t.Fatal(err)
	}
	want := integrity.Result{Count: 2, Issues: []ip2adb.Issue{
		{Check: "hall.unpaid", Category: ip2adb.CategoryDataAnomaly, Severity: ip2adb.Warning, Table: "dues", RecordID: ip2adb.Ptr(int64(4)), Description: "unpaid"},
		{Check: "hall.other", Category: ip2adb.CategoryDuplicate, Severity: ip2adb.Critical, Table: "members", Description: "own"},
	}}
	if diff := cmp.Diff(want, res); diff != "" {
		t.Errorf("Check (-want +got):\n%s", diff)
	}
	if gotLimit != 7 {
		t.Errorf("the function got limit %d, want 7", gotLimit)
	}
}
