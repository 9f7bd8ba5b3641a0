package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/ip2adb/ip2adb/internal/testdb"
	"github.com/ip2adb/ip2adb/ip2a"
	"github.com/ip2adb/ip2adb/seed"
)

// reportJSON is the part of the integrity and auto-heal JSON the
// end-to-end test reads.
type reportJSON struct {
	RunID  string `json:"run_id"`
	Checks []struct {
		Name   string `json:"name"`
		Status string `json:"status"`
		Count  int    `json:"count"`
		Error  string `json:"error"`
		Reason string `json:"reason"`
	} `json:"checks"`
	Issues []struct {
		Check    string         `json:"check"`
		RecordID *float64       `json:"record_id"`
		Key      map[string]any `json:"key"`
		Details  map[string]any `json:"details"`
	} `json:"issues"`
	Repairs []struct {
		Check string `json:"check"`
		Rows  int    `json:"rows"`
		Error string `json:"error"`
	} `json:"repairs"`
	Summary map[string]int `json:"summary"`
}

func decodeReport(t *testing.T, r result) reportJSON {
	t.Helper()
	var rep reportJSON
	if err := json.Unmarshal([]byte(r.Stdout), &rep); err != nil {
		t.Fatalf("stdout is not one JSON object: %v\n%s\nstderr: %s", err, r.Stdout, r.Stderr)
	}
	return rep
}

// failedChecks names the checks of rep that failed, with their errors.
func (rep reportJSON) failedChecks() []string {
	var out []string
	for _, c := range rep.Checks {
		if c.Status == "failed" || c.Error != "" {
			out = append(out, c.Name+": "+c.Error)
		}
	}
	return out
}

// manifestFile is a faults manifest as seed writes it: the planted rows
// or keys per check, plus not_plantable.
type manifestFile struct {
	planted      map[string][]any
	notPlantable map[string]string
}

func readManifest(t *testing.T, path string) manifestFile {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatalf("manifest: %v", err)
	}
	m := manifestFile{planted: map[string][]any{}}
	for k, v := range raw {
		if k == seed.NotPlantableKey {
			if err := json.Unmarshal(v, &m.notPlantable); err != nil {
				t.Fatalf("manifest not_plantable: %v", err)
			}
			continue
		}
		var list []any
		if err := json.Unmarshal(v, &list); err != nil {
			t.Fatalf("manifest %s: %v", k, err)
		}
		m.planted[k] = list
	}
	return m
}

// sortedAny sorts JSON values (numbers, or one-key objects) by their text.
func sortedAny(list []any) []any {
	out := slices.Clone(list)
	slices.SortFunc(out, func(a, b any) int { return strings.Compare(fmt.Sprint(a), fmt.Sprint(b)) })
	return out
}

// assertFound checks that the integrity report rep finds exactly what the
// manifest planted, and nothing for the kinds the schema forbids (no false
// positive on the enum labels the seed wrote).
func assertFound(t *testing.T, rep reportJSON, m manifestFile, noFiles bool) {
	t.Helper()
	if failed := rep.failedChecks(); len(failed) > 0 || rep.Summary["failed_checks"] != 0 {
		t.Errorf("failed checks: %d\n%s", rep.Summary["failed_checks"], strings.Join(failed, "\n"))
	}
	counts := map[string]int{}
	for _, c := range rep.Checks {
		counts[c.Name] = c.Count
	}
	found := map[string][]any{}
	aggregate := map[string]any{}
	for _, is := range rep.Issues {
		switch {
		case is.Check == ip2a.MemberActiveWithoutEmployment:
			aggregate[is.Check] = is.Details["count"]
		case is.RecordID != nil:
			found[is.Check] = append(found[is.Check], *is.RecordID)
		default:
			found[is.Check] = append(found[is.Check], is.Key)
		}
	}
	for _, kind := range seed.FaultKinds() {
		planted, ok := m.planted[kind]
		if !ok {
			t.Errorf("the manifest lacks %s", kind)
			continue
		}
		if kind == ip2a.AttachmentFileMissing && noFiles {
			if counts[kind] != 0 || len(found[kind]) != 0 {
				t.Errorf("--no-files still looked for files: %s count %d", kind, counts[kind])
			}
			continue
		}
		if kind == ip2a.MemberActiveWithoutEmployment {
			if fmt.Sprint(aggregate[kind]) != fmt.Sprint(len(planted)) {
				t.Errorf("%s: aggregate count %v; planted %d", kind, aggregate[kind], len(planted))
			}
			continue
		}
		if diff := cmp.Diff(sortedAny(planted), sortedAny(found[kind]), cmpopts.EquateEmpty()); diff != "" || counts[kind] != len(planted) {
			t.Errorf("%s: count %d, planted %d (-planted +found):\n%s", kind, counts[kind], len(planted), diff)
		}
	}
}

