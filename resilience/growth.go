package resilience

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/ip2adb/ip2adb"
	"github.com/ip2adb/ip2adb/catalog"
	"github.com/ip2adb/ip2adb/internal/dbx"
)

// TableStats are the measurements of one table on one day.
type TableStats struct {
	Rows int64 `json:"rows"`
	// Bytes is the table's size with its indexes (pg_total_relation_size;
	// on SQLite the pages of the table and its indexes from dbstat).
	Bytes int64 `json:"bytes"`
}

// GrowthSnapshot is one day's measurements, saved as
// LogDir/resilience_metrics/YYYY-MM-DD_growth.json.
type GrowthSnapshot struct {
	Date          string                `json:"date"`
	TakenAt       time.Time             `json:"taken_at"`
	Dialect       string                `json:"dialect"`
	Tables        map[string]TableStats `json:"tables"`
	TotalRows     int64                 `json:"total_rows"`
	DatabaseBytes int64                 `json:"database_bytes"`
}

// DayGrowth is one step of the growth history.
type DayGrowth struct {
	Date          string `json:"date"`
	TotalRows     int64  `json:"total_rows"`
	DatabaseBytes int64  `json:"database_bytes"`
	// RowsDelta and BytesDelta are the change since the previous saved day.
	RowsDelta  int64 `json:"rows_delta"`
	BytesDelta int64 `json:"bytes_delta"`
}

const growthSuffix = "_growth.json"

// DatabaseGrowth returns the database_growth probe. It counts the rows of
// GrowthTables (every table, ip2adb's own aside, when empty) and measures
// table and database sizes, saves them as the day's snapshot (overwriting an earlier one of the same day), and from the
// saved history within GrowthWindow computes growth per day and, once two
// or more days exist, how many days remain until the disk holding the
// database is full at that rate.
//
// The forecast compares the database's size growth with the free space of
// Options.DatabaseDisk; when that is empty, of the SQLite file's directory,
// or on PostgreSQL of the server's data_directory when that path is visible
// on this machine (same host), otherwise of the log dir, which is only right
// when the database lives on the same machine and disk. The details say
// which was used.
//
// Findings: more than GrowthInfoRows rows in all is info; a forecast within
// ForecastWarnDays is a warning, within ForecastCriticalDays critical.
func DatabaseGrowth(opt Options) Probe {
	o := opt.withDefaults()
	return standard(ip2adb.CategoryDatabaseGrowth, func(ctx context.Context, env Env) (Result, error) {
		return databaseGrowth(ctx, env, o)
	})
}

func measure(ctx context.Context, env Env, tables []string) (GrowthSnapshot, error) {
	db, err := env.db()
	if err != nil {
		return GrowthSnapshot{}, err
	}
	d := dbx.DialectOf(db)
	if len(tables) == 0 {
		m, err := catalog.Read(ctx, db, catalog.Options{})
		if err != nil {
			return GrowthSnapshot{}, err
		}
		tables = m.TableNames()
	}
	now := env.Now().UTC()
	s := GrowthSnapshot{Date: now.Format(time.DateOnly), TakenAt: now, Dialect: string(d), Tables: map[string]TableStats{}}
	for _, t := range tables {
		var st TableStats
		if err := db.GetContext(ctx, &st.Rows, "SELECT count(*) FROM "+d.Quote(t)); err != nil {
			return s, fmt.Errorf("count %s: %w", t, err)
		}
		s.Tables[t] = st
		s.TotalRows += st.Rows
	}
	// Each table's bytes with its indexes.
	sizes, err := d.TableSizes(ctx, db, tables)
	if err != nil {
		return s, err
	}
	for t, st := range s.Tables {
		st.Bytes = sizes[t]
		s.Tables[t] = st
	}
	if s.DatabaseBytes, err = d.DatabaseSize(ctx, db); err != nil {
		return s, err
	}
	return s, nil
}

