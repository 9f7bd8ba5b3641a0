package seed

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/ip2adb/ip2adb/dbtest"
	"github.com/ip2adb/ip2adb/internal/dbx"
	"github.com/ip2adb/ip2adb/internal/ownstate"
	"github.com/ip2adb/ip2adb/internal/testdb"
	"github.com/jmoiron/sqlx"
)

// postgresWithURL returns a fresh PostgreSQL database prepared with opts
// and the connection URL the seed's own connections take.
func postgresWithURL(t testing.TB, opts ...testdb.Option) (*sqlx.DB, string) {
	t.Helper()
	raw := testdb.PostgresURL(t, opts...)
	return dbtest.Open(t, raw), dbx.PostgresDSN(raw)
}

// serverDigest returns per seed table the row count and the md5 of every
// row as the server prints it (created_at and updated_at, the defaults
// of the load time, left out), in id order.
func serverDigest(t *testing.T, db *sqlx.DB) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, table := range loadOrder {
		var n int64
		var sum string
		err := db.QueryRowx(fmt.Sprintf(`SELECT count(*), coalesce(md5(string_agg((to_jsonb(t) - 'created_at' - 'updated_at')::text, '|' ORDER BY id)), '')
			FROM %s t`, table)).Scan(&n, &sum)
		if err != nil {
			t.Fatal(err)
		}
		out[table] = fmt.Sprintf("%d %s", n, sum)
	}
	return out
}

// TestBinaryCopyMatchesText: every value the binary encoder writes is
// stored as the same value as its COPY text form — rows of every column
// type it knows, edge cases included, loaded once as text and once as
// binary, compared as the server prints them.
func TestBinaryCopyMatchesText(t *testing.T) {
	db, url := postgresWithURL(t)
	cols := []string{"b", "i2", "i4", "i8", "t", "v", "d", "ts", "n", "n2"}
	types := "b boolean, i2 smallint, i4 integer, i8 bigint, t text, v varchar(20), d date, ts timestamp, n numeric, n2 numeric(10,2)"
	rows := [][]any{
		{true, int64(-32768), int64(-2147483648), int64(-9223372036854775808), "", "", "0001-01-01", "0001-01-01 00:00:00", "0", "0"},
		{false, int64(32767), int64(2147483647), int64(9223372036854775807), "tab\there\nnew\\line", "ünï", "9999-12-31", "9999-12-31 23:59:59", "-0.00", "-12.5"},
		{nil, nil, nil, nil, nil, nil, nil, nil, nil, nil},
		{true, 7, int64(1), "42", int64(12345), "x", "2000-01-01", "2000-01-01 00:00:00", "75.60", "75.60"},
		{false, int64(0), int64(0), int64(0), "a", "b", "1999-12-31", "1970-01-01 00:00:01", "10000", int64(0)},
		{true, int64(1), int64(1), int64(1), "a", "b", "2024-02-29", "2026-11-28 02:00:00", "0.0001", "999.99"},
		{true, int64(1), int64(1), int64(1), "a", "b", "1900-03-01", "1969-12-31 23:59:59", "123456789.000100020003", "-0.01"},
		{true, int64(1), int64(1), int64(1), "a", "b", "2100-02-28", "2100-03-01 12:30:45", "-99990000.5", "12345678.90"},
		{true, int64(1), int64(1), int64(1), "a", "b", "1582-10-15", "1600-02-29 00:00:00", "00012.3400", "1.5"},
		// The typed values of the generators.
		{true, int64(1), int64(1), int64(1), "a", "b", day(0), "2000-01-01 00:00:00", cents(123456789012), cents(7560)},
		{true, int64(1), int64(1), int64(1), "a", "b", day(-1), "2000-01-01 00:00:00", cents(-100000000), cents(-1)},
		{true, int64(1), int64(1), int64(1), "a", "b", day(20787), "2000-01-01 00:00:00", cents(10000), cents(0)},
		{true, int64(1), int64(1), int64(1), "a", "b", day(-719162), "2000-01-01 00:00:00", cents(-99999), cents(99999)},
		{true, int64(1), int64(1), int64(1), "a", "b", day(2932896), "2000-01-01 00:00:00", cents(1), cents(1000000)},
	}
	testdb.MustExec(t, db, "CREATE TABLE as_text ("+types+")")
	testdb.MustExec(t, db, "CREATE TABLE as_binary ("+types+")")
	c, err := dialWire(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.close)
	ctx := context.Background()
	oids, err := c.columnTypes(ctx, "as_binary", cols)
	if err != nil {
		t.Fatal(err)
	}
	enc := newBinaryEncoder(oids)
	if enc == nil {
		t.Fatalf("no binary encoder for the types %v", oids)
	}
	p := &plan{binary: map[string]*binaryEncoder{"as_binary": enc}}
	for _, table := range []string{"as_text", "as_binary"} {
		snk := &wireSink{conn: c, binary: func(t string) *binaryEncoder { return p.binary[t] }}
		ch := chunk{rows: rows, n: len(rows)}
		p.finish(table, &ch, true)
		if ch.err != nil {
			t.Fatalf("%s: %v", table, ch.err)
		}
		if err := snk.begin(ctx, table, cols); err != nil {
			t.Fatal(err)
		}
		if err := snk.write(ctx, ch); err != nil {
			t.Fatal(err)
		}
		if err := snk.end(ctx); err != nil {
			t.Fatalf("%s: %v", table, err)
		}
	}
	read := func(table string) []string {
		var out []string
		if err := db.Select(&out, "SELECT to_jsonb(r)::text FROM "+table+" r"); err != nil {
			t.Fatal(err)
		}
		return out
	}
	text := read("as_text")
	if len(text) != len(rows) {
		t.Fatalf("%d rows in text; want %d", len(text), len(rows))
	}
	if diff := cmp.Diff(text, read("as_binary")); diff != "" {
		t.Errorf("binary COPY stored other values than text COPY (-text +binary):\n%s", diff)
	}
}

