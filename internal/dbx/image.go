package dbx

import (
	"fmt"
	"strings"
)

// Row images are a row's columns as JSON text: an object of column name to
// value, as the journal stores them. On PostgreSQL they are row_to_json's
// (or json_build_object's) output and are read back through the table's
// row type (json_populate_record), which gives every value its column's
// type. On SQLite they are json_object's, a BLOB written as {"hex": "…"}
// (json_object cannot hold one), and each column is read back with
// json_extract (and unhex for a BLOB).

// RowImage is the SQL expression of the image of the whole row q: q is
// the quoted table name or alias the row is selected by, cols the table's
// columns in order (unquoted; SQLite names each, PostgreSQL takes the row
// as it is).
func (d Dialect) RowImage(q string, cols []string) string {
	if d.postgres() {
		return "row_to_json(" + q + ")::text"
	}
	return d.ColumnsImage(q, cols)
}

// ColumnsImage is the SQL expression of the image of the columns cols
// (unquoted) of the row q, each value written as in [Dialect.RowImage]:
// the JSON text of a primary key, say.
func (d Dialect) ColumnsImage(q string, cols []string) string {
	var b strings.Builder
	if d.postgres() {
		b.WriteString("json_build_object(")
	} else {
		b.WriteString("json_object(")
	}
	for i, c := range cols {
		if i > 0 {
			b.WriteString(", ")
		}
		v := q + "." + d.Quote(c)
		if !d.postgres() {
			v = fmt.Sprintf("CASE WHEN typeof(%s) = 'blob' THEN json_object('hex', hex(%s)) ELSE %s END", v, v, v)
		}
		fmt.Fprintf(&b, "'%s', %s", c, v)
	}
	b.WriteString(")")
	if d.postgres() {
		b.WriteString("::text")
	}
	return b.String()
}

// IntegerImage is [Dialect.ColumnsImage] of the one integer column col
// (unquoted; smallint, integer or bigint) of the row q, the same text
// written more cheaply: on PostgreSQL json_build_object's output,
// {"id" : 5}, by concatenation (an integer's text is its JSON number;
// json_build_object costs about a microsecond a row).
func (d Dialect) IntegerImage(q, col string) string {
	if d.postgres() {
		return `'{"` + col + `" : ' || coalesce((` + q + "." + d.Quote(col) + `)::text, 'null') || '}'`
	}
	return d.ColumnsImage(q, []string{col})
}

// ImageUnchanged is the condition that img, the image of a row as it is
// now, is the image a run left the row with: after, which holds either the
// whole row or only the columns the run changed, the others being those of
// before (NULL when the run inserted the row). On PostgreSQL, where a
// repair journals only the changed columns, the images are compared as
// JSON values: the text when it is equal, else img against before with
// after's columns over it (jsonb). SQLite runs journal whole images, which
// are compared as text.
func (d Dialect) ImageUnchanged(img, before, after string) string {
	if d.postgres() {
		return "(" + img + " = " + after + " OR (" + img + ")::jsonb = coalesce((" + before + ")::jsonb, '{}') || (" + after + ")::jsonb)"
	}
	return img + " = " + after
}

// ImageValue is the SQL expression of column col (unquoted) of table (its
// quoted name) in the image held by the expression img, typed as the
// table's column on PostgreSQL. To read several columns of one image, use
// [Dialect.ImageRow], which decodes it once.
func (d Dialect) ImageValue(table, img, col string) string {
	if d.postgres() {
		return "(json_populate_record(NULL::" + table + ", " + img + "::json))." + d.Quote(col)
	}
	return sqliteImageValue(img, col)
}

// sqliteImageValue is the SQLite expression of column c's value in the
// image held by the expression img.
func sqliteImageValue(img, c string) string {
	return fmt.Sprintf("CASE WHEN json_type(%s, '$.%s') = 'object' THEN unhex(json_extract(%s, '$.%s.hex')) ELSE json_extract(%s, '$.%s') END",
		img, c, img, c, img, c)
}

// ImageRow reads the columns of the image held by the expression img as a
// row of table (its quoted name) named alias: on PostgreSQL the image is
// decoded once per row by a json_populate_record in the FROM list; SQLite
// reads each column from the image in place.
func (d Dialect) ImageRow(table, img, alias string) ImageRow {
	return ImageRow{d: d, table: table, img: img, alias: alias}
}

// ImageRow is a row image read as a row of its table; see
// [Dialect.ImageRow].
type ImageRow struct {
	d                 Dialect
	table, img, alias string
}

// Join is what follows the FROM item the image comes from (such as
// "FROM journal j") to make the image's row available: ", <decoded row>
// alias" on PostgreSQL, nothing on SQLite.
func (r ImageRow) Join() string {
	if r.d.postgres() {
		return ", " + r.decoded()
	}
	return ""
}

// Exists is the condition that cond, over the image's columns
// ([ImageRow.Column]) and whatever the enclosing query has in scope, holds
// for the image's row.
func (r ImageRow) Exists(cond string) string {
	if r.d.postgres() {
		return "EXISTS (SELECT 1 FROM " + r.decoded() + " WHERE " + cond + ")"
	}
	return "(" + cond + ")"
}

// Column is the SQL expression of column col (unquoted) of the image's row,
// in the scope of [ImageRow.Join] or [ImageRow.Exists].
func (r ImageRow) Column(col string) string {
	if r.d.postgres() {
		return r.alias + "." + r.d.Quote(col)
	}
	return sqliteImageValue(r.img, col)
}

func (r ImageRow) decoded() string {
	return "json_populate_record(NULL::" + r.table + ", " + r.img + "::json) " + r.alias
}
