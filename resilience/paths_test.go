package resilience

import "testing"

func TestStorePath(t *testing.T) {
	for _, tc := range []struct {
		in   string
		name string
		kind pathKind
	}{
		{"uploads/member/2024/03/ab12.pdf", "uploads/member/2024/03/ab12.pdf", pathLocal},
		{"  ./uploads//member/a.pdf ", "uploads/member/a.pdf", pathLocal},
		{"/srv/files/uploads/a.pdf", "uploads/a.pdf", pathLocal},
		{"/etc/passwd", "", pathOutside},
		{"../secrets/a.pdf", "", pathOutside},
		{"uploads/../../a.pdf", "", pathOutside},
		{".", "", pathOutside},
		{"", "", pathEmpty},
		{"   ", "", pathEmpty},
		{"s3://bucket/a.pdf", "", pathRemote},
		{"S3://bucket/a.pdf", "", pathRemote},
		{"https://files.example.org/a.pdf", "", pathRemote},
		{"HTTP://files.example.org/a.pdf", "", pathRemote},
	} {
		name, kind := storePath(tc.in, "/srv/files")
		if name != tc.name || kind != tc.kind {
			t.Errorf("storePath(%q) = %q, %v; want %q, %v", tc.in, name, kind, tc.name, tc.kind)
		}
	}
	if _, kind := storePath("/srv/files/a", ""); kind != pathOutside {
		t.Errorf("absolute path without a root: %v", kind)
	}
}
