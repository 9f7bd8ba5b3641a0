package notify

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParseChannelsNames(t *testing.T) {
	chans, err := ParseChannels([]string{
		"slack:https://hooks.slack.com/services/T000/B000/XXXXSECRET",
		"https://example.com/hooks/abc?secret=whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
		"smtp://ops:hunter22@mail.example.com:587/?from=ip2adb@example.com&to=a@example.com,b@example.com",
		"smtps://mail.example.com/?from=ip2adb@example.com&to=a@example.com",
		"log:",
		"http://127.0.0.1:8080/x",
		"slack:https://hooks.slack.com/services/T000/B000/OTHERSECRET",
		" smtp://mail.example.com/?from=a@example.com&to=b@example.com ",
	}, ChannelOptions{LogDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range chans {
		names = append(names, c.Name())
	}
	want := []string{"log", "slack", "webhook:example.com", "smtp:mail.example.com:587", "smtp:mail.example.com:465",
		"webhook:127.0.0.1:8080", "slack#2", "smtp:mail.example.com:587#2"}
	if diff := cmp.Diff(want, names); diff != "" {
		t.Errorf("names (-want +got):\n%s", diff)
	}
}

func TestParseChannelsErrors(t *testing.T) {
	for _, tc := range []struct{ url, want string }{
		{"", "notify URL #1: not a channel URL (want log:, smtp://…, slack:https://… or http(s)://…)"},
		{"ftp://x", `notify URL #1: unsupported channel scheme "ftp" (want log:, smtp://…, slack:https://… or http(s)://…)`},
		{"log:/var/log", "notify URL #1: log: takes nothing after the colon (the log channel writes under the log dir)"},
		{"slack:", "notify URL #1: slack: missing the incoming webhook URL (slack:https://hooks.slack.com/services/…)"},
		{"slack:ftp://hooks.slack.com/services/SECRET", "notify URL #1: slack: the webhook URL must start with https://"},
		{"slack:http://hooks.slack.com/services/SECRET", "notify URL #1: slack: the webhook URL must use https:// (http only to loopback)"},
		{"slack:https://hooks.slack.com/", "notify URL #1: slack: the webhook URL has no path (…/services/T…/B…/…)"},
		{"slack:https://hooks.slack.com/services/SECRET%zz", "notify URL #1: slack: malformed URL (not shown; percent-encode special characters in the password, e.g. %2F for /, %40 for @)"},
		{"smtp://ops:SECRET/3xyz@mail.example.com:25/?from=a@example.com&to=b@example.com", "notify URL #1: smtp: malformed URL (not shown; percent-encode special characters in the password, e.g. %2F for /, %40 for @)"},
		{"smtp://ops:12/SECRET@mail.example.com:25/?from=a@example.com&to=b@example.com", "notify URL #1: smtp: malformed URL (not shown; percent-encode special characters in the password, e.g. %2F for /, %40 for @)"},
		{"smtp://ops:12?SECRET@mail.example.com:25/?from=a@example.com&to=b@example.com", "notify URL #1: smtp: malformed URL (not shown; percent-encode special characters in the password, e.g. %2F for /, %40 for @)"},
		{"https://ops:12#SECRET@example.com/x", "notify URL #1: webhook: malformed URL (not shown; percent-encode special characters in the password, e.g. %2F for /, %40 for @)"},
		{"https:example.com/SECRET", "notify URL #1: webhook: malformed URL (not shown; percent-encode special characters in the password, e.g. %2F for /, %40 for @)"},
		{"https://example.com:99999/x", "notify URL #1: webhook: bad port (want 1-65535)"},
		{"http://127.0.0.1:0/x", "notify URL #1: webhook: bad port (want 1-65535)"},
		{"slack:https://hooks.slack.com:99999/services/SECRET", "notify URL #1: slack: bad port (want 1-65535)"},
		{"https://example.com/x?secret=whsec_", "notify URL #1: webhook: webhook secret is empty (want whsec_<base64>)"},
		{"https://example.com/x?secret=whsec_SECRET!!", "notify URL #1: webhook: webhook secret is not valid base64 after whsec_"},
		{"https:///x", "notify URL #1: webhook: URL has no host"},
		{"smtp://mail.example.com/?to=a@example.com", "notify URL #1: smtp: missing ?from=ADDRESS"},
		{"smtp://mail.example.com/?from=a@example.com", "notify URL #1: smtp: missing &to=ADDRESS[,ADDRESS]"},
		{"smtp://mail.example.com/?from=nope&to=a@example.com", "notify URL #1: smtp: bad from address"},
		{"smtp://mail.example.com/?from=a@example.com&to=a@example.com,bad", "notify URL #1: smtp: bad to address #2"},
		{"smtp://mail.example.com:99999/?from=a@example.com&to=b@example.com", "notify URL #1: smtp: bad port (want 1-65535)"},
		{"smtp://mail.example.com/x?from=a@example.com&to=b@example.com", "notify URL #1: smtp: URL has a path (want smtp://host:port/?from=…&to=…)"},
		{"smtp://mail.example.com/?from=a@example.com&to=b@example.com&pass=SECRET", `notify URL #1: smtp: unknown parameter "pass" (want from, to, tls, ca or insecure_skip_verify)`},
		{"smtp://mail.example.com/?from=a@example.com&to=b@example.com&tls=ssl", "notify URL #1: smtp: tls=ssl is not starttls or implicit"},
		{"smtps://mail.example.com/?from=a@example.com&to=b@example.com&tls=starttls", "notify URL #1: smtp: smtps:// is implicit TLS; tls=starttls wants smtp://"},
		{"smtp://mail.example.com/?from=a@example.com&to=b@example.com&ca=", "notify URL #1: smtp: ca= wants a PEM file of CA certificates"},
		{"smtp://mail.example.com/?from=a@example.com&to=b@example.com&ca=/nonexistent/ca.pem", "notify URL #1: smtp: ca=: open /nonexistent/ca.pem: no such file or directory"},
		{"smtp://mail.example.com/?from=a@example.com&to=b@example.com&insecure_skip_verify=yes", "notify URL #1: smtp: insecure_skip_verify=yes is not true or false"},
		{"smtp://:SECRET@mail.example.com/?from=a@example.com&to=b@example.com", "notify URL #1: smtp: password without a user name"},
		{"smtp:///?from=a@example.com&to=b@example.com", "notify URL #1: smtp: URL has no host"},
	} {
		t.Run(tc.url, func(t *testing.T) {
			_, err := ParseChannels([]string{tc.url}, ChannelOptions{LogDir: t.TempDir()})
			if err == nil || err.Error() != tc.want {
				t.Fatalf("error = %v, want %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "SECRET") {
				t.Errorf("error shows the secret: %v", err)
			}
		})
	}
	if _, err := ParseChannels(nil, ChannelOptions{}); err == nil || err.Error() != "notification log dir is not set" {
		t.Errorf("no log dir: %v", err)
	}
}

func TestParseRetryAfter(t *testing.T) {
	for _, tc := range []struct {
		v    string
		want string
	}{
		{"", "0s"}, {"0", "0s"}, {"-3", "0s"}, {"12", "12s"}, {"soon", "0s"},
		{t0.Add(90 * 1e9).Format(httpTimeFormat), "1m30s"},
		{t0.Add(-90 * 1e9).Format(httpTimeFormat), "0s"},
	} {
		if got := parseRetryAfter(tc.v, t0).String(); got != tc.want {
			t.Errorf("parseRetryAfter(%q) = %s, want %s", tc.v, got, tc.want)
		}
	}
}

const httpTimeFormat = "Mon, 02 Jan 2006 15:04:05 GMT"

func TestBackoff(t *testing.T) {
	s := &sender{base: 1e9, max: 5e9, jitter: func(d time.Duration) time.Duration { return d }}
	var got []time.Duration
	for a := 1; a <= 5; a++ {
		got = append(got, s.backoff(a))
	}
	want := []time.Duration{1e9, 2e9, 4e9, 5e9, 5e9}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("backoff (-want +got):\n%s", diff)
	}
	for range 100 {
		if d := equalJitter(4e9); d < 2e9 || d > 4e9 {
			t.Fatalf("equalJitter(4s) = %v, want within [2s, 4s]", d)
		}
	}
}
