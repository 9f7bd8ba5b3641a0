package ip2adb_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestExamplesUseOnlyThePublicAPI: the programs under examples/ (and their
// tests) and every file holding an Example function are what a union local
// copies into its own module, where ip2adb's internal packages cannot be
// imported.
func TestExamplesUseOnlyThePublicAPI(t *testing.T) {
	checked := 0
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != "." && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		inExamples := strings.HasPrefix(filepath.ToSlash(path), "examples/")
		if !inExamples && !(strings.HasSuffix(path, "_test.go") && hasExample(f)) {
			return nil
		}
		checked++
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if p == "github.com/ip2adb/ip2adb/internal" || strings.HasPrefix(p, "github.com/ip2adb/ip2adb/internal/") {
				t.Errorf("%s imports %s, which other modules cannot import", path, p)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked < 10 {
		t.Errorf("checked only %d files: the walk missed the examples", checked)
	}
}

// hasExample reports whether f declares an Example function.
func hasExample(f *ast.File) bool {
	for _, d := range f.Decls {
		if fn, ok := d.(*ast.FuncDecl); ok && fn.Recv == nil && strings.HasPrefix(fn.Name.Name, "Example") {
			return true
		}
	}
	return false
}
