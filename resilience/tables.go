package resilience

import (
	"errors"
	"fmt"
	"strings"

	"github.com/ip2adb/ip2adb/internal/dbx"
)

// This file holds what the probes read of the application's own tables.
// resilience knows no schema: the caller names the tables in [Options]
// (package ip2a supplies the IP2A member database's), and a probe whose
// tables are not named measures nothing and says so in its summary.

// Attachments names the table of file records that file_corruption,
// orphaned_files and [RecordChecksums] compare with the file store: one
// row per stored file, with the file's path under the files root.
type Attachments struct {
	// Table is the table, such as "file_attachments". Empty: no table of
	// file records is named; file_corruption and orphaned_files measure
	// nothing, and RecordChecksums refuses.
	Table string
	// ID is Table's integer key, which the checksum state and ip2adb's
	// checksum table refer to; "id" when empty.
	ID string
	// Path is the column holding the file's path (relative to the files
	// root, or absolute under it); required with Table.
	Path string
	// Size is the column holding the file's size in bytes, compared with
	// the stored file; none when empty.
	Size string
	// Deleted is a boolean column marking soft-deleted rows, which are left
	// out; none when empty.
	Deleted string
	// DeletedAt is a timestamp column set when a row is soft-deleted; rows
	// with it set are left out too. None when empty.
	DeletedAt string
}

// Staleness names what data_staleness counts: rows nobody has updated for
// StaleAfter and, optionally, rows of another table that ended more than
// ArchiveYears ago (archive candidates).
type Staleness struct {
	// Table holds the rows that go stale, such as a table of members.
	// Empty: data_staleness measures nothing.
	Table string
	// Updated is Table's last-changed timestamp column; required with
	// Table.
	Updated string
	// Deleted is a boolean column marking soft-deleted rows, which are not
	// counted; none when empty.
	Deleted string
	// DeletedAt is a timestamp column set when a row is soft-deleted; rows
	// with it set are not counted either. None when empty.
	DeletedAt string
	// Noun names Table's rows in the report, plural and one word
	// ("members"); it also names the metrics (stale_<Noun>). Table when
	// empty.
	Noun string
	// Advice begins the finding's recommendation, without a full stop;
	// "Review whether these <Noun> are still current" when empty.
	Advice string
	// Ended names the rows counted as archive candidates; none when its
	// Table is empty.
	Ended Ended
}

// Ended names a table whose rows end on a date, such as employments.
type Ended struct {
	// Table is the table; Column its end-date column (required with Table).
	Table, Column string
	// Noun names its rows in the report, plural and one word
	// ("employments"); Table when empty.
	Noun string
}

// Distribution names what data_distribution measures: how many rows of a
// child table each parent row has.
type Distribution struct {
	// Table is the child table, such as employments. Empty:
	// data_distribution measures nothing.
	Table string
	// Column is Table's column naming the parent row, such as
	// "member_id"; required with Table.
	Column string
	// Parent and Parents name a parent row in the report, singular and
	// plural, one word each ("member", "members"); Children names Table's
	// rows, plural and one word ("employments"). They also name the
	// metrics (<Parents>_with_<Children>). "parent", "parents" and Table
	// when empty.
	Parent, Parents, Children string
	// Advice is the finding's recommendation; "Check the <Parents> with
	// the most <Children> for duplicated rows." when empty.
	Advice string
}

// TimedQuery is a query that query_performance times.
type TimedQuery struct {
	// Name names the query in the report, such as "count_members".
	Name string
	// SQL is the statement; it returns one row of one integer (a count).
	SQL string
	// Advice is the recommendation when the query is slower than
	// SlowQuery; when empty: "Run ANALYZE, check that the tables it reads
	// are indexed and that the server has enough memory; see index_health
	// for missing or invalid indexes."
	Advice string
}

// validate refuses a named table without the columns the probe needs.
func (a Attachments) validate() error {
	if a.Table != "" && a.Path == "" {
		return fmt.Errorf("attachments table %s: no path column named", a.Table)
	}
	return nil
}

func (a Attachments) withDefaults() Attachments {
	if a.Table == "" {
		return a
	}
	if a.ID == "" {
		a.ID = "id"
	}
	return a
}

func (s Staleness) validate() error {
	switch {
	case s.Table != "" && s.Updated == "":
		return fmt.Errorf("staleness table %s: no updated column named", s.Table)
	case s.Ended.Table != "" && s.Ended.Column == "":
		return fmt.Errorf("staleness ended table %s: no end column named", s.Ended.Table)
	}
	return nil
}

func (s Staleness) withDefaults() Staleness {
	if s.Table == "" {
		return s
	}
	if s.Noun == "" {
		s.Noun = s.Table
	}
	if s.Advice == "" {
		s.Advice = "Review whether these " + s.Noun + " are still current"
	}
	if s.Ended.Noun == "" {
		s.Ended.Noun = s.Ended.Table
	}
	return s
}

func (d Distribution) validate() error {
	if d.Table != "" && d.Column == "" {
		return fmt.Errorf("distribution table %s: no parent column named", d.Table)
	}
	return nil
}

func (d Distribution) withDefaults() Distribution {
	if d.Table == "" {
		return d
	}
	if d.Parent == "" {
		d.Parent = "parent"
	}
	if d.Parents == "" {
		d.Parents = "parents"
	}
	if d.Children == "" {
		d.Children = d.Table
	}
	if d.Advice == "" {
		d.Advice = "Check the " + d.Parents + " with the most " + d.Children + " for duplicated rows."
	}
	return d
}

// validateTables refuses what names a table without its columns, and timed
// queries without a name or SQL.
func (o Options) validateTables() error {
	errs := []error{o.Attachments.validate(), o.Staleness.validate(), o.Distribution.validate()}
	for _, q := range o.TimedQueries {
		if q.Name == "" || strings.TrimSpace(q.SQL) == "" {
			errs = append(errs, errors.New("a timed query needs a name and SQL"))
			break
		}
	}
	return errors.Join(errs...)
}

// notNamed is the summary of a probe whose tables no option names.
func notNamed(option string) string {
	return "nothing measured: no table named (Options." + option + ")"
}

// notDeleted is the condition " AND NOT alias.flag AND alias.at IS NULL"
// leaving out the soft-deleted rows (by a boolean flag column, a deletion
// timestamp, both or neither: "").
func notDeleted(d dbx.Dialect, alias, flag, at string) string {
	if alias != "" {
		alias += "."
	}
	var out string
	if flag != "" {
		out += " AND NOT " + alias + d.Quote(flag)
	}
	if at != "" {
		out += " AND " + alias + d.Quote(at) + " IS NULL"
	}
	return out
}
