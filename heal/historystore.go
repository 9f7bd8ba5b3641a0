package heal

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/ip2adb/ip2adb/internal/dbx"
	"github.com/ip2adb/ip2adb/internal/ownstate"
	"github.com/jmoiron/sqlx"
)

// HistoryStore keeps the auto-heal run history and the time of the last
// successful run, which [CheckDueIn] compares with the run interval.
// [FileHistory] (the default, files under the log dir) and [DBHistory]
// (tables in ip2adb's own place in a database) implement it. A store that
// also has a method CheckWritable(ctx) error is asked by [Cycle.Run]
// before the run changes anything.
type HistoryStore interface {
	// Append records r. A successful run that is not a dry run becomes
	// the last run. When that fails, r is recorded as failed if it still
	// can be, and the error is returned.
	Append(ctx context.Context, r Record) error
	// Read returns the records with a timestamp at or after since,
	// oldest first, and a warning for each stored entry that is not a
	// record (skipped). An empty store is no records.
	Read(ctx context.Context, since time.Time) ([]Record, []string, error)
	// LastRun returns the time of the last successful run that was not a
	// dry run (runs are appended in the order they start); the zero time
	// when there is none. A stored value that
	// holds no time is a *CorruptLastRunError.
	LastRun(ctx context.Context) (time.Time, error)
}

// FileHistory is the history in files under a log dir:
// auto_heal/YYYY-MM-DD_auto_heal.jsonl (one JSON [Record] a line, mode
// 0600) and auto_heal/.last_run (see [AppendRecord], [ReadHistory],
// [LastRun]).
type FileHistory struct {
	// LogDir is the log dir.
	LogDir string
}

// Append is [AppendRecord].
func (h FileHistory) Append(_ context.Context, r Record) error { return AppendRecord(h.LogDir, r) }

// Read is [ReadHistory].
func (h FileHistory) Read(_ context.Context, since time.Time) ([]Record, []string, error) {
	return ReadHistory(h.LogDir, since)
}

// LastRun is [LastRun].
func (h FileHistory) LastRun(context.Context) (time.Time, error) { return LastRun(h.LogDir) }

// CheckWritable is [CheckLogDir].
func (h FileHistory) CheckWritable(context.Context) error { return CheckLogDir(h.LogDir) }

// String names the last-run file, as [CheckDueIn]'s warnings do.
func (h FileHistory) String() string { return filepath.Join(historyDir(h.LogDir), ".last_run") }

// HistoryObject is the table of [DBHistory] in ip2adb's own place:
// ip2adb.heal_history on PostgreSQL, ip2adb_heal_history on SQLite.
// It is an untyped constant: the name of the table without the schema or
// prefix that [JournalTables] adds.
const HistoryObject = "heal_history"

// DBHistory is the history in a table of the watched database, in ip2adb's
// own place beside the journal (schema ip2adb on PostgreSQL, the
// ip2adb_ prefix on SQLite; see docs/OWN-STATE.md). Each row holds one
// record as the same JSON a history file line holds, with its time (unix
// nanoseconds) and whether it counts as a last run. Append creates the
// table (and the schema) when it is missing; Read and LastRun create
// nothing and read a missing table as an empty history.
type DBHistory struct {
	// DB is the database (PostgreSQL or SQLite).
	DB *sqlx.DB
	// Tables puts the history beside a journal of the program's own (the
	// table heal_history under those names, such as hall.hall_heal_history);
	// the zero value is ip2adb's own place.
	Tables JournalTables
}

func (h DBHistory) name() string { return h.Tables.name(dbx.DialectOf(h.DB), HistoryObject) }

// String names the table.
func (h DBHistory) String() string { return "table " + h.name() }

// HistoryDDL returns the statements that create [DBHistory]'s table in
// dialect d ("postgres" or "sqlite"), for migration tools; DBHistory runs
// them itself when the table is missing. [JournalTables.HistoryDDL] names
// it elsewhere.
func HistoryDDL(d string) ([]string, error) { return JournalTables{}.HistoryDDL(d) }

// HistoryDDL returns the statements that create the table of a
// [DBHistory] with these Tables in dialect d ("postgres" or "sqlite").
func (t JournalTables) HistoryDDL(d string) ([]string, error) {
	dia, err := dbx.DialectFor(d)
	if err != nil {
		return nil, err
	}
	if err := t.validate(); err != nil {
		return nil, err
	}
	return historyDDL(dia, t), nil
}

func historyDDL(d dbx.Dialect, t JournalTables) []string {
	n := t.name(d, HistoryObject)
	out := t.names().SchemaDDL(d)
	ix := t.names().Index(d, "heal_history_at")
	return append(out, `CREATE TABLE IF NOT EXISTS `+n+` (
    run_id    varchar(64) NOT NULL,
    at_ns     bigint NOT NULL,
    last_run  integer NOT NULL,
    record    text NOT NULL
)`, `CREATE INDEX IF NOT EXISTS `+ix+` ON `+n+` (at_ns)`)
}

// CheckWritable creates the table when it is missing, so that a run
// refuses before it changes anything when the history cannot be kept.
func (h DBHistory) CheckWritable(ctx context.Context) error { return h.ensure(ctx) }

