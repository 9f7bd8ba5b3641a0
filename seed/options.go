package seed

import (
	"errors"
	"fmt"
	"time"

	"github.com/go-logr/logr"
	"github.com/ip2adb/ip2adb/filestore"
)

// Profile names a preset of volumes.
type Profile string

// The profiles. Stress has the volumes of the original stress seed exactly;
// Normal is a development database; Quick is a small one for demos and tests.
const (
	Quick  Profile = "quick"
	Normal Profile = "normal"
	Stress Profile = "stress"
)

// ParseProfile returns the profile named s ("quick", "normal" or "stress").
func ParseProfile(s string) (Profile, error) {
	switch p := Profile(s); p {
	case Quick, Normal, Stress:
		return p, nil
	}
	return "", fmt.Errorf("unknown profile %q (want quick, normal or stress)", s)
}

// Volumes are the record counts of one seed run.
type Volumes struct {
	Locations     int `json:"locations"`
	Instructors   int `json:"instructors"`
	Organizations int `json:"organizations"`
	Students      int `json:"students"`
	Members       int `json:"members"`
	// GrievancesMin and GrievancesMax bound the number of grievances, drawn
	// uniformly from the seed.
	GrievancesMin int `json:"grievances_min"`
	GrievancesMax int `json:"grievances_max"`
}

// ProfileVolumes returns the volumes of profile p.
func ProfileVolumes(p Profile) Volumes {
	switch p {
	case Stress:
		return Volumes{Locations: 250, Instructors: 500, Organizations: 750, Students: 1000, Members: 10000, GrievancesMin: 50, GrievancesMax: 200}
	case Quick:
		return Volumes{Locations: 5, Instructors: 10, Organizations: 30, Students: 40, Members: 100, GrievancesMin: 5, GrievancesMax: 10}
	default:
		return Volumes{Locations: 25, Instructors: 50, Organizations: 75, Students: 100, Members: 1000, GrievancesMin: 10, GrievancesMax: 40}
	}
}

// MaxCount bounds every count option (member numbers stay unique and within
// their formats below it).
const MaxCount = 1_000_000

// DefaultSeed is the seed used when Options.Seed is zero.
const DefaultSeed = 42

// DefaultFileScale is the file scale used when Options.FileScale is zero.
const DefaultFileScale = 0.001

// MinFileSize is the smallest file written under FilesDir, in bytes.
const MinFileSize = 1024

// Options configure Run. The zero value seeds the normal profile with seed
// 42, truncating first.
type Options struct {
	// Profile picks the volumes; Normal when empty.
	Profile Profile
	// Members, Students, Instructors, Locations and Organizations override
	// the profile's counts; 0 keeps the profile's. Organizations are split
	// 14:1 into employers and others (union, training_partner, jatc), as in
	// the stress profile's 700 + 50.
	Members, Students, Instructors, Locations, Organizations int
	// Seed makes the data reproducible; 0 means DefaultSeed (42).
	Seed int64
	// Faults plants this many faults of every one of the 22 integrity check
	// kinds (see Manifest). It needs 13 members, 4 organizations and 2
	// students per fault.
	Faults int
	// FilesDir, when set, receives every attachment's bytes at
	// FilesDir/<file_path>, and ip2adb's own checksum table
	// (ip2adb.file_checksums; ip2adb_file_checksums on SQLite) gets their
	// SHA-256 keyed by attachment id. The directory must exist.
	FilesDir string
	// Files, when set, receives the files instead of FilesDir: any
	// [filestore.Writer], such as an S3 bucket opened with
	// [filestore.Open]. FilesDir then only names it in messages.
	Files filestore.Writer
	// FileScale scales the declared file sizes to the bytes written; 0 means
	// DefaultFileScale (0.001). Every file is at least MinFileSize bytes.
	FileScale float64
	// Force lets Run empty tables that hold rows no earlier seed wrote
	// (see [Run] and [NotEmptyError]); without it Run refuses and changes
	// nothing.
	Force bool
	// NoTruncate appends to the existing rows instead of emptying the IP2A
	// tables first; new ids continue after the largest existing id.
	NoTruncate bool
	// PostgresURL is the URL db was opened with, when it is PostgreSQL
	// (postgres://…, or a key=value connection string); it must name the
	// same database. With it, a truncating seed of a schema whose tables
	// no foreign key links (ip2adb's own) opens connections of its own
	// (pgconn, no database/sql driver) and loads in PostgreSQL's binary
	// COPY format, which the server reads with less CPU than text; without
	// it, or when those connections cannot be opened (a parameter only
	// db's driver knows, say), the seed loads through db's driver in text
	// format. The rows are the same either way.
	PostgresURL string
	// Now is the clock (generated dates lie before it); time.Now when nil.
	Now func() time.Time
	// Progress, when set, is called from one goroutine at a time as rows of
	// a phase (a table name) are written: done of total.
	Progress func(phase string, done, total int64)
	// Log receives progress at V(1); the zero value discards.
	Log logr.Logger
}

// Volumes returns the record counts o asks for: the profile's, overridden by
// any non-zero count.
func (o Options) Volumes() Volumes {
	p := o.Profile
	if p == "" {
		p = Normal
	}
	v := ProfileVolumes(p)
	set := func(dst *int, n int) {
		if n != 0 {
			*dst = n
		}
	}
	set(&v.Members, o.Members)
	set(&v.Students, o.Students)
	set(&v.Instructors, o.Instructors)
	set(&v.Locations, o.Locations)
	set(&v.Organizations, o.Organizations)
	return v
}

// Validate reports what is wrong with o, if anything.
func (o Options) Validate() error {
	var errs []error
	if o.Profile != "" {
		if _, err := ParseProfile(string(o.Profile)); err != nil {
			errs = append(errs, err)
		}
	}
	for _, c := range []struct {
		name string
		n    int
	}{{"members", o.Members}, {"students", o.Students}, {"instructors", o.Instructors},
		{"locations", o.Locations}, {"organizations", o.Organizations}} {
		if c.n < 0 || c.n > MaxCount {
			errs = append(errs, fmt.Errorf("%s must be between 0 (the profile's) and %d, got %d", c.name, MaxCount, c.n))
		}
	}
	if o.Faults < 0 {
		errs = append(errs, fmt.Errorf("faults must not be negative, got %d", o.Faults))
	}
	if o.FileScale < 0 || o.FileScale > 1 {
		errs = append(errs, fmt.Errorf("file scale must be in (0, 1], got %g", o.FileScale))
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	v := o.Volumes()
	if o.Faults > 0 {
		if need := o.Faults * membersPerFault; v.Members < need {
			errs = append(errs, fmt.Errorf("%d faults of every kind need at least %d members, have %d", o.Faults, need, v.Members))
		}
		if need := o.Faults * orgsPerFault; v.Organizations < need {
			errs = append(errs, fmt.Errorf("%d faults of every kind need at least %d organizations, have %d", o.Faults, need, v.Organizations))
		}
		if need := o.Faults * studentsPerFault; v.Students < need {
			errs = append(errs, fmt.Errorf("%d faults of every kind need at least %d students, have %d", o.Faults, need, v.Students))
		}
	}
	return errors.Join(errs...)
}

// withDefaults fills the documented defaults.
func (o Options) withDefaults() Options {
	if o.Profile == "" {
		o.Profile = Normal
	}
	if o.Seed == 0 {
		o.Seed = DefaultSeed
	}
	if o.FileScale == 0 {
		o.FileScale = DefaultFileScale
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// withFiles reports whether attachment files are written.
func (o Options) withFiles() bool { return o.FilesDir != "" || o.Files != nil }
