package cli

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"

	"github.com/dustin/go-humanize"
	"github.com/ip2adb/ip2adb/filestore"
	"github.com/ip2adb/ip2adb/internal/dbx"
	"github.com/ip2adb/ip2adb/seed"
	"github.com/jmoiron/sqlx"
	"github.com/urfave/cli/v2"
)

func (a *app) seedCommand() *cli.Command {
	return &cli.Command{
		Name:  "seed",
		Usage: "fill the database with reproducible IP2A sample data (optionally with planted faults and files)",
		UsageText: `ip2adb seed [--profile quick|normal|stress] [--stress] [--quick]
            [--members N] [--students N] [--instructors N] [--locations N] [--organizations N]
            [--faults N] [--faults-manifest FILE] [--files-dir DIR] [--file-scale F]
            [--seed 42] [--no-truncate] [--force]

Creates the IP2A schema when missing, empties the IP2A tables (unless
--no-truncate), then generates and loads the profile's data in one
transaction: quick (100 members), normal (1,000 members, the default) or
stress (the original's stress volumes: 10,000 members, about 440,000
employments and 120,000 attachments). Count flags override the profile. The
same --seed gives the same rows on PostgreSQL and SQLite.

--faults N plants N faults of each of the 22 integrity check kinds;
--faults-manifest FILE writes what was planted (check name → row ids or
group keys) as JSON. --files-dir DIR writes every attachment's bytes under
DIR/<file_path> (declared size × --file-scale, at least 1 KB) and stores
their SHA-256; point --files-root at DIR to check them. DIR may be an S3
bucket, s3://BUCKET[/PREFIX], which receives the files as objects
(credentials and endpoint from the AWS_* variables, as for --files-root).
A SQLite database
file is created when missing. In production seed refuses without --force.

On an existing database (such as the real IP2A database) seed fills the
tables as the live schema has them: enum labels, every NOT NULL column,
consistent foreign keys. Faults its constraints forbid are not planted; the
manifest lists them under not_plantable with the reason. seed never erases
rows that ip2adb did not write (including the rows of tables whose foreign
keys point at the IP2A tables): it asks on a terminal (type DELETE ALL
DATA), and otherwise exits 2 unless --force.

Examples:
   ip2adb seed --quick
   ip2adb --db postgres://ip2a@localhost/ip2a seed --stress --force
   ip2adb seed --profile quick --faults 3 --faults-manifest faults.json --files-dir ./store
   ip2adb seed --members 5000 --organizations 300 --seed 7 --format json`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "profile", Usage: "volumes: quick, normal or stress (default normal)"},
			&cli.BoolFlag{Name: "stress", Usage: "same as --profile stress"},
			&cli.BoolFlag{Name: "quick", Usage: "same as --profile quick"},
			&cli.IntFlag{Name: "members", Usage: "members to generate (`N`, overrides the profile)"},
			&cli.IntFlag{Name: "students", Usage: "students to generate (`N`)"},
			&cli.IntFlag{Name: "instructors", Usage: "instructors to generate (`N`)"},
			&cli.IntFlag{Name: "locations", Usage: "locations to generate (`N`)"},
			&cli.IntFlag{Name: "organizations", Usage: "organizations to generate (`N`; 14 of 15 are employers)"},
			&cli.IntFlag{Name: "faults", Usage: "plant `N` faults of every integrity check kind"},
			&cli.StringFlag{Name: "faults-manifest", Usage: "write the planted faults as JSON to `FILE`"},
			&cli.StringFlag{Name: "files-dir", Usage: "write attachment files under `DIR` (must exist) or upload them to s3://BUCKET[/PREFIX]"},
			&cli.Float64Flag{Name: "file-scale", Value: seed.DefaultFileScale, Usage: "bytes written per declared byte (`F` in (0, 1]; at least 1 KB per file)"},
			&cli.Int64Flag{Name: "seed", Value: seed.DefaultSeed, Usage: "random seed (`N`); the same seed gives the same rows"},
			&cli.BoolFlag{Name: "no-truncate", Usage: "append instead of emptying the tables first"},
			&cli.BoolFlag{Name: "force", Usage: "allow seeding in production, and over rows ip2adb did not write"},
		},
		Action: a.seedAction,
	}
}

