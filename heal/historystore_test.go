package heal_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/ip2adb/ip2adb/heal"
	"github.com/ip2adb/ip2adb/internal/dbx"
	"github.com/ip2adb/ip2adb/internal/ownstate"
	"github.com/ip2adb/ip2adb/internal/testdb"
	"github.com/jmoiron/sqlx"
)

// eachHistoryStore runs fn against each HistoryStore: files under a log
// dir, and the database store on PostgreSQL and on SQLite.
func eachHistoryStore(t *testing.T, fn func(t *testing.T, s heal.HistoryStore)) {
	t.Helper()
	t.Run("files", func(t *testing.T) { fn(t, heal.FileHistory{LogDir: t.TempDir()}) })
	testdb.Each(t, func(t *testing.T, db *sqlx.DB) { fn(t, heal.DBHistory{DB: db}) })
	t.Run("own-tables", func(t *testing.T) {
		testdb.Each(t, func(t *testing.T, db *sqlx.DB) {
			h := heal.DBHistory{DB: db, Tables: heal.JournalTables{Schema: "hall", Prefix: "hall_"}}
			want := "table hall.hall_heal_history"
			if dbx.DialectOf(db) == dbx.SQLite {
				want = "table hall_heal_history"
			}
			if h.String() != want {
				t.Errorf("String() = %q, want %q", h.String(), want)
			}
			fn(t, h)
		})
	})
}

// TestHistoryStoreContract is the contract every HistoryStore keeps.
func TestHistoryStoreContract(t *testing.T) {
	ctx := context.Background()
	day := 24 * time.Hour
	msg := "check x failed"
	ok1 := rec("AH-1", clock.Add(-3*day), 5, 4, 1, true)
	failed := rec("AH-2", clock.Add(-2*day), 7, 0, 7, false)
	failed.ErrorMessage = &msg
	ok2 := rec("AH-3", clock.Add(-day), 2, 2, 0, true)
	dry := heal.Record{RunID: "AH-4", Timestamp: clock.Add(-time.Hour), IssuesFound: 9, IssuesFixed: 9, Success: true, DryRun: true, DurationMS: 12}
	eachHistoryStore(t, func(t *testing.T, s heal.HistoryStore) {
		if recs, warns, err := s.Read(ctx, time.Time{}); err != nil || len(recs) != 0 || len(warns) != 0 {
			t.Fatalf("empty store: Read = %v, %v, %v", recs, warns, err)
		}
		if last, err := s.LastRun(ctx); err != nil || !last.IsZero() {
			t.Fatalf("empty store: LastRun = %v, %v", last, err)
		}
		if due, err := heal.CheckDueIn(ctx, s, time.Hour, clock); err != nil || !due.Due {
			t.Fatalf("empty store: CheckDueIn = %+v, %v; want due", due, err)
		}
		for _, r := range []heal.Record{ok1, failed, ok2, dry} {
			if err := s.Append(ctx, r); err != nil {
				t.Fatalf("Append(%s): %v", r.RunID, err)
			}
		}
		recs, warns, err := s.Read(ctx, time.Time{})
		if err != nil || len(warns) != 0 {
			t.Fatalf("Read: %v, warnings %q", err, warns)
		}
		if diff := cmp.Diff([]heal.Record{ok1, failed, ok2, dry}, recs); diff != "" {
			t.Errorf("Read (-want +got):\n%s", diff)
		}
		recs, _, err = s.Read(ctx, clock.Add(-2*day))
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]heal.Record{failed, ok2, dry}, recs); diff != "" {
			t.Errorf("Read since 2 days (-want +got):\n%s", diff)
		}
		// The last run is the newest successful run that was no dry run.
		last, err := s.LastRun(ctx)
		if err != nil || !last.Equal(ok2.Timestamp) {
			t.Errorf("LastRun = %v, %v; want %v", last, err, ok2.Timestamp)
		}
		for _, tc := range []struct {
			interval time.Duration
			want     heal.DueStatus
		}{
			{2 * day, heal.DueStatus{Due: false, LastRun: ok2.Timestamp}},
			{day, heal.DueStatus{Due: true, LastRun: ok2.Timestamp}},
		} {
			got, err := heal.CheckDueIn(ctx, s, tc.interval, clock)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got, cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) })); diff != "" {
				t.Errorf("CheckDueIn(%v) (-want +got):\n%s", tc.interval, diff)
			}
		}
		// A last run in the future is not believed.
		got, err := heal.CheckDueIn(ctx, s, day, clock.Add(-36*time.Hour))
		if err != nil || !got.Due || !strings.Contains(got.Warning, "is in the future (clock moved back?); the run is treated as due") {
			t.Errorf("future last run: %+v, %v", got, err)
		}
		sum, err := heal.SummaryOf(ctx, s, 7, clock)
		if err != nil {
			t.Fatal(err)
		}
		if sum.TotalRuns != 3 || sum.SuccessfulRuns != 2 || sum.IssuesFound != 14 || sum.MostRecentRun.RunID != "AH-3" {
			t.Errorf("SummaryOf = %+v", sum)
		}
	})
}

