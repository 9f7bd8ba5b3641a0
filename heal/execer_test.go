package heal_test

import (
	"github.com/ip2adb/ip2adb/heal"
	"github.com/jmoiron/sqlx"
)

// An embedder passes its own handle or transaction to EnsureJournal and
// JournalTables.Ensure; both must satisfy the exported interface without
// naming anything internal.
var (
	_ heal.Execer = (*sqlx.DB)(nil)
	_ heal.Execer = (*sqlx.Tx)(nil)
)
