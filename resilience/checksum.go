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
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ip2adb/ip2adb"
	"github.com/ip2adb/ip2adb/filestore"
	"github.com/ip2adb/ip2adb/internal/dbx"
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

// hashOutcome is the result of hashing one file of a work list.
type hashOutcome struct {
	idx     int
	sum     string
	n       int64
	err     error
	skipped bool // opened but left for a later run: the byte budget was spent
}

// hashBudget bounds a hashing pass; zero fields mean no bound.
type hashBudget struct {
	bytes    int64
	deadline time.Time
}

// hashAll hashes names in order with workers goroutines until the budget
// is spent (the first file always goes) and calls out, from one goroutine,
// for every file it dispatched. Files never dispatched get no call; a file
// opened after the byte budget ran out comes back skipped.
//
// Each worker opens a file once and takes its size from the open handle, so
// a file costs one path resolution, however deep it lies.
func hashAll(ctx context.Context, fsys fs.FS, names []string, workers int, budget hashBudget, out func(hashOutcome)) {
	if workers < 1 {
		workers = 1
	}
	var stop atomic.Bool
	var started, spent atomic.Int64
	jobs := make(chan int)
	results := make(chan hashOutcome, workers)
	hashOne := func(i int, buf []byte) hashOutcome {
		f, err := fsys.Open(names[i])
		if err != nil {
			return hashOutcome{idx: i, err: err}
		}
		defer f.Close()
		st, err := f.Stat()
		if err == nil && !st.Mode().IsRegular() {
			err = fmt.Errorf("%s is not a regular file", names[i])
		}
		if err != nil {
			return hashOutcome{idx: i, err: err}
		}
		n := started.Add(1)
		before := spent.Add(st.Size()) - st.Size()
		if budget.bytes > 0 && n > 1 && before >= budget.bytes {
			stop.Store(true)
			return hashOutcome{idx: i, skipped: true}
		}
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
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 1<<20)
			for i := range jobs {
				results <- hashOne(i, buf)
			}
		}()
	}
	go func() {
		defer close(jobs)
		for i := range names {
			if ctx.Err() != nil || stop.Load() {
				return
			}
			if !budget.deadline.IsZero() && started.Load() > 0 && time.Now().After(budget.deadline) {
				return
			}
			select {
			case jobs <- i:
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

// loadAttachments reads the non-deleted attachment rows, ordered by id.
func loadAttachments(ctx context.Context, env Env, where string) ([]attachmentRow, error) {
	db, err := env.db()
	if err != nil {
		return nil, err
	}
	q := "SELECT id, file_path, checksum FROM file_attachments WHERE NOT is_deleted"
	if where != "" {
		q += " AND " + where
	}
	var rows []attachmentRow
	if err := db.SelectContext(ctx, &rows, q+" ORDER BY id"); err != nil {
		return nil, fmt.Errorf("read file_attachments: %w", err)
	}
	return rows, nil
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

// FileCorruption returns the file_corruption probe: it streams each
// attachment's file through SHA-256 and compares it with the stored
// checksum, in parallel and within a byte and time budget per run, least
// recently verified first, so that a large store is covered over several
// runs. The verification state is kept in LogDir/resilience_metrics/
// (see [ChecksumStateFile]).
//
// Findings: a mismatch or an unreadable file is critical and names the
// attachment and path; missing files (with or without a checksum) are a
// warning with their count; attachments without a checksum whose file
// exists are info (unverifiable, see [RecordChecksums]); paths outside the files root are a warning. URLs and
// s3:// objects are skipped and counted.
func FileCorruption(opt Options) Probe {
	o := opt.withDefaults()
	return standard(ip2adb.CategoryFileCorruption, func(ctx context.Context, env Env) (Result, error) {
		return fileCorruption(ctx, env, o)
	})
}

type candidate struct {
	row      attachmentRow
	name     string
	sum      string
	verified time.Time // zero: never verified
}

func fileCorruption(ctx context.Context, env Env, o Options) (Result, error) {
	const name = ip2adb.CategoryFileCorruption
	files, err := env.files()
	if err != nil {
		return Result{}, err
	}
	rows, err := loadAttachments(ctx, env, "")
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
	var cands []candidate
	var unverifiable, remote, empty int
	var outside, malformed, missingNoSum []sample
	for _, r := range rows {
		n, kind := resolver.Resolve(r.Path)
		switch kind {
		case filestore.Remote:
			remote++
			continue
		case filestore.Empty:
			empty++
			continue
		case filestore.Outside:
			outside = append(outside, sample{ID: r.ID, Path: r.Path})
			continue
		}
		sum := normSum(r.Checksum)
		if sum == "" {
			// Nothing to compare with, but a missing file is still missing
			// (a stat, not a read).
			if _, err := fs.Stat(files, n); errors.Is(err, fs.ErrNotExist) {
				missingNoSum = append(missingNoSum, sample{ID: r.ID, Path: r.Path})
			} else {
				unverifiable++
			}
			continue
		}
		if !validSum(sum) {
			malformed = append(malformed, sample{ID: r.ID, Path: r.Path})
			continue
		}
		c := candidate{row: r, name: n, sum: sum}
		if e, ok := state.Attachments[strconv.FormatInt(r.ID, 10)]; ok && e.Path == r.Path && e.Checksum == sum {
			c.verified = e.VerifiedAt
		}
		cands = append(cands, c)
	}
	slices.SortStableFunc(cands, func(a, b candidate) int {
		if c := a.verified.Compare(b.verified); c != 0 {
			return c
		}
		return cmp.Compare(a.row.ID, b.row.ID)
	})
	names := make([]string, len(cands))
	for i, c := range cands {
		names[i] = c.name
	}
	now := env.Now().UTC()
	var mismatched, unreadable []sample
	missing := missingNoSum
	var mismatchSums []string
	var bytesVerified int64
	verified := 0
	start := time.Now()
	touched := make([]bool, len(cands))
	done := 0
	env.progress(PhaseVerify, 0, len(cands))
	hashAll(ctx, files, names, o.Workers, hashBudget{bytes: o.VerifyBytes, deadline: start.Add(o.VerifyTime)}, func(h hashOutcome) {
		done++
		env.progress(PhaseVerify, done, len(cands))
		if h.skipped {
			return
		}
		touched[h.idx] = true
		c := cands[h.idx]
		s := sample{ID: c.row.ID, Path: c.row.Path}
		switch {
		case h.err != nil && errors.Is(h.err, fs.ErrNotExist):
			missing = append(missing, s)
		case h.err != nil && ctx.Err() != nil:
			// cut short by cancellation: neither verified nor failed
		case h.err != nil:
			s.Error = h.err.Error()
			unreadable = append(unreadable, s)
		case h.sum != c.sum:
			mismatched = append(mismatched, s)
			mismatchSums = append(mismatchSums, h.sum)
		default:
			verified++
			bytesVerified += h.n
			cands[h.idx].verified = now
		}
	})
	elapsed := time.Since(start)

	// Save the state of every current candidate (dropping rows that went).
	next := checksumState{Version: 1, Attachments: make(map[string]checksumEntry, len(cands))}
	neverVerified, pending := 0, 0
	var oldest time.Time
	for i, c := range cands {
		if c.verified.IsZero() {
			neverVerified++
			if !touched[i] {
				pending++
			}
			continue
		}
		next.Attachments[strconv.FormatInt(c.row.ID, 10)] = checksumEntry{Path: c.row.Path, Checksum: c.sum, VerifiedAt: c.verified}
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
				"(UPDATE file_attachments SET checksum = NULL WHERE id = …) and run ip2adb resilience --record-checksums.",
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
			Recommendation: "Check the file's permissions and the health of the disk holding the file store; restore the file from backup if it is damaged.",
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
	if len(outside) > 0 {
		res.Findings = append(res.Findings, finding(name, ip2adb.Warning, table,
			fmt.Sprintf("%d attachment paths point outside the files root and cannot be verified", len(outside)),
			"Move the files under the files root and store root-relative paths (e.g. uploads/member/2024/03/ab12.pdf), or set --files-root to the store's real root.",
			map[string]any{"count": len(outside), "sample": firstSamples(outside)}))
	}
	if len(malformed) > 0 {
		res.Findings = append(res.Findings, finding(name, ip2adb.Warning, table,
			fmt.Sprintf("%d attachments have a malformed checksum (not 64 hex digits)", len(malformed)),
			"Clear the malformed checksums (SET checksum = NULL) and run ip2adb resilience --record-checksums.",
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
		"with_checksum":     len(cands) + len(malformed),
		"verified":          verified,
		"bytes_verified":    bytesVerified,
		"bytes_per_second":  int64(rate),
		"mismatched":        len(mismatched),
		"unreadable":        len(unreadable),
		"missing":           len(missing),
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
	// Workers is the number of files hashed at once; GOMAXPROCS when zero.
	Workers int
	// BatchSize is how many checksums one UPDATE statement stores; 500
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
// whose checksum is NULL or empty and stores it, a batch of rows per UPDATE
// statement (and per transaction), so an interrupted run keeps the batches
// it finished. Rows whose checksum was set meanwhile are left alone.
func RecordChecksums(ctx context.Context, env Env, opt RecordOptions) (RecordResult, error) {
	env, done := env.WithDefaults().withFiles()
	defer done()
	var out RecordResult
	if opt.Workers <= 0 {
		opt.Workers = Options{}.withDefaults().Workers
	}
	if opt.BatchSize <= 0 {
		opt.BatchSize = 500
	}
	files, err := env.files()
	if err != nil {
		return out, err
	}
	rows, err := loadAttachments(ctx, env, "(checksum IS NULL OR checksum = '')")
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
	d := dbx.DialectOf(env.DB)
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
		args := make([]any, 0, 2*len(batch))
		if d == dbx.Postgres {
			q.WriteString("UPDATE file_attachments AS f SET checksum = v.c FROM (VALUES ")
			for i, p := range batch {
				if i > 0 {
					q.WriteString(", ")
				}
				fmt.Fprintf(&q, "($%d::bigint, $%d::text)", 2*i+1, 2*i+2)
				args = append(args, p.id, p.sum)
			}
			q.WriteString(") AS v(id, c) WHERE f.id = v.id AND (f.checksum IS NULL OR f.checksum = '')")
		} else {
			q.WriteString("WITH v(id, c) AS (VALUES ")
			for i, p := range batch {
				if i > 0 {
					q.WriteString(", ")
				}
				q.WriteString("(?, ?)")
				args = append(args, p.id, p.sum)
			}
			q.WriteString(") UPDATE file_attachments SET checksum = (SELECT c FROM v WHERE v.id = file_attachments.id)" +
				" WHERE id IN (SELECT id FROM v) AND (checksum IS NULL OR checksum = '')")
		}
		r, err := env.DB.ExecContext(ctx, q.String(), args...)
		if err != nil {
			flushErr = fmt.Errorf("store checksums: %w", err)
			return
		}
		n, _ := r.RowsAffected()
		out.Recorded += int(n)
		batch = batch[:0]
	}
	hashed := 0
	env.progress(PhaseRecord, 0, len(names))
	hashAll(ctx, files, names, opt.Workers, hashBudget{}, func(h hashOutcome) {
		hashed++
		env.progress(PhaseRecord, hashed, len(names))
		switch {
		case h.err != nil && errors.Is(h.err, fs.ErrNotExist):
			out.Missing++
		case h.err != nil:
			if ctx.Err() == nil {
				out.Unreadable++
			}
		default:
			out.Bytes += h.n
			batch = append(batch, pair{ids[h.idx], h.sum})
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
