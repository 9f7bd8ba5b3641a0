package service

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"fmt"
	"html/template"
	"math"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/ip2adb/ip2adb"
	"github.com/ip2adb/ip2adb/heal"
	"github.com/ip2adb/ip2adb/resilience"
)

//go:embed assets/status.html
var pageHTML string

//go:embed assets/status.css
var pageCSS string

// The overall health levels of the status page.
const (
	HealthGreen = "green"
	HealthAmber = "amber"
	HealthRed   = "red"
)

// PageRuns is how many recent runs the status page lists.
const PageRuns = 8

// StaleAfter is the age at which the last successful heal run makes the
// status page amber (the example alert fires at the same age).
const StaleAfter = 48 * time.Hour

var pageTemplate = template.Must(template.New("status").Funcs(template.FuncMap{
	"time":  func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 MST") },
	"ago":   func(t, now time.Time) string { return humanize.RelTime(t, now, "ago", "from now") },
	"comma": func(n int) string { return humanize.Comma(int64(n)) },
	"secs":  func(f float64) string { return (time.Duration(f*1000) * time.Millisecond).String() },
	"sub":   func(a, b int) int { return a - b },
	"sub1":  func(a, b float64) float64 { return a - b },
	"add1":  func(a, b float64) float64 { return a + b },
}).Parse(pageHTML))

// cspHeader allows nothing but the page's own embedded style sheet: no
// script, no fetch, no frame.
var cspHeader = func() string {
	h := sha256.Sum256([]byte(pageCSS))
	return "default-src 'none'; style-src 'sha256-" + base64.StdEncoding.EncodeToString(h[:]) +
		"'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
}()

// pageData is what the status page template shows.
type pageData struct {
	CSS           template.CSS
	Info          PageInfo
	Now           time.Time
	Level, Label  string
	Reasons       []string
	DBError       string
	Summary       *heal.HealthSummary
	SummaryErr    string
	StateErr      string
	ChecksRunID   string
	ChecksAt      time.Time
	ChecksRan     int
	Open          []CheckStatus
	NotApplicable []CheckStatus
	OpenRows      int
	Runs          []RunSummary
	LastRepairs   *RunSummary
	RunsTotal     int
	Schedules     []scheduleRow
	Resilience    *ResilienceStatus
	Findings      []Finding
	Chart         *chart
}

type scheduleRow struct {
	Kind, Spec string
	Next       time.Time
}

