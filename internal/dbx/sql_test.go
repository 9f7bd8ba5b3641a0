package dbx_test

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/ip2adb/ip2adb/internal/dbx"
	"github.com/ip2adb/ip2adb/internal/testdb"
	"github.com/jmoiron/sqlx"
)

// TestRowImagesRoundTrip: a row's image, read back column by column
// (ImageValue, and ImageRow through Join and Exists), gives the row's
// values, a BLOB and a NULL included; ColumnsImage of the key reads back
// the same way.
func TestRowImagesRoundTrip(t *testing.T) {
	ctx := context.Background()
	testdb.Each(t, func(t *testing.T, db *sqlx.DB) {
		d := dbx.DialectOf(db)
		blob := "bytea"
		if !d.Schemas() {
			blob = "blob"
		}
		testdb.MustExec(t, db, `CREATE TABLE img (code varchar(10), seq integer, note text, data `+blob+`, PRIMARY KEY (code, seq))`)
		testdb.MustExec(t, db, d.Rebind(`INSERT INTO img (code, seq, note, data) VALUES (?, 1, ?, ?), ('b', 2, NULL, NULL)`), "a'\"1", "line\nbreak", []byte{0, 1, 0xfe})
		testdb.MustExec(t, db, `CREATE TABLE imgs (k text, image text)`)
		cols := []string{"code", "seq", "note", "data"}
		q := d.Quote("img")
		testdb.MustExec(t, db, `INSERT INTO imgs (k, image) SELECT `+d.ColumnsImage(q, []string{"code", "seq"})+`, `+d.RowImage(q, cols)+` FROM `+q)

		type row struct {
			Code string  `db:"code"`
			Seq  int64   `db:"seq"`
			Note *string `db:"note"`
			Data []byte  `db:"data"`
		}
		var want []row
		if err := db.SelectContext(ctx, &want, `SELECT code, seq, note, data FROM img ORDER BY code`); err != nil {
			t.Fatal(err)
		}

		var byValue []row
		if err := db.SelectContext(ctx, &byValue, `SELECT `+d.ImageValue(q, "i.image", "code")+` AS code, `+d.ImageValue(q, "i.image", "seq")+` AS seq, `+
			d.ImageValue(q, "i.image", "note")+` AS note, `+d.ImageValue(q, "i.image", "data")+` AS data FROM imgs i ORDER BY 1`); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, byValue); diff != "" {
			t.Errorf("ImageValue (-want +got):\n%s", diff)
		}

		r := d.ImageRow(q, "i.image", "r")
		var byRow []row
		if err := db.SelectContext(ctx, &byRow, `SELECT `+r.Column("code")+` AS code, `+r.Column("seq")+` AS seq, `+r.Column("note")+` AS note, `+
			r.Column("data")+` AS data FROM imgs i`+r.Join()+` ORDER BY 1`); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, byRow); diff != "" {
			t.Errorf("ImageRow.Join (-want +got):\n%s", diff)
		}

		// Exists: each image matches its own row by the key read from the
		// key image, and a NULL note only by null-safe equality.
		match := `img.code = ` + d.ImageValue(q, "i.k", "code") + ` AND img.seq = ` + d.ImageValue(q, "i.k", "seq")
		var n int
		if err := db.GetContext(ctx, &n, `SELECT count(*) FROM imgs i JOIN img ON `+match+` WHERE `+
			r.Exists(d.NotDistinct("img.note", r.Column("note"))+` AND img.data = `+r.Column("data"))); err != nil {
			t.Fatal(err)
		}
		if n != 1 { // the row whose data is NULL does not match by "="
			t.Errorf("rows matched through ImageRow.Exists = %d, want 1", n)
		}
	})
}

// TestImageUnchanged: a row is as a run left it when its image is the
// whole after-image, or (PostgreSQL) the before-image with the changed
// columns' image over it; an edit of any column shows.
func TestImageUnchanged(t *testing.T) {
	ctx := context.Background()
	testdb.Each(t, func(t *testing.T, db *sqlx.DB) {
		d := dbx.DialectOf(db)
		testdb.MustExec(t, db, `CREATE TABLE w (id integer PRIMARY KEY, name varchar(10), price numeric(10,2), made date, active boolean NOT NULL)`)
		testdb.MustExec(t, db, `INSERT INTO w VALUES (1, 'a', 1.50, '2024-01-02', TRUE)`)
		cols := []string{"id", "name", "price", "made", "active"}
		q := d.Quote("w")
		testdb.MustExec(t, db, `CREATE TABLE j (before_image text, after_image text, delta text)`)
		testdb.MustExec(t, db, `INSERT INTO j (before_image) SELECT `+d.RowImage(q, cols)+` FROM `+q)
		testdb.MustExec(t, db, `UPDATE w SET active = FALSE, price = NULL`)
		testdb.MustExec(t, db, `UPDATE j SET after_image = (SELECT `+d.RowImage(q, cols)+` FROM `+q+`), delta = (SELECT `+d.ColumnsImage(q, []string{"active", "price"})+` FROM `+q+`)`)
		unchanged := func(before, after string) bool {
			t.Helper()
			var n int
			if err := db.GetContext(ctx, &n, `SELECT count(*) FROM j, `+q+` WHERE `+d.ImageUnchanged(d.RowImage(q, cols), before, after)); err != nil {
				t.Fatal(err)
			}
			return n == 1
		}
		type images struct{ Whole, Inserted, Delta bool }
		check := func(what string, want images) {
			t.Helper()
			got := images{unchanged("j.before_image", "j.after_image"), unchanged("NULL", "j.after_image"), false}
			if d.ModifyingCTEs() { // only PostgreSQL runs journal the changed columns alone
				got.Delta = unchanged("j.before_image", "j.delta")
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("%s (-want +got):\n%s", what, diff)
			}
		}
		check("as the run left it", images{true, true, d.ModifyingCTEs()})
		testdb.MustExec(t, db, `UPDATE w SET name = 'b'`)
		check("a column the run did not set edited", images{})
		testdb.MustExec(t, db, `UPDATE w SET name = 'a', active = TRUE`)
		check("a column the run set edited", images{})
	})
}