// LoadGrowthHistory reads the saved snapshots of dir (a
// resilience_metrics directory), oldest first. Files that cannot be parsed
// are returned by name in bad.
func LoadGrowthHistory(dir string) (hist []GrowthSnapshot, bad []string, err error) {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("read growth history: %w", err)
	}
	for _, e := range ents {
		n := e.Name()
		if e.IsDir() || !strings.HasSuffix(n, growthSuffix) {
			continue
		}
		day, err := time.Parse(time.DateOnly, strings.TrimSuffix(n, growthSuffix))
		if err != nil {
			continue // not one of ours
		}
		b, err := os.ReadFile(filepath.Join(dir, n))
		var s GrowthSnapshot
		if err == nil {
			err = json.Unmarshal(b, &s)
		}
		if err != nil {
			bad = append(bad, n)
			continue
		}
		s.Date = day.Format(time.DateOnly)
		hist = append(hist, s)
	}
	slices.SortFunc(hist, func(a, b GrowthSnapshot) int { return strings.Compare(a.Date, b.Date) })
	return hist, bad, nil
}

// forecastDisk picks the path whose disk the forecast uses and says why.
func forecastDisk(ctx context.Context, env Env, o Options) (string, string) {
	if o.DatabaseDisk != "" {
		return o.DatabaseDisk, "configured"
	}
	d := dbx.DialectOf(env.DB)
	if !d.ServerStatistics() {
		if file, err := d.DatabaseFile(ctx, env.DB); err == nil && file != "" {
			return filepath.Dir(file), "sqlite database file"
		}
	} else {
		var dir string
		if err := env.DB.GetContext(ctx, &dir, "SELECT current_setting('data_directory')"); err == nil && dir != "" {
			if st, err := os.Stat(dir); err == nil && st.IsDir() {
				return dir, "postgresql data_directory (visible on this machine)"
			}
		}
	}
	return env.LogDir, "log dir (the database's own disk is not visible here; set the database disk to forecast it)"
}

