package resilience

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/ip2adb/ip2adb"
	"github.com/ip2adb/ip2adb/filestore"
)

// uploadsPrefix is the listing prefix of the uploads folder: "uploads/",
// or "" when it is the root itself.
func uploadsPrefix(dir string) string {
	dir = strings.Trim(path.Clean(filepath.ToSlash(dir)), "/")
	if dir == "." || dir == "" {
		return ""
	}
	return dir + "/"
}

// listings shares the store listings of one run between the file probes,
// so that the store is walked (or LISTed) once however many probes read it.
type listings struct {
	mu sync.Mutex
	m  map[string]*listing
}

type listing struct {
	once  sync.Once
	files []filestore.Info
	err   error
}

// list returns the files of the store whose names start with prefix. On
// S3 every prefix is served from one listing of the whole root (which
// storage_capacity needs anyway); on a directory each prefix is walked
// once per run.
func (e Env) list(ctx context.Context, prefix string) ([]filestore.Info, error) {
	store, err := e.files()
	if err != nil {
		return nil, err
	}
	walk := prefix
	if filestore.IsS3(e.FilesRoot) {
		walk = ""
	}
	ls := e.listings
	if ls == nil {
		ls = &listings{}
	}
	ls.mu.Lock()
	if ls.m == nil {
		ls.m = map[string]*listing{}
	}
	l := ls.m[walk]
	if l == nil {
		l = &listing{}
		ls.m[walk] = l
	}
	ls.mu.Unlock()
	l.once.Do(func() {
		for fi, err := range store.List(ctx, walk) {
			if err != nil {
				l.files, l.err = nil, err
				return
			}
			l.files = append(l.files, fi)
		}
	})
	if l.err != nil || walk == prefix {
		return l.files, l.err
	}
	var out []filestore.Info
	for _, f := range l.files {
		if strings.HasPrefix(f.Name, prefix) {
			out = append(out, f)
		}
	}
	return out, nil
}

// uploads lists the uploads folder and says whether it exists (a folder on
// disk, or any object under the prefix).
func (e Env) uploads(ctx context.Context, dir string) ([]filestore.Info, bool, error) {
	prefix := uploadsPrefix(dir)
	files, err := e.list(ctx, prefix)
	if err != nil || len(files) > 0 || prefix == "" {
		return files, len(files) > 0 || prefix == "" && err == nil, err
	}
	store, err := e.files()
	if err != nil {
		return nil, false, err
	}
	_, err = store.Stat(ctx, strings.TrimSuffix(prefix, "/"))
	return nil, errors.Is(err, filestore.ErrNotRegular), nil
}

func sumSizes(files []filestore.Info) int64 {
	var n int64
	for _, f := range files {
		n += f.Size
	}
	return n
}

func humanBytes(n int64) string {
	if n < 0 {
		return "-" + humanize.IBytes(uint64(-n))
	}
	return humanize.IBytes(uint64(n))
}

func round(v float64, places int) float64 {
	p := math.Pow(10, float64(places))
	return math.Round(v*p) / p
}

// StorageCapacity returns the storage_capacity probe. For a directory
// store: the use of the file system holding the files root (above
// DiskWarnPercent a warning, above DiskCriticalPercent critical) and the
// size and count of the files in the uploads directory. For an S3 store:
// the bytes and object count of the whole bucket prefix, and of its
// uploads folder; a bucket has no capacity to fill, so no thresholds apply.
//
// Either way the day's totals are saved as
// LogDir/resilience_metrics/YYYY-MM-DD_storage.json, and the growth per
// day over GrowthWindow is reported from that history (for a directory
// also the days until its disk is full at that rate).
func StorageCapacity(opt Options) Probe {
	o := opt.withDefaults()
	return standard(ip2adb.CategoryStorageCapacity, func(ctx context.Context, env Env) (Result, error) {
		if filestore.IsS3(env.FilesRoot) {
			return bucketCapacity(ctx, env, o)
		}
		return diskCapacity(ctx, env, o)
	})
}

