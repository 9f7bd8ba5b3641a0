package notify

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/ip2adb/ip2adb"
	"github.com/ip2adb/ip2adb/internal/dbx"
	"github.com/ip2adb/ip2adb/internal/ownstate"
	"github.com/ip2adb/ip2adb/internal/testdb"
	"github.com/jmoiron/sqlx"
)

// eachDedupStore runs fn against each DedupStore: the file under a log
// dir, and the database store on PostgreSQL and on SQLite.
func eachDedupStore(t *testing.T, fn func(t *testing.T, s DedupStore)) {
	t.Helper()
	t.Run("files", func(t *testing.T) { fn(t, FileDedup{Dir: t.TempDir()}) })
	testdb.Each(t, func(t *testing.T, db *sqlx.DB) { fn(t, DBDedup{DB: db}) })
	testdb.Each(t, func(t *testing.T, db *sqlx.DB) { fn(t, DBDedup{DB: db, Schema: "hall", Prefix: "hall_"}) })
}

// TestDedupStoreContract is the contract every DedupStore keeps.
func TestDedupStoreContract(t *testing.T) {
	ctx := context.Background()
	a := DedupState{Fingerprint: "fa", Priority: High, SentAt: t0, NotificationID: "DBADM-1-fa", Issues: []string{"h1", "h2"}}
	b := DedupState{Fingerprint: "fb", Priority: Low, SentAt: t0.Add(time.Minute), NotificationID: "DBADM-2-fb", Issues: []string{"h3"}}
	a2 := DedupState{Fingerprint: "fa2", Priority: Critical, SentAt: t0.Add(time.Hour), NotificationID: "DBADM-3-fa2", Issues: []string{"h1", "h4"}}
	eachDedupStore(t, func(t *testing.T, s DedupStore) {
		got, err := s.Load(ctx, []string{"log", "slack"})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(map[string]DedupState{}, got); diff != "" {
			t.Errorf("empty store (-want +got):\n%s", diff)
		}
		if err := s.Save(ctx, map[string]DedupState{"log": a, "slack": b}); err != nil {
			t.Fatal(err)
		}
		// A channel left out of a save keeps its state.
		if err := s.Save(ctx, map[string]DedupState{"log": a2}); err != nil {
			t.Fatal(err)
		}
		got, err = s.Load(ctx, []string{"log", "slack"})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(map[string]DedupState{"log": a2, "slack": b}, got); diff != "" {
			t.Errorf("after saves (-want +got):\n%s", diff)
		}
	})
}

// TestManagerDedupOnEachStore: the Manager's dedup works the same on
// every store: a repeat is suppressed, a new issue is sent.
func TestManagerDedupOnEachStore(t *testing.T) {
	eachDedupStore(t, func(t *testing.T, s DedupStore) {
		clock := newClock()
		ch := &recorder{name: "rec"}
		m := &Manager{Channels: []Notifier{ch}, Store: s, Now: clock.Now}
		crit := []ip2adb.Issue{issue("x.critical", "members", 1, ip2adb.Critical)}
		var outcomes []Outcome
		for _, issues := range [][]ip2adb.Issue{crit, crit, append(crit, issue("x.critical", "members", 2, ip2adb.Critical))} {
			clock.Advance(time.Hour)
			rep, err := m.Alert(context.Background(), issues)
			if err != nil {
				t.Fatal(err)
			}
			outcomes = append(outcomes, rep.Deliveries[0].Outcome)
		}
		if diff := cmp.Diff([]Outcome{Sent, Suppressed, Sent}, outcomes); diff != "" {
			t.Errorf("outcomes (-want +got):\n%s", diff)
		}
	})
}

// TestDBDedupCreatesOnlyWhenWriting: loading from a database without the
// table creates nothing; the first save creates it in ip2adb's own place.
func TestDBDedupCreatesOnlyWhenWriting(t *testing.T) {
	ctx := context.Background()
	testdb.Each(t, func(t *testing.T, db *sqlx.DB) {
		s := DBDedup{DB: db}
		if _, err := s.Load(ctx, nil); err != nil {
			t.Fatal(err)
		}
		if ok, err := s.exists(ctx); err != nil || ok {
			t.Fatalf("Load created the table (%v, %v)", ok, err)
		}
		if dbx.DialectOf(db) == dbx.Postgres && testdb.Count(t, db, "pg_catalog.pg_namespace", "nspname = 'ip2adb'") != 0 {
			t.Fatal("Load created schema ip2adb")
		}
		if err := s.Save(ctx, map[string]DedupState{"log": {Fingerprint: "f", Priority: Low, SentAt: t0}}); err != nil {
			t.Fatal(err)
		}
		if n := testdb.Count(t, db, ownstate.Name(dbx.DialectOf(db), DedupObject), "channel = 'log'"); n != 1 {
			t.Errorf("%d rows for channel log, want 1", n)
		}
	})
}

