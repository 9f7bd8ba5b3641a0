package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/ip2adb/ip2adb/internal/dbx"
	"github.com/ip2adb/ip2adb/internal/ownstate"
	"github.com/jmoiron/sqlx"
)

// DedupStore keeps what the [Manager] remembers of the last notification
// each channel delivered. [FileDedup] (the default, a file under the log
// dir) and [DBDedup] (a table in ip2adb's own place in a database)
// implement it.
type DedupStore interface {
	// Load returns the state of each channel, keyed by channel name; an
	// empty store is an empty map. channels are the names of the
	// configured channels, for a store that holds one state shared by all
	// of them (the file format of earlier versions).
	Load(ctx context.Context, channels []string) (map[string]DedupState, error)
	// Save stores the state of each channel in states. A channel not in
	// states keeps what it had.
	Save(ctx context.Context, states map[string]DedupState) error
}

// FileDedup is the dedup state in one JSON file under a log dir,
// admin_notifications/dedup_state.json (see [StatePath]), replaced
// atomically on save (a temporary file of a fresh name, mode 0600, renamed
// over it).
type FileDedup struct {
	// Dir is the log dir.
	Dir string
}

// Load reads the file; a missing file is no state. A file of the earlier,
// shared format is read as the state of every channel in channels.
func (f FileDedup) Load(_ context.Context, channels []string) (map[string]DedupState, error) {
	out := map[string]DedupState{}
	path := StatePath(f.Dir)
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return out, nil
	}
	if err != nil {
		return out, fmt.Errorf("read dedup state: %w", err)
	}
	var st struct {
		stateFile
		DedupState // the shared state of version 1
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return out, fmt.Errorf("read dedup state %s: %w", path, err)
	}
	switch {
	case st.Channels != nil:
		for name, cs := range st.Channels {
			if cs != nil {
				out[name] = *cs
			}
		}
	case st.Fingerprint != "":
		for _, name := range channels {
			shared := st.DedupState
			shared.Issues = slices.Clone(st.DedupState.Issues)
			out[name] = shared
		}
	}
	return out, nil
}

