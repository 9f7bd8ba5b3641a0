package resilience

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/ip2adb/ip2adb"
	"github.com/jmoiron/sqlx"
)

// BackupExtensions are the file name endings the backup probe looks for.
func BackupExtensions() []string { return []string{".sql", ".dump", ".backup"} }

// Backup formats recognised by the backup probe.
const (
	FormatCustom = "pg_dump custom" // starts with PGDMP; read with pg_restore
	FormatTar    = "pg_dump tar"    // a tar archive; read with pg_restore
	FormatPlain  = "plain sql"      // pg_dump plain text or a SQLite .dump
	FormatSQLite = "sqlite database"
)

const pgDumpComplete = "-- PostgreSQL database dump complete"

// BackupStatus returns the backup_status probe: the newest *.sql, *.dump
// or *.backup file in BackupDir. No directory or no backup is critical; a
// newest backup older than BackupWarnAge is a warning, older than
// BackupCriticalAge critical. The newest backup must also be readable:
// custom and tar format with pg_restore (--list, then a full read into
// /dev/null, so a truncated archive fails), plain SQL must be complete to
// its end (pg_dump's closing "-- PostgreSQL database dump complete" line,
// or the COMMIT that ends a SQLite .dump), a SQLite database copy must pass
// PRAGMA quick_check. An unreadable backup is critical; a custom-format
// backup when pg_restore is not installed is verified by its header only,
// which is said as info.
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
	var newest fs.FileInfo
	count := 0
	for _, e := range ents {
		if !isBackupName(e.Name()) {
			continue
		}
		info, err := e.Info()
		if err != nil || !info.Mode().IsRegular() {
			continue
		}
		count++
		if newest == nil || info.ModTime().After(newest.ModTime()) ||
			info.ModTime().Equal(newest.ModTime()) && info.Name() > newest.Name() {
			newest = info
		}
	}
	res.Metrics["exists"] = true
	res.Metrics["backups"] = count
	if newest == nil {
		res.Summary = "no backup in " + dir
		res.Findings = append(res.Findings, finding(name, ip2adb.Critical, "",
			fmt.Sprintf("No backup (*.sql, *.dump, *.backup) found in %s", dir),
			"Set up daily backups now (e.g. pg_dump -Fc -f "+filepath.Join(dir, "ip2a-$(date +%F).dump")+" from cron) and keep several generations.",
			map[string]any{"dir": dir}))
		return res, nil
	}
	path := filepath.Join(dir, newest.Name())
	age := env.Now().Sub(newest.ModTime())
	ageHours := round(age.Hours(), 1)
	details := map[string]any{"file": path, "modified": newest.ModTime().UTC().Format(time.RFC3339),
		"age_hours": ageHours, "size_bytes": newest.Size()}
	res.Metrics["newest"] = path
	res.Metrics["newest_modified"] = details["modified"]
	res.Metrics["age_hours"] = ageHours
	res.Metrics["size_bytes"] = newest.Size()
	switch {
	case age > o.BackupCriticalAge:
		d := clone(details)
		d["threshold_hours"] = o.BackupCriticalAge.Hours()
		res.Findings = append(res.Findings, finding(name, ip2adb.Critical, "",
			fmt.Sprintf("The newest backup %s is %.0f hours old (over %.0f h)", newest.Name(), age.Hours(), o.BackupCriticalAge.Hours()),
			"Backups have stopped: check the backup job (cron, disk space, credentials) and take a backup now.",
			d))
	case age > o.BackupWarnAge:
		d := clone(details)
		d["threshold_hours"] = o.BackupWarnAge.Hours()
		res.Findings = append(res.Findings, finding(name, ip2adb.Warning, "",
			fmt.Sprintf("The newest backup %s is %.0f hours old (over %.0f h)", newest.Name(), age.Hours(), o.BackupWarnAge.Hours()),
			"Check that the daily backup job still runs; take a backup now.",
			d))
	}
	format, note, verr := verifyBackup(ctx, path, o)
	if ctx.Err() != nil {
		return res, fmt.Errorf("verify backup: %w", ctx.Err())
	}
	res.Metrics["format"] = format
	res.Metrics["readable"] = verr == nil
	if note != "" {
		res.Metrics["verification"] = note
	}
	res.Summary = fmt.Sprintf("newest of %d backups: %s, %.1f h old, %s, %s", count, newest.Name(), ageHours, humanBytes(newest.Size()), format)
	if verr != nil {
		d := clone(details)
		d["format"] = format
		d["error"] = verr.Error()
		res.Summary += ", UNREADABLE"
		res.Findings = append(res.Findings, finding(name, ip2adb.Critical, "",
			fmt.Sprintf("The newest backup %s cannot be restored: %v", newest.Name(), verr),
			"Take a new backup now and verify it (pg_restore --list for custom format); find out why this one is damaged (disk full during the dump, interrupted copy).",
			d))
	} else if strings.HasPrefix(note, "header only") {
		d := clone(details)
		d["format"] = format
		d["verification"] = note
		res.Findings = append(res.Findings, finding(name, ip2adb.Info, "",
			fmt.Sprintf("The newest backup %s was verified by its header only: %s", newest.Name(), note),
			"Install the PostgreSQL client tools (pg_restore) on this machine so that backups are read in full.",
			d))
	}
	return res, nil
}

