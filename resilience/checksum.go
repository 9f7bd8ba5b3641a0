package resilience

import (
	"cmp"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ip2adb/ip2adb"
	"github.com/ip2adb/ip2adb/filestore"
	"github.com/ip2adb/ip2adb/internal/dbx"
	"github.com/ip2adb/ip2adb/internal/ownstate"
	"github.com/jmoiron/sqlx"
)

// The phases reported to [Env.Progress].
const (
	PhaseVerify = "verify checksums" // file_corruption hashing files
	PhaseRecord = "record checksums" // RecordChecksums hashing files
)

// MetricsDir is the directory under the log dir that holds the growth
// history and the checksum verification state.
const MetricsDir = "resilience_metrics"

// ChecksumStateFile is the name, under LogDir/resilience_metrics, of the
// file remembering when each attachment was last verified.
//
// The state lives in a file beside the growth history rather than in a
// table: the report then never writes to the database it watches (it can run
// against a read-only replica or with a read-only role), and the state
// belongs to the place that runs the reports. Each entry keeps the path and
// checksum it verified, so an entry that no longer matches its row (a moved
// file, a new checksum, another database with the same log dir) counts as
// never verified rather than as a false "recently verified".
const ChecksumStateFile = "checksum_state.json"

// attachmentRow is the part of a file_attachments row the file probes read.
type attachmentRow struct {
	ID       int64          `db:"id"`
	Path     string         `db:"file_path"`
	Size     sql.NullInt64  `db:"file_size"`
	Checksum sql.NullString `db:"checksum"`
}

// checksumState is the JSON form of the verification state.
type checksumState struct {
	Version     int                      `json:"version"`
	Attachments map[string]checksumEntry `json:"attachments"`
}

type checksumEntry struct {
	Path       string    `json:"path"`
	Checksum   string    `json:"checksum"`
	VerifiedAt time.Time `json:"verified_at"`
	// Corrupt is the SHA-256 last read from a file that did not match its
	// checksum; such a file is read again first on every run, whatever the
	// budget, until it matches, so that it never drops out of the report.
	Corrupt string `json:"corrupt_sha256,omitempty"`
	// CheckedAt is when Corrupt was read.
	CheckedAt time.Time `json:"checked_at,omitzero"`
}

func statePath(logDir string) string {
	return filepath.Join(logDir, MetricsDir, ChecksumStateFile)
}

// loadState reads the verification state; a missing file is an empty state.
func loadState(logDir string) (checksumState, error) {
	st := checksumState{Version: 1, Attachments: map[string]checksumEntry{}}
	if logDir == "" {
		return st, nil
	}
	b, err := os.ReadFile(statePath(logDir))
	if errors.Is(err, fs.ErrNotExist) {
		return st, nil
	}
	if err != nil {
		return st, fmt.Errorf("read checksum state: %w", err)
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return checksumState{Version: 1, Attachments: map[string]checksumEntry{}}, fmt.Errorf("parse checksum state %s: %w", statePath(logDir), err)
	}
	if st.Attachments == nil {
		st.Attachments = map[string]checksumEntry{}
	}
	return st, nil
}

// writeFileAtomic writes b to name through a temporary file and a rename,
// so a reader never sees half a file.
func writeFileAtomic(name string, b []byte) error {
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(name), "."+filepath.Base(name)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), name)
}

// hashJob is one file of a hashing pass.
type hashJob struct {
	name string
	size int64 // as listed: what the byte budget counts
	must bool  // read whatever the budget (known-corrupt files)
}

// hashOutcome is the result of hashing one file of a work list.
type hashOutcome struct {
	idx int
	sum string
	n   int64
	err error
}

// hashBudget bounds a hashing pass; zero fields mean no bound.
type hashBudget struct {
	bytes    int64
	deadline time.Time
}

