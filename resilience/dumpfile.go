package resilience

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/ip2adb/ip2adb"
	"github.com/ip2adb/ip2adb/internal/dbx"
	"github.com/klauspost/compress/zstd"
)

// Archive formats of pg_dump (the format byte of its header) and the
// directory format.
const (
	FormatDirectory = "pg_dump directory" // a directory holding toc.dat; read in Go

	archCustom    = 1
	archTar       = 3
	archDirectory = 5
)

// pg_dump archive versions (major, minor, revision packed as pg_dump does).
const (
	kVers1_12 = 1<<16 | 12<<8
	kVers1_14 = 1<<16 | 14<<8
	kVers1_15 = 1<<16 | 15<<8
	kVers1_16 = 1<<16 | 16<<8
	kVersMax  = 1<<16 | 16<<8 | 255
)

// dumpEntry is one entry of an archive's table of contents, as pg_restore
// --list shows it.
type dumpEntry struct {
	ID        int
	Desc      string // "TABLE", "TABLE DATA", "INDEX" …
	Namespace string
	Tag       string // the object's name
	HasData   bool   // the archive holds data for it
	File      string // directory and tar formats: the data file's name
}

// dumpContents is what reading a dump found.
type dumpContents struct {
	Database string // the dumped database's name (archives only)
	Version  string // archive format version, "1.14"
	Entries  int    // TOC entries (archives) or object headers (plain SQL)
	// Tables are the "schema.table" names whose data the dump holds.
	Tables map[string]bool
	// Plain reports a plain SQL dump; SQLite a SQLite .dump.
	Plain, SQLite bool
}

// dumpReader reads pg_dump's archive encoding.
type dumpReader struct {
	r        *bufio.Reader
	version  int
	intSize  int
	offSize  int
	format   int
	compress int // zlib level (up to 1.14) or algorithm (1.15+: 0 none, 1 gzip, 2 lz4, 3 zstd)
}

func (d *dumpReader) byte() (int, error) {
	b, err := d.r.ReadByte()
	if err != nil {
		return 0, truncated(err)
	}
	return int(b), nil
}

func truncated(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return errors.New("truncated: the archive ends part way through")
	}
	return err
}

// readInt reads a sign byte and intSize little-endian bytes.
func (d *dumpReader) readInt() (int64, error) {
	sign, err := d.byte()
	if err != nil {
		return 0, err
	}
	var v int64
	for i := 0; i < d.intSize; i++ {
		b, err := d.byte()
		if err != nil {
			return 0, err
		}
		if i < 8 {
			v |= int64(b) << (8 * i)
		}
	}
	if sign != 0 {
		v = -v
	}
	return v, nil
}