// TestSQLValue: what the SQLite sink binds for the typed values is their
// text, as the COPY text encoder writes it.
func TestSQLValue(t *testing.T) {
	got := []any{sqlValue(day(0)), sqlValue(day(20787)), sqlValue(cents(7560)), sqlValue(cents(-5)), sqlValue(cents(0)), sqlValue(int64(3)), sqlValue("x")}
	want := []any{"1970-01-01", "2026-11-30", "75.60", "-0.05", "0.00", int64(3), "x"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("sqlValue (-want +got):\n%s", diff)
	}
	if line := string(appendCopyRow(nil, []any{day(20787), cents(-1234)})); line != "2026-11-30\t-12.34\n" {
		t.Errorf("COPY text %q", line)
	}
}

// TestBinaryEncoderRefuses: values of the wrong kind or out of range are
// errors, never other values.
func TestBinaryEncoderRefuses(t *testing.T) {
	for _, tc := range []struct {
		oid  uint32
		v    any
		want string
	}{
		{oidInt2, int64(32768), "out of range"},
		{oidInt4, int64(-2147483649), "out of range"},
		{oidInt4, "12a", "invalid syntax"},
		{oidBool, "t", "string for a boolean"},
		{oidDate, "2024-02-30", "not a date"},
		{oidDate, "2024-2-3", "not a date"},
		{oidDate, "2024-01-01 00:00:00", "not a date"},
		{oidTimestamp, "2024-01-01", "not a timestamp"},
		{oidTimestamp, "2024-01-01 24:00:00", "not a timestamp"},
		{oidNumeric, "1e5", "not a decimal"},
		{oidNumeric, ".", "not a decimal"},
		{oidNumeric, 1.5, "float64 for a numeric"},
		{oidText, true, "bool for text"},
	} {
		t.Run(fmt.Sprintf("%d %v", tc.oid, tc.v), func(t *testing.T) {
			_, err := newBinaryEncoder([]uint32{tc.oid}).appendRow(nil, []any{tc.v})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v; want one saying %q", err, tc.want)
			}
		})
	}
	if e := newBinaryEncoder([]uint32{oidInt4, 3802 /* jsonb */}); e != nil {
		t.Errorf("an encoder for a jsonb column; want none (text format)")
	}
}

