package ip2adb

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Printable makes text that came from files or the database (check and
// table names, run ids, error messages) safe to print on a terminal: runs
// of white space (newlines included) become one space, and every other
// character that is not printable — terminal escape codes (ESC, CSI),
// other control and format characters such as bidirectional overrides,
// invalid UTF-8 — is written as a Go escape (\x1b, \u202e), so that a
// crafted value cannot move the cursor, clear the screen or disguise
// itself.
func Printable(s string) string {
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