func databaseGrowth(ctx context.Context, env Env, o Options) (Result, error) {
	const name = ip2adb.CategoryDatabaseGrowth
	if env.LogDir == "" {
		return Result{}, errors.New("no log dir configured: growth history cannot be kept")
	}
	snap, err := measure(ctx, env, o.GrowthTables)
	if err != nil {
		return Result{}, err
	}
	dir := filepath.Join(env.LogDir, MetricsDir)
	b, err := json.MarshalIndent(snap, "", "  ")
	if err != nil {
		return Result{}, err
	}
	if err := writeFileAtomic(filepath.Join(dir, snap.Date+growthSuffix), b); err != nil {
		return Result{}, fmt.Errorf("save growth snapshot: %w", err)
	}
	hist, bad, err := LoadGrowthHistory(dir)
	if err != nil {
		return Result{}, err
	}
	today, _ := time.Parse(time.DateOnly, snap.Date)
	from := today.Add(-o.GrowthWindow).Format(time.DateOnly)
	hist = slices.DeleteFunc(hist, func(s GrowthSnapshot) bool { return s.Date < from || s.Date > snap.Date })

	var res Result
	days := make([]DayGrowth, len(hist))
	for i, s := range hist {
		days[i] = DayGrowth{Date: s.Date, TotalRows: s.TotalRows, DatabaseBytes: s.DatabaseBytes}
		if i > 0 {
			days[i].RowsDelta = s.TotalRows - hist[i-1].TotalRows
			days[i].BytesDelta = s.DatabaseBytes - hist[i-1].DatabaseBytes
		}
	}
	tables := map[string]any{}
	for t, st := range snap.Tables {
		tables[t] = st
	}
	res.Metrics = map[string]any{
		"date": snap.Date, "tables": tables, "total_rows": snap.TotalRows, "database_bytes": snap.DatabaseBytes,
		"history_days": len(hist), "history": days,
	}
	details := map[string]any{"total_rows": snap.TotalRows, "database_bytes": snap.DatabaseBytes}
	res.Summary = fmt.Sprintf("%d rows, database %s; %d days of history", snap.TotalRows, humanBytes(snap.DatabaseBytes), len(hist))
	if len(bad) > 0 {
		res.Metrics["unreadable_history_files"] = bad
		res.Findings = append(res.Findings, finding(name, ip2adb.Info, "",
			fmt.Sprintf("%d growth history files could not be read and were ignored", len(bad)),
			"Remove or repair the named files in "+dir+"; the growth rate ignores them.",
			map[string]any{"files": bad}))
	}
	var forecast *float64
	if len(hist) >= 2 {
		first, last := hist[0], hist[len(hist)-1]
		d0, _ := time.Parse(time.DateOnly, first.Date)
		d1, _ := time.Parse(time.DateOnly, last.Date)
		span := d1.Sub(d0).Hours() / 24
		rowsPerDay := round(float64(last.TotalRows-first.TotalRows)/span, 2)
		bytesPerDay := round(float64(last.DatabaseBytes-first.DatabaseBytes)/span, 2)
		perTable := map[string]any{}
		for t, z := range last.Tables {
			if a, ok := first.Tables[t]; ok {
				perTable[t] = round(float64(z.Rows-a.Rows)/span, 2)
			}
		}
		res.Metrics["span_days"] = span
		res.Metrics["rows_per_day"] = rowsPerDay
		res.Metrics["bytes_per_day"] = bytesPerDay
		res.Metrics["table_rows_per_day"] = perTable
		details["rows_per_day"] = rowsPerDay
		details["bytes_per_day"] = bytesPerDay
		res.Summary += fmt.Sprintf(", %+.0f rows/day, %s/day", rowsPerDay, humanBytes(int64(bytesPerDay)))

		disk, why := forecastDisk(ctx, env, o)
		total, free, err := env.DiskUsage(disk)
		if err != nil {
			return res, fmt.Errorf("forecast: %w", err)
		}
		res.Metrics["forecast_disk"] = disk
		res.Metrics["forecast_disk_source"] = why
		res.Metrics["forecast_disk_total_bytes"] = total
		res.Metrics["forecast_disk_free_bytes"] = free
		if bytesPerDay > 0 {
			f := round(float64(free)/bytesPerDay, 1)
			forecast = &f
			res.Metrics["days_until_full"] = f
			res.Summary += fmt.Sprintf(", disk full in %.0f days", f)
		} else {
			res.Metrics["days_until_full"] = nil
			res.Summary += ", not growing"
		}
		details["days_until_full"] = res.Metrics["days_until_full"]
		details["forecast_disk"] = disk
		details["forecast_disk_source"] = why
		details["free_bytes"] = free
	}
	if snap.TotalRows > o.GrowthInfoRows {
		d := clone(details)
		d["threshold"] = o.GrowthInfoRows
		res.Findings = append(res.Findings, finding(name, ip2adb.Info, "",
			fmt.Sprintf("The core tables hold %d rows (over %d)", snap.TotalRows, o.GrowthInfoRows),
			"Review archiving of old employments and deleted rows, keep statistics fresh (ANALYZE) and watch query_performance.",
			d))
	}
	if forecast != nil && *forecast <= o.ForecastWarnDays {
		sev, limit := ip2adb.Warning, o.ForecastWarnDays
		if *forecast <= o.ForecastCriticalDays {
			sev, limit = ip2adb.Critical, o.ForecastCriticalDays
		}
		d := clone(details)
		d["threshold_days"] = limit
		res.Findings = append(res.Findings, finding(name, sev, "",
			fmt.Sprintf("At the current growth the disk holding the database is full in about %.0f days", math.Floor(*forecast)),
			"Grow the volume or free space before then; archive old data and check for runaway inserts.",
			d))
	}
	return res, nil
}

func clone(m map[string]any) map[string]any {
	out := make(map[string]any, len(m)+1)
	for k, v := range m {
		out[k] = v
	}
	return out
}
