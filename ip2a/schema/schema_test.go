package schema_test

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/ip2adb/ip2adb/internal/dbx"
	"github.com/ip2adb/ip2adb/internal/testdb"
	"github.com/ip2adb/ip2adb/ip2a/schema"
	"github.com/jmoiron/sqlx"
)

func TestApplyTwiceIsANoOp(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlx.DB) {
		ctx := context.Background()
		d := dbx.DialectOf(db)
		if err := schema.Apply(ctx, db); err != nil {
			t.Fatal(err)
		}
		before := map[string][]string{}
		for _, tbl := range schema.Tables() {
			cols, err := dbx.Columns(ctx, db, d, tbl)
			if err != nil {
				t.Fatal(err)
			}
			before[tbl] = cols
		}
		if err := schema.Apply(ctx, db); err != nil {
			t.Fatalf("second apply: %v", err)
		}
		after := map[string][]string{}
		for _, tbl := range schema.Tables() {
			cols, _ := dbx.Columns(ctx, db, d, tbl)
			after[tbl] = cols
		}
		if diff := cmp.Diff(before, after); diff != "" {
			t.Errorf("schema changed on second apply (-first +second):\n%s", diff)
		}
		want := []string{"id", "record_type", "record_id", "file_category", "file_name", "original_name",
			"file_path", "file_type", "file_size", "description", "is_deleted", "deleted_at",
			"created_at", "updated_at"}
		if diff := cmp.Diff(want, after["file_attachments"]); diff != "" {
			t.Errorf("file_attachments columns (-want +got):\n%s", diff)
		}
	})
}