// readStr reads a length and that many bytes; ok is false for a NULL.
func (d *dumpReader) readStr() (s string, ok bool, err error) {
	n, err := d.readInt()
	if err != nil {
		return "", false, err
	}
	if n < 0 {
		return "", false, nil
	}
	if n > 1<<30 {
		return "", false, fmt.Errorf("corrupt: a string of %d bytes", n)
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(d.r, buf); err != nil {
		return "", false, truncated(err)
	}
	return string(buf), true, nil
}

func (d *dumpReader) skipStr(n int) error {
	for range n {
		if _, _, err := d.readStr(); err != nil {
			return err
		}
	}
	return nil
}

// readHeader reads the archive header after the PGDMP magic.
func (d *dumpReader) readHeader(c *dumpContents) error {
	magic := make([]byte, 5)
	if _, err := io.ReadFull(d.r, magic); err != nil || string(magic) != "PGDMP" {
		return errors.New("not a pg_dump archive (no PGDMP magic)")
	}
	var v [3]int
	for i := range v {
		b, err := d.byte()
		if err != nil {
			return err
		}
		v[i] = b
	}
	d.version = v[0]<<16 | v[1]<<8 | v[2]
	c.Version = fmt.Sprintf("%d.%d", v[0], v[1])
	if d.version < kVers1_12 || d.version > kVersMax {
		return fmt.Errorf("unsupported archive version %d.%d", v[0], v[1])
	}
	var err error
	if d.intSize, err = d.byte(); err != nil {
		return err
	}
	if d.offSize, err = d.byte(); err != nil {
		return err
	}
	if d.intSize < 1 || d.intSize > 32 || d.offSize < 1 || d.offSize > 32 {
		return fmt.Errorf("corrupt header: integer size %d, offset size %d", d.intSize, d.offSize)
	}
	if d.format, err = d.byte(); err != nil {
		return err
	}
	if d.version >= kVers1_15 {
		if d.compress, err = d.byte(); err != nil {
			return err
		}
	} else {
		n, err := d.readInt()
		if err != nil {
			return err
		}
		d.compress = int(n)
	}
	for range 7 { // creation time: sec, min, hour, mday, mon, year, isdst
		if _, err := d.readInt(); err != nil {
			return err
		}
	}
	if c.Database, _, err = d.readStr(); err != nil {
		return err
	}
	return d.skipStr(2) // server and pg_dump versions
}

// readTOC reads the table of contents.
func (d *dumpReader) readTOC(c *dumpContents) ([]dumpEntry, error) {
	n, err := d.readInt()
	if err != nil {
		return nil, err
	}
	if n < 0 || n > 10_000_000 {
		return nil, fmt.Errorf("corrupt: %d TOC entries", n)
	}
	entries := make([]dumpEntry, 0, n)
	for i := int64(0); i < n; i++ {
		var e dumpEntry
		id, err := d.readInt()
		if err != nil {
			return nil, err
		}
		if id <= 0 {
			return nil, fmt.Errorf("corrupt: TOC entry ID %d out of range", id)
		}
		e.ID = int(id)
		hadDumper, err := d.readInt()
		if err != nil {
			return nil, err
		}
		if err := d.skipStr(2); err != nil { // table oid, oid
			return nil, err
		}
		if e.Tag, _, err = d.readStr(); err != nil {
			return nil, err
		}
		if e.Desc, _, err = d.readStr(); err != nil {
			return nil, err
		}
		if _, err := d.readInt(); err != nil { // section
			return nil, err
		}
		if err := d.skipStr(3); err != nil { // definition, drop, copy statements
			return nil, err
		}
		if e.Namespace, _, err = d.readStr(); err != nil {
			return nil, err
		}
		if err := d.skipStr(1); err != nil { // tablespace
			return nil, err
		}
		if d.version >= kVers1_14 {
			if err := d.skipStr(1); err != nil { // table access method
				return nil, err
			}
		}
		if d.version >= kVers1_16 {
			if _, err := d.readInt(); err != nil { // relkind
				return nil, err
			}
		}
		if err := d.skipStr(2); err != nil { // owner, "with oids"
			return nil, err
		}
		for { // dependencies, ended by a NULL
			_, ok, err := d.readStr()
			if err != nil {
				return nil, err
			}
			if !ok {
				break
			}
		}
		switch d.format {
		case archCustom:
			flag, err := d.byte()
			if err != nil {
				return nil, err
			}
			for range d.offSize {
				if _, err := d.byte(); err != nil {
					return nil, err
				}
			}
			e.HasData = flag != 3 // K_OFFSET_NO_DATA
		default: // tar and directory: the data file's name
			if e.File, _, err = d.readStr(); err != nil {
				return nil, err
			}
			e.HasData = e.File != ""
		}
		e.HasData = e.HasData && hadDumper != 0
		if e.Desc == "TABLE DATA" {
			c.Tables[e.Namespace+"."+e.Tag] = true
		}
		entries = append(entries, e)
	}
	c.Entries = len(entries)
	return entries, nil
}

// chunks reads the length-prefixed chunks of one data block as one stream.
type chunks struct {
	d    *dumpReader
	left int64
	done bool
	err  error
}

func (c *chunks) Read(p []byte) (int, error) {
	for c.left == 0 {
		if c.done {
			return 0, io.EOF
		}
		n, err := c.d.readInt()
		if err != nil {
			c.err = err
			return 0, err
		}
		if n == 0 {
			c.done = true
			return 0, io.EOF
		}
		if n < 0 {
			c.err = fmt.Errorf("corrupt: data chunk of %d bytes", n)
			return 0, c.err
		}
		c.left = n
	}
	p = p[:min(int64(len(p)), c.left)]
	n, err := c.d.r.Read(p)
	c.left -= int64(n)
	if err != nil && !(errors.Is(err, io.EOF) && n > 0) {
		c.err = truncated(err)
		return n, c.err
	}
	return n, nil
}

// drain reads the block to its end, decompressing it when the archive's
// data is zlib-compressed, so that a damaged block is noticed.
func (c *chunks) drain(zlibbed bool) error {
	var err error
	if zlibbed {
		var zr io.ReadCloser
		if zr, err = zlib.NewReader(c); err == nil {
			_, err = io.Copy(io.Discard, zr)
		}
		if c.err == nil && err == nil {
			_, err = io.Copy(io.Discard, c) // the rest of the chunks
		}
	} else {
		_, err = io.Copy(io.Discard, c)
	}
	if c.err != nil {
		return c.err
	}
	return err
}

// readCustom reads a custom-format archive to its end: header, TOC and
// every data block, decompressing zlib data, and checks that every entry
// with data has its block.
func readCustom(r io.Reader) (dumpContents, error) {
	c := dumpContents{Tables: map[string]bool{}}
	d := &dumpReader{r: bufio.NewReaderSize(r, 64<<10)}
	if err := d.readHeader(&c); err != nil {
		return c, err
	}
	if d.format != archCustom {
		return c, fmt.Errorf("corrupt: format %d in a custom-format file", d.format)
	}
	entries, err := d.readTOC(&c)
	if err != nil {
		return c, err
	}
	want := map[int]dumpEntry{}
	for _, e := range entries {
		if e.HasData {
			want[e.ID] = e
		}
	}
	zlibbed := d.version < kVers1_15 && d.compress != 0 || d.version >= kVers1_15 && d.compress == 1
	for {
		typ, err := d.r.ReadByte()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return c, err
		}
		id, err := d.readInt()
		if err != nil {
			return c, err
		}
		e := want[int(id)]
		delete(want, int(id))
		what := fmt.Sprintf("entry %d (%s %s)", id, e.Desc, e.Tag)
		switch typ {
		case 1: // BLK_DATA
			if err := (&chunks{d: d}).drain(zlibbed); err != nil {
				return c, fmt.Errorf("data of %s: %w", what, err)
			}
		case 3: // BLK_BLOBS: (oid, chunks)… ended by oid 0
			for {
				oid, err := d.readInt()
				if err != nil {
					return c, fmt.Errorf("large objects of %s: %w", what, err)
				}
				if oid == 0 {
					break
				}
				if err := (&chunks{d: d}).drain(zlibbed); err != nil {
					return c, fmt.Errorf("large object %d: %w", oid, err)
				}
			}
		default:
			return c, fmt.Errorf("corrupt: unknown data block type %d after %s", typ, what)
		}
	}
	if len(want) > 0 {
		var names []string
		for _, e := range want {
			names = append(names, e.Tag)
		}
		return c, fmt.Errorf("truncated: the data of %d entries is missing (%s …)", len(want), names[0])
	}
	return c, nil
}

