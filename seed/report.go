package seed

import (
	"bufio"
	"fmt"
	"io"
	"slices"

	"github.com/dustin/go-humanize"
)

// Report is the JSON object `ip2adb seed --format json` prints: the
// volumes written, per table and in all, with their speed, the files and
// the faults planted.
type Report struct {
	Profile       string        `json:"profile"`
	Seed          int64         `json:"seed"`
	Tables        []TableReport `json:"tables"`
	Rows          int64         `json:"rows"`
	Seconds       float64       `json:"seconds"`
	RowsPerSecond float64       `json:"rows_per_second"`
	// FilesDir is where the files were written; absent when none were.
	FilesDir  string `json:"files_dir,omitempty"`
	Files     int64  `json:"files"`
	FileBytes int64  `json:"file_bytes"`
	Faults    int    `json:"faults"`
	// FaultsManifest is the file the manifest was written to; absent when
	// it was not.
	FaultsManifest string `json:"faults_manifest,omitempty"`
	// Manifest is [Stats.ManifestDocument]; absent without faults.
	Manifest map[string]any `json:"manifest,omitempty"`
}

// TableReport is one table of a [Report].
type TableReport struct {
	Table         string  `json:"table"`
	Rows          int64   `json:"rows"`
	Seconds       float64 `json:"seconds"`
	RowsPerSecond float64 `json:"rows_per_second"`
}

// Report returns the run as its JSON report. filesDir is where the files
// were written (Options.FilesDir) and manifestPath where the manifest was
// written ([Stats.WriteManifest]); either may be empty.
func (s Stats) Report(filesDir, manifestPath string) Report {
	r := Report{
		Profile: string(s.Profile), Seed: s.Seed, Tables: []TableReport{}, Rows: s.Rows,
		Seconds: s.Duration.Seconds(), RowsPerSecond: s.RowsPerSecond, FilesDir: filesDir,
		Files: s.Files, FileBytes: s.FileBytes, Faults: s.Faults, FaultsManifest: manifestPath, Manifest: s.ManifestDocument(),
	}
	for _, t := range s.Tables {
		sec := t.Duration.Seconds()
		r.Tables = append(r.Tables, TableReport{Table: t.Table, Rows: t.Rows, Seconds: sec, RowsPerSecond: rate(t.Rows, sec)})
	}
	return r
}

// rate is rows per second, 0 for no time.
func rate(rows int64, seconds float64) float64 {
	if seconds <= 0 {
		return 0
	}
	return float64(rows) / seconds
}

// WriteText writes the run for people, as `ip2adb seed` prints it: the
// rows and speed per table and in all, the files written under filesDir
// (when not empty), and the faults planted with where their manifest went
// (manifestPath, when not empty) and which kinds the schema forbade.
func (s Stats) WriteText(w io.Writer, filesDir, manifestPath string) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "Seeded profile %s (seed %d): %s rows in %.2f s, %s rows/s\n\n",
		s.Profile, s.Seed, humanize.Comma(s.Rows), s.Duration.Seconds(), humanize.Comma(int64(s.RowsPerSecond)))
	const row = "%-22s %10s %8s %10s\n"
	fmt.Fprintf(bw, row, "table", "rows", "seconds", "rows/s")
	for _, t := range s.Tables {
		sec := t.Duration.Seconds()
		fmt.Fprintf(bw, row, t.Table, humanize.Comma(t.Rows), fmt.Sprintf("%.2f", sec), humanize.Comma(int64(rate(t.Rows, sec))))
	}
	fmt.Fprintf(bw, row, "total", humanize.Comma(s.Rows), fmt.Sprintf("%.2f", s.Duration.Seconds()), humanize.Comma(int64(s.RowsPerSecond)))
	if filesDir != "" {
		fmt.Fprintf(bw, "\nFiles: %s written under %s (%.1f MB)\n", humanize.Comma(s.Files), filesDir, float64(s.FileBytes)/1e6)
	}
	if s.Faults > 0 {
		fmt.Fprintf(bw, "\nFaults: %d of each of the %d integrity check kinds planted", s.Faults, len(FaultKinds())-len(s.NotPlantable))
		if manifestPath != "" {
			fmt.Fprintf(bw, "; manifest in %s", manifestPath)
		}
		fmt.Fprintln(bw)
		kinds := make([]string, 0, len(s.NotPlantable))
		for k := range s.NotPlantable {
			kinds = append(kinds, k)
		}
		slices.Sort(kinds)
		for _, k := range kinds {
			fmt.Fprintf(bw, "  not plantable: %s: %s\n", k, s.NotPlantable[k])
		}
	}
	return bw.Flush()
}
