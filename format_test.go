package ip2adb_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/ip2adb/ip2adb"
)

func TestParseFormat(t *testing.T) {
	for _, s := range []string{"text", "json"} {
		f, err := ip2adb.ParseFormat(s)
		if err != nil || string(f) != s {
			t.Errorf("ParseFormat(%q) = %q, %v", s, f, err)
		}
	}
	_, err := ip2adb.ParseFormat("JSON")
	var fe *ip2adb.FormatError
	if !errors.As(err, &fe) {
		t.Fatalf("ParseFormat(JSON) = %v, want a *FormatError", err)
	}
	if diff := cmp.Diff(`unknown format "JSON" (want text or json)`, err.Error()); diff != "" {
		t.Errorf("error (-want +got):\n%s", diff)
	}
}

func TestWriteJSON(t *testing.T) {
	var b strings.Builder
	if err := ip2adb.WriteJSON(&b, map[string]any{"a": []int{1}, "b": "<x>"}); err != nil {
		t.Fatal(err)
	}
	want := "{\n  \"a\": [\n    1\n  ],\n  \"b\": \"\\u003cx\\u003e\"\n}\n"
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("WriteJSON (-want +got):\n%s", diff)
	}
}
