package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// Slack limits a message must stay within.
const (
	slackMaxBlocks      = 50
	slackMaxHeader      = 150
	slackMaxSectionText = 3000
	slackMaxText        = 3000 // the fallback text; Slack truncates at 40,000
	slackMaxIssues      = 20   // issues listed in the blocks
)

// slack is the slack: channel, an incoming webhook.
type slack struct {
	name   string
	target string
	client *http.Client
	now    func() time.Time
	s      *sender
	limit  *limiter
	words  Wording
}

func (c *slack) Name() string { return c.name }

// Notify posts n to the incoming webhook, at most one message per interval.
func (c *slack) Notify(ctx context.Context, n Notification) error {
	body, err := json.Marshal(c.words.slackPayload(n))
	if err != nil {
		return fmt.Errorf("encode slack message: %w", err)
	}
	return c.s.deliver(ctx, n, func(ctx context.Context) outcome {
		if err := c.limit.wait(ctx); err != nil {
			return outcome{err: err}
		}
		return postJSON(ctx, c.client, c.target, body, http.Header{"User-Agent": {c.words.userAgent()}}, c.now)
	})
}

// limiter spaces events at least every apart; the zero time means none yet.
type limiter struct {
	every time.Duration
	now   func() time.Time
	sleep func(context.Context, time.Duration) error
	mu    sync.Mutex
	next  time.Time
}

// wait blocks until the next slot, reserving it.
func (l *limiter) wait(ctx context.Context) error {
	l.mu.Lock()
	now := l.now()
	var d time.Duration
	if now.Before(l.next) {
		d = l.next.Sub(now)
		l.next = l.next.Add(l.every)
	} else {
		l.next = now.Add(l.every)
	}
	l.mu.Unlock()
	if d <= 0 {
		return nil
	}
	return l.sleep(ctx, d)
}

// SlackMessage is the JSON body posted to a Slack incoming webhook.
type SlackMessage struct {
	Text   string       `json:"text"`
	Blocks []SlackBlock `json:"blocks"`
}

// SlackBlock is one Block Kit block of a [SlackMessage].
type SlackBlock struct {
	Type     string      `json:"type"`
	Text     *SlackText  `json:"text,omitempty"`
	Fields   []SlackText `json:"fields,omitempty"`
	Elements []SlackText `json:"elements,omitempty"`
}

// SlackText is a Block Kit text object.
type SlackText struct {
	Type  string `json:"type"` // plain_text or mrkdwn
	Text  string `json:"text"`
	Emoji bool   `json:"emoji,omitempty"`
}

// slackPayload renders n as a Slack message within Slack's limits: the
// header at most 150 characters, each section at most 3000, at most 50
// blocks, and at most 20 issues listed.
func slackPayload(n Notification) SlackMessage { return Wording{}.slackPayload(n) }

// slackPayload is slackPayload in wording w.
func (w Wording) slackPayload(n Notification) SlackMessage {
	prio := strings.ToUpper(string(n.Priority))
	mrk := func(s string) *SlackText { return &SlackText{Type: "mrkdwn", Text: truncate(s, slackMaxSectionText)} }
	blocks := []SlackBlock{
		{Type: "header", Text: &SlackText{Type: "plain_text", Text: truncate(prio+": "+n.Title, slackMaxHeader)}},
		{Type: "section", Text: mrk(slackEscape(n.Message))},
		{Type: "section", Fields: []SlackText{
			{Type: "mrkdwn", Text: "*Priority*\n" + prio},
			{Type: "mrkdwn", Text: fmt.Sprintf("*Issues*\n%d", n.IssueCount)},
		}},
	}
	if len(n.Issues) > 0 {
		blocks = append(blocks, SlackBlock{Type: "divider"})
		var lines []string
		for i, is := range n.Issues {
			if i == slackMaxIssues {
				break
			}
			lines = append(lines, "• "+slackEscape(truncate(describeIssue(is), 500)))
		}
		if more := n.IssueCount - len(lines); more > 0 {
			lines = append(lines, fmt.Sprintf("_…and %d more; see the notification log or `%s`._", more, w.withDefaults().CheckCommand))
		}
		for _, chunk := range packLines(lines, slackMaxSectionText) {
			blocks = append(blocks, SlackBlock{Type: "section", Text: mrk(chunk)})
		}
	}
	if len(n.RecommendedAction) > 0 {
		blocks = append(blocks, SlackBlock{Type: "section",
			Text: mrk("*Recommended actions*\n" + slackEscape(strings.Join(n.RecommendedAction, "\n")))})
	}
	blocks = append(blocks, SlackBlock{Type: "context", Elements: []SlackText{{Type: "mrkdwn",
		Text: truncate(slackEscape(fmt.Sprintf("%s · %s · fingerprint %s",
			n.ID, n.Timestamp.UTC().Format(time.RFC3339), n.Fingerprint)), slackMaxSectionText)}}})
	if len(blocks) > slackMaxBlocks {
		blocks = blocks[:slackMaxBlocks]
	}
	text := fmt.Sprintf("[%s] %s: %s", prio, n.Title, n.Message)
	return SlackMessage{Text: truncate(text, slackMaxText), Blocks: blocks}
}

// packLines joins lines into chunks of at most max characters.
func packLines(lines []string, max int) []string {
	var out []string
	var cur strings.Builder
	for _, l := range lines {
		l = truncate(l, max)
		if cur.Len() > 0 && utf8.RuneCountInString(cur.String())+1+utf8.RuneCountInString(l) > max {
			out = append(out, cur.String())
			cur.Reset()
		}
		if cur.Len() > 0 {
			cur.WriteByte('\n')
		}
		cur.WriteString(l)
	}
	if cur.Len() > 0 {
		out = append(out, cur.String())
	}
	return out
}

// truncate cuts s to at most max characters, ending with "…" when cut.
func truncate(s string, max int) string {
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	r := []rune(s)
	return string(r[:max-1]) + "…"
}

// slackEscape escapes the three characters Slack's mrkdwn reserves.
func slackEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}
