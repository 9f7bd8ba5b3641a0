package catalog_test

import (
	"context"
	"fmt"

	"github.com/ip2adb/ip2adb/catalog"
	"github.com/jmoiron/sqlx"
	_ "modernc.org/sqlite" // sqlite driver
)

// Read the model once, look tables up, and override what the catalog
// cannot know: here, that members are soft-deleted through "archived".
func ExampleRead() {
	db := sqlx.MustOpen("sqlite", ":memory:")
	defer db.Close()
	db.MustExec(`CREATE TABLE members (
		id INTEGER PRIMARY KEY,
		member_number text NOT NULL UNIQUE,
		status varchar(20) CHECK (status IN ('active', 'inactive')),
		archived boolean,
		created_at timestamp)`)
	m, err := catalog.Read(context.Background(), db, catalog.Options{
		Tables: map[string]catalog.Override{"members": {SoftDelete: &catalog.SoftDelete{Flag: "archived"}}},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	t := m.Table("members")
	fmt.Println(t.PrimaryKey.Columns, t.SoftDelete.Kind(), t.Live("m"), t.Timestamps.CreatedAt)
	fmt.Println(t.UniqueOn("member_number").Name, t.Column("status").Text, t.Checks[0].Expr)
	fmt.Println(m.Missing("members", "email"))
	// Output:
	// [id] flag m.archived IS NOT TRUE created_at
	// sqlite_autoindex_members_1 true CHECK (status IN ('active', 'inactive'))
	// table members has no column email
}
