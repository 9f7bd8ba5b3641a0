package notify

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/ip2adb/ip2adb"
)

// hallWording is the wording of a hiring-hall system embedding notify.
var hallWording = Wording{Product: "hallwatch", CheckCommand: "hallwatch audit", Subject: "{{.Product}}/{{.Priority}}: {{.Title}} ({{.IssueCount}})"}

func TestWordingValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		w    Wording
		want string // "" for valid
	}{
		{name: "zero value is ip2adb's own", w: Wording{}},
		{name: "custom", w: hallWording},
		{name: "product with a line break", w: Wording{Product: "hall\nwatch"},
			want: "notification wording: product name holds a line break or another control character"},
		{name: "blank product", w: Wording{Product: "  "}, want: "notification wording: product name is empty"},
		{name: "long product", w: Wording{Product: strings.Repeat("x", 65)},
			want: "notification wording: product name is longer than 64 characters"},
		{name: "check command with a tab", w: Wording{CheckCommand: "a\tb"},
			want: "notification wording: check command holds a line break or another control character"},
		{name: "subject does not parse", w: Wording{Subject: "{{.Title"},
			want: `notification wording: subject template: template: subject:1: unclosed action`},
		{name: "subject names an unknown field", w: Wording{Subject: "{{.Severity}}"},
			want: `notification wording: subject template: template: subject:1:2: executing "subject" at <.Severity>: can't evaluate field Severity in type notify.SubjectData`},
		{name: "subject renders two lines", w: Wording{Subject: "{{.Title}}\n{{.ID}}"},
			want: "notification wording: subject template renders a subject that holds a line break or another control character"},
		{name: "subject renders nothing", w: Wording{Subject: "{{if false}}x{{end}}"},
			want: "notification wording: subject template renders a subject that is empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := ""
			if err := tc.w.Validate(); err != nil {
				got = err.Error()
			}
			if got != tc.want {
				t.Errorf("Validate() = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestWordingDefaultsAreToday(t *testing.T) {
	n := sampleNotification()
	got, err := Wording{}.EmailSubject(n)
	if err != nil {
		t.Fatal(err)
	}
	if want := "[ip2adb CRITICAL] Critical database issues need immediate attention"; got != want || EmailSubject(n) != want {
		t.Errorf("subjects %q and %q, want %q", got, EmailSubject(n), want)
	}
	if diff := cmp.Diff(TestNotification(t0), DefaultWording().TestNotification(t0)); diff != "" {
		t.Errorf("test notification (-package +default wording):\n%s", diff)
	}
	if diff := cmp.Diff(slackPayload(n), DefaultWording().slackPayload(n)); diff != "" {
		t.Errorf("slack payload (-zero +default wording):\n%s", diff)
	}
}

func TestCustomWording(t *testing.T) {
	crit := []ip2adb.Issue{issue("x.critical", "members", 1, ip2adb.Critical)}
	n, ok := Decide(crit, Policy{Wording: hallWording}, t0)
	if !ok {
		t.Fatal("no notification")
	}
	wantActions := []string{
		"1. Review the critical issues listed here and repair them by hand today.",
		"2. Back up the database before any manual change.",
		"3. Run `hallwatch audit` afterwards to confirm that they are gone.",
		"4. Find the import, script or user action that caused them so that they do not come back.",
	}
	if diff := cmp.Diff(wantActions, n.RecommendedAction); diff != "" {
		t.Errorf("recommended actions (-want +got):\n%s", diff)
	}
	for _, tc := range []struct {
		issues []ip2adb.Issue
		want   string
	}{
		{issues(11, ip2adb.Warning, "x.warn"), "3. Run `hallwatch audit` to see the full list."},
		{issues(101, ip2adb.Info, "x.info"), "1. Run `hallwatch audit` to review all the issues."},
	} {
		n, _ := Decide(tc.issues, Policy{Wording: hallWording}, t0)
		if !strings.Contains(strings.Join(n.RecommendedAction, "\n"), tc.want) {
			t.Errorf("%s actions %q lack %q", n.Priority, n.RecommendedAction, tc.want)
		}
	}

	subject, err := hallWording.EmailSubject(n)
	if err != nil {
		t.Fatal(err)
	}
	if want := "hallwatch/CRITICAL: Critical database issues need immediate attention (1)"; subject != want {
		t.Errorf("subject %q, want %q", subject, want)
	}
	tn := hallWording.TestNotification(t0)
	if tn.Title != "hallwatch test notification" || !strings.HasPrefix(tn.Message, "This is a test notification from hallwatch.") {
		t.Errorf("test notification %q / %q", tn.Title, tn.Message)
	}

	// Slack: the "…and N more" line names the check command; the post
	// and a webhook's carry the product's User-Agent.
	opt := testOptions(t, newClock())
	opt.Wording = hallWording
	srv := newScriptServer(t, reply{status: 200, body: "ok"}, reply{status: 200})
	many, _ := Decide(issues(30, ip2adb.Critical, "x.critical"), Policy{Wording: hallWording}, t0)
	if err := parseOne(t, "slack:"+srv.URL+"/services/T0/B0/XYZ", opt).Notify(context.Background(), many); err != nil {
		t.Fatal(err)
	}
	if err := parseOne(t, srv.URL+"/hook", opt).Notify(context.Background(), many); err != nil {
		t.Fatal(err)
	}
	reqs := srv.requests()
	var msg SlackMessage
	if err := json.Unmarshal(reqs[0].Body, &msg); err != nil {
		t.Fatal(err)
	}
	if b, _ := json.Marshal(msg); !strings.Contains(string(b), "_…and 10 more; see the notification log or `hallwatch audit`._") {
		t.Errorf("slack message lacks the custom more-line: %s", b)
	}
	for i, r := range reqs {
		if got := r.Header.Get("User-Agent"); got != "hallwatch-notify" {
			t.Errorf("request %d User-Agent %q, want hallwatch-notify", i, got)
		}
	}
}

func TestInvalidWordingRefused(t *testing.T) {
	opt := testOptions(t, newClock())
	opt.Wording = Wording{Product: "a\nb"}
	const want = "notification wording: product name holds a line break or another control character"
	if _, err := ParseChannels(nil, opt); err == nil || err.Error() != want {
		t.Errorf("ParseChannels: %v, want %q", err, want)
	}
	dir := t.TempDir()
	m := &Manager{Channels: []Notifier{NewLogChannel(NewJournal(dir, newClock().Now))}, StateDir: dir,
		Policy: Policy{Wording: Wording{Subject: "{{"}}, Now: newClock().Now}
	rep, err := m.Alert(context.Background(), []ip2adb.Issue{issue("x.critical", "members", 1, ip2adb.Critical)})
	if err == nil || !strings.HasPrefix(err.Error(), "notification wording: subject template:") {
		t.Errorf("Alert: %v, want a wording error", err)
	}
	if diff := cmp.Diff(Report{Deliveries: []Delivery{}}, rep); diff != "" {
		t.Errorf("report (-want +got):\n%s", diff)
	}
}
