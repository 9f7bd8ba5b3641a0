package resilience

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/ip2adb/ip2adb"
	"github.com/ip2adb/ip2adb/internal/dbx"
	"github.com/jmoiron/sqlx"
)

// BackupExtensions are the file name endings the backup probe looks for;
// each may also be followed by .gz or .zst, a bare .zst counts too, and so
// does a directory holding a toc.dat (pg_dump -Fd).
func BackupExtensions() []string { return []string{".sql", ".dump", ".backup", ".tar"} }

// Backup formats recognised by the backup probe.
const (
	FormatCustom = "pg_dump custom" // starts with PGDMP; read with pg_restore
	FormatTar    = "pg_dump tar"    // a tar archive; read with pg_restore
	FormatPlain  = "plain sql"      // pg_dump plain text or a SQLite .dump
	FormatSQLite = "sqlite database"
)

const pgDumpComplete = "-- PostgreSQL database dump complete"

// BackupStatus returns the backup_status probe: the newest backup in
// BackupDir — a *.sql, *.dump, *.backup or *.tar file, each possibly
// compressed (.gz, .zst), or a pg_dump -Fd directory. No directory or no
// backup is critical; a newest backup older than BackupWarnAge is a
// warning, older than BackupCriticalAge critical. The newest backup must be
// readable to its end, which is checked in Go without pg_restore: custom
// archives (header, table of contents, every data block, zlib data
// decompressed), tar archives and directories (toc.dat and every data file),
// plain SQL (every COPY block closed, pg_dump's completion line with nothing
// after it, or the COMMIT that ends a SQLite .dump), compressed files to
// their checksum, SQLite copies by PRAGMA quick_check. An unreadable backup
// is critical. On PostgreSQL a readable dump is also compared with the
// database, as pg_restore --list would show it: a dump lacking the data of
// a table of the current schema, or smaller than BackupMinDatabaseRatio of
// those tables' size, is a warning; so is one smaller than
// BackupMinPreviousRatio of the previous backup.
func BackupStatus(opt Options) Probe {
	o := opt.withDefaults()
	return standard(ip2adb.CategoryBackupStatus, func(ctx context.Context, env Env) (Result, error) {
		return backupStatus(ctx, env, o)
	})
}

func backupStatus(ctx context.Context, env Env, o Options) (Result, error) {
	const name = ip2adb.CategoryBackupStatus
	var res Result
	dir := env.BackupDir
	res.Metrics = map[string]any{"dir": dir}
	if dir == "" {
		return res, errors.New("no backup dir configured")
	}
	st, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist) || err == nil && !st.IsDir():
		res.Metrics["exists"] = false
		res.Summary = "no backup directory " + dir
		res.Findings = append(res.Findings, finding(name, ip2adb.Critical, "",
			fmt.Sprintf("The backup directory %s does not exist: no backups are being kept there", dir),
			"Set up daily backups (e.g. pg_dump -Fc -f "+filepath.Join(dir, "ip2a-$(date +%F).dump")+" from cron) or point --backup-dir at where they are kept.",
			map[string]any{"dir": dir}))
		return res, nil
	case err != nil:
		return res, fmt.Errorf("backup dir: %w", err)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return res, fmt.Errorf("read backup dir: %w", err)
	}
	var cands []backupFile
	for _, e := range ents {
		p := filepath.Join(dir, e.Name())
		info, err := os.Stat(p)
		if err != nil {
			continue
		}
		switch {
		case info.Mode().IsRegular() && isBackupName(e.Name()):
			cands = append(cands, backupFile{name: e.Name(), path: p, mod: info.ModTime(), size: info.Size()})
		case info.IsDir():
			if toc, err := os.Stat(filepath.Join(p, "toc.dat")); err == nil && toc.Mode().IsRegular() {
				cands = append(cands, backupFile{name: e.Name(), path: p, mod: toc.ModTime(), size: dirSize(p), dir: true})
			}
		}
	}
	slices.SortFunc(cands, func(a, b backupFile) int {
		if c := b.mod.Compare(a.mod); c != 0 {
			return c
		}
		return strings.Compare(b.name, a.name)
	})
	count := len(cands)
	res.Metrics["exists"] = true
	res.Metrics["backups"] = count
	if count == 0 {
		res.Summary = "no backup in " + dir
		res.Findings = append(res.Findings, finding(name, ip2adb.Critical, "",
			fmt.Sprintf("No backup (*.sql, *.dump, *.backup, *.tar, compressed .gz or .zst, or a pg_dump -Fd directory) found in %s", dir),
			"Set up daily backups now (e.g. pg_dump -Fc -f "+filepath.Join(dir, "ip2a-$(date +%F).dump")+" from cron) and keep several generations.",
			map[string]any{"dir": dir}))
		return res, nil
	}
	newest := cands[0]
	path := newest.path
	age := env.Now().Sub(newest.mod)
	ageHours := round(age.Hours(), 1)
	details := map[string]any{"file": path, "modified": newest.mod.UTC().Format(time.RFC3339),
		"age_hours": ageHours, "size_bytes": newest.size}
	res.Metrics["newest"] = path
	res.Metrics["newest_modified"] = details["modified"]
	res.Metrics["age_hours"] = ageHours
	res.Metrics["size_bytes"] = newest.size
	switch {
	case age > o.BackupCriticalAge:
		d := clone(details)
		d["threshold_hours"] = o.BackupCriticalAge.Hours()
		res.Findings = append(res.Findings, finding(name, ip2adb.Critical, "",
			fmt.Sprintf("The newest backup %s is %.0f hours old (over %.0f h)", newest.name, age.Hours(), o.BackupCriticalAge.Hours()),
			"Backups have stopped: check the backup job (cron, disk space, credentials) and take a backup now.",
			d))
	case age > o.BackupWarnAge:
		d := clone(details)
		d["threshold_hours"] = o.BackupWarnAge.Hours()
		res.Findings = append(res.Findings, finding(name, ip2adb.Warning, "",
			fmt.Sprintf("The newest backup %s is %.0f hours old (over %.0f h)", newest.name, age.Hours(), o.BackupWarnAge.Hours()),
			"Check that the daily backup job still runs; take a backup now.",
			d))
	}
	format, note, contents, verr := verifyBackup(ctx, newest)
	if ctx.Err() != nil {
		return res, fmt.Errorf("verify backup: %w", ctx.Err())
	}
	res.Metrics["format"] = format
	res.Metrics["readable"] = verr == nil
	if note != "" {
		res.Metrics["verification"] = note
	}
	res.Summary = fmt.Sprintf("newest of %d backups: %s, %.1f h old, %s, %s", count, newest.name, ageHours, humanBytes(newest.size), format)
	if verr != nil {
		d := clone(details)
		d["format"] = format
		d["error"] = verr.Error()
		res.Summary += ", UNREADABLE"
		res.Findings = append(res.Findings, finding(name, ip2adb.Critical, "",
			fmt.Sprintf("The newest backup %s cannot be restored: %v", newest.name, verr),
			"Take a new backup now and verify it (pg_restore --list for custom format); find out why this one is damaged (disk full during the dump, interrupted copy).",
			d))
	} else {
		var prev *backupFile
		if len(cands) > 1 {
			prev = &cands[1]
		}
		more, err := dumpPlausible(ctx, env, o, newest, prev, contents, details)
		if err != nil {
			return res, err
		}
		res.Findings = append(res.Findings, more...)
	}
	return res, nil
}