// Save merges states into the file's and writes it atomically.
func (f FileDedup) Save(ctx context.Context, states map[string]DedupState) error {
	path := StatePath(f.Dir)
	all, err := f.Load(ctx, nil)
	if err != nil {
		all = map[string]DedupState{} // an unreadable file is replaced
	}
	for name, cs := range states {
		all[name] = cs
	}
	st := stateFile{Version: stateVersion, Channels: make(map[string]*DedupState, len(all))}
	for name := range all {
		cs := all[name]
		st.Channels[name] = &cs
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("save dedup state: %w", err)
	}
	b, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("save dedup state: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".dedup-*.tmp")
	if err != nil {
		return fmt.Errorf("save dedup state: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return fmt.Errorf("save dedup state: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("save dedup state: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("save dedup state: %w", err)
	}
	return nil
}

// DedupObject is the table of [DBDedup] in ip2adb's own place:
// ip2adb.notify_dedup on PostgreSQL, ip2adb_notify_dedup on SQLite.
const DedupObject ownstate.Object = "notify_dedup"

// DBDedup is the dedup state in a table of the watched database, by
// default in ip2adb's own place (schema ip2adb on PostgreSQL, the ip2adb_
// prefix on SQLite; see docs/OWN-STATE.md): one row per channel holding
// its [DedupState] as JSON. Save creates the table (and the schema) when
// it is missing; Load creates nothing and reads a missing table as no
// state.
type DBDedup struct {
	// DB is the database (PostgreSQL or SQLite).
	DB *sqlx.DB
	// Schema and Prefix put the table beside a journal of the program's
	// own, as heal.JournalTables name it: the table notify_dedup in
	// PostgreSQL schema Schema (ip2adb when empty), its name starting with
	// Prefix (on SQLite ip2adb_ when empty), such as hall.hall_notify_dedup
	// or hall_notify_dedup. Both are plain lower-case SQL identifiers.
	Schema, Prefix string
}

func (s DBDedup) names() ownstate.Names { return ownstate.Names{Schema: s.Schema, Prefix: s.Prefix} }

func (s DBDedup) name() string { return s.names().Name(dbx.DialectOf(s.DB), DedupObject) }

// DedupDDL returns the statements that create the table of a [DBDedup]
// in ip2adb's own place in dialect d ("postgres" or "sqlite"), for
// migration tools; DBDedup runs them itself when the table is missing.
func DedupDDL(d string) ([]string, error) { return DBDedup{}.DDL(d) }

// DDL returns the statements that create s's table (s.Schema and
// s.Prefix; s.DB is not used) in dialect d ("postgres" or "sqlite").
func (s DBDedup) DDL(d string) ([]string, error) {
	dia, err := dbx.DialectFor(d)
	if err != nil {
		return nil, err
	}
	if err := s.names().Validate(); err != nil {
		return nil, fmt.Errorf("dedup state: %w", err)
	}
	return s.ddl(dia), nil
}

func (s DBDedup) ddl(d dbx.Dialect) []string {
	n := s.names()
	return append(n.SchemaDDL(d), `CREATE TABLE IF NOT EXISTS `+n.Name(d, DedupObject)+` (
    channel  varchar(200) PRIMARY KEY,
    state    text NOT NULL
)`)
}

func (s DBDedup) check() error {
	if s.DB == nil {
		return errors.New("dedup state: DBDedup.DB is nil")
	}
	if err := dbx.CheckDriver(s.DB); err != nil {
		return fmt.Errorf("dedup state: %w", err)
	}
	if err := s.names().Validate(); err != nil {
		return fmt.Errorf("dedup state: %w", err)
	}
	return nil
}

// exists reports whether the table exists.
func (s DBDedup) exists(ctx context.Context) (bool, error) {
	ok, err := s.names().Exists(ctx, s.DB, DedupObject)
	if err != nil {
		return false, fmt.Errorf("dedup state: look for %s: %w", s.name(), err)
	}
	return ok, nil
}

// Load reads every channel's state. A row that does not hold a state is an
// error naming its channel.
func (s DBDedup) Load(ctx context.Context, _ []string) (map[string]DedupState, error) {
	out := map[string]DedupState{}
	if err := s.check(); err != nil {
		return out, err
	}
	if ok, err := s.exists(ctx); err != nil || !ok {
		return out, err
	}
	var rows []struct {
		Channel string `db:"channel"`
		State   string `db:"state"`
	}
	if err := s.DB.SelectContext(ctx, &rows, `SELECT channel, state FROM `+s.name()); err != nil {
		return out, fmt.Errorf("read dedup state: %w", err)
	}
	for _, r := range rows {
		var cs DedupState
		if err := json.Unmarshal([]byte(r.State), &cs); err != nil {
			return map[string]DedupState{}, fmt.Errorf("read dedup state of channel %q in %s: %w", r.Channel, s.name(), err)
		}
		out[r.Channel] = cs
	}
	return out, nil
}

// Save upserts the state of each channel in states in one transaction,
// creating the table when it is missing.
func (s DBDedup) Save(ctx context.Context, states map[string]DedupState) error {
	if err := s.check(); err != nil {
		return err
	}
	d := dbx.DialectOf(s.DB)
	ok, err := s.exists(ctx)
	if err != nil {
		return err
	}
	tx, err := s.DB.BeginTxx(ctx, nil)
	if err != nil {
		return fmt.Errorf("save dedup state: %w", err)
	}
	defer tx.Rollback()
	if !ok {
		if err := ownstate.LockForDDL(ctx, tx); err != nil {
			return fmt.Errorf("save dedup state: create %s: %w", s.name(), err)
		}
		for _, q := range s.ddl(d) {
			if _, err := tx.ExecContext(ctx, q); err != nil {
				return fmt.Errorf("save dedup state: create %s: %w", s.name(), err)
			}
		}
	}
	names := make([]string, 0, len(states))
	for name := range states {
		names = append(names, name)
	}
	slices.Sort(names) // one order of row locks for every writer
	q := d.Rebind(`INSERT INTO ` + s.name() + ` (channel, state) VALUES (?, ?)
ON CONFLICT (channel) DO UPDATE SET state = excluded.state`)
	for _, name := range names {
		b, err := json.Marshal(states[name])
		if err != nil {
			return fmt.Errorf("save dedup state: %w", err)
		}
		if _, err := tx.ExecContext(ctx, q, name, string(b)); err != nil {
			return fmt.Errorf("save dedup state of channel %q: %w", name, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("save dedup state: %w", err)
	}
	return nil
}
