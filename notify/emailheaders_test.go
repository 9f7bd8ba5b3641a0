package notify

import (
	"context"
	"errors"
	"net/mail"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/ip2adb/ip2adb"
)

// msgIDRE is an RFC 5322 msg-id whose left part is a dot-atom and whose
// right part is a fully qualified domain name.
var msgIDRE = regexp.MustCompile(`^<[A-Za-z0-9!#$%&'*+/=?^_` + "`" + `{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_` + "`" + `{|}~-]+)*@([a-z0-9]([a-z0-9-]*[a-z0-9])?\.)+[a-z]+>$`)

// TestEmailHeaders: each mail has its own well-formed Message-ID on the
// sender's domain (not go-mail's, whose host part can be a bare host name
// or hold stray dots), and the standard importance headers: "high" where
// go-mail wrote the non-standard "Importance: urgent".
func TestEmailHeaders(t *testing.T) {
	be := &smtpBackend{}
	addr := startSMTP(t, be, nil)
	ch := parseOne(t, "smtp://"+addr+"/?from=ip2adb@Ops.Example.COM&to=admin@example.com", testOptions(t, newClock()))
	crit := sampleNotification()
	high, _ := Decide(issues(11, ip2adb.Warning, "w"), Policy{}, t0)
	low, _ := Decide(issues(1, ip2adb.Warning, "w"), Policy{}, t0)
	for _, n := range []Notification{crit, crit, high, low} {
		if err := ch.Notify(context.Background(), n); err != nil {
			t.Fatal(err)
		}
	}
	msgs := be.messages()
	if len(msgs) != 4 {
		t.Fatalf("%d mails", len(msgs))
	}
	type hdr struct{ Importance, Priority, XPriority string }
	want := []hdr{{"high", "urgent", "1"}, {"high", "urgent", "1"}, {"high", "", "2"}, {"", "", ""}}
	var got []hdr
	ids := map[string]bool{}
	for i, m := range msgs {
		msg, err := mail.ReadMessage(strings.NewReader(string(m.Data)))
		if err != nil {
			t.Fatal(err)
		}
		h := msg.Header
		got = append(got, hdr{h.Get("Importance"), h.Get("Priority"), h.Get("X-Priority")})
		id := h.Get("Message-Id")
		if !msgIDRE.MatchString(id) || !strings.HasSuffix(id, "@ops.example.com>") {
			t.Errorf("mail %d: Message-ID %q is not <dot-atom@ops.example.com>", i+1, id)
		}
		if n := []Notification{crit, crit, high, low}[i]; !strings.HasPrefix(id, "<"+n.ID+".") {
			t.Errorf("mail %d: Message-ID %q does not start with the notification id %s", i+1, id, n.ID)
		}
		if ids[id] {
			t.Errorf("mail %d: Message-ID %q used twice", i+1, id)
		}
		ids[id] = true
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("importance headers (-want +got):\n%s", diff)
	}
}

func TestMessageIDHost(t *testing.T) {
	host := func(h string, err error) func() (string, error) {
		return func() (string, error) { return h, err }
	}
	for _, tc := range []struct {
		from     string
		hostname func() (string, error)
		want     string
	}{
		{"ip2adb@example.com", host("box", nil), "example.com"},
		{"IP2ADB <ip2adb@Mail.Example.org>", host("box", nil), "mail.example.org"},
		{"root@localhost", host("db1.example.net", nil), "db1.example.net"},
		{"root@localhost", host("db1", nil), "ip2adb.invalid"},
		{"root@localhost", host("", errors.New("no hostname")), "ip2adb.invalid"},
		{"root@[127.0.0.1]", host(".example.net.", nil), "ip2adb.invalid"},
		{"root@192.168.1.1", host("box.-bad-.net", nil), "ip2adb.invalid"},
		{"root@box.lan", host("x", nil), "box.lan"},
	} {
		if got := messageIDHost(tc.from, tc.hostname); got != tc.want {
			t.Errorf("messageIDHost(%q) = %q, want %q", tc.from, got, tc.want)
		}
	}
	if id := messageID(Notification{ID: "DBADM-1-test/../x"}, "example.com"); !msgIDRE.MatchString("<"+id+">") || !strings.HasPrefix(id, "DBADM-1-testx.") {
		t.Errorf("messageID = %q", id)
	}
	if id := messageID(Notification{}, "example.com"); !msgIDRE.MatchString("<" + id + ">") {
		t.Errorf("messageID without a notification id = %q", id)
	}
}