// readTOCFile reads a toc.dat of the tar or directory format.
func readTOCFile(r io.Reader) (dumpContents, []dumpEntry, error) {
	c := dumpContents{Tables: map[string]bool{}}
	d := &dumpReader{r: bufio.NewReader(r)}
	if err := d.readHeader(&c); err != nil {
		return c, nil, err
	}
	if d.format != archTar && d.format != archDirectory {
		return c, nil, fmt.Errorf("corrupt: format %d in toc.dat", d.format)
	}
	entries, err := d.readTOC(&c)
	return c, entries, err
}

// readTar reads a tar-format archive to its end: toc.dat first, then every
// data file it names.
func readTar(r io.Reader) (dumpContents, error) {
	tr := tar.NewReader(r)
	h, err := tr.Next()
	if err != nil {
		return dumpContents{}, truncated(err)
	}
	if h.Name != "toc.dat" {
		return dumpContents{}, fmt.Errorf("not a pg_dump tar archive: it starts with %s, not toc.dat", h.Name)
	}
	c, entries, err := readTOCFile(tr)
	if err != nil {
		return c, err
	}
	want := map[string]bool{}
	for _, e := range entries {
		if e.HasData {
			want[e.File] = true
		}
	}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return c, truncated(err)
		}
		if _, err := io.Copy(io.Discard, tr); err != nil {
			return c, fmt.Errorf("%s: %w", h.Name, truncated(err))
		}
		delete(want, h.Name)
	}
	if len(want) > 0 {
		return c, fmt.Errorf("truncated: %d data files named in toc.dat are missing", len(want))
	}
	return c, nil
}

