package notify

import "strings"

// SplitChannelURLs splits a comma-separated list of channel URLs, as in
// the IP2ADB_NOTIFY environment variable, keeping the commas that belong
// to a URL's query, as in smtp://…&to=a@example.com,b@example.com: a
// piece that does not start with a channel scheme (log, smtp, smtps,
// slack, http, https) continues the previous URL when that URL has a
// query. Pieces are trimmed; empty ones are dropped.
func SplitChannelURLs(list string) []string {
	var out []string
	for _, p := range strings.Split(list, ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		scheme, _, _ := strings.Cut(p, ":")
		switch strings.ToLower(scheme) {
		case "log", "smtp", "smtps", "slack", "http", "https":
		default:
			if len(out) > 0 && strings.Contains(out[len(out)-1], "?") {
				out[len(out)-1] += "," + p
				continue
			}
		}
		out = append(out, p)
	}
	return out
}