// TestDedupStoreFaults: a corrupt state is an error naming where; the
// Manager then sends as if nothing was sent before.
func TestDedupStoreFaults(t *testing.T) {
	ctx := context.Background()
	testdb.Each(t, func(t *testing.T, db *sqlx.DB) {
		s := DBDedup{DB: db}
		if err := s.Save(ctx, map[string]DedupState{"rec": {Fingerprint: "f", Priority: Critical, SentAt: t0}}); err != nil {
			t.Fatal(err)
		}
		name := ownstate.Name(dbx.DialectOf(db), DedupObject)
		testdb.MustExec(t, db, `UPDATE `+name+` SET state = 'not json'`)
		_, err := s.Load(ctx, nil)
		if want := `read dedup state of channel "rec" in ` + name + `: invalid character`; err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("Load: %v, want %q…", err, want)
		}
		ch := &recorder{name: "rec"}
		m := &Manager{Channels: []Notifier{ch}, Store: s, Now: newClock().Now}
		rep, err := m.Alert(ctx, []ip2adb.Issue{issue("x.critical", "members", 1, ip2adb.Critical)})
		if err != nil || rep.Deliveries[0].Outcome != Sent {
			t.Errorf("Alert over a corrupt state: %+v, %v; want sent", rep, err)
		}
	})
	dir := t.TempDir()
	if err := os.MkdirAll(dir+"/"+LogSubdir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(StatePath(dir), []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := (FileDedup{Dir: dir}).Load(ctx, nil); err == nil || !strings.HasPrefix(err.Error(), "read dedup state "+StatePath(dir)+": unexpected end of JSON input") {
		t.Errorf("corrupt file: %v", err)
	}
	if err := (DBDedup{DB: sqlx.NewDb(nil, "sqlite3")}).Save(ctx, nil); err == nil || !strings.HasPrefix(err.Error(), `dedup state: unsupported SQL driver "sqlite3"`) {
		t.Errorf("unknown driver: %v", err)
	}
}

// TestDedupDDLForMigrationTools: the exported DDL, run by a migration
// tool, makes a table the store uses.
func TestDedupDDLForMigrationTools(t *testing.T) {
	if _, err := DedupDDL("mysql"); err == nil || !strings.HasPrefix(err.Error(), `unsupported SQL driver "mysql"`) {
		t.Errorf("DedupDDL(mysql): %v", err)
	}
	testdb.Each(t, func(t *testing.T, db *sqlx.DB) {
		stmts, err := DedupDDL(db.DriverName())
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range stmts {
			testdb.MustExec(t, db, s)
		}
		want := map[string]DedupState{"log": {Fingerprint: "f", Priority: Low, SentAt: t0, Issues: []string{"h"}}}
		if err := (DBDedup{DB: db}).Save(context.Background(), want); err != nil {
			t.Fatal(err)
		}
		got, err := DBDedup{DB: db}.Load(context.Background(), nil)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	})
}

// TestDBDedupNamedElsewhere: a DBDedup with a schema and prefix of the
// program's own keeps its table there (beside a heal.JournalTables of the
// same names), leaves ip2adb's own place alone, exports that DDL, and
// refuses names that are not plain identifiers before touching anything.
func TestDBDedupNamedElsewhere(t *testing.T) {
	ctx := context.Background()
	testdb.Each(t, func(t *testing.T, db *sqlx.DB) {
		d := dbx.DialectOf(db)
		s := DBDedup{DB: db, Schema: "hall", Prefix: "hall_"}
		want := map[string]DedupState{"log": {Fingerprint: "f", Priority: Low, SentAt: t0, Issues: []string{"h"}}}
		if err := s.Save(ctx, want); err != nil {
			t.Fatal(err)
		}
		type place struct {
			Name   string
			Exists bool
		}
		var got []place
		for _, n := range []ownstate.Names{{Schema: "hall", Prefix: "hall_"}, {}} {
			ok, err := n.Exists(ctx, db, DedupObject)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, place{n.Name(d, DedupObject), ok})
		}
		wantPlaces := map[dbx.Dialect][]place{
			dbx.Postgres: {{"hall.hall_notify_dedup", true}, {"ip2adb.notify_dedup", false}},
			dbx.SQLite:   {{"hall_notify_dedup", true}, {"ip2adb_notify_dedup", false}},
		}[d]
		if diff := cmp.Diff(wantPlaces, got); diff != "" {
			t.Errorf("tables (-want +got):\n%s", diff)
		}
		loaded, err := s.Load(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, loaded); diff != "" {
			t.Errorf("loaded (-want +got):\n%s", diff)
		}
		stmts, err := s.DDL(db.DriverName())
		if err != nil {
			t.Fatal(err)
		}
		if last := stmts[len(stmts)-1]; !strings.Contains(last, wantPlaces[0].Name+" (") {
			t.Errorf("DDL creates %q, want table %s", last, wantPlaces[0].Name)
		}
		bad := DBDedup{DB: db, Prefix: "Hall; DROP"}
		if err := bad.Save(ctx, want); err == nil || !strings.Contains(err.Error(), "prefix") {
			t.Errorf("Save with a bad prefix: %v, want an error naming the prefix", err)
		}
		if _, err := bad.DDL(db.DriverName()); err == nil {
			t.Error("DDL with a bad prefix: no error")
		}
	})
}