// readDirectory reads a directory-format dump: toc.dat and every data file
// it names, decompressing .gz and .zst files.
func readDirectory(dir string) (dumpContents, error) {
	f, err := os.Open(filepath.Join(dir, "toc.dat"))
	if err != nil {
		return dumpContents{}, err
	}
	defer f.Close()
	c, entries, err := readTOCFile(f)
	if err != nil {
		return c, fmt.Errorf("toc.dat: %w", err)
	}
	for _, e := range entries {
		if !e.HasData {
			continue
		}
		if err := readDataFile(dir, e.File); err != nil {
			return c, fmt.Errorf("data of %s %s: %w", e.Desc, e.Tag, err)
		}
	}
	return c, nil
}

// readDataFile reads one data file of a directory dump, whichever
// compression suffix pg_dump gave it.
func readDataFile(dir, name string) error {
	for _, ext := range []string{"", ".gz", ".zst", ".lz4"} {
		f, err := os.Open(filepath.Join(dir, name+ext))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		defer f.Close()
		var r io.Reader = f
		switch ext {
		case ".gz":
			zr, err := gzip.NewReader(f)
			if err != nil {
				return fmt.Errorf("%s: %w", name+ext, truncated(err))
			}
			r = zr
		case ".zst":
			zr, err := zstd.NewReader(f)
			if err != nil {
				return err
			}
			defer zr.Close()
			r = zr
		}
		if _, err := io.Copy(io.Discard, r); err != nil {
			return fmt.Errorf("%s: %w", name+ext, truncated(err))
		}
		return nil
	}
	return fmt.Errorf("missing: %s", name)
}

