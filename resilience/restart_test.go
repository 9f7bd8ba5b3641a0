package resilience

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/ip2adb/ip2adb/internal/testdb"
	"github.com/lib/pq"
)

func TestServerGone(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{nil, false},
		{&pq.Error{Code: "57P01"}, true},
		{fmt.Errorf("sessions: %w", &pq.Error{Code: "57P02"}), true},
		{&pq.Error{Code: "57P03"}, true},
		{&pq.Error{Code: "08006"}, true},
		{&pq.Error{Code: "42P01"}, false},
		{fmt.Errorf("x: %w", driver.ErrBadConn), true},
		{io.ErrUnexpectedEOF, true},
		{fmt.Errorf("dial: %w", syscall.ECONNREFUSED), true},
		{errors.New("no such table: members"), false},
	} {
		if got := ServerGone(tc.err); got != tc.want {
			t.Errorf("ServerGone(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

// TestRunConnectionErrorServerUp: a probe losing its connection while the
// server stays up and never restarted keeps its own failure finding.
func TestRunConnectionErrorServerUp(t *testing.T) {
	db := testdb.Postgres(t)
	env := testEnv(t, db)
	lost := NewProbe("lost", func(context.Context, Env) (Result, error) {
		return Result{}, fmt.Errorf("query: %w", &pq.Error{Code: "57P01", Message: "terminating connection due to administrator command"})
	})
	rep := Run(context.Background(), env, []Probe{lost}, RunOptions{})
	var got []string
	for _, f := range rep.Findings {
		got = append(got, f.Category+" "+string(f.Severity))
	}
	if d := cmp.Diff([]string{"lost critical"}, got); d != "" || rep.Summary.FailedProbes != 1 {
		t.Errorf("findings (-want +got):\n%s", d)
	}
}