// TestTruncateAndCatalog: Truncate empties tables whose children reference
// them; HasTable, ListTables, ColumnInfo, TableSizes and DatabaseSize read the catalog.
func TestTruncateAndCatalog(t *testing.T) {
	ctx := context.Background()
	testdb.Each(t, func(t *testing.T, db *sqlx.DB) {
		d := dbx.DialectOf(db)
		if !d.Schemas() {
			// SQLite enforces foreign keys per connection, when asked.
			db.SetMaxOpenConns(1)
			testdb.MustExec(t, db, `PRAGMA foreign_keys = ON`)
		}
		testdb.MustExec(t, db, `CREATE TABLE parent (id integer PRIMARY KEY, name text NOT NULL)`)
		testdb.MustExec(t, db, `CREATE TABLE child (id integer PRIMARY KEY, parent_id integer REFERENCES parent (id))`)
		testdb.MustExec(t, db, `INSERT INTO parent VALUES (1, 'p')`)
		testdb.MustExec(t, db, `INSERT INTO child VALUES (1, 1)`)
		schema := ""
		if d.Schemas() {
			if err := db.GetContext(ctx, &schema, `SELECT current_schema()`); err != nil {
				t.Fatal(err)
			}
		}
		for _, tc := range []struct {
			table string
			want  bool
		}{{"parent", true}, {"child", true}, {"nothing", false}} {
			if got, err := d.HasTable(ctx, db, schema, tc.table); err != nil || got != tc.want {
				t.Errorf("HasTable(%s) = %v, %v; want %v", tc.table, got, err, tc.want)
			}
		}
		// Another schema's tables, and the current schema's named par…;
		// SQLite lists every table.
		tables, err := d.ListTables(ctx, db, "elsewhere", "par")
		if err != nil {
			t.Fatal(err)
		}
		wantTables := []dbx.SchemaTable{{Schema: schema, Name: "parent", Current: true}}
		if !d.Schemas() {
			wantTables = []dbx.SchemaTable{{Schema: "elsewhere", Name: "parent", Current: true}, {Schema: "elsewhere", Name: "child", Current: true}}
		}
		if diff := cmp.Diff(wantTables, tables, cmpopts.SortSlices(func(a, b dbx.SchemaTable) bool { return a.Name < b.Name })); diff != "" {
			t.Errorf("ListTables (-want +got):\n%s", diff)
		}
		cols, err := d.ColumnInfo(ctx, db, "parent")
		if err != nil {
			t.Fatal(err)
		}
		// A SQLite INTEGER PRIMARY KEY is the rowid: not declared NOT NULL.
		wantCols := []dbx.ColumnInfo{{Name: "id", NotNull: d.Schemas()}, {Name: "name", NotNull: true}}
		if diff := cmp.Diff(wantCols, cols); diff != "" {
			t.Errorf("ColumnInfo (-want +got):\n%s", diff)
		}
		sizes, err := d.TableSizes(ctx, db, []string{"parent", "child"})
		if err != nil {
			t.Fatal(err)
		}
		if sizes["parent"] <= 0 || sizes["child"] <= 0 {
			t.Errorf("TableSizes = %v, want both positive", sizes)
		}
		if n, err := d.DatabaseSize(ctx, db); err != nil || n <= sizes["parent"] {
			t.Errorf("DatabaseSize = %d, %v; want more than parent's %d", n, err, sizes["parent"])
		}

		tx, err := db.BeginTxx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback()
		if err := d.Truncate(ctx, tx, []string{"parent", "child"}); err != nil {
			t.Fatal(err)
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		if got := testdb.Count(t, db, "parent", "TRUE") + testdb.Count(t, db, "child", "TRUE"); got != 0 {
			t.Errorf("%d rows left after Truncate", got)
		}
	})
}

// TestIntegerImage: the image of one integer column is ColumnsImage's
// text exactly — for small, negative, the extreme bigint values and NULL.
func TestIntegerImage(t *testing.T) {
	ctx := context.Background()
	testdb.Each(t, func(t *testing.T, db *sqlx.DB) {
		d := dbx.DialectOf(db)
		testdb.MustExec(t, db, `CREATE TABLE ints (id bigint, small smallint)`)
		testdb.MustExec(t, db, `INSERT INTO ints (id, small) VALUES (5, 1), (-7, -32768), (9223372036854775807, 32767), (-9223372036854775808, 0), (NULL, NULL)`)
		q := d.Quote("ints")
		for _, col := range []string{"id", "small"} {
			var rows []struct {
				Got  *string `db:"got"`
				Want *string `db:"want"`
			}
			if err := db.SelectContext(ctx, &rows, `SELECT `+d.IntegerImage(q, col)+` AS got, `+d.ColumnsImage(q, []string{col})+` AS want FROM `+q); err != nil {
				t.Fatal(err)
			}
			if len(rows) != 5 {
				t.Fatalf("%s: %d rows, want 5", col, len(rows))
			}
			for _, r := range rows {
				if r.Got == nil || r.Want == nil || *r.Got != *r.Want {
					t.Errorf("%s: IntegerImage %v, ColumnsImage %v", col, show(r.Got), show(r.Want))
				}
			}
		}
	})
}

func show(s *string) string {
	if s == nil {
		return "NULL"
	}
	return *s
}
