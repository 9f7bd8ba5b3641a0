package heal_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

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