// ensure creates the table when it is missing; when it exists it runs no
// DDL, so a role with only SELECT and INSERT on it can append.
func (h DBHistory) ensure(ctx context.Context) error {
	if h.DB == nil {
		return errors.New("history: DBHistory.DB is nil")
	}
	if err := dbx.CheckDriver(h.DB); err != nil {
		return fmt.Errorf("history: %w", err)
	}
	if err := h.Tables.validate(); err != nil {
		return fmt.Errorf("history: %w", err)
	}
	d := dbx.DialectOf(h.DB)
	if ok, err := h.exists(ctx); err != nil || ok {
		return err
	}
	tx, err := h.DB.BeginTxx(ctx, nil)
	if err != nil {
		return fmt.Errorf("history: create %s: %w", h.name(), err)
	}
	defer tx.Rollback()
	if err := ownstate.LockForDDL(ctx, tx); err != nil {
		return fmt.Errorf("history: create %s: %w", h.name(), err)
	}
	for _, s := range historyDDL(d, h.Tables) {
		if _, err := tx.ExecContext(ctx, s); err != nil {
			return fmt.Errorf("history: create %s: %w", h.name(), err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("history: create %s: %w", h.name(), err)
	}
	return nil
}

// exists reports whether the table exists.
func (h DBHistory) exists(ctx context.Context) (bool, error) {
	ok, err := h.Tables.names().Exists(ctx, h.DB, HistoryObject)
	if err != nil {
		return false, fmt.Errorf("history: look for %s: %w", h.name(), err)
	}
	return ok, nil
}

// Append inserts r, creating the table when it is missing.
func (h DBHistory) Append(ctx context.Context, r Record) error {
	if err := h.ensure(ctx); err != nil {
		return err
	}
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("history: %w", err)
	}
	last := 0
	if r.Success && !r.DryRun {
		last = 1
	}
	q := dbx.DialectOf(h.DB).Rebind(`INSERT INTO ` + h.name() + ` (run_id, at_ns, last_run, record) VALUES (?, ?, ?, ?)`)
	if _, err := h.DB.ExecContext(ctx, q, r.RunID, r.Timestamp.UnixNano(), last, string(b)); err != nil {
		return fmt.Errorf("history: record run %s: %w", r.RunID, err)
	}
	return nil
}

// Read returns the records at or after since, oldest first; a row whose
// record is not one is skipped with a warning naming its run id.
func (h DBHistory) Read(ctx context.Context, since time.Time) ([]Record, []string, error) {
	if ok, err := h.exists(ctx); err != nil || !ok {
		return nil, nil, err
	}
	var rows []struct {
		RunID  string `db:"run_id"`
		Record string `db:"record"`
	}
	q := dbx.DialectOf(h.DB).Rebind(`SELECT run_id, record FROM ` + h.name() + ` WHERE at_ns >= ? ORDER BY at_ns, run_id`)
	if err := h.DB.SelectContext(ctx, &rows, q, since.UnixNano()); err != nil {
		return nil, nil, fmt.Errorf("history: read %s: %w", h.name(), err)
	}
	var out []Record
	var warnings []string
	for _, row := range rows {
		var r Record
		if err := json.Unmarshal([]byte(row.Record), &r); err != nil || r.RunID == "" || r.Timestamp.IsZero() {
			warnings = append(warnings, fmt.Sprintf("history %s row of run %q is not a run record; skipped", h.name(), row.RunID))
			continue
		}
		out = append(out, r)
	}
	return out, warnings, nil
}

// LastRun returns the time of the newest successful run that was not a
// dry run.
func (h DBHistory) LastRun(ctx context.Context) (time.Time, error) {
	if ok, err := h.exists(ctx); err != nil || !ok {
		return time.Time{}, err
	}
	var ns sql.NullInt64
	if err := h.DB.GetContext(ctx, &ns, `SELECT max(at_ns) FROM `+h.name()+` WHERE last_run = 1`); err != nil {
		return time.Time{}, fmt.Errorf("last run: read %s: %w", h.name(), err)
	}
	if !ns.Valid {
		return time.Time{}, nil
	}
	return time.Unix(0, ns.Int64).UTC(), nil
}

// CheckDueIn reports whether a run is due at now by the last run that
// store holds: when there is none, when it is at least interval old, or
// when it is corrupt or in the future (the last two with a warning). Only
// an unreadable last run is an error.
func CheckDueIn(ctx context.Context, store HistoryStore, interval time.Duration, now time.Time) (DueStatus, error) {
	last, err := store.LastRun(ctx)
	var corrupt *CorruptLastRunError
	switch {
	case errors.As(err, &corrupt):
		return DueStatus{Due: true, Warning: corrupt.File + " does not hold a time; the run is treated as due"}, nil
	case err != nil:
		return DueStatus{}, err
	case last.After(now):
		where := "the last run"
		if s, ok := store.(fmt.Stringer); ok {
			where = s.String()
		}
		return DueStatus{Due: true, Warning: fmt.Sprintf("%s holds %s, which is in the future (clock moved back?); the run is treated as due",
			where, last.UTC().Format(time.RFC3339))}, nil
	}
	return DueStatus{Due: last.IsZero() || now.Sub(last) >= interval, LastRun: last}, nil
}