// seedOptions turns the flags into validated seed.Options (usage errors).
func seedOptions(c *cli.Context) (seed.Options, error) {
	profile := c.String("profile")
	for _, alias := range []string{"stress", "quick"} {
		if !c.Bool(alias) {
			continue
		}
		if profile != "" && profile != alias {
			return seed.Options{}, usagef("--%s conflicts with --profile %s", alias, profile)
		}
		profile = alias
	}
	if profile == "" {
		profile = string(seed.Normal)
	}
	p, err := seed.ParseProfile(profile)
	if err != nil {
		return seed.Options{}, usagef("--profile: %v", err)
	}
	opt := seed.Options{
		Profile:    p,
		Seed:       c.Int64("seed"),
		Faults:     c.Int("faults"),
		FilesDir:   c.String("files-dir"),
		FileScale:  c.Float64("file-scale"),
		NoTruncate: c.Bool("no-truncate"),
	}
	for _, f := range []struct {
		name string
		dst  *int
	}{{"members", &opt.Members}, {"students", &opt.Students}, {"instructors", &opt.Instructors},
		{"locations", &opt.Locations}, {"organizations", &opt.Organizations}} {
		if !c.IsSet(f.name) {
			continue
		}
		n := c.Int(f.name)
		if n < 1 || n > seed.MaxCount {
			return opt, usagef("--%s must be between 1 and %d, not %d", f.name, seed.MaxCount, n)
		}
		*f.dst = n
	}
	if c.IsSet("seed") && opt.Seed == 0 {
		return opt, usagef("--seed must not be 0")
	}
	if s := c.Float64("file-scale"); !(s > 0 && s <= 1) { // NaN fails too
		return opt, usagef("--file-scale must be in (0, 1], not %g", s)
	}
	if err := opt.Validate(); err != nil {
		return opt, usagef("%s", strings.ReplaceAll(err.Error(), "\n", "; "))
	}
	if opt.FilesDir != "" && !filestore.IsS3(opt.FilesDir) {
		if err := requireDir("files-dir", opt.FilesDir); err != nil {
			return opt, err
		}
	}
	if f := c.String("faults-manifest"); f != "" {
		if err := requireDir("faults-manifest", filepath.Dir(f)); err != nil {
			return opt, usagef("--faults-manifest %s: directory %s does not exist", f, filepath.Dir(f))
		}
	}
	return opt, nil
}

// seedGC lets the garbage collector run less often during a seed, unless
// the process's GOGC or GOMEMLIMIT (read by the runtime, so from the real
// environment) say otherwise, and returns what restores the
// settings. The seed's live heap is small (chunks in flight), but it
// allocates hundreds of MB of short-lived rows: with the default GOGC of
// 100 the collector ran about every 4 MB and took a fifth of the seed's
// CPU. GOGC 400 with a 150 MiB soft limit keeps the peak well under the
// 200 MB the seed may take.
func seedGC() func() {
	if os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" {
		return func() {}
	}
	gc := debug.SetGCPercent(400)
	limit := debug.SetMemoryLimit(150 << 20)
	return func() {
		debug.SetGCPercent(gc)
		debug.SetMemoryLimit(limit)
	}
}

func (a *app) seedAction(c *cli.Context) error {
	g, err := a.globals(c)
	if err != nil {
		return err
	}
	opt, err := seedOptions(c)
	if err != nil {
		return err
	}
	if err := a.guard(g, c.Bool("force"), "seed the database"); err != nil {
		return err
	}
	if filestore.IsS3(opt.FilesDir) {
		// The bucket is checked (credentials, existence, reachability)
		// before the database is touched.
		h, err := filestore.Open(c.Context, opt.FilesDir, a.env.Getenv)
		if err != nil {
			return usagef("--files-dir: %v", err)
		}
		defer h.Close()
		opt.Files = h
	}
	a.header(c, g)
	db, err := a.open(c.Context, g, true)
	if err != nil {
		return err
	}
	defer db.Close()
	if !opt.NoTruncate {
		if opt.Force, err = a.confirmErase(c, g, db, c.Bool("force"), "seed"); err != nil {
			return err
		}
	}
	bar := a.newProgress()
	opt.Progress = bar.Update
	opt.Log = a.logger(g)
	opt.Now = a.env.Now
	defer seedGC()()
	// The seed's own connections load in binary COPY format.
	opt.PostgresURL = dbx.PostgresDSN(g.DB)
	st, err := seed.Run(c.Context, db, opt)
	bar.Finish()
	if err != nil {
		return err
	}
	manifestPath := c.String("faults-manifest")
	if manifestPath != "" {
		if err := st.WriteManifest(manifestPath); err != nil {
			return err
		}
	}
	if g.JSON() {
		return a.writeJSON(st.Report(opt.FilesDir, manifestPath))
	}
	return st.WriteText(a.env.Stdout, opt.FilesDir, manifestPath)
}

// groupDigits renders n with comma separators.
func groupDigits(n int64) string { return humanize.Comma(n) }

// confirmErase returns whether seeding db may erase rows that ip2adb did
// not write (seed.Options.Force): with force, or when there are none, or
// after the typed confirmation on a terminal. Without a terminal such rows
// are a usage error (exit 2, nothing changed); a wrong confirmation exits 1.
func (a *app) confirmErase(c *cli.Context, g Globals, db *sqlx.DB, force bool, what string) (bool, error) {
	if force {
		return true, nil
	}
	foreign, err := seed.Foreign(c.Context, db)
	if err != nil {
		return false, err
	}
	if len(foreign) == 0 {
		return false, nil
	}
	ne := &seed.NotEmptyError{Tables: foreign}
	if !a.env.StdinTTY {
		return false, usagef("refusing to %s: %v; pass --force to replace them", what, ne)
	}
	fmt.Fprintf(a.env.Stderr, "%s %s: %v.\nType %s to confirm: ", what, dbx.Redact(g.DB), ne, resetConfirmation)
	line, _ := bufio.NewReader(a.env.Stdin).ReadString('\n')
	if strings.TrimSpace(line) != resetConfirmation {
		return false, exitError{code: ExitCritical, msg: what + " aborted: confirmation did not match; nothing changed"}
	}
	return true, nil
}
