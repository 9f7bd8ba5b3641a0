package notify

import (
	"context"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestLiteralPlusInQuery: a literal "+" in secret= or to= is a "+", not a
// space (about 40 % of random webhook secrets hold one), and "%2B" still
// works; the other query parameters reach the receiver unchanged.
func TestLiteralPlusInQuery(t *testing.T) {
	key := append([]byte("0123456789abcde"), 0xfb, 0xef, 0xbe)
	secret := "whsec_" + base64.StdEncoding.EncodeToString(key)
	if !strings.Contains(secret, "+") {
		t.Fatalf("test secret %q has no +", secret)
	}
	t.Run("webhook secret", func(t *testing.T) {
		for _, inURL := range []string{secret, strings.ReplaceAll(secret, "+", "%2B")} {
			srv := newScriptServer(t, reply{status: 200})
			opt := testOptions(t, newClock())
			ch := parseOne(t, srv.URL+"/hook?team=a+b&secret="+inURL+"&x=%2B", opt)
			if err := ch.Notify(context.Background(), sampleNotification()); err != nil {
				t.Fatalf("secret %s: Notify: %v", inURL, err)
			}
			reqs := srv.requests()
			if len(reqs) != 1 {
				t.Fatalf("%d requests", len(reqs))
			}
			if err := verifyStandardWebhook(secret, reqs[0].Header, reqs[0].Body); err != nil {
				t.Errorf("secret %s: %v", inURL, err)
			}
			if reqs[0].Query != "team=a+b&x=%2B" {
				t.Errorf("secret %s: receiver got query %q, want team=a+b&x=%%2B", inURL, reqs[0].Query)
			}
		}
	})
	t.Run("smtp addresses", func(t *testing.T) {
		for _, q := range []string{
			"from=ip2adb+cron@example.com&to=ops+alerts@example.com,dba@example.com",
			"from=ip2adb%2Bcron@example.com&to=ops%2Balerts@example.com,dba@example.com",
		} {
			be := &smtpBackend{}
			addr := startSMTP(t, be, nil)
			ch := parseOne(t, "smtp://"+addr+"/?"+q, testOptions(t, newClock()))
			if err := ch.Notify(context.Background(), sampleNotification()); err != nil {
				t.Fatalf("%s: Notify: %v", q, err)
			}
			msgs := be.messages()
			if len(msgs) != 1 {
				t.Fatalf("%s: %d mails", q, len(msgs))
			}
			type env struct{ From, To string }
			want := env{"ip2adb+cron@example.com", "ops+alerts@example.com,dba@example.com"}
			if diff := cmp.Diff(want, env{msgs[0].From, strings.Join(msgs[0].To, ",")}); diff != "" {
				t.Errorf("%s: envelope (-want +got):\n%s", q, diff)
			}
		}
	})
}

func TestParseQuery(t *testing.T) {
	for _, tc := range []struct {
		raw  string
		want map[string][]string
		err  bool
	}{
		{"a=1+2&b=%2B&c=x%20y&a=3", map[string][]string{"a": {"1+2", "3"}, "b": {"+"}, "c": {"x y"}}, false},
		{"&&flag&e=", map[string][]string{"flag": {""}, "e": {""}}, false},
		{"a=%zzSECRET", nil, true},
	} {
		got, err := parseQuery(tc.raw)
		if (err != nil) != tc.err {
			t.Errorf("parseQuery(%q) error %v", tc.raw, err)
			continue
		}
		if err != nil {
			if strings.Contains(err.Error(), "SECRET") {
				t.Errorf("error shows the query: %v", err)
			}
			continue
		}
		if diff := cmp.Diff(tc.want, map[string][]string(got)); diff != "" {
			t.Errorf("parseQuery(%q) (-want +got):\n%s", tc.raw, diff)
		}
	}
	if got := withoutParam("a=1+2&secret=x+y&b=%2B&secret=z", "secret"); got != "a=1+2&b=%2B" {
		t.Errorf("withoutParam = %q", got)
	}
}