// hashAll streams jobs in order through SHA-256 with workers goroutines and
// calls out, from one goroutine, for every file it dispatched. Dispatch
// stops when the budget is spent: the bytes already dispatched reach
// budget.bytes, or the deadline passes. Must files (sorted first by the
// caller) go whatever the budget and do not count against it, so that they
// never crowd out the others; of the rest the first always goes. Files
// never dispatched get no call.
func hashAll(ctx context.Context, store filestore.Store, jobs []hashJob, workers int, budget hashBudget, out func(hashOutcome)) {
	if workers < 1 {
		workers = 1
	}
	work := make(chan int)
	results := make(chan hashOutcome, workers)
	hashOne := func(i int, buf []byte) hashOutcome {
		f, err := store.Open(ctx, jobs[i].name)
		if err != nil {
			return hashOutcome{idx: i, err: err}
		}
		defer f.Close()
		h := sha256.New()
		var read int64
		for {
			if err := ctx.Err(); err != nil {
				return hashOutcome{idx: i, n: read, err: err}
			}
			m, err := f.Read(buf)
			if m > 0 {
				h.Write(buf[:m])
				read += int64(m)
			}
			if err == io.EOF {
				break
			}
			if err != nil {
				return hashOutcome{idx: i, n: read, err: err}
			}
		}
		return hashOutcome{idx: i, sum: hex.EncodeToString(h.Sum(nil)), n: read}
	}
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			buf := make([]byte, 256<<10) // SHA-256 gains nothing from larger reads
			for i := range work {
				results <- hashOne(i, buf)
			}
		})
	}
	go func() {
		defer close(work)
		var spent int64
		first := true
		for i, j := range jobs {
			if ctx.Err() != nil {
				return
			}
			if !j.must {
				if !first && (budget.bytes > 0 && spent >= budget.bytes ||
					!budget.deadline.IsZero() && time.Now().After(budget.deadline)) {
					return
				}
				first = false
				spent += j.size
			}
			select {
			case work <- i:
			case <-ctx.Done():
				return
			}
		}
	}()
	go func() { wg.Wait(); close(results) }()
	for r := range results {
		out(r)
	}
}

// listPrefix is the prefix to list for names: the uploads folder when it
// holds them all (the listing the other file probes share), else the
// longest folder prefix they share.
func listPrefix(names []string, uploadsDir string) string {
	up := uploadsPrefix(uploadsDir)
	all := true
	common := ""
	for i, n := range names {
		if !strings.HasPrefix(n, up) {
			all = false
		}
		if i == 0 {
			common = n
			continue
		}
		k := 0
		for k < len(common) && k < len(n) && common[k] == n[k] {
			k++
		}
		common = common[:k]
	}
	if all {
		return up
	}
	if k := strings.LastIndex(common, "/"); k >= 0 {
		return common[:k+1]
	}
	return ""
}

// present lists the store once and returns the listed size of each of
// names that is there.
func present(ctx context.Context, env Env, names []string, uploadsDir string) (map[string]int64, error) {
	// One map: -1 marks a wanted name the listing has not shown (yet).
	out := make(map[string]int64, len(names))
	if len(names) == 0 {
		return out, nil
	}
	for _, n := range names {
		out[n] = -1
	}
	list, err := env.list(ctx, listPrefix(names, uploadsDir))
	if err != nil {
		return nil, err
	}
	for _, f := range list {
		if _, ok := out[f.Name]; ok {
			out[f.Name] = f.Size
		}
	}
	maps.DeleteFunc(out, func(_ string, size int64) bool { return size < 0 })
	return out, nil
}

// loadAttachments reads the non-deleted attachment rows, ordered by id,
// with their checksums from ip2adb's checksum table (or, on a database an
// older version seeded, the file_attachments.checksum column it had). It
// creates nothing. With onlyMissing it reads the rows without a checksum.
func loadAttachments(ctx context.Context, env Env, onlyMissing bool) ([]attachmentRow, error) {
	db, err := env.db()
	if err != nil {
		return nil, err
	}
	sum, join, err := checksumSource(ctx, db)
	if err != nil {
		return nil, err
	}
	q := "SELECT f.id, f.file_path, f.file_size, " + sum + " AS checksum FROM file_attachments f" + join + " WHERE NOT f.is_deleted"
	if onlyMissing {
		q += " AND (" + sum + " IS NULL OR " + sum + " = '')"
	}
	var rows []attachmentRow
	if err := db.SelectContext(ctx, &rows, q+" ORDER BY f.id"); err != nil {
		return nil, fmt.Errorf("read file_attachments: %w", err)
	}
	return rows, nil
}

