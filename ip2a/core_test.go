package ip2a_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/ip2adb/ip2adb/ip2a"
)

// core are the packages that speak no IP2A (DESIGN.md's dependency rule):
// package ip2a configures them, never the other way round.
var core = []string{"integrity", "heal", "notify", "resilience", "catalog", "filestore", "dburl", "service"}

// named are the packages whose code names no IP2A table.
var named = core

// TestCoreImportsNoIP2A: the core packages depend on neither ip2a (nor
// its schema) nor seed; of the whole module only seed, the command and the
// examples do.
func TestCoreImportsNoIP2A(t *testing.T) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to list dependencies: %v", err)
	}
	const mod = "github.com/ip2adb/ip2adb/"
	out, err := exec.Command(gobin, "list", "-f", "{{.ImportPath}} {{join .Deps \" \"}}", mod+"...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	may := func(p string) bool {
		p = strings.TrimPrefix(p, mod)
		// internal/testdb and bench are test helpers that build IP2A
		// databases for the tests and benchmarks; no library code
		// imports them.
		return p == "ip2a" || p == "seed" || p == "internal/cli" || strings.HasPrefix(p, "cmd/") ||
			strings.HasPrefix(p, "examples/") || strings.HasPrefix(p, "ip2a/") ||
			p == "internal/testdb" || p == "bench"
	}
	listed := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		p := fields[0]
		listed[strings.TrimPrefix(p, mod)] = true
		for _, dep := range fields[1:] {
			if (dep == mod+"ip2a" || dep == mod+"ip2a/schema" || dep == mod+"seed") && !may(p) {
				t.Errorf("%s depends on %s", p, dep)
			}
		}
	}
	for _, p := range core {
		if !listed[p] {
			t.Errorf("go list did not list %s", p)
		}
	}
}

// TestCoreNamesNoIP2ATable: no string in the core packages' code (tests
// aside; comments are documentation, where IP2A may be an example) names
// an IP2A table, and none says "IP2A".
func TestCoreNamesNoIP2ATable(t *testing.T) {
	tables := ip2a.Tables()
	for _, t := range ip2a.AttachmentTargets() {
		if !slices.Contains(tables, t) {
			tables = append(tables, t)
		}
	}
	slices.Sort(tables)
	word := regexp.MustCompile(`\b(` + strings.Join(tables, "|") + `|IP2A)\b`)
	files := 0
	for _, p := range named {
		paths, err := filepath.Glob(filepath.Join("..", p, "*.go"))
		if err != nil {
			t.Fatal(err)
		}
		for _, path := range paths {
			if strings.HasSuffix(path, "_test.go") {
				continue
			}
			src, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			fset := token.NewFileSet()
			f, err := parser.ParseFile(fset, path, src, parser.SkipObjectResolution)
			if err != nil {
				t.Fatal(err)
			}
			files++
			ast.Inspect(f, func(n ast.Node) bool {
				lit, ok := n.(*ast.BasicLit)
				if !ok || lit.Kind != token.STRING {
					return true
				}
				s, err := strconv.Unquote(lit.Value)
				if err != nil {
					s = lit.Value
				}
				if m := word.FindString(s); m != "" {
					t.Errorf("%s: %q names %s", fset.Position(lit.Pos()), s, m)
				}
				return true
			})
		}
	}
	if files < 15 {
		t.Errorf("read only %d files: the walk missed the core packages", files)
	}
}
