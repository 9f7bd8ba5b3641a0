package resilience

import (
	"io"

	"github.com/ip2adb/ip2adb"
)

// Document is the JSON object `ip2adb resilience --format json` prints:
// the report (findings, probes, summary) and, when checksums were recorded
// first, what was recorded.
type Document struct {
	Report
	// RecordedChecksums is what [RecordChecksums] stored before the
	// report ran; nil (and absent from the JSON) when it did not run.
	RecordedChecksums *RecordResult `json:"recorded_checksums,omitempty"`
}

// Export writes the document d in format: with [ip2adb.JSON] the JSON
// object (indented by two spaces, as `ip2adb resilience --format json`
// prints it), with [ip2adb.Text] the text report of [Report.WriteText]
// (which leaves out the recorded checksums). Any other format is an error
// and writes nothing.
func Export(w io.Writer, format ip2adb.Format, d Document) error {
	switch format {
	case ip2adb.JSON:
		return ip2adb.WriteJSON(w, d)
	case ip2adb.Text:
		return d.Report.WriteText(w)
	}
	return ip2adb.UnknownFormat(format)
}
