package cli

import "testing"

func TestEscapeText(t *testing.T) {
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
		if got := escapeText(tc.in); got != tc.want {
			t.Errorf("escapeText(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
