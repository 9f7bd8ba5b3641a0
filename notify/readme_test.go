package notify

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestREADMECronLines runs the README's crontab lines through /bin/sh, as
// cron does, with a stand-in ip2adb that records its arguments: every
// --notify URL must reach ip2adb whole (an unquoted & backgrounds the
// command and cuts the URL), parse, and ask for TLS when its SMTP relay is
// not on loopback; and no line holds a %, which cron turns into a newline.
func TestREADMECronLines(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, block, ok := strings.Cut(string(readme), "```cron\n")
	block, _, _ = strings.Cut(block, "```")
	if !ok || strings.TrimSpace(block) == "" {
		t.Fatal("README has no ```cron block")
	}
	notified := 0
	for line := range strings.Lines(block) {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Fields(line)
		if len(fields) < 6 {
			t.Fatalf("cron line %q has no command", line)
		}
		cmd := line
		for range 5 { // the five time fields
			cmd = strings.TrimLeft(cmd, " \t")
			cmd = cmd[strings.IndexAny(cmd, " \t"):]
		}
		cmd = strings.TrimSpace(cmd)
		if strings.Contains(cmd, "%") {
			t.Errorf("cron line %q holds a %%, which cron turns into a newline", line)
		}
		dir := t.TempDir()
		if err := os.Mkdir(filepath.Join(dir, "logs"), 0o700); err != nil {
			t.Fatal(err)
		}
		stub := "#!/bin/sh\nfor a in \"$@\"; do printf '%s\\n' \"$a\"; done > \"$(dirname \"$0\")/args.txt\"\n"
		if err := os.WriteFile(filepath.Join(dir, "ip2adb"), []byte(stub), 0o700); err != nil {
			t.Fatal(err)
		}
		const cd = "cd /srv/ip2adb && "
		if !strings.HasPrefix(cmd, cd) {
			t.Fatalf("cron line %q does not start with %q", line, cd)
		}
		sh := exec.Command("/bin/sh", "-c", "cd "+dir+" && "+strings.TrimPrefix(cmd, cd))
		if out, err := sh.CombinedOutput(); err != nil {
			t.Fatalf("sh -c %q: %v\n%s", cmd, err, out)
		}
		raw, err := os.ReadFile(filepath.Join(dir, "args.txt"))
		if err != nil {
			t.Fatalf("cron line %q: ip2adb did not run to completion: %v", line, err)
		}
		args := strings.Split(strings.TrimSuffix(string(raw), "\n"), "\n")
		for i, a := range args {
			if a != "--notify" || i+1 == len(args) {
				continue
			}
			notified++
			u := args[i+1]
			chans, err := ParseChannels([]string{u}, ChannelOptions{LogDir: t.TempDir()})
			if err != nil {
				t.Errorf("cron line %q: ip2adb got --notify %q: %v", line, u, err)
				continue
			}
			if e, ok := chans[1].(*email); ok && e.plainOK && !isLoopback(e.host) {
				t.Errorf("cron line %q: plain SMTP to %s", line, e.host)
			}
		}
	}
	if notified == 0 {
		t.Error("no cron line passes --notify")
	}
}