// backupFile is one backup found in the backup directory.
type backupFile struct {
	name, path string
	mod        time.Time
	size       int64 // a directory's: the sum of its files
	dir        bool  // pg_dump -Fd
}

func isBackupName(n string) bool {
	l := strings.ToLower(n)
	if strings.HasSuffix(l, ".zst") {
		return true
	}
	l = strings.TrimSuffix(l, ".gz")
	for _, ext := range BackupExtensions() {
		if strings.HasSuffix(l, ext) {
			return true
		}
	}
	return false
}

// verifyBackup says what format a backup is in and whether it can be read
// to its end; contents is what its table of contents holds.
func verifyBackup(ctx context.Context, b backupFile) (format, note string, contents dumpContents, err error) {
	if b.dir {
		c, err := readDirectory(b.path)
		return FormatDirectory, fmt.Sprintf("toc.dat and every data file read: %d TOC entries", c.Entries), c, err
	}
	f, err := os.Open(b.path)
	if err != nil {
		return "unknown", "", contents, err
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 64<<10)
	head, _ := br.Peek(8)
	if len(head) == 0 {
		return "empty", "", contents, errors.New("the file is empty")
	}
	comp := compression(head)
	r, closeR, err := decompressed(br, comp)
	if err != nil {
		return "compressed (" + comp + ")", "", contents, err
	}
	defer closeR()
	inner := bufio.NewReaderSize(r, 64<<10)
	head, _ = inner.Peek(512)
	suffix := ""
	if comp != "" {
		suffix = ", " + comp + "-compressed"
	}
	// Whatever the format, the whole stream is read, so that a truncated
	// or damaged compressed file fails its checksum.
	finish := func(format, note string, c dumpContents, err error) (string, string, dumpContents, error) {
		if err == nil && comp != "" {
			if _, err = io.Copy(io.Discard, inner); err != nil {
				err = fmt.Errorf("%s: %w", comp, truncated(err))
			}
		}
		if err == nil && ctx.Err() != nil {
			err = ctx.Err()
		}
		return format + suffix, note, c, err
	}
	switch {
	case len(head) == 0:
		return finish("empty", "", contents, errors.New("the file is empty"))
	case bytes.HasPrefix(head, []byte("PGDMP")):
		c, err := readCustom(inner)
		return finish(FormatCustom, fmt.Sprintf("archive %s read to its end: %d TOC entries", c.Version, c.Entries), c, err)
	case len(head) >= 262 && bytes.Equal(head[257:262], []byte("ustar")):
		c, err := readTar(inner)
		return finish(FormatTar, fmt.Sprintf("toc.dat and every data file read: %d TOC entries", c.Entries), c, err)
	case bytes.HasPrefix(head, []byte("SQLite format 3\x00")):
		if comp != "" {
			return finish(FormatSQLite, "decompressed to its end; not opened", contents, nil)
		}
		return FormatSQLite, "", contents, sqliteQuickCheck(ctx, b.path)
	}
	c, err := scanPlain(inner)
	note = "pg_dump completion line found"
	if c.SQLite {
		note = "ends with COMMIT (SQLite .dump)"
	}
	return finish(FormatPlain, note, c, err)
}

func sqliteQuickCheck(ctx context.Context, path string) error {
	abs, err := filepath.Abs(path)
	if err != nil {
		return err
	}
	db, err := sqlx.Open("sqlite", "file:"+dbx.SQLiteURIPath(abs)+"?mode=ro")
	if err != nil {
		return err
	}
	defer db.Close()
	var out []string
	if err := db.SelectContext(ctx, &out, "PRAGMA quick_check"); err != nil {
		return fmt.Errorf("quick_check: %w", err)
	}
	if len(out) != 1 || out[0] != "ok" {
		return fmt.Errorf("quick_check: %s", strings.Join(out, "; "))
	}
	return nil
}
