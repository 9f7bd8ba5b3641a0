package ip2adb_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/ip2adb/ip2adb"
)

func TestPrintable(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"plain text", "plain text"},
		{"grüße · ok", "grüße · ok"},
		{"two\nlines\t and  tabs", "two lines and tabs"},
		{"\x1b[2Jcleared", `\x1b[2Jcleared`},
		{"csi \u009b31m", `csi \u009b31m`},
		{"bidi \u202eevil", `bidi \u202eevil`},
		{"bad \xff utf8", `bad \xff utf8`},
		{"bell\a", `bell\a`},
	} {
		if diff := cmp.Diff(tc.want, ip2adb.Printable(tc.in)); diff != "" {
			t.Errorf("Printable(%q) (-want +got):\n%s", tc.in, diff)
		}
	}
}
