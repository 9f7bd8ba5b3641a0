package notify

import (
	"context"
	"testing"
	"time"

	"github.com/ip2adb/ip2adb"
)

// BenchmarkDecide applies the policy to 20,000 issues (about the most a run
// reports: 1,000 samples for each of 20 checks).
func BenchmarkDecide(b *testing.B) {
	is := append(issues(19_000, ip2adb.Warning, "w"), issues(1_000, ip2adb.Critical, "c")...)
	b.ReportAllocs()
	for b.Loop() {
		Decide(is, Policy{}, t0)
	}
}

// BenchmarkAlertSuppressed is the cost of a run whose 20,000 issues were
// already sent: decide, read the state, compare.
func BenchmarkAlertSuppressed(b *testing.B) {
	dir := b.TempDir()
	is := issues(20_000, ip2adb.Warning, "w")
	m := &Manager{Channels: []Notifier{Nop{}}, StateDir: dir, Now: func() time.Time { return t0 }}
	if rep, err := m.Alert(context.Background(), is); rep.Sent != 1 || err != nil {
		b.Fatal(rep, err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if rep, err := m.Alert(context.Background(), is); rep.Sent != 0 || err != nil {
			b.Fatal(rep, err)
		}
	}
}

// BenchmarkSlackPayload renders a critical notification of 1,000 issues.
func BenchmarkSlackPayload(b *testing.B) {
	n, _ := Decide(issues(1_000, ip2adb.Critical, "c"), Policy{}, t0)
	b.ReportAllocs()
	for b.Loop() {
		slackPayload(n)
	}
}
