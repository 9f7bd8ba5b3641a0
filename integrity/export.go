package integrity

import (
	"io"

	"github.com/ip2adb/ip2adb"
)

// Export writes the report r in format: with [ip2adb.JSON] its
// [Report.Document] (indented by two spaces, as `ip2adb integrity
// --format json` prints it), with [ip2adb.Text] the text report of
// [WriteText]. Any other format is an error and writes nothing.
func Export(w io.Writer, format ip2adb.Format, r Report) error {
	switch format {
	case ip2adb.JSON:
		return ip2adb.WriteJSON(w, r.Document())
	case ip2adb.Text:
		return WriteText(w, r)
	}
	return ip2adb.UnknownFormat(format)
}