// TestBinarySeedSameRows: a seed through its own connections (binary COPY)
// stores exactly the rows of a seed through the driver (text COPY), faults
// and files included, and the checksums of the files.
func TestBinarySeedSameRows(t *testing.T) {
	opt := Options{Profile: Quick, Members: 60, Faults: 2, Seed: 7, FileScale: 0.002}
	textDB := testdb.Postgres(t, testdb.WithSchema())
	binDB, url := postgresWithURL(t, testdb.WithSchema())
	textOpt, binOpt := opt, opt
	textOpt.FilesDir, binOpt.FilesDir = t.TempDir(), t.TempDir()
	binOpt.PostgresURL = url
	textSt := mustSeed(t, textDB, textOpt)
	binSt := mustSeed(t, binDB, binOpt)
	if diff := cmp.Diff(serverDigest(t, textDB), serverDigest(t, binDB)); diff != "" {
		t.Errorf("binary and text loads differ (-text +binary):\n%s", diff)
	}
	if diff := cmp.Diff(textSt.Manifest, binSt.Manifest); diff != "" {
		t.Errorf("manifests differ (-text +binary):\n%s", diff)
	}
	if binSt.Files == 0 || binSt.Files != textSt.Files {
		t.Errorf("files: %d binary, %d text; want the same, more than none", binSt.Files, textSt.Files)
	}
	sums := func(db *sqlx.DB) string {
		own, err := ownstate.Locate(context.Background(), db)
		if err != nil {
			t.Fatal(err)
		}
		var s string
		if err := db.Get(&s, "SELECT count(*) || ' ' || md5(string_agg(attachment_id || ' ' || checksum || ' ' || recorded_at, ',' ORDER BY attachment_id)) FROM "+own.Name(ownstate.Checksums)); err != nil {
			t.Fatal(err)
		}
		return s
	}
	if diff := cmp.Diff(sums(textDB), sums(binDB)); diff != "" {
		t.Errorf("recorded checksums differ (-text +binary):\n%s", diff)
	}
}

// TestSeedFallsBackWhenOwnConnectionsFail: when the seed cannot open
// connections of its own to PostgresURL (a parameter only the driver
// knows, a server pgconn cannot reach), it loads through db's driver and
// gives the same rows as a seed without the URL.
func TestSeedFallsBackWhenOwnConnectionsFail(t *testing.T) {
	opt := Options{Profile: Quick, Members: 30, Faults: 1, Seed: 3}
	textDB := testdb.Postgres(t, testdb.WithSchema())
	mustSeed(t, textDB, opt)
	for _, tc := range []struct{ name, url string }{
		{"unreachable", "postgres://postgres@127.0.0.1:1/none?sslmode=disable&connect_timeout=2"},
		{"driver-only parameter", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db, url := postgresWithURL(t, testdb.WithSchema())
			o := opt
			o.PostgresURL = tc.url
			if o.PostgresURL == "" {
				o.PostgresURL = withParam(t, url, "binary_parameters", "yes")
			}
			mustSeed(t, db, o)
			if diff := cmp.Diff(serverDigest(t, textDB), serverDigest(t, db)); diff != "" {
				t.Errorf("the fallback load differs from the driver's (-driver +fallback):\n%s", diff)
			}
		})
	}
}

// withParam returns the URL rawURL with query parameter key set to value.
func withParam(t *testing.T, rawURL, key, value string) string {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set(key, value)
	u.RawQuery = q.Encode()
	return u.String()
}

