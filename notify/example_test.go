package notify_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/ip2adb/ip2adb"
	"github.com/ip2adb/ip2adb/notify"
)

func ExampleSign() {
	sig, err := notify.Sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, []byte(`{"test": 2432232314}`))
	fmt.Println(sig, err)
	// Output: v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE= <nil>
}

func ExampleDecide() {
	var issues []ip2adb.Issue
	for i := range 12 {
		issues = append(issues, ip2adb.Issue{
			Check: "member.bad_phone", Table: "members", Severity: ip2adb.Warning,
			RecordID: ip2adb.Ptr(int64(i + 1)), Description: "phone number is not valid",
		})
	}
	n, ok := notify.Decide(issues, notify.Policy{}, time.Unix(1795831200, 0))
	fmt.Println(ok, n.Priority, n.IssueCount, len(n.Issues))
	fmt.Println(n.Title)
	fmt.Println(n.Message)
	for _, a := range n.RecommendedAction {
		fmt.Println(a)
	}
	// Output:
	// true high 12 12
	// Many data quality warnings need review
	// 12 warnings could not be fixed automatically (more than 10); all of them attached.
	// 1. Review the attached warnings, starting with the most frequent checks.
	// 2. Fix the affected records by hand or correct the process that creates them.
	// 3. Run `ip2adb integrity` to see the full list.
	// 4. Schedule a data cleanup if the count keeps growing.
}

func ExampleParseChannels() {
	dir, _ := os.MkdirTemp("", "notify-example")
	defer os.RemoveAll(dir)
	chans, err := notify.ParseChannels([]string{
		"smtp://ops:secret@mail.example.com:587/?from=ip2adb@example.com&to=admin@example.com",
		"slack:https://hooks.slack.com/services/T000/B000/XXXX",
		"https://ops.example.com/hooks/ip2adb?secret=whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
	}, notify.ChannelOptions{LogDir: dir})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, c := range chans {
		fmt.Println(c.Name())
	}
	_, err = notify.ParseChannels([]string{"smtp://ops:secret@mail.example.com/?to=admin@example.com"}, notify.ChannelOptions{LogDir: dir})
	fmt.Println(err)
	// Output:
	// log
	// smtp:mail.example.com:587
	// slack
	// webhook:ops.example.com
	// notify URL #1: smtp: missing ?from=ADDRESS
}

func ExampleMulti() {
	chans := notify.Multi{
		notify.Nop{},
		notify.Named("pager", notify.Func(func(ctx context.Context, n notify.Notification) error {
			return fmt.Errorf("pager is off")
		})),
	}
	for _, r := range chans.NotifyAll(context.Background(), notify.TestNotification(time.Unix(0, 0))) {
		fmt.Println(r.Channel, r.OK(), r.Err)
	}
	// Output:
	// nop true <nil>
	// pager false pager is off
}

func ExampleManager_Alert() {
	dir, _ := os.MkdirTemp("", "notify-example")
	defer os.RemoveAll(dir)
	now := time.Date(2026, 11, 28, 2, 0, 0, 0, time.UTC)
	pagerDown := true
	m := &notify.Manager{
		Channels: []notify.Notifier{
			notify.Named("mail", notify.Nop{}),
			notify.Named("pager", notify.Func(func(ctx context.Context, n notify.Notification) error {
				if pagerDown {
					return fmt.Errorf("connection refused")
				}
				return nil
			})),
		},
		StateDir: dir,
		Now:      func() time.Time { return now },
	}
	remaining := []ip2adb.Issue{{Check: "member.missing_required", Table: "members", Severity: ip2adb.Critical, RecordID: ip2adb.Ptr(int64(9))}}
	for run := 1; run <= 2; run++ {
		rep, _ := m.Alert(context.Background(), remaining)
		fmt.Printf("run %d: %d notification sent\n", run, rep.Sent)
		for _, d := range rep.Deliveries {
			fmt.Println(strings.TrimSpace(d.Channel + " " + string(d.Outcome) + " " + d.Error))
		}
		pagerDown = false
		now = now.Add(time.Hour)
	}
	// Output:
	// run 1: 1 notification sent
	// mail sent
	// pager failed connection refused
	// run 2: 1 notification sent
	// mail suppressed
	// pager sent
}