// scanPlain reads a plain SQL dump to its end: it must close with pg_dump's
// completion line (or, for a SQLite .dump, COMMIT), with nothing but blank
// lines after it, and every COPY block must be ended by "\.". The tables
// whose data it holds are read from pg_dump's "Type: TABLE DATA" headers.
func scanPlain(r io.Reader) (dumpContents, error) {
	c := dumpContents{Tables: map[string]bool{}, Plain: true}
	br := bufio.NewReaderSize(r, 256<<10)
	inCopy, complete, pgHeader := false, false, false
	copyLine := ""
	lastLine := ""
	afterComplete := ""
	lineNo := 0
	for {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			// A very long data line: read past it.
			for errors.Is(err, bufio.ErrBufferFull) {
				_, err = br.ReadSlice('\n')
			}
			line = []byte("x")
		}
		if len(line) > 0 {
			lineNo++
			t := strings.TrimRight(string(line), "\r\n")
			switch {
			case inCopy:
				if t == `\.` {
					inCopy = false
				}
			case complete:
				// pg_dump ends with its closing comment block and, since
				// 15.14, a \unrestrict line; anything else is foreign.
				tt := strings.TrimSpace(t)
				if tt != "" && !strings.HasPrefix(tt, "--") && !strings.HasPrefix(tt, `\unrestrict `) && afterComplete == "" {
					afterComplete = fmt.Sprintf("line %d", lineNo)
				}
			case t == pgDumpComplete:
				complete = true
			case strings.HasPrefix(t, "-- PostgreSQL database dump"):
				pgHeader = true
			case strings.HasPrefix(t, "COPY ") && strings.HasSuffix(t, "FROM stdin;"):
				inCopy, copyLine = true, t
			case strings.HasPrefix(t, "-- Data for Name: "):
				if name, schema, ok := plainHeader(t); ok {
					c.Tables[schema+"."+name] = true
				}
				c.Entries++
			case strings.HasPrefix(t, "-- Name: "):
				c.Entries++
			}
			if strings.TrimSpace(t) != "" {
				lastLine = strings.TrimSpace(t)
			}
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return c, truncated(err)
		}
	}
	switch {
	case lineNo == 0:
		return c, errors.New("the file is empty")
	case inCopy:
		return c, fmt.Errorf("truncated inside the data of %q: no closing \\. line", copyLine)
	case complete && afterComplete != "":
		return c, fmt.Errorf("damaged: text follows pg_dump's completion line (from %s): two dumps written into one file, or an appended fragment", afterComplete)
	case complete:
		return c, nil
	case !pgHeader && lastLine == "COMMIT;":
		c.Plain, c.SQLite = false, true
		return c, nil
	}
	return c, errors.New("incomplete: the file does not end with pg_dump's \"" + pgDumpComplete + "\" line (truncated or interrupted dump)")
}

// plainHeader parses "-- Data for Name: members; Type: TABLE DATA; Schema: public; Owner: x".
func plainHeader(line string) (name, schema string, ok bool) {
	fields := map[string]string{}
	for _, part := range strings.Split(strings.TrimPrefix(line, "-- Data for "), "; ") {
		k, v, found := strings.Cut(part, ": ")
		if found {
			fields[k] = v
		}
	}
	if fields["Type"] != "TABLE DATA" || fields["Name"] == "" {
		return "", "", false
	}
	return fields["Name"], fields["Schema"], true
}

// compression names a file's compression from its first bytes.
func compression(head []byte) string {
	switch {
	case bytes.HasPrefix(head, []byte{0x1f, 0x8b}):
		return "gzip"
	case bytes.HasPrefix(head, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		return "zstd"
	}
	return ""
}

// decompressed wraps r by the compression named; close releases it.
func decompressed(r io.Reader, comp string) (io.Reader, func(), error) {
	switch comp {
	case "gzip":
		zr, err := gzip.NewReader(r)
		if err != nil {
			return nil, nil, fmt.Errorf("gzip: %w", truncated(err))
		}
		return zr, func() { zr.Close() }, nil
	case "zstd":
		zr, err := zstd.NewReader(r)
		if err != nil {
			return nil, nil, fmt.Errorf("zstd: %w", err)
		}
		return zr, zr.Close, nil
	}
	return r, func() {}, nil
}

// dirSize is the total size of the regular files directly in dir.
func dirSize(dir string) int64 {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return 0
	}
	var n int64
	for _, e := range ents {
		if info, err := e.Info(); err == nil && info.Mode().IsRegular() {
			n += info.Size()
		}
	}
	return n
}

