package notify_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/ip2adb/ip2adb/notify"
)

func TestSplitChannelURLs(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"", nil},
		{" , ,", nil},
		{"log:, https://h.example/x", []string{"log:", "https://h.example/x"}},
		{"smtp://relay:587/?from=a@example.com&to=b@example.com,c@example.com,slack:https://hooks.slack.com/services/T/B/x",
			[]string{"smtp://relay:587/?from=a@example.com&to=b@example.com,c@example.com", "slack:https://hooks.slack.com/services/T/B/x"}},
		{"SMTPS://relay/?from=a@example.com&to=b@example.com, c@example.com ,HTTPS://h.example/y",
			[]string{"SMTPS://relay/?from=a@example.com&to=b@example.com,c@example.com", "HTTPS://h.example/y"}},
		// Without a query there is nothing to continue: the piece stands
		// alone (and ParseChannels will refuse it).
		{"https://h.example/x,c@example.com", []string{"https://h.example/x", "c@example.com"}},
	} {
		if diff := cmp.Diff(tc.want, notify.SplitChannelURLs(tc.in)); diff != "" {
			t.Errorf("SplitChannelURLs(%q) (-want +got):\n%s", tc.in, diff)
		}
	}
}