// TestBinarySeedSendsTransactionTime: the columns the seed does not fill
// whose default is the transaction's time (created_at, updated_at, and a
// timestamptz one added here) get the time of their load transaction as
// the server's default would give it — in the session's time zone for
// timestamp — the same in every row of a table; a default of another
// kind is still the server's.
func TestBinarySeedSendsTransactionTime(t *testing.T) {
	db, raw := postgresWithURL(t, testdb.WithSchema())
	testdb.MustExec(t, db, `ALTER TABLE members ADD COLUMN seen_at timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP,
		ADD COLUMN stamped_at timestamp DEFAULT clock_timestamp()`)
	const zone = "America/New_York"
	before := time.Now()
	mustSeed(t, db, Options{Profile: Quick, Members: 40, Faults: 1, PostgresURL: withParam(t, raw, "timezone", zone)})
	after := time.Now()
	for _, table := range loadOrder {
		if table == "organization_contacts" { // created a minute apart on purpose
			continue
		}
		var distinct, same int64
		var at float64
		err := db.QueryRowx(fmt.Sprintf(`SELECT count(DISTINCT created_at), count(*) FILTER (WHERE created_at = updated_at),
			EXTRACT(EPOCH FROM min(created_at) AT TIME ZONE '%s') FROM %s`, zone, table)).Scan(&distinct, &same, &at)
		if err != nil {
			t.Fatal(err)
		}
		if want := queryInt(t, db, "SELECT count(*) FROM "+table); distinct != 1 || same != want {
			t.Errorf("%s: %d distinct created_at, %d of %d rows with updated_at = created_at; want 1 and all", table, distinct, same, want)
		}
		if got := time.UnixMicro(int64(at * 1e6)); got.Before(before.Add(-time.Second)) || got.After(after.Add(time.Second)) {
			t.Errorf("%s: created_at is %v in %s; want the seed's time, between %v and %v", table, got, zone, before, after)
		}
	}
	if n := queryInt(t, db, fmt.Sprintf(`SELECT count(*) FROM members WHERE seen_at <> created_at AT TIME ZONE '%s'
		OR stamped_at IS NULL OR stamped_at = created_at`, zone)); n != 0 {
		t.Errorf("%d members whose seen_at is not their created_at, or whose stamped_at is not the server's clock_timestamp()", n)
	}
	// Those columns are sent, not left to the server.
	ctx := context.Background()
	c, err := dialWire(ctx, raw)
	if err != nil {
		t.Fatal(err)
	}
	defer c.close()
	live, err := prepareSchema(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	p, err := newPlan(Options{Profile: Quick}.withDefaults(), offsets{}, live, newCaps(live, false, ""))
	if err != nil {
		t.Fatal(err)
	}
	enc, err := binaryEncoders(ctx, []*pgLane{{c: c, tables: []string{"members", "organization_contacts"}}}, p)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"created_at", "updated_at", "seen_at"}, enc["members"].extra); diff != "" {
		t.Errorf("members: columns sent with the transaction's time (-want +got):\n%s", diff)
	}
	if got := enc["organization_contacts"].extra; len(got) != 0 {
		t.Errorf("organization_contacts: %v sent with the transaction's time; want none (the seed fills them)", got)
	}
}

// TestParseOID: OIDs are unsigned 32-bit decimals; anything else is an
// error, never a truncated or wrapped value.
func TestParseOID(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want uint32
		err  bool
	}{
		{in: "23", want: 23},
		{in: "1114", want: 1114},
		{in: "4294967295", want: 4294967295},
		{in: "4294967296", err: true},
		{in: "-1", err: true},
		{in: "23 ", err: true},
		{in: "", err: true},
		{in: "0x17", err: true},
	} {
		got, err := parseOID(tc.in)
		if (err != nil) != tc.err {
			t.Errorf("parseOID(%q) error %v, want error %v", tc.in, err, tc.err)
			continue
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("parseOID(%q) (-want +got):\n%s", tc.in, diff)
		}
	}
}