// dumpPlausible compares a readable newest dump with the database and the
// previous dump: on PostgreSQL, every table of the current schema must have
// its data in the dump, and the dump must not be smaller than
// BackupMinDatabaseRatio of those tables' size; anywhere, it must not be smaller
// than BackupMinPreviousRatio of the previous dump. Each failure is a
// warning.
func dumpPlausible(ctx context.Context, env Env, o Options, newest backupFile, prev *backupFile, c dumpContents, details map[string]any) ([]ip2adb.Issue, error) {
	const name = ip2adb.CategoryBackupStatus
	var out []ip2adb.Issue
	// A pg_dump names the tables of a database with schemas.
	if env.DB != nil && dbx.DialectOf(env.DB).Schemas() && !c.SQLite && c.Tables != nil {
		var live []struct {
			Schema string `db:"nspname"`
			Table  string `db:"relname"`
			DB     string `db:"db"`
		}
		if err := env.DB.SelectContext(ctx, &live, `SELECT n.nspname, c.relname, current_database() AS db FROM pg_class c
			JOIN pg_namespace n ON n.oid = c.relnamespace
			WHERE c.relkind IN ('r', 'p') AND c.relpersistence = 'p' AND n.nspname = current_schema() ORDER BY c.relname`); err != nil {
			return nil, fmt.Errorf("list tables to compare with the dump: %w", err)
		}
		var missing []string
		for _, t := range live {
			if !c.Tables[t.Schema+"."+t.Table] {
				missing = append(missing, t.Table)
			}
		}
		if len(missing) > 0 {
			d := clone(details)
			d["missing_tables"] = missing
			d["tables_in_dump"] = len(c.Tables)
			desc := fmt.Sprintf("The newest backup %s lacks the data of %d of the database's %d tables (%s)", newest.name, len(missing), len(live), strings.Join(first(missing, 10), ", "))
			if c.Database != "" && len(live) > 0 && c.Database != live[0].DB {
				d["dumped_database"] = c.Database
				desc += fmt.Sprintf(": it is a dump of database %s, not %s", c.Database, live[0].DB)
			}
			is := finding(name, ip2adb.Warning, "", desc,
				"Check the backup job's database name and its --table/--schema/--exclude options, then take a full backup: pg_dump -Fc of the whole database.", d)
			is.Key = map[string]any{"backup": "contents"}
			out = append(out, is)
		}
		var tableBytes int64
		if err := env.DB.GetContext(ctx, &tableBytes, `SELECT coalesce(sum(pg_table_size(c.oid)), 0)::bigint FROM pg_class c
			JOIN pg_namespace n ON n.oid = c.relnamespace
			WHERE c.relkind IN ('r', 'p') AND c.relpersistence = 'p' AND n.nspname = current_schema()`); err != nil {
			return nil, fmt.Errorf("table sizes: %w", err)
		}
		if floor := int64(float64(tableBytes) * o.BackupMinDatabaseRatio); newest.size < floor {
			d := clone(details)
			d["tables_bytes"] = tableBytes
			d["min_bytes"] = floor
			is := finding(name, ip2adb.Warning, "",
				fmt.Sprintf("The newest backup %s is implausibly small: %s for %s of table data (under %s)", newest.name, humanBytes(newest.size), humanBytes(tableBytes), humanBytes(floor)),
				"Open the dump (pg_restore --list, or read the plain SQL) and check that it is a full backup of this database; take a new one.", d)
			is.Key = map[string]any{"backup": "size_vs_database"}
			out = append(out, is)
		}
	}
	if prev != nil {
		if floor := int64(float64(prev.size) * o.BackupMinPreviousRatio); newest.size < floor {
			d := clone(details)
			d["previous_file"] = prev.path
			d["previous_bytes"] = prev.size
			is := finding(name, ip2adb.Warning, "",
				fmt.Sprintf("The newest backup %s (%s) is much smaller than the previous one %s (%s)", newest.name, humanBytes(newest.size), prev.name, humanBytes(prev.size)),
				"Unless many rows were deleted on purpose, the newest dump is incomplete (a failed table, a changed backup command): compare both with pg_restore --list and take a new backup.", d)
			is.Key = map[string]any{"backup": "size_vs_previous"}
			out = append(out, is)
		}
	}
	return out, nil
}

// first returns at most n elements of s.
func first(s []string, n int) []string {
	if len(s) > n {
		return append(s[:n:n], "…")
	}
	return s
}
