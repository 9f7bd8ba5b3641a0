package resilience

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"path"
	"path/filepath"
	"slices"

	"github.com/dustin/go-humanize"
	"github.com/ip2adb/ip2adb"
	"github.com/ip2adb/ip2adb/filestore"
)

// storeFile is one regular file found under the uploads directory.
type storeFile struct {
	name string // slash path relative to the files root
	size int64
}

// walkUploads lists the regular files under dir (relative to the files
// root). A missing dir yields no files and exists=false.
func walkUploads(ctx context.Context, fsys fs.FS, dir string) (files []storeFile, exists bool, err error) {
	dir = path.Clean(filepath.ToSlash(dir))
	if _, err := fs.Stat(fsys, dir); errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	} else if err != nil {
		return nil, false, fmt.Errorf("stat %s: %w", dir, err)
	}
	err = fs.WalkDir(fsys, dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("walk %s: %w", p, err)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return fmt.Errorf("stat %s: %w", p, err)
		}
		files = append(files, storeFile{name: p, size: info.Size()})
		return nil
	})
	return files, true, err
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

// StorageCapacity returns the storage_capacity probe: the use of the file
// system holding the files root (above DiskWarnPercent a warning, above
// DiskCriticalPercent critical) and the size and count of the files in the
// uploads directory.
func StorageCapacity(opt Options) Probe {
	o := opt.withDefaults()
	return standard(ip2adb.CategoryStorageCapacity, func(ctx context.Context, env Env) (Result, error) {
		const name = ip2adb.CategoryStorageCapacity
		files, err := env.files()
		if err != nil {
			return Result{}, err
		}
		total, free, err := env.DiskUsage(env.FilesRoot)
		if err != nil {
			return Result{}, err
		}
		if total == 0 {
			return Result{}, fmt.Errorf("disk usage of %s: file system reports zero size", env.FilesRoot)
		}
		list, exists, err := walkUploads(ctx, files, o.UploadsDir)
		if err != nil {
			return Result{}, err
		}
		var size int64
		for _, f := range list {
			size += f.size
		}
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
	})
}

// OrphanedFiles returns the orphaned_files probe: files under the uploads
// directory that no non-deleted attachment names. More than
// OrphanThreshold of them is an info finding with their count and total
// size.
func OrphanedFiles(opt Options) Probe {
	o := opt.withDefaults()
	return standard(ip2adb.CategoryOrphanedFiles, func(ctx context.Context, env Env) (Result, error) {
		const name = ip2adb.CategoryOrphanedFiles
		files, err := env.files()
		if err != nil {
			return Result{}, err
		}
		list, exists, err := walkUploads(ctx, files, o.UploadsDir)
		if err != nil {
			return Result{}, err
		}
		var rows []attachmentRow
		if len(list) > 0 { // no files, no orphans: spare the database
			if rows, err = loadAttachments(ctx, env, ""); err != nil {
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
			if _, ok := named[f.name]; !ok {
				orphans = append(orphans, f.name)
				size += f.size
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
			res.Findings = append(res.Findings, finding(name, ip2adb.Info, "file_attachments",
				fmt.Sprintf("%d files under %s (%s) belong to no attachment", len(orphans), o.UploadsDir, humanBytes(size)),
				"Review the sample; move the orphaned files to an archive or delete them to reclaim space, after checking that no other system refers to them.",
				map[string]any{"count": len(orphans), "total_bytes": size, "threshold": threshold, "sample": sample}))
		}
		return res, nil
	})
}
