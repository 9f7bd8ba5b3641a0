// Package ip2adb keeps a union local's membership database healthy: it finds
// integrity problems, repairs the ones that are safe to repair (journaled, so
// every repair can be undone), tells an administrator about the rest, and
// watches the long-term health of the database, its file store and its
// backups.
//
// This root package holds only the shared vocabulary: [Severity], [Issue] and
// the structured [Fix] that a repairable issue carries. The work is done by
// the sub-packages:
//
//   - integrity: the [integrity.Checker] interface, declarative set-based
//     checks, a concurrent runner and reports.
//   - heal: set-based repairs with an undo journal, the auto-heal cycle
//     (check, repair, verify, notify, record), run history and the run lock.
//   - notify: the [notify.Notifier] interface and real log, SMTP, Slack and
//     signed-webhook channels, with the priority policy, retries and dedup.
//   - resilience: long-term health probes (checksums, disk, growth, stale
//     data, slow queries, indexes, backups).
//   - ip2a: everything IP2A-specific, defined once: the rule set (all 22
//     checks), the check names, enum values and labels, attachment record
//     types, the tables the resilience probes read. The packages above know
//     no IP2A table.
//   - seed: the IP2A schema and a deterministic generator for realistic
//     stress databases, with planted faults and real files.
//   - dburl: opening postgres:// and sqlite: URLs. No library package
//     registers a SQL driver; a blank import of dburl/postgres or
//     dburl/sqlite (or the command) does.
//
// The ip2adb command (cmd/ip2adb) is a thin wrapper over these packages.
//
// Embedding auto-heal in a service takes a database handle, a logger and a
// rule set:
//
//	import _ "github.com/ip2adb/ip2adb/dburl/postgres" // registers the driver
//
//	db, _ := dburl.Open(ctx, "postgres://ip2a@db/ip2a") // or your own *sqlx.DB
//	cycle := heal.Cycle{DB: db, Checks: ip2a.Rules(ip2a.RuleOptions{}), Log: logger}
//	result, err := cycle.Run(ctx)
package ip2adb
