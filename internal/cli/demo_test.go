package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/ip2adb/ip2adb/internal/testdb"
)

func TestDemoSeedsAndHeals(t *testing.T) {
	testdb.EachURL(t, func(t *testing.T, url string) {
		dir := t.TempDir()
		r := runCLI(t, runOpts{}, "demo", "--db", url, "--files-root", dir,
			"--log-dir", filepath.Join(dir, "logs"), "--format", "json")
		if r.Code != ExitOK {
			t.Fatalf("exit %d\nstderr: %s", r.Code, r.Stderr)
		}
		var doc struct {
			RunID   string `json:"run_id"`
			Repairs []struct {
				Check, Action, Table string
				Rows                 int64
			} `json:"repairs"`
			Summary map[string]int `json:"summary"`
		}
		if err := json.Unmarshal([]byte(r.Stdout), &doc); err != nil {
			t.Fatalf("stdout is not one JSON object: %v\n%s", err, r.Stdout)
		}
		type rep struct {
			Check, Action, Table string
			Rows                 int64
		}
		var got []rep
		for _, x := range doc.Repairs {
			got = append(got, rep{x.Check, x.Action, x.Table, x.Rows})
		}
		want := []rep{
			{"employment.orphan_member", "delete", "member_employments", 2},
			{"employment.orphan_organization", "delete", "member_employments", 2},
			{"contact.orphan_organization", "soft_delete", "organization_contacts", 2},
			{"attachment.orphan_record", "soft_delete", "file_attachments", 2},
			{"member.invalid_status", "set_value", "members", 2},
			{"employment.end_before_start", "set_null", "member_employments", 2},
			{"employment.current_with_end_date", "set_value", "member_employments", 2},
			{"organization.multiple_primary_contacts", "set_value", "organization_contacts", 2},
			{"attachment.empty_path", "soft_delete", "file_attachments", 2},
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("repairs (-want +got):\n%s", diff)
		}
		if doc.Summary["fixed"] != 18 || doc.Summary["failed_checks"] != 0 {
			t.Errorf("summary %v: want fixed 18, no failed checks", doc.Summary)
		}
		if _, err := os.Stat(filepath.Join(dir, "logs", "auto_heal", ".last_run")); err != nil {
			t.Errorf("the run was not recorded: %v", err)
		}
		// The files were written under --files-root, so only the planted
		// missing files are reported.
		r = runCLI(t, runOpts{}, "integrity", "--db", url, "--files-root", dir, "--format", "json")
		var after struct {
			Checks []struct {
				Name  string
				Count int
			}
		}
		if err := json.Unmarshal([]byte(r.Stdout), &after); err != nil {
			t.Fatalf("integrity JSON: %v\n%s", err, r.Stderr)
		}
		for _, c := range after.Checks {
			if c.Name == "attachment.file_missing" && c.Count != 2 {
				t.Errorf("file_missing count %d after demo, want the 2 planted", c.Count)
			}
		}
	})
}

func TestDemoRefusesProduction(t *testing.T) {
	dir := t.TempDir()
	r := runCLI(t, runOpts{}, "demo", "--env", "production", "--db", "sqlite:"+filepath.Join(dir, "x.db"))
	if r.Code != ExitUsage {
		t.Fatalf("exit %d, want 2", r.Code)
	}
	if _, err := os.Stat(filepath.Join(dir, "x.db")); err == nil {
		t.Error("refused demo created the database")
	}
}