func diskCapacity(ctx context.Context, env Env, o Options) (Result, error) {
	const name = ip2adb.CategoryStorageCapacity
	if _, err := env.files(); err != nil {
		return Result{}, err
	}
	total, free, err := env.DiskUsage(env.FilesRoot)
	if err != nil {
		return Result{}, err
	}
	if total == 0 {
		return Result{}, fmt.Errorf("disk usage of %s: file system reports zero size", env.FilesRoot)
	}
	list, exists, err := env.uploads(ctx, o.UploadsDir)
	if err != nil {
		return Result{}, err
	}
	size := sumSizes(list)
	used := total - min(free, total)
	pct := round(100*float64(used)/float64(total), 2)
	var res Result
	res.Metrics = map[string]any{
		"disk_path": env.FilesRoot, "disk_total_bytes": total, "disk_free_bytes": free,
		"disk_used_percent": pct, "uploads_dir": o.UploadsDir, "uploads_exists": exists,
		"files": len(list), "files_bytes": size,
	}
	res.Summary = fmt.Sprintf("disk %.1f%% used (%s free of %s); %d files, %s under %s",
		pct, humanBytes(int64(free)), humanBytes(int64(total)), len(list), humanBytes(size), o.UploadsDir)
	if err := storageHistory(env, o, StorageSnapshot{Files: int64(len(list)), Bytes: size}, free, &res); err != nil {
		return Result{}, err
	}
	details := map[string]any{"used_percent": pct, "total_bytes": total, "free_bytes": free,
		"files": len(list), "files_bytes": size, "path": env.FilesRoot}
	switch {
	case pct > o.DiskCriticalPercent:
		details["threshold_percent"] = o.DiskCriticalPercent
		res.Findings = append(res.Findings, finding(name, ip2adb.Critical, "",
			fmt.Sprintf("The disk holding the file store is %.1f%% full (over %.0f%%); %s free", pct, o.DiskCriticalPercent, humanBytes(int64(free))),
			"Free space now: move old attachments to archive storage, remove orphaned files, or grow the volume. Uploads and database writes fail when it is full.",
			details))
	case pct > o.DiskWarnPercent:
		details["threshold_percent"] = o.DiskWarnPercent
		res.Findings = append(res.Findings, finding(name, ip2adb.Warning, "",
			fmt.Sprintf("The disk holding the file store is %.1f%% full (over %.0f%%); %s free", pct, o.DiskWarnPercent, humanBytes(int64(free))),
			"Plan more space: grow the volume or archive old attachments, and remove orphaned files.",
			details))
	}
	return res, nil
}

func bucketCapacity(ctx context.Context, env Env, o Options) (Result, error) {
	all, err := env.list(ctx, "")
	if err != nil {
		return Result{}, err
	}
	up, exists, err := env.uploads(ctx, o.UploadsDir)
	if err != nil {
		return Result{}, err
	}
	bytes, upBytes := sumSizes(all), sumSizes(up)
	var res Result
	res.Metrics = map[string]any{
		"store": env.FilesRoot, "objects": len(all), "bytes": bytes,
		"uploads_dir": o.UploadsDir, "uploads_exists": exists, "files": len(up), "files_bytes": upBytes,
	}
	res.Summary = fmt.Sprintf("%s holds %d objects, %s; %d files, %s under %s",
		env.FilesRoot, len(all), humanBytes(bytes), len(up), humanBytes(upBytes), o.UploadsDir)
	if err := storageHistory(env, o, StorageSnapshot{Files: int64(len(all)), Bytes: bytes}, 0, &res); err != nil {
		return Result{}, err
	}
	return res, nil
}

// StorageSnapshot is one day's totals of the file store, saved as
// LogDir/resilience_metrics/YYYY-MM-DD_storage.json: the uploads folder of
// a directory store, the whole prefix of a bucket.
type StorageSnapshot struct {
	Date    string    `json:"date"`
	TakenAt time.Time `json:"taken_at"`
	Store   string    `json:"store"`
	Files   int64     `json:"files"`
	Bytes   int64     `json:"bytes"`
}

// storageSuffix ends the names of the storage history files.
const storageSuffix = "_storage.json"

