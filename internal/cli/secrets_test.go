package cli

import (
	"strings"
	"testing"
)

// TestMalformedURLsNeverLeakSecrets feeds database and notification URLs
// that the URL parser takes apart wrongly or not at all, and asserts that
// no part of the password appears on stdout or stderr.
func TestMalformedURLsNeverLeakSecrets(t *testing.T) {
	for _, tc := range []struct {
		name    string
		args    []string
		secrets []string
	}{
		{"db scheme with one slash", []string{"integrity", "--no-files", "--db", "postgres:/u:S3cret@h/x"}, []string{"S3cret"}},
		{"db scheme without slashes", []string{"integrity", "--no-files", "--db", "postgres:u:S3cret@h/x"}, []string{"S3cret"}},
		{"db without colon", []string{"integrity", "--no-files", "--db", "postgres//u:S3cret@h/x"}, []string{"S3cret"}},
		{"db without scheme", []string{"auto-heal", "--no-files", "--db", "u:S3cret@host/db"}, []string{"S3cret"}},
		{"db bad escape", []string{"integrity", "--no-files", "--db", "postgres://u:p@ss%zzS3cret@h/x"}, []string{"S3cret", "ss%zz"}},
		{"db password with slash", []string{"integrity", "--no-files", "--db", "postgres://u:12/S3cret@127.0.0.1:1/x"}, []string{"S3cret", "12/"}},
		{"db password with question mark", []string{"undo", "AH-1", "--db", "postgres://u:12?S3cret@127.0.0.1:1/x"}, []string{"S3cret", "12?"}},
		{"smtp password with slash", []string{"notify-test", "--notify", "smtp://ops:Tr0ub4dor/3xyz@relay.example.org:25/?from=a@example.org&to=b@example.org"}, []string{"Tr0ub4dor", "3xyz"}},
		{"webhook password with slash", []string{"notify-test", "--notify", "https://ops:S3cret/x@hooks.example.org/in"}, []string{"S3cret"}},
		{"webhook password with hash", []string{"notify-test", "--notify", "https://ops:S3c#ret@hooks.example.org/in"}, []string{"S3c", "ret@"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, format := range []string{"text", "json"} {
				args := append(append([]string{}, tc.args...), "--format", format, "--log-dir", t.TempDir())
				r := runCLI(t, runOpts{}, args...)
				if r.Code != ExitUsage {
					t.Errorf("%s: exit %d, want 2 (stderr %q)", format, r.Code, r.Stderr)
				}
				for _, s := range tc.secrets {
					if strings.Contains(r.Stdout, s) || strings.Contains(r.Stderr, s) {
						t.Errorf("%s: output leaks %q:\nstdout %q\nstderr %q", format, s, r.Stdout, r.Stderr)
					}
				}
			}
		})
	}
}

// TestHeaderRedactsMalformedURLs: the header line redacts the user info of
// URLs the parser gets wrong, as in the cases.
func TestHeaderRedactsMalformedURLs(t *testing.T) {
	for _, tc := range []struct{ db, want string }{
		{"postgres:/u:S3cret@h/x", "postgres:<redacted>@h/x"},
		{"postgres:u:S3cret@h/x", "postgres:u:<redacted>@h/x"},
		{"postgres//u:S3cret@h/x", "postgres//u:<redacted>@h/x"},
		{"u:S3cret@host/db", "u:<redacted>@host/db"},
		{"postgres://u:p@ss%zzS3cret@h/x", "postgres://u:<redacted>@h/x"},
		{"postgres://u:12/S3cret@h/x", "postgres://u:<redacted>@h/x"},
	} {
		t.Run(tc.db, func(t *testing.T) {
			_, stderr, _ := probe(t, nil, "probe", "--db", tc.db)
			want := "ip2adb probe · env development · db " + tc.want + " · 2026-11-28 02:00:00 UTC\n"
			if stderr != want {
				t.Errorf("header %q, want %q", stderr, want)
			}
		})
	}
}