// TestDBHistoryCreatesOnlyWhenWriting: reading a database without the
// history table creates nothing; the first append creates it in ip2adb's
// own place.
func TestDBHistoryCreatesOnlyWhenWriting(t *testing.T) {
	ctx := context.Background()
	testdb.Each(t, func(t *testing.T, db *sqlx.DB) {
		s := heal.DBHistory{DB: db}
		if _, _, err := s.Read(ctx, time.Time{}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.LastRun(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := heal.CheckDueIn(ctx, s, time.Hour, clock); err != nil {
			t.Fatal(err)
		}
		if n := ownStateTables(t, db); n != 0 {
			t.Fatalf("reads created %d own tables", n)
		}
		if err := s.Append(ctx, rec("AH-1", clock, 1, 1, 0, true)); err != nil {
			t.Fatal(err)
		}
		want := map[dbx.Dialect]string{dbx.Postgres: "table ip2adb.heal_history", dbx.SQLite: "table ip2adb_heal_history"}[dbx.DialectOf(db)]
		if s.String() != want {
			t.Errorf("String() = %q, want %q", s.String(), want)
		}
		if n := testdb.Count(t, db, ownstate.Name(dbx.DialectOf(db), heal.HistoryObject), "run_id = 'AH-1'"); n != 1 {
			t.Errorf("%d rows of AH-1, want 1", n)
		}
		// A second store on the same database finds the table.
		if err := (heal.DBHistory{DB: db}).CheckWritable(ctx); err != nil {
			t.Fatal(err)
		}
	})
}

// TestDBHistoryFaults: a row that is not a record is skipped with a
// warning; a handle of an unknown driver is refused before any SQL.
func TestDBHistoryFaults(t *testing.T) {
	ctx := context.Background()
	testdb.Each(t, func(t *testing.T, db *sqlx.DB) {
		s := heal.DBHistory{DB: db}
		if err := s.Append(ctx, rec("AH-1", clock, 1, 1, 0, true)); err != nil {
			t.Fatal(err)
		}
		name := ownstate.Name(dbx.DialectOf(db), heal.HistoryObject)
		testdb.MustExec(t, db, `INSERT INTO `+name+` (run_id, at_ns, last_run, record) VALUES ('AH-x', ?, 0, 'not json')`, clock.UnixNano())
		recs, warns, err := s.Read(ctx, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) != 1 || recs[0].RunID != "AH-1" {
			t.Errorf("records %+v, want AH-1 only", recs)
		}
		if diff := cmp.Diff([]string{fmt.Sprintf("history %s row of run %q is not a run record; skipped", name, "AH-x")}, warns); diff != "" {
			t.Errorf("warnings (-want +got):\n%s", diff)
		}
	})
	err := heal.DBHistory{DB: sqlx.NewDb(nil, "sqlite3")}.Append(ctx, rec("AH-1", clock, 1, 1, 0, true))
	if err == nil || !strings.HasPrefix(err.Error(), `history: unsupported SQL driver "sqlite3"`) {
		t.Errorf("unknown driver: %v", err)
	}
	if err := (heal.DBHistory{}).Append(ctx, rec("AH-1", clock, 1, 1, 0, true)); err == nil || err.Error() != "history: DBHistory.DB is nil" {
		t.Errorf("nil DB: %v", err)
	}
}

// ownStateTables counts ip2adb's own tables in db.
func ownStateTables(t *testing.T, db *sqlx.DB) int {
	t.Helper()
	q := `SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name LIKE 'ip2adb\_%' ESCAPE '\'`
	if dbx.DialectOf(db) == dbx.Postgres {
		q = `SELECT count(*) FROM pg_catalog.pg_namespace WHERE nspname = 'ip2adb'`
	}
	var n int
	if err := db.Get(&n, q); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestCycleWithDBHistory: a cycle given a DBHistory records its run in
// the database and writes no history file.
func TestCycleWithDBHistory(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlx.DB) {
		plantFaults(t, db)
		c := cycle(db, "")
		c.History = heal.DBHistory{DB: db}
		res, err := c.Run(ctx(t))
		if err != nil {
			t.Fatal(err)
		}
		recs, warns, err := c.History.Read(ctx(t), time.Time{})
		if err != nil || len(warns) != 0 {
			t.Fatalf("Read: %v %q", err, warns)
		}
		if len(recs) != 1 || recs[0].RunID != res.RunID || !recs[0].Success || recs[0].IssuesFixed != res.Summary.Fixed {
			t.Errorf("history %+v, want the one successful run %s", recs, res.RunID)
		}
		if due, err := heal.CheckDueIn(ctx(t), c.History, time.Hour, fixedNow()); err != nil || due.Due || !due.LastRun.Equal(res.Started) {
			t.Errorf("CheckDueIn = %+v, %v; want not due, last run %v", due, err, res.Started)
		}
	}, testdb.WithSchema())
}

// TestHistoryDDLForMigrationTools: the exported DDL, run by a migration
// tool, makes a table the store uses without creating anything itself.
func TestHistoryDDLForMigrationTools(t *testing.T) {
	if _, err := heal.HistoryDDL("mysql"); err == nil || !strings.HasPrefix(err.Error(), `unsupported SQL driver "mysql"`) {
		t.Errorf("HistoryDDL(mysql): %v", err)
	}
	testdb.Each(t, func(t *testing.T, db *sqlx.DB) {
		stmts, err := heal.HistoryDDL(db.DriverName())
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range stmts {
			testdb.MustExec(t, db, s)
		}
		s := heal.DBHistory{DB: db}
		if err := s.Append(ctx(t), rec("AH-1", clock, 1, 1, 0, true)); err != nil {
			t.Fatal(err)
		}
		if last, err := s.LastRun(ctx(t)); err != nil || !last.Equal(clock) {
			t.Errorf("LastRun = %v, %v", last, err)
		}
	})
}