// checksumSource is where the checksum of attachment f is read: the
// expression and the join it needs.
func checksumSource(ctx context.Context, db *sqlx.DB) (sum, join string, err error) {
	st, err := ownstate.Locate(ctx, db)
	if err != nil {
		return "", "", err
	}
	if st.Has(ownstate.Checksums) {
		return "c.checksum", " LEFT JOIN " + st.Name(ownstate.Checksums) + " c ON c.attachment_id = f.id", nil
	}
	legacy, err := legacyChecksumColumn(ctx, db)
	if err != nil || !legacy {
		return "NULL", "", err
	}
	return "f.checksum", "", nil
}

// legacyChecksumColumn reports whether file_attachments has the checksum
// column of the seed schema of older versions.
func legacyChecksumColumn(ctx context.Context, db *sqlx.DB) (bool, error) {
	d := dbx.DialectOf(db)
	cols, err := dbx.Columns(ctx, db, d, "file_attachments")
	if err != nil {
		return false, err
	}
	return slices.Contains(cols, "checksum"), nil
}

func normSum(s sql.NullString) string {
	if !s.Valid {
		return ""
	}
	return strings.ToLower(strings.TrimSpace(s.String))
}

func validSum(s string) bool {
	if len(s) != 64 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}

// sample is one attachment named in an aggregate finding.
type sample struct {
	ID    int64  `json:"id"`
	Path  string `json:"path"`
	Error string `json:"error,omitempty"`
}

const maxSamples = 10

// FileCorruption returns the file_corruption probe. It lists the file
// store once (the listing the other file probes share), so that every
// missing file is reported on every run, and compares each listed size with
// the row's file_size. Then it streams files through SHA-256 and compares
// them with the stored checksums, in parallel and within a byte and time
// budget per run: files known to be corrupt first (whatever the budget, so
// that they stay in every report until fixed), then the least recently
// verified, so that a large store is covered over several runs. The
// verification state is kept in LogDir/resilience_metrics/ (see
// [ChecksumStateFile]).
//
// Findings: a mismatch or an unreadable file is critical and names the
// attachment and path; missing files (with or without a checksum) are a
// warning with their count, and so are files whose size differs from
// file_size; attachments without a checksum whose file exists are info
// (unverifiable, see [RecordChecksums]); paths outside the files root are
// a warning. URLs the store does not hold are skipped and counted.
func FileCorruption(opt Options) Probe {
	o := opt.withDefaults()
	return standard(ip2adb.CategoryFileCorruption, func(ctx context.Context, env Env) (Result, error) {
		o := o
		if opt.Workers == 0 && filestore.IsS3(env.FilesRoot) {
			o.Workers = S3Workers
		}
		return fileCorruption(ctx, env, o)
	})
}

// S3Workers is how many objects file_corruption and [RecordChecksums] hash
// at once from an S3 store when no worker count is given: a GET waits on
// the network and the server far longer than hashing takes.
const S3Workers = 16

type candidate struct {
	row      *attachmentRow
	name     string
	sum      string
	size     int64     // as listed
	verified time.Time // zero: never verified
	corrupt  bool      // the last read did not match
}

// sizeSample is an attachment whose file's size differs from file_size.
type sizeSample struct {
	ID       int64  `json:"id"`
	Path     string `json:"path"`
	Expected int64  `json:"file_size"`
	Actual   int64  `json:"actual_size"`
}

