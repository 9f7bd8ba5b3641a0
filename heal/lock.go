package heal

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"os"
	"sync"

	"github.com/ip2adb/ip2adb/internal/dbx"
	"github.com/jmoiron/sqlx"
)

// ErrLocked is returned when another run holds the run lock.
var ErrLocked = errors.New("another run holds the lock")

// advisoryKey is the PostgreSQL advisory lock key of ip2adb runs ("ip2adb"
// in ASCII). Advisory locks are per database, so runs on different
// databases of one server do not exclude each other.
const advisoryKey int64 = 0x697032616462

// Lock is the run lock: at most one heal, repair or undo run changes a
// database at a time. Release it when the run ends.
//
// PostgreSQL: pg_try_advisory_lock on a connection dedicated to the lock
// and held for the run; the server releases it when that session ends, even
// when the process is killed.
//
// SQLite file: an exclusive flock(2) on "<database file>-ip2adb.lock" next
// to the database (the file is left in place); the kernel releases it when
// the process dies, so a crash never leaves a stale lock. (SQLite's own
// write lock is not held for the whole run: that would block other writers
// during the checks.)
//
// SQLite ":memory:": a row in ip2adb_lock inside the database itself; the
// database lives only as long as its handle, and so does the lock.
type Lock struct {
	once    sync.Once
	release func() error
	held    func(context.Context) error // see Held; nil: cannot be lost
	err     error
}

// Release gives the lock up; calling it again is a no-op.
func (l *Lock) Release() error {
	l.once.Do(func() { l.err = l.release() })
	return l.err
}

// AcquireLock takes the run lock of db without waiting: it returns
// [ErrLocked] when another run holds it. On PostgreSQL the lock keeps one
// connection of db's pool for itself, so the pool must allow at least two.
func AcquireLock(ctx context.Context, db *sqlx.DB) (*Lock, error) {
	if err := dbx.CheckDriver(db); err != nil {
		return nil, fmt.Errorf("run lock: %w", err)
	}
	d := dbx.DialectOf(db)
	if d.SessionLocks() {
		if db.Stats().MaxOpenConnections == 1 {
			return nil, errors.New("run lock: the PostgreSQL pool allows one connection; the lock holds one for the run, so allow at least two (db.SetMaxOpenConns)")
		}
		return advisoryLock(ctx, db)
	}
	file, err := d.DatabaseFile(ctx, db)
	if err != nil {
		return nil, fmt.Errorf("run lock: %w", err)
	}
	if file == "" {
		return rowLock(ctx, db)
	}
	return fileLock(file + "-ip2adb.lock")
}

func advisoryLock(ctx context.Context, db *sqlx.DB) (*Lock, error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("run lock: %w", err)
	}
	var ok bool
	if err := conn.QueryRowContext(ctx, `SELECT pg_try_advisory_lock($1)`, advisoryKey).Scan(&ok); err != nil {
		conn.Close()
		return nil, fmt.Errorf("run lock: %w", err)
	}
	if !ok {
		conn.Close()
		return nil, ErrLocked
	}
	held := func(ctx context.Context) error {
		// An advisory lock on a bigint key shows in pg_locks as classid =
		// its high 32 bits, objid = its low 32 bits, objsubid = 1.
		var ok bool
		err := conn.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory'
  AND pid = pg_backend_pid() AND granted AND objsubid = 1
  AND classid::bigint = ($1::bigint >> 32) AND objid::bigint = ($1::bigint & 4294967295))`, advisoryKey).Scan(&ok)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("%w: %v", ErrLockLost, err)
		}
		if !ok {
			return ErrLockLost
		}
		return nil
	}
	return &Lock{held: held, release: func() error {
		defer conn.Close()
		var released bool
		err := conn.QueryRowContext(context.Background(), `SELECT pg_advisory_unlock($1)`, advisoryKey).Scan(&released)
		if err != nil {
			// Closing the session releases the lock anyway.
			// driver.ErrBadConn makes database/sql discard the connection.
			_ = conn.Raw(func(any) error { return driver.ErrBadConn })
			return fmt.Errorf("release run lock: %w", err)
		}
		return nil
	}}, nil
}

func rowLock(ctx context.Context, db *sqlx.DB) (*Lock, error) {
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS ip2adb_lock (name varchar(20) PRIMARY KEY)`); err != nil {
		return nil, fmt.Errorf("run lock: %w", err)
	}
	res, err := db.ExecContext(ctx, `INSERT OR IGNORE INTO ip2adb_lock (name) VALUES ('run')`)
	if err != nil {
		return nil, fmt.Errorf("run lock: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil, ErrLocked
	}
	return &Lock{release: func() error {
		if _, err := db.ExecContext(context.Background(), `DELETE FROM ip2adb_lock WHERE name = 'run'`); err != nil {
			return fmt.Errorf("release run lock: %w", err)
		}
		return nil
	}}, nil
}

// openLockFile opens (creating) the lock file.
func openLockFile(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("run lock: %w", err)
	}
	return f, nil
}