// storageHistory saves today's snapshot (replacing an earlier one of the
// same day) and adds the growth over the window to res: the daily history,
// bytes and files per day from the first to the last day, and with a
// known free space (free > 0) the days until it is used up. Snapshots of
// another store are ignored. Without a log dir nothing is kept.
func storageHistory(env Env, o Options, snap StorageSnapshot, free uint64, res *Result) error {
	if env.LogDir == "" {
		res.Metrics["history"] = "not kept (no log dir)"
		return nil
	}
	now := env.Now().UTC()
	snap.Date, snap.TakenAt, snap.Store = now.Format(time.DateOnly), now, env.FilesRoot
	dir := filepath.Join(env.LogDir, MetricsDir)
	b, err := json.MarshalIndent(snap, "", "  ")
	if err != nil {
		return err
	}
	if err := writeFileAtomic(filepath.Join(dir, snap.Date+storageSuffix), b); err != nil {
		return fmt.Errorf("save storage snapshot: %w", err)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("read storage history: %w", err)
	}
	from := now.Add(-o.GrowthWindow).Format(time.DateOnly)
	var hist []StorageSnapshot
	for _, e := range ents {
		day, ok := strings.CutSuffix(e.Name(), storageSuffix)
		if !ok || e.IsDir() || day < from || day > snap.Date {
			continue
		}
		var s StorageSnapshot
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil || json.Unmarshal(b, &s) != nil || s.Store != snap.Store {
			continue
		}
		s.Date = day
		hist = append(hist, s)
	}
	slices.SortFunc(hist, func(a, b StorageSnapshot) int { return strings.Compare(a.Date, b.Date) })
	res.Metrics["history_days"] = len(hist)
	if len(hist) < 2 {
		return nil
	}
	first, last := hist[0], hist[len(hist)-1]
	d0, _ := time.Parse(time.DateOnly, first.Date)
	d1, _ := time.Parse(time.DateOnly, last.Date)
	days := d1.Sub(d0).Hours() / 24
	perDay := float64(last.Bytes-first.Bytes) / days
	res.Metrics["bytes_per_day"] = int64(math.Round(perDay))
	res.Metrics["files_per_day"] = round(float64(last.Files-first.Files)/days, 2)
	res.Summary += fmt.Sprintf("; growing %s a day", humanBytes(int64(math.Round(perDay))))
	if free > 0 && perDay > 0 {
		res.Metrics["disk_full_days"] = round(float64(free)/perDay, 1)
	}
	return nil
}

// OrphanedFiles returns the orphaned_files probe: files under the uploads
// directory that no non-deleted row of Options.Attachments names (with no
// table named it measures nothing). More than OrphanThreshold of them is an
// info finding with their count and total size.
func OrphanedFiles(opt Options) Probe {
	o := opt.withDefaults()
	return standard(ip2adb.CategoryOrphanedFiles, func(ctx context.Context, env Env) (Result, error) {
		const name = ip2adb.CategoryOrphanedFiles
		if o.Attachments.Table == "" {
			return Result{Summary: notNamed("Attachments")}, nil
		}
		list, exists, err := env.uploads(ctx, o.UploadsDir)
		if err != nil {
			return Result{}, err
		}
		var rows []attachmentRow
		if len(list) > 0 { // no files, no orphans: spare the database
			if rows, err = loadAttachments(ctx, env, o.Attachments, false); err != nil {
				return Result{}, err
			}
		}
		resolver := filestore.NewResolver(env.FilesRoot)
		named := make(map[string]struct{}, len(rows))
		for _, r := range rows {
			if n, kind := resolver.Resolve(r.Path); kind == filestore.InStore {
				named[n] = struct{}{}
			}
		}
		threshold := max(o.OrphanThreshold, 0)
		var orphans []string
		var size int64
		for _, f := range list {
			if _, ok := named[f.Name]; !ok {
				orphans = append(orphans, f.Name)
				size += f.Size
			}
		}
		slices.Sort(orphans)
		var res Result
		res.Metrics = map[string]any{"uploads_dir": o.UploadsDir, "uploads_exists": exists, "files": len(list),
			"orphans": len(orphans), "orphans_bytes": size, "threshold": threshold}
		res.Summary = fmt.Sprintf("%d of %d files under %s are orphaned (%s)", len(orphans), len(list), o.UploadsDir, humanBytes(size))
		if len(orphans) > threshold {
			sample := orphans
			if len(sample) > maxSamples {
				sample = sample[:maxSamples]
			}
			res.Findings = append(res.Findings, finding(name, ip2adb.Info, o.Attachments.Table,
				fmt.Sprintf("%d files under %s (%s) belong to no attachment", len(orphans), o.UploadsDir, humanBytes(size)),
				"Review the sample; move the orphaned files to an archive or delete them to reclaim space, after checking that no other system refers to them.",
				map[string]any{"count": len(orphans), "total_bytes": size, "threshold": threshold, "sample": sample}))
		}
		return res, nil
	})
}
