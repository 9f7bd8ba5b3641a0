package heal_test

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/ip2adb/ip2adb"
	"github.com/ip2adb/ip2adb/heal"
	"github.com/ip2adb/ip2adb/internal/testdb"
	"github.com/jmoiron/sqlx"
)

// terminateLockHolder ends the PostgreSQL session that holds ip2adb's
// advisory run lock (key 0x697032616462: classid 0x6970, objid 0x32616462)
// in db's database, as an administrator's
// pg_terminate_backend would, and returns how many sessions it ended.
func terminateLockHolder(ctx context.Context, db *sqlx.DB) (int, error) {
	var n int
	err := db.GetContext(ctx, &n, `SELECT count(pg_terminate_backend(pid)) FROM pg_locks
  WHERE locktype = 'advisory' AND granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
    AND objsubid = 1 AND classid = x'6970'::int::oid AND objid = x'32616462'::int::oid`)
	return n, err
}

// TestLockLostBeforeCommitRollsBack: the run lock's session is terminated
// while the repairs run; another run could now start, so the run rolls
// back instead of committing (ErrLockLost), for a heal and for an undo.
func TestLockLostBeforeCommitRollsBack(t *testing.T) {
	db := testdb.Postgres(t, testdb.WithSchema())
	plantFaults(t, db)
	before := testdb.Digests(t, db)
	killer := func(ended *int) heal.Repairer {
		return heal.RepairerFunc(func(ctx context.Context, tx *sqlx.Tx, s heal.Step, f ip2adb.Fix) (int64, error) {
			if s.Seq == 1 {
				n, err := terminateLockHolder(ctx, db)
				if err != nil {
					return 0, err
				}
				*ended = n
			}
			return heal.SQLRepairer{}.Repair(ctx, tx, s, f)
		})
	}
	c := cycle(db, t.TempDir())
	var ended int
	c.Repairer = killer(&ended)
	_, err := c.Run(ctx(t))
	if !errors.Is(err, heal.ErrLockLost) || ended != 1 {
		t.Fatalf("run whose lock session was terminated: err = %v, sessions ended %d; want ErrLockLost, 1", err, ended)
	}
	if diff := cmp.Diff(before, testdb.Digests(t, db)); diff != "" {
		t.Errorf("database changed (-want +got):\n%s", diff)
	}

	// The same check guards undo's commit: Held answers from the lock's
	// own session.
	lock, err := heal.AcquireLock(ctx(t), db)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Release()
	if err := lock.Held(ctx(t)); err != nil {
		t.Fatalf("Held on a live lock: %v", err)
	}
	if n, err := terminateLockHolder(ctx(t), db); err != nil || n != 1 {
		t.Fatalf("terminate: %d, %v", n, err)
	}
	if err := lock.Held(ctx(t)); !errors.Is(err, heal.ErrLockLost) {
		t.Errorf("Held after the session ended = %v, want ErrLockLost", err)
	}
	if res, err := cycle(db, t.TempDir()).Run(ctx(t)); err != nil || len(res.Repairs) == 0 {
		t.Errorf("the next run: %v, %d repairs; want it to repair", err, len(res.Repairs))
	}
}