// TestRealSchemaEndToEnd is the issue's "done when" on the real IP2A
// schema (ip2a-real-schema.sql), as the original's migrations build it and
// with the foreign keys ORIGINAL.md describes on employments and contacts:
// seed --force --faults 2 fills it; integrity finds every plantable kind of
// the manifest with no failed check, with files and with --no-files, and
// no false positive on valid enum labels; auto-heal repairs with no error;
// undo restores the tables byte for byte, or refuses all-or-nothing when a
// restored orphan's parent is gone; resilience and resilience
// --record-checksums run with no failed probe.
func TestRealSchemaEndToEnd(t *testing.T) {
	for _, tc := range []struct {
		name string
		fks  bool
		// undoRefused: the heal deleted orphans that a foreign key
		// refuses back, so undo must change nothing and exit 1.
		undoRefused bool
	}{
		{name: "migrations", fks: false},
		{name: "with foreign keys", fks: true, undoRefused: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			url := testdb.RealPostgresURL(t)
			db := openURL(t, url)
			if tc.fks {
				testdb.MustExec(t, db, `ALTER TABLE member_employments
					ADD CONSTRAINT member_employments_member_id_fkey FOREIGN KEY (member_id) REFERENCES members(id),
					ADD CONSTRAINT member_employments_organization_id_fkey FOREIGN KEY (organization_id) REFERENCES organizations(id)`)
				testdb.MustExec(t, db, `ALTER TABLE organization_contacts
					ADD CONSTRAINT organization_contacts_organization_id_fkey FOREIGN KEY (organization_id) REFERENCES organizations(id)`)
			}
			dir := t.TempDir()
			files, logs, manifest := filepath.Join(dir, "files"), filepath.Join(dir, "logs"), filepath.Join(dir, "faults.json")
			if err := os.Mkdir(files, 0o755); err != nil {
				t.Fatal(err)
			}
			common := []string{"--db", url, "--files-root", files, "--log-dir", logs, "--backup-dir", dir}

			// 45 organizations: 42 employers and one of each other type,
			// so that every label of the rule set's enums is in the data.
			r := runCLI(t, runOpts{}, append([]string{"seed", "--quick", "--organizations", "45", "--faults", "2", "--force",
				"--files-dir", files, "--faults-manifest", manifest}, common...)...)
			if r.Code != ExitOK {
				t.Fatalf("seed: exit %d\nstderr: %s", r.Code, r.Stderr)
			}
			m := readManifest(t, manifest)
			for _, kind := range []string{ip2a.MemberInvalidStatus, ip2a.MemberInvalidClassification,
				ip2a.OrganizationInvalidType, ip2a.MemberDuplicateNumber} {
				if m.notPlantable[kind] == "" || len(m.planted[kind]) != 0 {
					t.Errorf("%s: planted %v, not_plantable %q; the real schema forbids it", kind, m.planted[kind], m.notPlantable[kind])
				}
			}
			planted := 0
			for kind, list := range m.planted {
				if _, no := m.notPlantable[kind]; !no && len(list) != 2 {
					t.Errorf("%s: planted %d; want 2", kind, len(list))
				}
				planted += len(list)
			}
			if planted != 2*(len(seed.FaultKinds())-len(m.notPlantable)) {
				t.Errorf("%d faults planted for %d plantable kinds", planted, len(seed.FaultKinds())-len(m.notPlantable))
			}

			for _, c := range []struct{ table, column, enum string }{
				{"members", "status", "memberstatus"}, {"members", "classification", "memberclassification"},
				{"organizations", "org_type", "organizationtype"},
			} {
				labels := testdb.Count(t, db, "unnest(enum_range(NULL::"+c.enum+"))", "")
				if got := testdb.Count(t, db, "(SELECT DISTINCT "+c.column+" FROM "+c.table+") x", ""); got != labels {
					t.Errorf("%s.%s holds %d of the %d labels of %s; want all (so a false positive would show)", c.table, c.column, got, labels, c.enum)
				}
			}
			for _, noFiles := range []bool{false, true} {
				args := append([]string{"integrity", "--format", "json"}, common...)
				if noFiles {
					args = append(args, "--no-files")
				}
				r := runCLI(t, runOpts{}, args...)
				if r.Code != ExitCritical { // planted critical issues remain
					t.Errorf("integrity (no files %v): exit %d; want 1\nstderr: %s", noFiles, r.Code, r.Stderr)
				}
				assertFound(t, decodeReport(t, r), m, noFiles)
			}

			before := testdb.Digests(t, db)
			r = runCLI(t, runOpts{}, append([]string{"auto-heal", "--format", "json"}, common...)...)
			heal := decodeReport(t, r)
			if r.Code != ExitOK && r.Code != ExitCritical || heal.RunID == "" {
				t.Fatalf("auto-heal: exit %d, run %q\nstderr: %s", r.Code, heal.RunID, r.Stderr)
			}
			if failed := heal.failedChecks(); len(failed) > 0 || heal.Summary["failed_checks"] != 0 || heal.Summary["fixed"] == 0 {
				t.Errorf("auto-heal summary %v, failed checks:\n%s", heal.Summary, strings.Join(failed, "\n"))
			}
			for _, rp := range heal.Repairs {
				if rp.Error != "" {
					t.Errorf("repair %s: %s", rp.Check, rp.Error)
				}
			}
			healed := testdb.Digests(t, db)

			r = runCLI(t, runOpts{}, append([]string{"undo", heal.RunID}, common...)...)
			lines := strings.Split(strings.TrimSpace(r.Stderr), "\n")
			switch {
			case !tc.undoRefused:
				if r.Code != ExitOK {
					t.Fatalf("undo: exit %d\nstderr: %s", r.Code, r.Stderr)
				}
				if diff := cmp.Diff(before, testdb.Digests(t, db)); diff != "" {
					t.Errorf("undo did not restore the tables byte for byte (-before heal +after undo):\n%s", diff)
				}
			default:
				last := lines[len(lines)-1]
				if r.Code != ExitCritical || !strings.Contains(last, "_fkey") {
					t.Errorf("undo of deleted orphans behind foreign keys: exit %d, last line %q; want 1 and the constraint named", r.Code, last)
				}
				if diff := cmp.Diff(healed, testdb.Digests(t, db)); diff != "" {
					t.Errorf("a refused undo changed the tables (-healed +after undo):\n%s", diff)
				}
			}

			for _, args := range [][]string{{"resilience"}, {"resilience", "--record-checksums"}} {
				r := runCLI(t, runOpts{}, append(append(args, "--format", "json"), common...)...)
				var doc struct {
					Findings []struct {
						Check       string `json:"check"`
						Description string `json:"description"`
					} `json:"findings"`
					Summary map[string]int `json:"summary"`
				}
				if err := json.Unmarshal([]byte(r.Stdout), &doc); err != nil {
					t.Fatalf("%v: stdout is not one JSON object: %v\nstderr: %s", args, err, r.Stderr)
				}
				if doc.Summary["failed_probes"] != 0 {
					var why []string
					for _, f := range doc.Findings {
						if strings.Contains(f.Description, "could not run") {
							why = append(why, f.Check+": "+f.Description)
						}
					}
					t.Errorf("%v: %d failed probes:\n%s", args, doc.Summary["failed_probes"], strings.Join(why, "\n"))
				}
			}
		})
	}
}
