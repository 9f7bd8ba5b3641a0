package cli

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/ip2adb/ip2adb"
)

// escapeText makes text that came from files or the database safe to print
// on a terminal: runs of white space (newlines included) become one space,
// and every other character that is not printable — terminal escape codes
// (ESC, CSI), other control and format characters such as bidirectional
// overrides, invalid UTF-8 — is written as a Go escape (\x1b, \u202e), so
// that a crafted run id, check name or error message cannot move the
// cursor, clear the screen or disguise itself.
func escapeText(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	clean := true
	for _, r := range s {
		if r == utf8.RuneError || !unicode.IsPrint(r) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			b.WriteString(`\x` + strconv.FormatUint(uint64(s[i])|0x100, 16)[1:])
		case unicode.IsPrint(r):
			b.WriteString(s[i : i+n])
		default:
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
		}
		i += n
	}
	return b.String()
}

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
