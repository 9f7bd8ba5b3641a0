package filestore_test

import (
	"fmt"

	"github.com/ip2adb/ip2adb/filestore"
)

// Attachment paths as a database holds them, resolved against a bucket
// root: the same resolver serves every check and probe.
func ExampleResolver() {
	r := filestore.NewResolver("s3://ip2a-documents/scans")
	for _, p := range []string{
		"uploads/members/Smith_John_M7464416/2026/01-January/report.pdf",
		"s3://ip2a-documents/scans/uploads/a.pdf",
		"s3://other-bucket/a.pdf",
		"/srv/ip2a/uploads/a.pdf",
		"../a.pdf",
		"",
	} {
		name, kind := r.Resolve(p)
		fmt.Printf("%-8s %q\n", kind, name)
	}
	// Output:
	// in_store "uploads/members/Smith_John_M7464416/2026/01-January/report.pdf"
	// in_store "uploads/a.pdf"
	// remote   ""
	// outside  ""
	// outside  ""
	// empty    ""
}