func (s *Service) page(w http.ResponseWriter, r *http.Request) {
	now := s.now()
	d := pageData{CSS: template.CSS(pageCSS), Info: s.cfg.Info, Now: now}
	st, err := s.store.Load()
	if err != nil {
		d.StateErr = err.Error()
	}
	if err := s.ready(r.Context()); err != nil {
		d.DBError = oneLine(err.Error())
	}
	if sum, err := heal.Summary(s.cfg.LogDir, heal.DefaultSummaryDays, now); err != nil {
		d.SummaryErr = oneLine(err.Error())
	} else {
		d.Summary = &sum
	}
	d.ChecksRunID, d.ChecksAt, d.ChecksRan = st.ChecksRunID, st.ChecksAt, len(st.Checks)
	for _, c := range st.Checks {
		if c.NotApplicable {
			d.NotApplicable = append(d.NotApplicable, c)
			continue
		}
		if c.Count > 0 || c.Error != "" {
			d.Open = append(d.Open, c)
			d.OpenRows += c.Count
		}
	}
	slices.SortStableFunc(d.Open, func(a, b CheckStatus) int {
		if (a.Error != "") != (b.Error != "") {
			if a.Error != "" {
				return -1
			}
			return 1
		}
		if a.Severity.Rank() != b.Severity.Rank() {
			return b.Severity.Rank() - a.Severity.Rank()
		}
		return b.Count - a.Count
	})
	d.LastRepairs = st.LastRepairs
	d.Runs, d.RunsTotal = st.Runs[:min(len(st.Runs), PageRuns)], len(st.Runs)
	d.Schedules = []scheduleRow{
		{Kind: KindHeal, Spec: s.cfg.HealSchedule, Next: s.healSchedule.Next(now)},
		{Kind: KindResilience, Spec: s.cfg.ResilienceSchedule, Next: s.resSchedule.Next(now)},
	}
	if rs := st.Resilience; rs != nil {
		d.Resilience = rs
		d.Findings = slices.Clone(rs.Findings)
		slices.SortStableFunc(d.Findings, func(a, b Finding) int { return b.Severity.Rank() - a.Severity.Rank() })
	}
	hist, _, err := resilience.LoadGrowthHistory(filepath.Join(s.cfg.LogDir, resilience.MetricsDir))
	if err == nil && len(hist) > 0 {
		d.Chart = newChart(hist, st.Resilience)
	}
	d.Level, d.Label, d.Reasons = overallHealth(st, d.DBError, now)

	var buf bytes.Buffer
	if err := pageTemplate.Execute(&buf, d); err != nil {
		s.cfg.Log.Error(err, "render the status page")
		http.Error(w, "the status page could not be rendered", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", cspHeader)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	w.Write(buf.Bytes())
}

// overallHealth is red when something needs a person now (critical issues
// or findings, failed checks or runs, no database), amber when something
// needs a look (warnings, no recent successful heal run), green otherwise.
func overallHealth(st State, dbErr string, now time.Time) (level, label string, reasons []string) {
	var red, amber []string
	if dbErr != "" {
		red = append(red, "The database does not answer: "+dbErr)
	}
	var crit, critChecks, warn, failed int
	for _, c := range st.Checks {
		switch {
		case c.Error != "":
			failed++
		case c.Count > 0 && c.Severity == ip2adb.Critical:
			crit += c.Count
			critChecks++
		case c.Count > 0 && c.Severity == ip2adb.Warning:
			warn += c.Count
		}
	}
	if crit > 0 {
		red = append(red, plural(crit, "critical issue", "critical issues")+" open in "+plural(critChecks, "check", "checks"))
	}
	if failed > 0 {
		red = append(red, plural(failed, "check", "checks")+" could not run")
	}
	if warn > 0 {
		amber = append(amber, plural(warn, "warning", "warnings")+" open")
	}
	last, ok := st.LastRun(KindHeal)
	switch {
	case !ok:
		amber = append(amber, "No auto-heal run yet")
	case !last.Success:
		red = append(red, "The last auto-heal run failed ("+last.Time.UTC().Format("2006-01-02 15:04 MST")+")")
	}
	if ok && (last.LastSuccess.IsZero() || now.Sub(last.LastSuccess) > StaleAfter) {
		amber = append(amber, "No successful auto-heal run in the last two days")
	}
	if rs := st.Resilience; rs != nil {
		if rs.Summary.Critical > 0 {
			red = append(red, plural(rs.Summary.Critical, "critical resilience finding", "critical resilience findings"))
		}
		if rs.Summary.Warning > 0 {
			amber = append(amber, plural(rs.Summary.Warning, "resilience warning", "resilience warnings"))
		}
	} else {
		amber = append(amber, "No resilience report yet")
	}
	switch {
	case len(red) > 0:
		return HealthRed, "Needs attention now", append(red, amber...)
	case len(amber) > 0:
		return HealthAmber, "Needs a look", amber
	}
	return HealthGreen, "Healthy", []string{"No critical or warning issues are open and the last runs succeeded."}
}

// chart is the growth chart: database size and rows per saved day, and
// the size forecast.
type chart struct {
	W, H                  int
	Left, Right, Top, Bot float64
	SizeLine, RowsLine    string
	Forecast              string
	SizePoints, RowPoints []point
	SizeTicks, RowTicks   []tick
	XTicks                []tick
	Caption               string
	Title                 string
	Days                  int
	LastSize, LastRows    string
	FirstDate, LastDate   string
}

type point struct{ X, Y float64 }

type tick struct {
	Pos   float64
	Label string
}

// chartForecastDays is the farthest the dashed forecast line reaches.
const chartForecastDays = 30

func newChart(hist []resilience.GrowthSnapshot, rs *ResilienceStatus) *chart {
	c := &chart{W: 760, H: 320, Left: 84, Right: 682, Top: 30, Bot: 280, Days: len(hist)}
	day := func(s string) time.Time { t, _ := time.Parse(time.DateOnly, s); return t }
	t0, t1 := day(hist[0].Date), day(hist[len(hist)-1].Date)
	c.FirstDate, c.LastDate = hist[0].Date, hist[len(hist)-1].Date
	last := hist[len(hist)-1]
	c.LastSize = humanize.IBytes(uint64(max(last.DatabaseBytes, 0)))
	c.LastRows = humanize.Comma(last.TotalRows)

	var perDay *float64
	if rs != nil && rs.BytesPerDay != nil {
		perDay = rs.BytesPerDay
	} else if len(hist) >= 2 && t1.After(t0) {
		v := float64(last.DatabaseBytes-hist[0].DatabaseBytes) / (t1.Sub(t0).Hours() / 24)
		perDay = &v
	}
	// The forecast reaches half as far as the history (3 to 30 days), so
	// the measured days keep most of the width.
	horizon := min(max(int(t1.Sub(t0).Hours()/24/2), 3), chartForecastDays)
	end := t1
	if perDay != nil {
		end = t1.AddDate(0, 0, horizon)
	}
	if !end.After(t0) {
		end = t0.AddDate(0, 0, 1)
	}
	var maxBytes, maxRows float64
	for _, h := range hist {
		maxBytes = math.Max(maxBytes, float64(h.DatabaseBytes))
		maxRows = math.Max(maxRows, float64(h.TotalRows))
	}
	forecastEnd := 0.0
	if perDay != nil {
		forecastEnd = math.Max(0, float64(last.DatabaseBytes)+*perDay*float64(horizon))
		maxBytes = math.Max(maxBytes, forecastEnd)
	}
	maxBytes, maxRows = niceMax(maxBytes), niceMax(maxRows)
	span := end.Sub(t0).Hours()
	x := func(t time.Time) float64 { return round1(c.Left + (c.Right-c.Left)*t.Sub(t0).Hours()/span) }
	yb := func(v float64) float64 { return round1(c.Bot - (c.Bot-c.Top)*v/maxBytes) }
	yr := func(v float64) float64 { return round1(c.Bot - (c.Bot-c.Top)*v/maxRows) }
	var sz, rw []string
	for _, h := range hist {
		t := day(h.Date)
		ps := point{x(t), yb(float64(h.DatabaseBytes))}
		pr := point{x(t), yr(float64(h.TotalRows))}
		c.SizePoints = append(c.SizePoints, ps)
		c.RowPoints = append(c.RowPoints, pr)
		sz = append(sz, fmt.Sprintf("%g,%g", ps.X, ps.Y))
		rw = append(rw, fmt.Sprintf("%g,%g", pr.X, pr.Y))
	}
	c.SizeLine, c.RowsLine = strings.Join(sz, " "), strings.Join(rw, " ")
	if perDay != nil {
		c.Forecast = fmt.Sprintf("%g,%g %g,%g", x(t1), yb(float64(last.DatabaseBytes)), x(end), yb(forecastEnd))
	}
	for i := 0; i <= 4; i++ {
		f := float64(i) / 4
		c.SizeTicks = append(c.SizeTicks, tick{yb(maxBytes * f), humanize.IBytes(uint64(maxBytes * f))})
		c.RowTicks = append(c.RowTicks, tick{yr(maxRows * f), compact(maxRows * f)})
	}
	// A label a day when they fit, else about six.
	days := int(end.Sub(t0).Hours() / 24)
	step := max(1, (days+5)/6)
	for d := 0; d <= days; d += step {
		t := t0.AddDate(0, 0, d)
		c.XTicks = append(c.XTicks, tick{x(t), t.Format("Jan 2")})
	}
	c.Title = fmt.Sprintf("Database size and rows over %d saved days", len(hist))
	switch {
	case rs != nil && rs.DaysUntilFull != nil:
		c.Caption = fmt.Sprintf("Growing %s a day: at this rate the disk holding the database is full in about %s days. The dashed line is the next %d days.",
			humanize.IBytes(uint64(math.Max(0, derefOr(perDay, 0)))), humanize.Comma(int64(*rs.DaysUntilFull)), horizon)
	case perDay != nil && *perDay <= 0:
		c.Caption = "The database is not growing: no disk-full forecast."
	case perDay != nil:
		c.Caption = fmt.Sprintf("Growing %s a day; the dashed line is the next %d days.", humanize.IBytes(uint64(*perDay)), horizon)
	default:
		c.Caption = "One day of history so far: the forecast needs two saved days (the resilience report saves one a day)."
	}
	return c
}

func derefOr(p *float64, d float64) float64 {
	if p == nil {
		return d
	}
	return *p
}

// niceMax rounds v up to 1, 2 or 5 times a power of ten (at least 1).
func niceMax(v float64) float64 {
	if v <= 1 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if v <= m*p {
			return m * p
		}
	}
	return 10 * p
}

func round1(v float64) float64 { return math.Round(v*10) / 10 }

// compact prints a count with a k or M suffix.
func compact(v float64) string {
	switch {
	case v >= 1e6:
		return strings.TrimSuffix(fmt.Sprintf("%.1f", v/1e6), ".0") + "M"
	case v >= 1e3:
		return strings.TrimSuffix(fmt.Sprintf("%.1f", v/1e3), ".0") + "k"
	}
	return fmt.Sprintf("%.0f", v)
}

// plural is n with the singular or plural noun.
func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return humanize.Comma(int64(n)) + " " + many
}
