package resilience

import (
	"bufio"
	"cmp"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"io/fs"
	"iter"
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

// attachmentRow is the part of an attachment row (see [Attachments]) the
// file probes read.
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

// verifiedState is the verification state as the scrub holds it: per
// attachment id, a digest of the path and checksum an entry verified and
// when, instead of the entries' strings; the few entries of files known to
// be corrupt are kept whole, since a run that does not reach them copies
// them as they are.
type verifiedState struct {
	at      map[int64]verifiedAt
	corrupt map[int64]checksumEntry
}

type verifiedAt struct {
	key uint64 // stateKey of the entry's path and checksum
	at  time.Time
}

// stateKey digests an entry's path and checksum: an entry applies to a row
// only when both are the row's.
func stateKey(path, sum string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(path))
	h.Write([]byte{0})
	h.Write([]byte(sum))
	return h.Sum64()
}

// lookup returns what the state says of attachment id at path with
// checksum sum: when it was verified and whether it was last read corrupt.
func (s verifiedState) lookup(id int64, path, sum string) (at time.Time, corrupt, ok bool) {
	if e, ok := s.corrupt[id]; ok {
		if e.Path != path || e.Checksum != sum {
			return time.Time{}, false, false
		}
		return e.VerifiedAt, true, true
	}
	v, ok := s.at[id]
	if !ok || v.key != stateKey(path, sum) {
		return time.Time{}, false, false
	}
	return v.at, false, true
}

func (s *verifiedState) add(id string, e checksumEntry) {
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil {
		return // no row has that id
	}
	if e.Corrupt != "" {
		s.corrupt[n] = e
		return
	}
	s.at[n] = verifiedAt{key: stateKey(e.Path, e.Checksum), at: e.VerifiedAt}
}

func newVerifiedState() verifiedState {
	return verifiedState{at: map[int64]verifiedAt{}, corrupt: map[int64]checksumEntry{}}
}

// loadState reads the verification state, one entry at a time; a missing
// file is an empty state.
func loadState(logDir string) (verifiedState, error) {
	st := newVerifiedState()
	if logDir == "" {
		return st, nil
	}
	f, err := os.Open(statePath(logDir))
	if errors.Is(err, fs.ErrNotExist) {
		return st, nil
	}
	if err != nil {
		return st, fmt.Errorf("read checksum state: %w", err)
	}
	defer f.Close()
	if err := decodeState(bufio.NewReaderSize(f, 64<<10), &st); err != nil {
		return newVerifiedState(), fmt.Errorf("parse checksum state %s: %w", statePath(logDir), err)
	}
	return st, nil
}

// decodeState reads the JSON object of a [checksumState] from r into st,
// decoding its attachments one by one.
func decodeState(r io.Reader, st *verifiedState) error {
	dec := json.NewDecoder(r)
	delim := func(want json.Delim) error {
		t, err := dec.Token()
		if err != nil {
			return err
		}
		if d, ok := t.(json.Delim); !ok || d != want {
			return fmt.Errorf("want %v, got %v", want, t)
		}
		return nil
	}
	if err := delim('{'); err != nil {
		return err
	}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return err
		}
		if t != "attachments" {
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return err
			}
			continue
		}
		if t, err := dec.Token(); err != nil {
			return err
		} else if t == nil { // "attachments": null
			continue
		} else if d, ok := t.(json.Delim); !ok || d != '{' {
			return fmt.Errorf("attachments: want an object, got %v", t)
		}
		for dec.More() {
			t, err := dec.Token()
			if err != nil {
				return err
			}
			id, _ := t.(string)
			var e checksumEntry
			if err := dec.Decode(&e); err != nil {
				return err
			}
			st.add(id, e)
		}
		if err := delim('}'); err != nil {
			return err
		}
	}
	if err := delim('}'); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("data after the state object")
	}
	return nil
}

// writeFileAtomic writes b to name through a temporary file and a rename,
// so a reader never sees half a file.
func writeFileAtomic(name string, b []byte) error {
	return writeFileAtomicFunc(name, func(w io.Writer) error {
		_, err := w.Write(b)
		return err
	})
}