func fileCorruption(ctx context.Context, env Env, o Options) (Result, error) {
	const name = ip2adb.CategoryFileCorruption
	store, err := env.files()
	if err != nil {
		return Result{}, err
	}
	rows, err := loadAttachments(ctx, env, false)
	if err != nil {
		return Result{}, err
	}
	var res Result
	state, stErr := loadState(env.LogDir)
	stateNote := "kept in " + statePath(env.LogDir)
	if env.LogDir == "" {
		stateNote = "not kept (no log dir)"
	}
	if stErr != nil {
		env.Log.Error(stErr, "checksum state unusable; starting afresh")
		stateNote = "reset: " + stErr.Error()
	}
	resolver := filestore.NewResolver(env.FilesRoot)
	var local []int32 // rows in the store, by index; names[k] is local[k]'s
	var names []string
	var remote, empty int
	var outside []sample
	for i := range rows {
		r := &rows[i]
		n, kind := resolver.Resolve(r.Path)
		switch kind {
		case filestore.Remote:
			remote++
		case filestore.Empty:
			empty++
		case filestore.Outside:
			outside = append(outside, sample{ID: r.ID, Path: r.Path})
		default:
			local = append(local, int32(i))
			names = append(names, n)
		}
	}
	sizes, err := present(ctx, env, names, o.UploadsDir)
	if err != nil {
		return Result{}, err
	}
	var cands []candidate
	var unverifiable, withSum int
	var malformed, missing []sample
	var sizeDiffers []sizeSample
	for k, i := range local {
		r, name := &rows[i], names[k]
		if normSum(r.Checksum) != "" {
			withSum++
		}
		size, ok := sizes[name]
		if !ok {
			missing = append(missing, sample{ID: r.ID, Path: r.Path})
			continue
		}
		if r.Size.Valid && r.Size.Int64 >= 0 && r.Size.Int64 != size {
			sizeDiffers = append(sizeDiffers, sizeSample{ID: r.ID, Path: r.Path, Expected: r.Size.Int64, Actual: size})
		}
		sum := normSum(r.Checksum)
		if sum == "" {
			unverifiable++
			continue
		}
		if !validSum(sum) {
			malformed = append(malformed, sample{ID: r.ID, Path: r.Path})
			continue
		}
		c := candidate{row: r, name: name, sum: sum, size: size}
		if e, ok := state.Attachments[strconv.FormatInt(r.ID, 10)]; ok && e.Path == r.Path && e.Checksum == sum {
			c.verified, c.corrupt = e.VerifiedAt, e.Corrupt != ""
		}
		cands = append(cands, c)
	}
	slices.SortStableFunc(cands, func(a, b candidate) int {
		if a.corrupt != b.corrupt {
			if a.corrupt {
				return -1
			}
			return 1
		}
		if c := a.verified.Compare(b.verified); c != 0 {
			return c
		}
		return cmp.Compare(a.row.ID, b.row.ID)
	})
	jobs := make([]hashJob, len(cands))
	for i, c := range cands {
		jobs[i] = hashJob{name: c.name, size: c.size, must: c.corrupt}
	}
	now := env.Now().UTC()
	var mismatched, unreadable []sample
	var mismatchSums []string
	actual := make([]string, len(cands)) // the mismatching sums, by candidate
	var bytesVerified int64
	verified := 0
	start := time.Now()
	touched := make([]bool, len(cands))
	done := 0
	env.progress(PhaseVerify, 0, len(cands))
	hashAll(ctx, store, jobs, o.Workers, hashBudget{bytes: o.VerifyBytes, deadline: start.Add(o.VerifyTime)}, func(h hashOutcome) {
		done++
		env.progress(PhaseVerify, done, len(cands))
		c := cands[h.idx]
		s := sample{ID: c.row.ID, Path: c.row.Path}
		switch {
		case h.err != nil && ctx.Err() != nil:
			// cut short by cancellation: neither verified nor failed
			return
		case h.err != nil && errors.Is(h.err, fs.ErrNotExist):
			missing = append(missing, s) // removed since the listing
		case h.err != nil:
			s.Error = h.err.Error()
			unreadable = append(unreadable, s)
		case h.sum != c.sum:
			mismatched = append(mismatched, s)
			mismatchSums = append(mismatchSums, h.sum)
			actual[h.idx] = h.sum
		default:
			verified++
			bytesVerified += h.n
			cands[h.idx].verified = now
			cands[h.idx].corrupt = false
		}
		touched[h.idx] = true
	})
	elapsed := time.Since(start)

	// Save the state of every current candidate (dropping rows that went).
	next := checksumState{Version: 1, Attachments: make(map[string]checksumEntry, len(cands))}
	neverVerified, pending := 0, 0
	var oldest time.Time
	for i, c := range cands {
		id := strconv.FormatInt(c.row.ID, 10)
		switch {
		case actual[i] != "":
			next.Attachments[id] = checksumEntry{Path: c.row.Path, Checksum: c.sum, VerifiedAt: c.verified, Corrupt: actual[i], CheckedAt: now}
		case c.corrupt: // not read this run (cancelled): still known corrupt
			next.Attachments[id] = state.Attachments[id]
		}
		if c.verified.IsZero() {
			neverVerified++
			if !touched[i] {
				pending++
			}
			continue
		}
		if actual[i] == "" && !c.corrupt {
			next.Attachments[id] = checksumEntry{Path: c.row.Path, Checksum: c.sum, VerifiedAt: c.verified}
		}
		if oldest.IsZero() || c.verified.Before(oldest) {
			oldest = c.verified
		}
	}
	if env.LogDir != "" {
		b, err := json.Marshal(next)
		if err == nil {
			err = writeFileAtomic(statePath(env.LogDir), b)
		}
		if err != nil {
			return Result{}, fmt.Errorf("save checksum state: %w", err)
		}
	}
	if err := ctx.Err(); err != nil {
		return Result{}, fmt.Errorf("checksum verification interrupted: %w", err)
	}
	notReached := 0
	for _, t := range touched {
		if !t {
			notReached++
		}
	}

	byID := func(a, b sample) int { return cmp.Compare(a.ID, b.ID) }
	slices.SortFunc(missing, byID)
	slices.SortFunc(unreadable, byID)
	order := make([]int, len(mismatched))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return cmp.Compare(mismatched[a].ID, mismatched[b].ID) })

	const table = "file_attachments"
	budget := o.MaxFindings
	expected := map[int64]string{}
	for _, c := range cands {
		expected[c.row.ID] = c.sum
	}
	for _, i := range order {
		s := mismatched[i]
		if budget == 0 {
			break
		}
		budget--
		res.Findings = append(res.Findings, ip2adb.Issue{
			Check: Check(name), Category: name, Severity: ip2adb.Critical, Table: table, RecordID: ip2adb.Ptr(s.ID),
			Description: fmt.Sprintf("Attachment %d (%s) is corrupt: its SHA-256 does not match the stored checksum", s.ID, s.Path),
			Details:     map[string]any{"path": s.Path, "expected_sha256": expected[s.ID], "actual_sha256": mismatchSums[i]},
			Recommendation: "Restore the file from a backup of the file store. If the change was intended, clear its checksum " +
				"(DELETE FROM " + ownstate.Name(dbx.DialectOf(env.DB), ownstate.Checksums) + " WHERE attachment_id = …) and run ip2adb resilience --record-checksums.",
		})
	}
	for _, s := range unreadable {
		if budget == 0 {
			break
		}
		budget--
		res.Findings = append(res.Findings, ip2adb.Issue{
			Check: Check(name), Category: name, Severity: ip2adb.Critical, Table: table, RecordID: ip2adb.Ptr(s.ID),
			Description:    fmt.Sprintf("Attachment %d (%s) cannot be read: %s", s.ID, s.Path, s.Error),
			Details:        map[string]any{"path": s.Path, "error": s.Error},
			Recommendation: "Check the file's permissions and the health of the store holding it; restore the file from backup if it is damaged.",
		})
	}
	if rest := len(mismatched) + len(unreadable) - o.MaxFindings; rest > 0 {
		res.Findings = append(res.Findings, finding(name, ip2adb.Critical, table,
			fmt.Sprintf("… and %d more corrupt or unreadable attachments not listed", rest),
			"Restore the damaged files from a backup of the file store; see the metrics for the totals.",
			map[string]any{"count": rest}))
	}
	if len(missing) > 0 {
		res.Findings = append(res.Findings, finding(name, ip2adb.Warning, table,
			fmt.Sprintf("%d attachment files are missing from the file store", len(missing)),
			"Restore the files from backup, or remove the attachment rows after checking with ip2adb integrity --interactive.",
			map[string]any{"count": len(missing), "sample": firstSamples(missing)}))
	}
	if len(sizeDiffers) > 0 {
		sample := sizeDiffers[:min(len(sizeDiffers), maxSamples)]
		res.Findings = append(res.Findings, finding(name, ip2adb.Warning, table,
			fmt.Sprintf("%d attachment files differ in size from their recorded file_size", len(sizeDiffers)),
			"A shorter file is often a truncated upload or copy: restore it from backup. If the file was replaced on purpose, correct file_size.",
			map[string]any{"count": len(sizeDiffers), "sample": sample}))
	}
	if len(outside) > 0 {
		res.Findings = append(res.Findings, finding(name, ip2adb.Warning, table,
			fmt.Sprintf("%d attachment paths point outside the files root and cannot be verified", len(outside)),
			"Move the files under the files root and store root-relative paths (e.g. uploads/member/2024/03/ab12.pdf), or set --files-root to the store's real root.",
			map[string]any{"count": len(outside), "sample": firstSamples(outside)}))
	}
	if len(malformed) > 0 {
		res.Findings = append(res.Findings, finding(name, ip2adb.Warning, table,
			fmt.Sprintf("%d attachments have a malformed checksum (not 64 hex digits)", len(malformed)),
			"Delete the malformed checksums from "+ownstate.Name(dbx.DialectOf(env.DB), ownstate.Checksums)+" and run ip2adb resilience --record-checksums.",
			map[string]any{"count": len(malformed), "sample": firstSamples(malformed)}))
	}
	if unverifiable > 0 {
		res.Findings = append(res.Findings, finding(name, ip2adb.Info, table,
			fmt.Sprintf("%d attachments have no checksum, so corruption cannot be detected for them", unverifiable),
			"Record their checksums once: ip2adb resilience --record-checksums.",
			map[string]any{"count": unverifiable}))
	}
	if pending > 0 {
		res.Findings = append(res.Findings, finding(name, ip2adb.Info, table,
			fmt.Sprintf("%d attachments with checksums have never been verified (budget of this run reached)", pending),
			"Nothing to do: the next runs verify them first. To cover the store sooner raise --verify-bytes or --verify-time.",
			map[string]any{"count": pending}))
	}
	rate := 0.0
	if elapsed > 0 {
		rate = float64(bytesVerified) / elapsed.Seconds()
	}
	res.Metrics = map[string]any{
		"attachments":       len(rows),
		"with_checksum":     withSum,
		"verified":          verified,
		"bytes_verified":    bytesVerified,
		"bytes_per_second":  int64(rate),
		"mismatched":        len(mismatched),
		"unreadable":        len(unreadable),
		"missing":           len(missing),
		"size_mismatch":     len(sizeDiffers),
		"unverifiable":      unverifiable,
		"malformed":         len(malformed),
		"remote_skipped":    remote,
		"outside_root":      len(outside),
		"empty_path":        empty,
		"not_reached":       notReached,
		"never_verified":    neverVerified,
		"state":             stateNote,
		"verify_bytes":      o.VerifyBytes,
		"verify_time_ms":    o.VerifyTime.Milliseconds(),
		"oldest_verified":   timeOrNil(oldest),
		"verification_done": pending == 0,
	}
	res.Summary = fmt.Sprintf("verified %d of %d files (%s), %d corrupt, %d missing, %d without checksum, %d not reached",
		verified, len(cands), humanBytes(bytesVerified), len(mismatched), len(missing), unverifiable, notReached)
	return res, nil
}

