package ip2adb_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
)

// dialectPlaces may compare dialects: internal/dbx, which knows how they
// differ, and the test helpers that set databases up.
var dialectPlaces = []string{"internal/dbx/", "internal/testdb/", "internal/testcluster/", "dbtest/", "bench/"}

// TestNoDialectComparisons: library code asks internal/dbx for what it
// needs (dbx.Dialect's methods, capabilities such as ServerStatistics,
// dbx.PerDialect for a whole algorithm) instead of comparing a dialect
// with dbx.Postgres or dbx.SQLite (== and != or a switch case), so that
// one package knows how the dialects differ. Tests may compare.
func TestNoDialectComparisons(t *testing.T) {
	checked := 0
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		slash := filepath.ToSlash(path)
		if d.IsDir() {
			if path != "." && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata") {
				return filepath.SkipDir
			}
			for _, p := range dialectPlaces {
				if slash+"/" == p {
					return filepath.SkipDir
				}
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		checked++
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.BinaryExpr:
				if n.Op == token.EQL || n.Op == token.NEQ {
					for _, x := range []ast.Expr{n.X, n.Y} {
						if name, ok := dialectConst(x); ok {
							t.Errorf("%s: compares a dialect with %s; ask a method of dbx.Dialect instead", fset.Position(n.Pos()), name)
						}
					}
				}
			case *ast.CaseClause:
				for _, x := range n.List {
					if name, ok := dialectConst(x); ok {
						t.Errorf("%s: switches on the dialect (case %s); ask a method of dbx.Dialect or use dbx.PerDialect instead", fset.Position(x.Pos()), name)
					}
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked < 50 {
		t.Errorf("checked only %d files: the walk missed the library", checked)
	}
}

// dialectConst reports whether x names one of the dialect constants
// (dbx.Postgres, dburl.SQLite, …), and which.
func dialectConst(x ast.Expr) (string, bool) {
	sel, ok := ast.Unparen(x).(*ast.SelectorExpr)
	if !ok {
		return "", false
	}
	pkg, ok := sel.X.(*ast.Ident)
	if !ok || (pkg.Name != "dbx" && pkg.Name != "dburl") {
		return "", false
	}
	if sel.Sel.Name != "Postgres" && sel.Sel.Name != "SQLite" {
		return "", false
	}
	return pkg.Name + "." + sel.Sel.Name, true
}
