package seed_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/ip2adb/ip2adb/dburl"
	_ "github.com/ip2adb/ip2adb/dburl/sqlite" // registers the SQLite driver
	"github.com/ip2adb/ip2adb/seed"
)

// Seed the quick profile with one planted fault of every kind into a new
// SQLite database. The same seed always gives the same rows.
func ExampleRun() {
	dir, err := os.MkdirTemp("", "seed-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	ctx := context.Background()
	db, err := dburl.Open(ctx, "sqlite:"+filepath.Join(dir, "ip2a.db"), dburl.WithCreate())
	if err != nil {
		panic(err)
	}
	defer db.Close()
	st, err := seed.Run(ctx, db, seed.Options{Profile: seed.Quick, Faults: 1})
	if err != nil {
		panic(err)
	}
	for _, t := range st.Tables {
		fmt.Printf("%-22s %5d\n", t.Table, t.Rows)
	}
	fmt.Println("planted kinds:", len(st.Manifest))
	fmt.Println("duplicate member numbers:", st.Manifest[seed.MemberDuplicateNumber])
	// Output:
	// locations                  5
	// instructors               10
	// organizations             30
	// organization_contacts     83
	// members                  100
	// member_employments      4074
	// students                  40
	// grievances                 6
	// file_attachments        1750
	// planted kinds: 22
	// duplicate member numbers: [map[member_number:7000057]]
}
