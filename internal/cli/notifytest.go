package cli

import (
	"fmt"
	"strings"
	"time"

	"github.com/ip2adb/ip2adb/notify"
	"github.com/urfave/cli/v2"
)

func (a *app) notifyTestCommand() *cli.Command {
	return &cli.Command{
		Name:  "notify-test",
		Usage: "send a test notification to every configured channel",
		UsageText: `ip2adb notify-test [--notify URL]...

Sends a test notification (priority low, no issues) through the log channel
and every --notify channel (or IP2ADB_NOTIFY, comma-separated), skipping dedup,
and prints OK or FAIL per channel. Exits 1 when any channel fails and 2 when a
channel URL is malformed. Secrets in URLs print as <redacted>.

Channel URLs:
   log:                                           JSONL under --log-dir (always on)
   smtp://[user:pass@]host:port/?from=A&to=B[,C]  email: STARTTLS, required unless the host is
                                                  loopback; &tls=implicit (or smtps://) for TLS
                                                  from the first byte, &tls=starttls to require
                                                  it on loopback too; &ca=FILE trusts the PEM CA
                                                  certificates in FILE; &insecure_skip_verify=true
                                                  turns certificate checks OFF (the mail and the
                                                  password are then readable on the path)
   slack:https://hooks.slack.com/services/…       Slack incoming webhook
   https://host/path[?secret=whsec_…]             JSON POST, Standard Webhooks signed

Examples:
   ip2adb notify-test                                       # the log channel only
   ip2adb notify-test --notify slack:https://hooks.slack.com/services/T0/B0/XXXX
   ip2adb notify-test --notify 'smtp://ops:PASS@mail.example.com:587/?from=ip2adb@example.com&to=admin@example.com'
   ip2adb notify-test --notify 'smtp://relay.internal/?tls=implicit&ca=/etc/ip2adb/relay-ca.pem&from=ip2adb@example.com&to=ops+alerts@example.com'
   IP2ADB_NOTIFY='https://ops.example.com/ip2adb?secret=whsec_…' ip2adb notify-test --format json`,
		Action: func(c *cli.Context) error {
			g, err := a.globals(c)
			if err != nil {
				return err
			}
			if c.Args().Present() {
				return usagef("notify-test takes no arguments (got %q)", c.Args().First())
			}
			chans, err := a.notifyChannels(g)
			if err != nil {
				return err
			}
			a.header(c, g)
			a.flushHeader()
			n := notify.TestNotification(a.env.Now())
			results := notify.Multi(chans).NotifyAll(c.Context, n)
			failed := 0
			for _, r := range results {
				if !r.OK() {
					failed++
				}
			}
			if g.JSON() {
				type row struct {
					Channel    string         `json:"channel"`
					OK         bool           `json:"ok"`
					Outcome    notify.Outcome `json:"outcome"`
					Error      string         `json:"error,omitempty"`
					DurationMS float64        `json:"duration_ms"`
				}
				out := struct {
					NotificationID string `json:"notification_id"`
					OK             bool   `json:"ok"`
					Channels       []row  `json:"channels"`
				}{NotificationID: n.ID, OK: failed == 0, Channels: []row{}}
				for _, r := range results {
					rw := row{Channel: r.Channel, OK: r.OK(), Outcome: notify.Sent, DurationMS: float64(r.Duration.Microseconds()) / 1000}
					if r.Err != nil {
						rw.Outcome, rw.Error = notify.Failed, notifyOneLine(r.Err.Error())
					}
					out.Channels = append(out.Channels, rw)
				}
				if err := a.writeJSON(out); err != nil {
					return err
				}
			} else {
				for _, r := range results {
					if r.OK() {
						fmt.Fprintf(a.env.Stdout, "OK %s\n", r.Channel)
					} else {
						fmt.Fprintf(a.env.Stdout, "FAIL %s: %s\n", r.Channel, notifyOneLine(r.Err.Error()))
					}
				}
			}
			if failed > 0 {
				return exitError{code: ExitCritical, msg: fmt.Sprintf("%d of %d notification channels failed", failed, len(results))}
			}
			return nil
		},
	}
}

// notifyChannels builds the notification channels of g: the log channel and every
// --notify URL. A malformed URL is a usage error (exit 2).
func (a *app) notifyChannels(g Globals) ([]notify.Notifier, error) {
	chans, err := notify.ParseChannels(g.Notify, notify.ChannelOptions{
		LogDir: g.LogDir,
		Now:    a.env.Now,
		Log:    a.logger(g),
	})
	if err != nil {
		return nil, err
	}
	for _, name := range notify.InsecureChannels(chans) {
		a.warn(name + ": TLS certificate verification is OFF (insecure_skip_verify=true): the mail and the SMTP password can be read and changed on the way")
	}
	return chans, nil
}

// notifyMaxIssuesFlag is --notify-max-issues, for every command that
// notifies about issues (see notifyManager).
func notifyMaxIssuesFlag() cli.Flag {
	return &cli.IntFlag{Name: "notify-max-issues", Value: notify.DefaultMaxIssues,
		Usage: "attach at most `N` issues to a notification (0: none; issue_count stays the full count)"}
}

// notifyManager builds the notification manager of the auto-heal cycle: the
// original's policy, dedup state under the log dir, and the log channel plus
// every --notify channel. repeat is --repeat-interval
// (notify.DefaultRepeatInterval when zero). The
// cap on attached issues is the command's --notify-max-issues when it has
// one (c may be nil). A malformed channel URL or a negative cap is a usage
// error (exit 2).
func (a *app) notifyManager(c *cli.Context, g Globals, repeat time.Duration) (*notify.Manager, error) {
	policy := notify.DefaultPolicy()
	if c != nil && c.IsSet("notify-max-issues") {
		switch n := c.Int("notify-max-issues"); {
		case n < 0:
			return nil, usagef("--notify-max-issues must be 0 or more, not %d", n)
		case n == 0:
			policy.MaxIssues = notify.NoIssues
		default:
			policy.MaxIssues = n
		}
	}
	chans, err := a.notifyChannels(g)
	if err != nil {
		return nil, err
	}
	if repeat <= 0 {
		repeat = notify.DefaultRepeatInterval
	}
	return &notify.Manager{
		Channels:       chans,
		Policy:         policy,
		StateDir:       g.LogDir,
		RepeatInterval: repeat,
		Now:            a.env.Now,
		Log:            a.logger(g),
	}, nil
}

// notifyOneLine joins the lines of a (joined) error message.
func notifyOneLine(s string) string { return strings.ReplaceAll(s, "\n", "; ") }