// writeFileAtomicFunc is writeFileAtomic with the content written by
// write, buffered, so that it need not be held in memory whole.
func writeFileAtomicFunc(name string, write func(w io.Writer) error) error {
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(name), "."+filepath.Base(name)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	bw := bufio.NewWriterSize(tmp, 64<<10)
	if err := write(bw); err != nil {
		tmp.Close()
		return err
	}
	if err := bw.Flush(); err != nil {
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
func listPrefix(names iter.Seq[string], uploadsDir string) string {
	up := uploadsPrefix(uploadsDir)
	all := true
	common := ""
	first := true
	for n := range names {
		if !strings.HasPrefix(n, up) {
			all = false
		}
		if first {
			common, first = n, false
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
func present(ctx context.Context, env Env, names iter.Seq[string], uploadsDir string) (map[string]int64, error) {
	// One map: -1 marks a wanted name the listing has not shown (yet).
	out := map[string]int64{}
	for n := range names {
		out[n] = -1
	}
	if len(out) == 0 {
		return out, nil
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

// loadAttachments reads the non-deleted rows of table att, ordered by id,
// with their checksums from ip2adb's checksum table (or, on a database an
// older version seeded, the table's checksum column it had). It creates
// nothing. With onlyMissing it reads the rows without a checksum.
func loadAttachments(ctx context.Context, env Env, att Attachments, onlyMissing bool) ([]attachmentRow, error) {
	var rows []attachmentRow
	err := eachAttachment(ctx, env, att, onlyMissing, func(r *attachmentRow) error {
		rows = append(rows, *r)
		return nil
	})
	return rows, err
}

// eachAttachment streams the rows loadAttachments reads to f, one at a
// time (r is reused: f copies what it keeps).
func eachAttachment(ctx context.Context, env Env, att Attachments, onlyMissing bool, f func(r *attachmentRow) error) error {
	db, err := env.db()
	if err != nil {
		return err
	}
	att = att.withDefaults()
	sum, join, err := checksumSource(ctx, db, att)
	if err != nil {
		return err
	}
	d := dbx.DialectOf(db)
	size := "NULL"
	if att.Size != "" {
		size = "f." + d.Quote(att.Size)
	}
	q := "SELECT f." + d.Quote(att.ID) + " AS id, f." + d.Quote(att.Path) + " AS file_path, " + size + " AS file_size, " +
		sum + " AS checksum FROM " + d.Quote(att.Table) + " f" + join + " WHERE TRUE" + notDeleted(d, "f", att.Deleted, att.DeletedAt)
	if onlyMissing {
		q += " AND (" + sum + " IS NULL OR " + sum + " = '')"
	}
	rows, err := db.QueryxContext(ctx, q+" ORDER BY f."+d.Quote(att.ID))
	if err != nil {
		return fmt.Errorf("read %s: %w", att.Table, err)
	}
	defer rows.Close()
	var r attachmentRow
	for rows.Next() {
		r = attachmentRow{}
		if err := rows.StructScan(&r); err != nil {
			return fmt.Errorf("read %s: %w", att.Table, err)
		}
		if err := f(&r); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read %s: %w", att.Table, err)
	}
	return nil
}

// checksumSource is where the checksum of attachment f (a row of att) is
// read: the expression and the join it needs.
func checksumSource(ctx context.Context, db *sqlx.DB, att Attachments) (sum, join string, err error) {
	st, err := ownstate.Locate(ctx, db)
	if err != nil {
		return "", "", err
	}
	if st.Has(ownstate.Checksums) {
		return "c.checksum", " LEFT JOIN " + st.Name(ownstate.Checksums) + " c ON c.attachment_id = f." + dbx.DialectOf(db).Quote(att.ID), nil
	}
	legacy, err := legacyChecksumColumn(ctx, db, att.Table)
	if err != nil || !legacy {
		return "NULL", "", err
	}
	return "f.checksum", "", nil
}

// legacyChecksumColumn reports whether table has the checksum column of
// the seed schema of older versions.
func legacyChecksumColumn(ctx context.Context, db *sqlx.DB, table string) (bool, error) {
	d := dbx.DialectOf(db)
	cols, err := dbx.Columns(ctx, db, d, table)
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

// FileCorruption returns the file_corruption probe over the rows of
// Options.Attachments (with no table named it measures nothing). It lists
// the file store once (the listing the other file probes share), so that
// every missing file is reported on every run, and compares each listed
// size with the row's size column. Then it streams files through SHA-256 and compares
// them with the stored checksums, in parallel and within a byte and time
// budget per run: files known to be corrupt first (whatever the budget, so
// that they stay in every report until fixed), then the least recently
// verified, so that a large store is covered over several runs. The
// verification state is kept in LogDir/resilience_metrics/ (see
// [ChecksumStateFile]).
//
// Findings: a mismatch or an unreadable file is critical and names the
// attachment and path; missing files (with or without a checksum) are a
// warning with their count, and so are files whose size differs from the
// size column; attachments without a checksum whose file exists are info
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

// scrubRow is what the scrub keeps of an attachment whose file is in the
// store.
type scrubRow struct {
	id   int64
	path string // file_path
	name string // in the store
	size int64  // file_size; -1 when NULL
	sum  string // normalised checksum; "" when none
}

type candidate struct {
	row      int32     // index into the scrubRows
	size     int64     // as listed
	verified time.Time // zero: never verified
	corrupt  bool      // the last read did not match
}

// firstOf counts samples and keeps the first [maxSamples] of them.
type firstOf[T any] struct {
	n     int
	first []T
}

func (f *firstOf[T]) add(s T) {
	f.n++
	if len(f.first) < maxSamples {
		f.first = append(f.first, s)
	}
}

// sizeSample is an attachment whose file's size differs from file_size.
type sizeSample struct {
	ID       int64  `json:"id"`
	Path     string `json:"path"`
	Expected int64  `json:"file_size"`
	Actual   int64  `json:"actual_size"`
}

// fileCorruption holds, per attachment whose file is in the store, its
// id, path, store name, size and checksum (streamed from the database, the
// rows themselves are not kept), a candidate record for each with a
// checksum, and the store's listing; of the findings it keeps counts and
// the first samples. The verification state is read and written one entry
// at a time.
func fileCorruption(ctx context.Context, env Env, o Options) (Result, error) {
	const name = ip2adb.CategoryFileCorruption
	if o.Attachments.Table == "" {
		return Result{Summary: notNamed("Attachments")}, nil
	}
	store, err := env.files()
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
	var local []scrubRow // rows in the store, in id order
	var attachments, remote, empty int
	var outside firstOf[sample]
	err = eachAttachment(ctx, env, o.Attachments, false, func(r *attachmentRow) error {
		attachments++
		n, kind := resolver.Resolve(r.Path)
		switch kind {
		case filestore.Remote:
			remote++
		case filestore.Empty:
			empty++
		case filestore.Outside:
			outside.add(sample{ID: r.ID, Path: r.Path})
		default:
			size := int64(-1)
			if r.Size.Valid && r.Size.Int64 >= 0 {
				size = r.Size.Int64
			}
			local = append(local, scrubRow{id: r.ID, path: r.Path, name: n, size: size, sum: normSum(r.Checksum)})
		}
		return nil
	})
	if err != nil {
		return Result{}, err
	}
	names := func(yield func(string) bool) {
		for i := range local {
			if !yield(local[i].name) {
				return
			}
		}
	}
	sizes, err := present(ctx, env, names, o.UploadsDir)
	if err != nil {
		return Result{}, err
	}
	cands := make([]candidate, 0, len(local))
	var unverifiable, withSum int
	var malformed, missingListed firstOf[sample]
	var sizeDiffers firstOf[sizeSample]
	for i := range local {
		r := &local[i]
		if r.sum != "" {
			withSum++
		}
		size, ok := sizes[r.name]
		if !ok {
			missingListed.add(sample{ID: r.id, Path: r.path})
			continue
		}
		if r.size >= 0 && r.size != size {
			sizeDiffers.add(sizeSample{ID: r.id, Path: r.path, Expected: r.size, Actual: size})
		}
		if r.sum == "" {
			unverifiable++
			continue
		}
		if !validSum(r.sum) {
			malformed.add(sample{ID: r.id, Path: r.path})
			continue
		}
		c := candidate{row: int32(i), size: size}
		if at, corrupt, ok := state.lookup(r.id, r.path, r.sum); ok {
			c.verified, c.corrupt = at, corrupt
		}
		cands = append(cands, c)
	}
	sizes = nil
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
		return cmp.Compare(local[a.row].id, local[b.row].id)
	})
	jobs := make([]hashJob, len(cands))
	for i, c := range cands {
		jobs[i] = hashJob{name: local[c.row].name, size: c.size, must: c.corrupt}
	}
	now := env.Now().UTC()
	var mismatched, unreadable, missingLater []sample
	var mismatchSums []string
	actual := map[int]string{} // the mismatching sums, by candidate
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
		r := &local[c.row]
		s := sample{ID: r.id, Path: r.path}
		switch {
		case h.err != nil && ctx.Err() != nil:
			// cut short by cancellation: neither verified nor failed
			return
		case h.err != nil && errors.Is(h.err, fs.ErrNotExist):
			missingLater = append(missingLater, s) // removed since the listing
		case h.err != nil:
			s.Error = h.err.Error()
			unreadable = append(unreadable, s)
		case h.sum != r.sum:
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
	jobs = nil

	// Save the state of every current candidate (dropping rows that went),
	// in the order of their ids as text, as encoding/json writes a map.
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
		if oldest.IsZero() || c.verified.Before(oldest) {
			oldest = c.verified
		}
	}
	if env.LogDir != "" {
		err := writeFileAtomicFunc(statePath(env.LogDir), func(w io.Writer) error {
			return writeState(w, local, cands, actual, state, now)
		})
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
	// The listing's missing files came in id order and are kept counted
	// with their first samples; those removed since are few.
	missing := firstOf[sample]{n: missingListed.n + len(missingLater)}
	missing.first = slices.Concat(missingListed.first, missingLater)
	slices.SortFunc(missing.first, byID)
	missing.first = missing.first[:min(len(missing.first), maxSamples)]
	slices.SortFunc(unreadable, byID)
	order := make([]int, len(mismatched))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return cmp.Compare(mismatched[a].ID, mismatched[b].ID) })

	table := o.Attachments.Table
	budget := o.MaxFindings
	expected := make(map[int64]string, len(actual))
	for i := range actual {
		r := &local[cands[i].row]
		expected[r.id] = r.sum
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
	if missing.n > 0 {
		res.Findings = append(res.Findings, finding(name, ip2adb.Warning, table,
			fmt.Sprintf("%d attachment files are missing from the file store", missing.n),
			"Restore the files from backup, or remove the attachment rows after checking with ip2adb integrity --interactive.",
			map[string]any{"count": missing.n, "sample": missing.first}))
	}
	if sizeDiffers.n > 0 {
		res.Findings = append(res.Findings, finding(name, ip2adb.Warning, table,
			fmt.Sprintf("%d attachment files differ in size from their recorded %s", sizeDiffers.n, o.Attachments.Size),
			"A shorter file is often a truncated upload or copy: restore it from backup. If the file was replaced on purpose, correct "+o.Attachments.Size+".",
			map[string]any{"count": sizeDiffers.n, "sample": sizeDiffers.first}))
	}
	if outside.n > 0 {
		res.Findings = append(res.Findings, finding(name, ip2adb.Warning, table,
			fmt.Sprintf("%d attachment paths point outside the files root and cannot be verified", outside.n),
			"Move the files under the files root and store root-relative paths (e.g. uploads/member/2024/03/ab12.pdf), or set --files-root to the store's real root.",
			map[string]any{"count": outside.n, "sample": outside.first}))
	}
	if malformed.n > 0 {
		res.Findings = append(res.Findings, finding(name, ip2adb.Warning, table,
			fmt.Sprintf("%d attachments have a malformed checksum (not 64 hex digits)", malformed.n),
			"Delete the malformed checksums from "+ownstate.Name(dbx.DialectOf(env.DB), ownstate.Checksums)+" and run ip2adb resilience --record-checksums.",
			map[string]any{"count": malformed.n, "sample": malformed.first}))
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
		"attachments":       attachments,
		"with_checksum":     withSum,
		"verified":          verified,
		"bytes_verified":    bytesVerified,
		"bytes_per_second":  int64(rate),
		"mismatched":        len(mismatched),
		"unreadable":        len(unreadable),
		"missing":           missing.n,
		"size_mismatch":     sizeDiffers.n,
		"unverifiable":      unverifiable,
		"malformed":         malformed.n,
		"remote_skipped":    remote,
		"outside_root":      outside.n,
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
		verified, len(cands), humanBytes(bytesVerified), len(mismatched), missing.n, unverifiable, notReached)
	return res, nil
}

// writeState writes the verification state after a run as the JSON of a
// [checksumState], one entry at a time: each candidate verified before or
// now, read corrupt now (actual, by candidate), or known corrupt and not
// read this run (its entry as it was).
func writeState(w io.Writer, local []scrubRow, cands []candidate, actual map[int]string, old verifiedState, now time.Time) error {
	order := make([]int32, len(cands))
	for i := range order {
		order[i] = int32(i)
	}
	ids := make([]string, len(cands))
	for i, c := range cands {
		ids[i] = strconv.FormatInt(local[c.row].id, 10)
	}
	slices.SortFunc(order, func(a, b int32) int { return strings.Compare(ids[a], ids[b]) })
	if _, err := io.WriteString(w, `{"version":1,"attachments":{`); err != nil {
		return err
	}
	first := true
	for _, i := range order {
		c := cands[i]
		r := &local[c.row]
		var e checksumEntry
		switch {
		case actual[int(i)] != "":
			e = checksumEntry{Path: r.path, Checksum: r.sum, VerifiedAt: c.verified, Corrupt: actual[int(i)], CheckedAt: now}
		case c.corrupt: // not read this run (cancelled): still known corrupt
			e = old.corrupt[r.id]
		case c.verified.IsZero():
			continue
		default:
			e = checksumEntry{Path: r.path, Checksum: r.sum, VerifiedAt: c.verified}
		}
		b, err := json.Marshal(e)
		if err != nil {
			return err
		}
		if !first {
			if _, err := io.WriteString(w, ","); err != nil {
				return err
			}
		}
		first = false
		if _, err := io.WriteString(w, strconv.Quote(ids[i])+":"); err != nil {
			return err
		}
		if _, err := w.Write(b); err != nil {
			return err
		}
	}
	_, err := io.WriteString(w, "}}")
	return err
}

func timeOrNil(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Format(time.RFC3339)
}

// RecordOptions tune [RecordChecksums].
type RecordOptions struct {
	// Workers is the number of files hashed at once; GOMAXPROCS when
	// zero, [S3Workers] for an S3 store.
	Workers int
	// BatchSize is how many checksums one INSERT statement stores; 500
	// when zero.
	BatchSize int
	// Attachments names the table of file records; required.
	Attachments Attachments
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
	if opt.Attachments.Table == "" {
		return out, errors.New("no attachments table named (RecordOptions.Attachments)")
	}
	if err := opt.Attachments.validate(); err != nil {
		return out, err
	}
	att := opt.Attachments.withDefaults()
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
	if legacy, err := legacyChecksumColumn(ctx, env.DB, att.Table); err != nil {
		return out, err
	} else if legacy && !before.Has(ownstate.Checksums) {
		d := dbx.DialectOf(env.DB)
		_, err := env.DB.ExecContext(ctx, env.DB.Rebind(`INSERT INTO `+sums+` (attachment_id, checksum, recorded_at)
SELECT `+d.Quote(att.ID)+`, lower(trim(checksum)), ? FROM `+d.Quote(att.Table)+` WHERE length(trim(checksum)) = 64`), env.Now().UTC())
		if err != nil {
			return out, fmt.Errorf("import checksums: %w", err)
		}
	}
	rows, err := loadAttachments(ctx, env, att, true)
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
	sizes, err := present(ctx, env, slices.Values(names), Options{}.withDefaults().UploadsDir)
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