func isBackupName(n string) bool {
	l := strings.ToLower(n)
	for _, ext := range BackupExtensions() {
		if strings.HasSuffix(l, ext) {
			return true
		}
	}
	return false
}

// verifyBackup says what format path is in and whether it can be read to
// its end. note explains a verification that was only partial.
func verifyBackup(ctx context.Context, path string, o Options) (format, note string, err error) {
	f, err := os.Open(path)
	if err != nil {
		return "unknown", "", err
	}
	defer f.Close()
	head := make([]byte, 512)
	n, err := io.ReadFull(f, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return "unknown", "", err
	}
	head = head[:n]
	switch {
	case n == 0:
		return "empty", "", errors.New("the file is empty")
	case bytes.HasPrefix(head, []byte("PGDMP")):
		return pgRestoreCheck(ctx, path, FormatCustom, o)
	case n >= 262 && bytes.Equal(head[257:262], []byte("ustar")):
		return pgRestoreCheck(ctx, path, FormatTar, o)
	case bytes.HasPrefix(head, []byte("SQLite format 3\x00")):
		return FormatSQLite, "", sqliteQuickCheck(ctx, path)
	}
	// Plain SQL: it must end with pg_dump's completion line (or a SQLite
	// .dump's COMMIT).
	st, err := f.Stat()
	if err != nil {
		return FormatPlain, "", err
	}
	const tailSize = 4096
	off := max(st.Size()-tailSize, 0)
	tail := make([]byte, st.Size()-off)
	if _, err := f.ReadAt(tail, off); err != nil && !errors.Is(err, io.EOF) {
		return FormatPlain, "", err
	}
	t := strings.TrimRight(string(tail), " \t\r\n")
	lines := strings.Split(t, "\n")
	for i := len(lines) - 1; i >= 0 && i >= len(lines)-5; i-- {
		if strings.TrimSpace(lines[i]) == pgDumpComplete {
			return FormatPlain, "pg_dump completion line found", nil
		}
	}
	if strings.HasSuffix(t, "COMMIT;") {
		return FormatPlain, "ends with COMMIT (SQLite .dump)", nil
	}
	return FormatPlain, "", errors.New("incomplete: the file does not end with pg_dump's \"" + pgDumpComplete + "\" line (truncated or interrupted dump)")
}

func pgRestoreCheck(ctx context.Context, path, format string, o Options) (string, string, error) {
	bin := o.PgRestore
	if bin == "" {
		p, err := exec.LookPath("pg_restore")
		if err != nil {
			return format, "header only: pg_restore not found in PATH", nil
		}
		bin = p
	}
	run := func(args ...string) error {
		var stderr bytes.Buffer
		cmd := exec.CommandContext(ctx, bin, args...)
		cmd.Stdout = io.Discard
		cmd.Stderr = &stderr
		if err := cmd.Run(); err != nil {
			msg := strings.TrimSpace(stderr.String())
			if i := strings.IndexByte(msg, '\n'); i >= 0 {
				msg = msg[:i]
			}
			if msg == "" {
				msg = err.Error()
			}
			return fmt.Errorf("pg_restore %s: %s", args[0], msg)
		}
		return nil
	}
	if err := run("--list", path); err != nil {
		return format, "", err
	}
	if err := run("--file="+os.DevNull, path); err != nil {
		return format, "", err
	}
	return format, "pg_restore --list and a full read succeeded", nil
}

func sqliteQuickCheck(ctx context.Context, path string) error {
	abs, err := filepath.Abs(path)
	if err != nil {
		return err
	}
	db, err := sqlx.Open("sqlite", "file:"+abs+"?mode=ro")
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
