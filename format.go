package ip2adb

import (
	"encoding/json"
	"fmt"
	"io"
)

// Format is an output format of the reports' Export functions
// (integrity.Export, heal.Export, resilience.Export).
type Format string

// The output formats.
const (
	// Text is the report for people.
	Text Format = "text"
	// JSON is the report as one JSON object, indented by two spaces.
	JSON Format = "json"
)

// ParseFormat returns the format named s: "text" or "json". Anything else
// is a *[FormatError].
func ParseFormat(s string) (Format, error) {
	switch f := Format(s); f {
	case Text, JSON:
		return f, nil
	}
	return "", &FormatError{Format: s}
}

// FormatError reports an output format other than text or json.
type FormatError struct {
	// Format is the format asked for.
	Format string
}

func (e *FormatError) Error() string {
	return fmt.Sprintf("unknown format %q (want text or json)", e.Format)
}

// UnknownFormat returns the *[FormatError] for f: what an Export function
// returns for a format it does not write.
func UnknownFormat(f Format) error { return &FormatError{Format: string(f)} }

// WriteJSON writes v to w as one JSON object indented by two spaces and
// followed by a newline: the JSON form of every report.
func WriteJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
