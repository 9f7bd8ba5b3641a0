package notify_test

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/ip2adb/ip2adb/notify"
)

func TestParseChannelsConfigError(t *testing.T) {
	for _, tc := range []struct {
		urls []string
		opt  notify.ChannelOptions
		want string
	}{
		{[]string{"log:"}, notify.ChannelOptions{}, "notification log dir is not set"},
		{[]string{"log:", "ftp://x"}, notify.ChannelOptions{LogDir: t.TempDir()}, `notify URL #2: unsupported channel scheme "ftp" (want log:, smtp://…, slack:https://… or http(s)://…)`},
		{[]string{"smtp://user:hunter2@mail.example.com:587/?from=a@example.com"}, notify.ChannelOptions{LogDir: t.TempDir()}, "notify URL #1: smtp: missing &to=ADDRESS[,ADDRESS]"},
	} {
		_, err := notify.ParseChannels(tc.urls, tc.opt)
		var ce *notify.ConfigError
		if !errors.As(err, &ce) {
			t.Errorf("ParseChannels(%q) = %v, want a *ConfigError", tc.urls, err)
			continue
		}
		if diff := cmp.Diff(tc.want, err.Error()); diff != "" {
			t.Errorf("ParseChannels(%q) error (-want +got):\n%s", tc.urls, diff)
		}
	}
	if _, err := notify.ParseChannels([]string{"log:"}, notify.ChannelOptions{LogDir: t.TempDir()}); err != nil {
		t.Errorf("ParseChannels(log:) = %v", err)
	}
}
