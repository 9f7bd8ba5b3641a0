package main

import (
	"go/parser"
	"go/token"
	"strconv"
	"strings"
	"testing"
)

// TestUsesOnlyThePublicAPI: the example is what a union local copies into
// its own module, where ip2adb's internal packages cannot be imported.
func TestUsesOnlyThePublicAPI(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "main.go", nil, parser.ImportsOnly)
	if err != nil {
		t.Fatal(err)
	}
	for _, imp := range f.Imports {
		path, _ := strconv.Unquote(imp.Path.Value)
		if strings.HasPrefix(path, "github.com/ip2adb/ip2adb/internal/") {
			t.Errorf("main.go imports %s, which other modules cannot import", path)
		}
	}
}
