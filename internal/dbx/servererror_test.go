package dbx

import (
	"errors"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// pqLike and pgxLike render errors as lib/pq and pgx do.
type pqLike struct{ code, msg string }

func (e pqLike) Error() string    { return "pq: " + e.msg + " (" + e.code + ")" }
func (e pqLike) SQLState() string { return e.code }

type pgxLike struct{ code, msg string }

func (e *pgxLike) Error() string    { return "ERROR: " + e.msg + " (SQLSTATE " + e.code + ")" }
func (e *pgxLike) SQLState() string { return e.code }

func TestAsServerError(t *testing.T) {
	type out struct {
		Err   ServerError
		OK    bool
		Class string
	}
	for _, tc := range []struct {
		name string
		err  error
		want out
	}{
		{"lib/pq", fmt.Errorf("amcheck: %w", pqLike{"XX002", "index \"ix\" lacks a main relation tuple"}),
			out{ServerError{"XX002", `index "ix" lacks a main relation tuple`}, true, "XX"}},
		{"pgx", fmt.Errorf("wal: %w", &pgxLike{"42501", "permission denied for function pg_ls_waldir"}),
			out{ServerError{"42501", "permission denied for function pg_ls_waldir"}, true, "42"}},
		{"not a server error", errors.New("connection refused"), out{}},
		{"nil", nil, out{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			se, ok := AsServerError(tc.err)
			if d := cmp.Diff(tc.want, out{se, ok, se.Class()}); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
}
