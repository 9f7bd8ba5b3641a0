package integrity_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/ip2adb/ip2adb"
	"github.com/ip2adb/ip2adb/catalog"
	"github.com/ip2adb/ip2adb/integrity"
)

func TestRecordFixes(t *testing.T) {
	att := func(id int64) ip2adb.Issue {
		return ip2adb.Issue{Check: "attachment.file_missing", Table: "file_attachments", RecordID: ip2adb.Ptr(id)}
	}
	group := ip2adb.Issue{Check: "member.duplicate_number", Table: "members", Key: map[string]any{"member_number": "7"}}
	model := &catalog.Model{Tables: map[string]*catalog.Table{
		"file_attachments": {Name: "file_attachments",
			Columns:    []catalog.Column{{Name: "id", NotNull: true}, {Name: "is_deleted", NotNull: true}, {Name: "deleted_at"}},
			SoftDelete: catalog.SoftDelete{Flag: "is_deleted", DeletedAt: "deleted_at"}},
		"documents": {Name: "documents",
			Columns:    []catalog.Column{{Name: "id", NotNull: true}, {Name: "deleted_at"}},
			SoftDelete: catalog.SoftDelete{DeletedAt: "deleted_at"}},
		"notes": {Name: "notes", Columns: []catalog.Column{{Name: "id", NotNull: true}}},
		"contracts": {Name: "contracts", Columns: []catalog.Column{{Name: "local"}, {Name: "seq"}, {Name: "is_deleted"}},
			SoftDelete: catalog.SoftDelete{Flag: "is_deleted"}},
	}}
	many := make([]ip2adb.Issue, 0, 1001)
	args := make([]any, 0, 1001)
	for id := int64(1); id <= 1001; id++ {
		many = append(many, att(id))
		args = append(args, id)
	}
	in := func(n int) string {
		s := "id IN (?"
		for range n - 1 {
			s += ", ?"
		}
		return s + ")"
	}
	for _, tc := range []struct {
		name   string
		model  *catalog.Model
		issues []ip2adb.Issue
		want   []ip2adb.Fix
	}{
		{"none", nil, nil, nil},
		{"group issues only", nil, []ip2adb.Issue{group}, nil},
		{"unbound: is_deleted", nil, []ip2adb.Issue{att(7), group, att(3)}, []ip2adb.Fix{
			{Action: ip2adb.ActionDelete, Table: "file_attachments", Where: "NOT is_deleted AND id IN (?, ?)", Args: []any{int64(7), int64(3)}}}},
		{"batches of MaxRowsPerFix", model, many, []ip2adb.Fix{
			{Action: ip2adb.ActionDelete, Table: "file_attachments", Where: "NOT is_deleted AND " + in(500), Args: args[:500]},
			{Action: ip2adb.ActionDelete, Table: "file_attachments", Where: "NOT is_deleted AND " + in(500), Args: args[500:1000]},
			{Action: ip2adb.ActionDelete, Table: "file_attachments", Where: "NOT is_deleted AND " + in(1), Args: args[1000:]}}},
		{"each table by its own convention", model, []ip2adb.Issue{
			{Table: "notes", RecordID: ip2adb.Ptr(int64(1))}, {Table: "documents", RecordID: ip2adb.Ptr(int64(2))}, {Table: "notes", RecordID: ip2adb.Ptr(int64(3))}},
			[]ip2adb.Fix{
				{Action: ip2adb.ActionDelete, Table: "notes", Where: "id IN (?, ?)", Args: []any{int64(1), int64(3)}},
				{Action: ip2adb.ActionDelete, Table: "documents", Where: "deleted_at IS NULL AND id IN (?)", Args: []any{int64(2)}}}},
		{"keys of any column, type or number of columns", model, []ip2adb.Issue{
			{Table: "hires", RecordID: ip2adb.Ptr(int64(5)), PrimaryKey: []string{"hire_id"}},
			{Table: "contracts", Key: map[string]any{"local": int64(46), "seq": int64(3)}, PrimaryKey: []string{"local", "seq"}},
			{Table: "hires", Key: map[string]any{"code": "C-17"}, PrimaryKey: []string{"code"}},
			{Table: "contracts", Key: map[string]any{"local": int64(46), "seq": int64(4)}, PrimaryKey: []string{"local", "seq"}}},
			[]ip2adb.Fix{
				{Action: ip2adb.ActionDelete, Table: "hires", Where: "hire_id IN (?)", Args: []any{int64(5)}},
				{Action: ip2adb.ActionDelete, Table: "contracts", Where: "is_deleted IS NOT TRUE AND ((local = ? AND seq = ?) OR (local = ? AND seq = ?))",
					Args: []any{int64(46), int64(3), int64(46), int64(4)}},
				{Action: ip2adb.ActionDelete, Table: "hires", Where: "code IN (?)", Args: []any{"C-17"}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := integrity.RecordFixes(tc.model, ip2adb.ActionDelete, tc.issues)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("RecordFixes (-want +got):\n%s", diff)
			}
		})
	}
	if integrity.MaxRowsPerFix != 500 {
		t.Errorf("MaxRowsPerFix = %d, want 500", integrity.MaxRowsPerFix)
	}
}