func timeOrNil(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Format(time.RFC3339)
}

func firstSamples(s []sample) []sample {
	if len(s) > maxSamples {
		return s[:maxSamples]
	}
	return s
}

// RecordOptions tune [RecordChecksums].
type RecordOptions struct {
	// Workers is the number of files hashed at once; GOMAXPROCS when
	// zero, [S3Workers] for an S3 store.
	Workers int
	// BatchSize is how many checksums one INSERT statement stores; 500
	// when zero.
	BatchSize int
}

// RecordResult says what [RecordChecksums] did.
type RecordResult struct {
	// Recorded is the number of checksums stored.
	Recorded int `json:"recorded"`
	// Bytes is how much was hashed.
	Bytes int64 `json:"bytes"`
	// Missing and Unreadable count files that could not be hashed; their
	// checksums stay NULL.
	Missing    int `json:"missing"`
	Unreadable int `json:"unreadable"`
	// Skipped counts URLs, s3:// objects, empty paths and paths outside the
	// files root.
	Skipped int `json:"skipped"`
}

// RecordChecksums computes the SHA-256 of every non-deleted attachment
// without a checksum and stores it in ip2adb's own checksum table, keyed by
// attachment id (ip2adb.file_checksums on PostgreSQL, ip2adb_file_checksums
// on SQLite; created when missing — the application's tables are never
// altered), a batch of rows per INSERT statement (and per transaction), so
// an interrupted run keeps the batches it finished. Checksums recorded
// meanwhile are left alone.
func RecordChecksums(ctx context.Context, env Env, opt RecordOptions) (RecordResult, error) {
	env, done := env.WithDefaults().withFiles(ctx)
	defer done()
	var out RecordResult
	if opt.Workers <= 0 {
		opt.Workers = Options{}.withDefaults().Workers
		if filestore.IsS3(env.FilesRoot) {
			opt.Workers = S3Workers
		}
	}
	if opt.BatchSize <= 0 {
		opt.BatchSize = 500
	}
	store, err := env.files()
	if err != nil {
		return out, err
	}
	// The checksum table is ip2adb's own: created here when missing, and
	// filled once from the checksum column older seed schemas had.
	before, err := ownstate.Locate(ctx, env.DB)
	if err != nil {
		return out, err
	}
	st, err := ownstate.Ensure(ctx, env.DB)
	if err != nil {
		return out, err
	}
	sums := st.Name(ownstate.Checksums)
	if legacy, err := legacyChecksumColumn(ctx, env.DB); err != nil {
		return out, err
	} else if legacy && !before.Has(ownstate.Checksums) {
		_, err := env.DB.ExecContext(ctx, env.DB.Rebind(`INSERT INTO `+sums+` (attachment_id, checksum, recorded_at)
SELECT id, lower(trim(checksum)), ? FROM file_attachments WHERE length(trim(checksum)) = 64`), env.Now().UTC())
		if err != nil {
			return out, fmt.Errorf("import checksums: %w", err)
		}
	}
	rows, err := loadAttachments(ctx, env, true)
	if err != nil {
		return out, err
	}
	resolver := filestore.NewResolver(env.FilesRoot)
	var ids []int64
	var names []string
	for _, r := range rows {
		n, kind := resolver.Resolve(r.Path)
		if kind != filestore.InStore {
			out.Skipped++
			continue
		}
		ids = append(ids, r.ID)
		names = append(names, n)
	}
	// One listing finds the missing files and the sizes.
	sizes, err := present(ctx, env, names, Options{}.withDefaults().UploadsDir)
	if err != nil {
		return out, err
	}
	var jobs []hashJob
	var jobIDs []int64
	for i, n := range names {
		size, ok := sizes[n]
		if !ok {
			out.Missing++
			continue
		}
		jobs = append(jobs, hashJob{name: n, size: size})
		jobIDs = append(jobIDs, ids[i])
	}
	d := dbx.DialectOf(env.DB)
	recorded := env.Now().UTC()
	type pair struct {
		id  int64
		sum string
	}
	var batch []pair
	var flushErr error
	flush := func() {
		if len(batch) == 0 || flushErr != nil {
			return
		}
		var q strings.Builder
		args := make([]any, 0, 3*len(batch))
		q.WriteString("INSERT INTO " + sums + " AS s (attachment_id, checksum, recorded_at) VALUES ")
		for i, p := range batch {
			if i > 0 {
				q.WriteString(", ")
			}
			q.WriteString("(?, ?, ?)")
			args = append(args, p.id, p.sum, recorded)
		}
		// A checksum stored meanwhile stays; an empty one is replaced.
		q.WriteString(" ON CONFLICT (attachment_id) DO UPDATE SET checksum = excluded.checksum, recorded_at = excluded.recorded_at" +
			" WHERE trim(s.checksum) = ''")
		r, err := env.DB.ExecContext(ctx, d.Rebind(q.String()), args...)
		if err != nil {
			flushErr = fmt.Errorf("store checksums: %w", err)
			return
		}
		n, _ := r.RowsAffected()
		out.Recorded += int(n)
		batch = batch[:0]
	}
	hashed := 0
	env.progress(PhaseRecord, 0, len(jobs))
	hashAll(ctx, store, jobs, opt.Workers, hashBudget{}, func(h hashOutcome) {
		hashed++
		env.progress(PhaseRecord, hashed, len(jobs))
		switch {
		case h.err != nil && errors.Is(h.err, fs.ErrNotExist):
			out.Missing++
		case h.err != nil:
			if ctx.Err() == nil {
				out.Unreadable++
			}
		default:
			out.Bytes += h.n
			batch = append(batch, pair{jobIDs[h.idx], h.sum})
			if len(batch) >= opt.BatchSize {
				flush()
			}
		}
	})
	flush()
	if flushErr != nil {
		return out, flushErr
	}
	if err := ctx.Err(); err != nil {
		return out, fmt.Errorf("record checksums interrupted: %w", err)
	}
	env.Log.V(1).Info("checksums recorded", "recorded", out.Recorded, "missing", out.Missing, "unreadable", out.Unreadable, "skipped", out.Skipped)
	return out, nil
}
