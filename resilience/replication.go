package resilience

import (
	"context"
	"fmt"

	"github.com/ip2adb/ip2adb"
	"github.com/ip2adb/ip2adb/internal/dbx"
	"github.com/jmoiron/sqlx"
)

// slot is one replication slot.
type slot struct {
	Name      string `db:"slot_name" json:"name"`
	Type      string `db:"slot_type" json:"type"`
	Database  string `db:"database" json:"database"`
	Active    bool   `db:"active" json:"active"`
	WALStatus string `db:"wal_status" json:"wal_status"`
	Retained  *int64 `db:"retained" json:"retained_bytes"`
}

// Replication returns the replication probe: every replication slot of the
// server and the size of the WAL directory. An inactive slot that holds WAL
// back is a warning, critical when it holds more than SlotCriticalBytes or
// the WAL it needs is already lost. A WAL directory larger than
// max_wal_size × WALWarnFactor is a warning (WAL is not being recycled:
// a slot, a failing archive_command or wal_keep_size). When this role may
// not list the WAL directory (pg_monitor is needed), that is an info
// finding. Not supported on SQLite (info).
func Replication(opt Options) Probe {
	o := opt.withDefaults()
	const name = ip2adb.CategoryReplication
	return postgresOnly(name, "Replication slot and WAL monitoring", func(ctx context.Context, env Env, db *sqlx.DB) (Result, error) {
		var res Result
		var slots []slot
		if err := db.SelectContext(ctx, &slots, `SELECT slot_name, slot_type, coalesce(database, '') AS database, active,
			coalesce(wal_status, '') AS wal_status,
			CASE WHEN restart_lsn IS NULL THEN NULL
				WHEN pg_is_in_recovery() THEN pg_wal_lsn_diff(pg_last_wal_replay_lsn(), restart_lsn)::bigint
				ELSE pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::bigint END AS retained
			FROM pg_replication_slots ORDER BY slot_name`); err != nil {
			return res, fmt.Errorf("replication slots: %w", err)
		}
		inactive := 0
		for _, s := range slots {
			if s.Active {
				continue
			}
			inactive++
			if s.Retained == nil && s.WALStatus != "lost" {
				continue
			}
			var held int64
			if s.Retained != nil {
				held = *s.Retained
			}
			sev := ip2adb.Warning
			if held > o.SlotCriticalBytes || s.WALStatus == "lost" {
				sev = ip2adb.Critical
			}
			desc := fmt.Sprintf("Replication slot %s (%s) is inactive and holds back %s of WAL", s.Name, s.Type, humanBytes(held))
			if s.WALStatus == "lost" {
				desc = fmt.Sprintf("Replication slot %s (%s) is inactive and the WAL it needs is lost: its consumer cannot resume", s.Name, s.Type)
			}
			is := finding(name, sev, "", desc,
				fmt.Sprintf("If the replica or consumer of slot %s is gone for good, drop the slot: SELECT pg_drop_replication_slot('%s'); otherwise bring the consumer back before the WAL fills the disk (max_slot_wal_keep_size caps what a slot may hold).", s.Name, s.Name),
				map[string]any{"slot": s.Name, "type": s.Type, "database": s.Database, "retained_bytes": held,
					"wal_status": s.WALStatus, "critical_bytes": o.SlotCriticalBytes})
			is.Key = map[string]any{"slot": s.Name}
			res.Findings = append(res.Findings, is)
		}
		res.Metrics = map[string]any{"slots": slots, "inactive_slots": inactive}
		res.Summary = fmt.Sprintf("%d replication slots, %d inactive", len(slots), inactive)
		var wal struct {
			Bytes int64 `db:"bytes"`
			Files int64 `db:"files"`
			Max   int64 `db:"max_wal"`
		}
		err := db.GetContext(ctx, &wal, `SELECT coalesce(sum(size), 0)::bigint AS bytes, count(*) AS files,
			pg_size_bytes(current_setting('max_wal_size')) AS max_wal FROM pg_ls_waldir()`)
		se, isServer := dbx.AsServerError(err)
		switch {
		case isServer && se.Code == "42501":
			res.Metrics["wal"] = "not readable"
			res.Findings = append(res.Findings, finding(name, ip2adb.Info, "",
				"The WAL size is unknown: this role may not list the WAL directory ("+se.Message+")",
				"GRANT pg_monitor TO <this role>; so that the WAL size is watched.",
				map[string]any{"error": se.Message, "command": "GRANT pg_monitor TO <this role>;"}))
			return res, nil
		case err != nil:
			return res, fmt.Errorf("WAL size: %w", err)
		}
		res.Metrics["wal_bytes"] = wal.Bytes
		res.Metrics["wal_files"] = wal.Files
		res.Metrics["max_wal_size_bytes"] = wal.Max
		res.Summary += fmt.Sprintf("; WAL %s in %d files (max_wal_size %s)", humanBytes(wal.Bytes), wal.Files, humanBytes(wal.Max))
		limit := int64(float64(wal.Max) * o.WALWarnFactor)
		if wal.Bytes > limit {
			is := finding(name, ip2adb.Warning, "",
				fmt.Sprintf("The WAL directory holds %s in %d files (over %s, %.1f × max_wal_size %s): WAL is not being recycled", humanBytes(wal.Bytes), wal.Files, humanBytes(limit), o.WALWarnFactor, humanBytes(wal.Max)),
				"Look for what keeps WAL: inactive replication slots (above), a failing archive_command (SELECT * FROM pg_stat_archiver), a large wal_keep_size.",
				map[string]any{"wal_bytes": wal.Bytes, "wal_files": wal.Files, "max_wal_size_bytes": wal.Max, "threshold_bytes": limit})
			is.Key = map[string]any{"wal": "size"}
			res.Findings = append(res.Findings, is)
		}
		return res, nil
	})
}
