package heal_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/ip2adb/ip2adb"
	"github.com/ip2adb/ip2adb/heal"
	"github.com/ip2adb/ip2adb/internal/testdb"
	"github.com/jmoiron/sqlx"
)

// TestConnectionTerminatedMidRepair kills the run's PostgreSQL backend
// between two repair statements: the database is exactly as before, the
// failure is recorded, and the next run completes.
func TestConnectionTerminatedMidRepair(t *testing.T) {
	db := testdb.Postgres(t, testdb.WithSchema())
	plantFaults(t, db)
	before := testdb.Digests(t, db)
	logDir := t.TempDir()
	c := cycle(db, logDir)
	killed := false
	c.Repairer = heal.RepairerFunc(func(ctx context.Context, tx *sqlx.Tx, s heal.Step, f ip2adb.Fix) (int64, error) {
		if s.Seq == 5 { // four repairs already executed in this transaction
			var pid int
			if err := tx.GetContext(ctx, &pid, `SELECT pg_backend_pid()`); err != nil {
				return 0, err
			}
			if _, err := db.ExecContext(ctx, `SELECT pg_terminate_backend($1)`, pid); err != nil {
				return 0, err
			}
			killed = true
		}
		return heal.SQLRepairer{}.Repair(ctx, tx, s, f)
	})
	_, err := c.Run(ctx(t))
	if err == nil || !killed {
		t.Fatalf("run with a terminated connection: err = %v, killed = %v", err, killed)
	}
	if diff := cmp.Diff(before, testdb.Digests(t, db)); diff != "" {
		t.Errorf("database changed (-want +got):\n%s", diff)
	}
	if got := ownTables(t, db); len(got) != 0 {
		t.Errorf("ip2adb's tables committed by a failed run: %v", got)
	}
	recs, _ := heal.Records(logDir, clock.AddDate(0, 0, -1))
	if len(recs) != 1 || recs[0].Success {
		t.Errorf("history %+v", recs)
	}
	res, err := cycle(db, logDir).Run(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(dry(wantRepairs, false), res.Repairs); diff != "" {
		t.Errorf("next run (-want +got):\n%s", diff)
	}
}

// TestCancelledMidRepair cancels the run's context between two repair
// statements, on both databases.
func TestCancelledMidRepair(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlx.DB) {
		plantFaults(t, db)
		before := testdb.Digests(t, db)
		runCtx, cancel := context.WithCancel(ctx(t))
		defer cancel()
		c := cycle(db, "")
		c.Repairer = heal.RepairerFunc(func(ctx context.Context, tx *sqlx.Tx, s heal.Step, f ip2adb.Fix) (int64, error) {
			if s.Seq == 6 {
				cancel()
			}
			return heal.SQLRepairer{}.Repair(ctx, tx, s, f)
		})
		if _, err := c.Run(runCtx); !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v", err)
		}
		if diff := cmp.Diff(before, testdb.Digests(t, db)); diff != "" {
			t.Errorf("database changed (-want +got):\n%s", diff)
		}
		if _, err := cycle(db, "").Run(ctx(t)); err != nil {
			t.Fatal(err)
		}
	}, testdb.WithSchema())
}

func TestLockIsExclusiveAndReleased(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlx.DB) {
		l1, err := heal.AcquireLock(ctx(t), db)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := heal.AcquireLock(ctx(t), db); !errors.Is(err, heal.ErrLocked) {
			t.Fatalf("second lock: %v", err)
		}
		if err := l1.Release(); err != nil {
			t.Fatal(err)
		}
		if err := l1.Release(); err != nil {
			t.Fatal("second release:", err)
		}
		l2, err := heal.AcquireLock(ctx(t), db)
		if err != nil {
			t.Fatal(err)
		}
		l2.Release()
	})
}

func TestLockRefusesASingleConnectionPostgresPool(t *testing.T) {
	db := testdb.Postgres(t)
	db.SetMaxOpenConns(1)
	_, err := heal.AcquireLock(ctx(t), db)
	if err == nil || !strings.Contains(err.Error(), "allow at least two") {
		t.Errorf("err = %v", err)
	}
}
