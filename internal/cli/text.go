package cli

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/ip2adb/ip2adb"
)

// escapeText makes text that came from files or the database safe to
// print on a terminal (ip2adb.Printable).
func escapeText(s string) string { return ip2adb.Printable(s) }

// writePrivateFile writes data to name with mode 0600, also when the file
// exists with a wider mode: reports and exports name members.
func writePrivateFile(name string, data []byte) error {
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	err = f.Chmod(0o600)
	if err == nil {
		_, err = f.Write(data)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	return nil
}

// exportFormat is the format of --export FILE: JSON with --format json or
// a .json name, else text.
func exportFormat(g Globals, file string) ip2adb.Format {
	if g.JSON() || strings.HasSuffix(strings.ToLower(file), ".json") {
		return ip2adb.JSON
	}
	return ip2adb.Text
}

// exportFile writes a report to --export FILE (nothing when file is
// empty) with write, in the format of exportFormat, privately (see
// writePrivateFile).
func exportFile(file string, g Globals, write func(io.Writer, ip2adb.Format) error) error {
	if file == "" {
		return nil
	}
	var buf bytes.Buffer
	err := write(&buf, exportFormat(g, file))
	if err == nil {
		err = writePrivateFile(file, buf.Bytes())
	}
	if err != nil {
		return fmt.Errorf("export report: %w", err)
	}
	return nil
}
