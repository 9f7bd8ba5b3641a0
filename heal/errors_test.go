package heal_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/ip2adb/ip2adb/heal"
)

func TestCheckLogDirError(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	err := heal.CheckLogDir(file)
	var le *heal.LogDirError
	if !errors.As(err, &le) {
		t.Fatalf("CheckLogDir(a file) = %v, want a *LogDirError", err)
	}
	if le.Dir != file {
		t.Errorf("LogDirError.Dir = %q, want %q", le.Dir, file)
	}
	if diff := cmp.Diff("log dir "+file+": stat "+file+"/auto_heal: not a directory", err.Error()); diff != "" {
		t.Errorf("message (-want +got):\n%s", diff)
	}
	if err := heal.CheckLogDir(filepath.Join(dir, "logs")); err != nil {
		t.Errorf("CheckLogDir(a new dir in a writable one) = %v", err)
	}
}

func TestCheckDueError(t *testing.T) {
	dir := t.TempDir()
	// .last_run is a directory: it cannot be read.
	if err := os.MkdirAll(filepath.Join(dir, "auto_heal", ".last_run"), 0o700); err != nil {
		t.Fatal(err)
	}
	_, err := heal.CheckDue(dir, time.Hour, time.Now())
	var le *heal.LogDirError
	if !errors.As(err, &le) || le.Dir != dir {
		t.Fatalf("CheckDue with an unreadable .last_run = %v, want a *LogDirError for %s", err, dir)
	}
	if diff := cmp.Diff("last run: read "+filepath.Join(dir, "auto_heal", ".last_run")+": is a directory", err.Error()); diff != "" {
		t.Errorf("message (-want +got):\n%s", diff)
	}
	if s, err := heal.CheckDue(t.TempDir(), time.Hour, time.Now()); err != nil || !s.Due {
		t.Errorf("CheckDue without a last run = %+v, %v; want due", s, err)
	}
}
