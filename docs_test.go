package wsrpc_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// readmeImports are the packages README snippets may use, by the name they
// are used under; a snippet's file imports those it names.
var readmeImports = map[string]string{
	"context":    "context",
	"errors":     "errors",
	"fmt":        "fmt",
	"http":       "net/http",
	"io":         "io",
	"json":       "encoding/json",
	"log":        "log",
	"net":        "net",
	"os":         "os",
	"slog":       "log/slog",
	"strings":    "strings",
	"time":       "time",
	"wsrpc":      "github.com/wsrpc/wsrpc-go",
	"client":     "github.com/wsrpc/wsrpc-go/client",
	"server":     "github.com/wsrpc/wsrpc-go/server",
	"session":    "github.com/wsrpc/wsrpc-go/session",
	"intro":      "github.com/wsrpc/wsrpc-go/examples/introduction/intro",
	"discovery":  "github.com/wsrpc/wsrpc-go/discovery",
	"nats":       "github.com/wsrpc/wsrpc-go/cluster/nats",
	"prometheus": "github.com/wsrpc/wsrpc-go/metrics/prometheus",
	"otel":       "github.com/wsrpc/wsrpc-go/tracing/otel",
	"rooms":      "github.com/wsrpc/wsrpc-go/rooms",
}

// readmeGivens are the names README snippets take as given (what the
// surrounding prose has set up), declared at package level when a snippet
// uses one and does not declare it itself.
var readmeGivens = map[string]string{
	"ctx":        "var ctx context.Context",
	"reg":        "var reg *wsrpc.Registry",
	"srv":        "var srv *server.Server",
	"opts":       "var opts *server.Options",
	"host":       "var host session.Host",
	"head":       "var head []byte",
	"remoteAddr": "var remoteAddr net.Addr",
	"params":     "var params any",
	"result":     "var result any",
	"isAdmin":    "func isAdmin(*wsrpc.Conn) bool { return false }",
	"byID":       "func byID(*http.Request) (string, any, error) { return \"\", nil, nil }",
	"conn":       "var conn *wsrpc.Conn",
	"url":        "var url string",
	"show":       "func show(string, json.RawMessage) {}",
	"reload":     "func reload(string) {}",
	"sopts":      "var sopts *server.Options",
	"natsURL":    "var natsURL string",
	"secret":     "var secret string",
	"history":    "func history(room string) *rooms.History { return nil }",
	"authorize":  "var authorize rooms.Authorize",
}

// TestReadmeGoSnippetsCompile builds every ```go block of README.md, each as
// a package of a scratch module in a workspace with this repository's
// modules: top-level type and func declarations stay at top level, the other
// lines become the body of a function returning error, and the variables it
// declares are marked used. A snippet that does not compile fails here with
// its README line.
func TestReadmeGoSnippetsCompile(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("SKIPPED: no go command")
	}
	readme, err := os.ReadFile("README.md")
	require.NoError(t, err)
	blocks := readmeGoBlocks(string(readme))
	require.NotEmpty(t, blocks, "README.md has no ```go block")

	dir := t.TempDir()
	writeReadmeWorkspace(t, goTool, dir)
	for _, b := range blocks {
		src, err := readmeSnippetFile(b)
		require.NoError(t, err, "README.md:%d: the ```go block does not parse:\n%s", b.line, b.text)
		pkg := filepath.Join(dir, fmt.Sprintf("line%d", b.line))
		require.NoError(t, os.MkdirAll(pkg, 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(pkg, "snippet.go"), src, 0o644))
	}
	cmd := exec.Command(goTool, "build", "./...")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOWORK="+filepath.Join(dir, "go.work"), "GOFLAGS=")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "README.md's ```go blocks do not compile (lineN/ names the block's README line):\n%s", out)
}

type readmeBlock struct {
	line int // of the ```go fence
	text string
}

func readmeGoBlocks(readme string) []readmeBlock {
	var blocks []readmeBlock
	var cur *readmeBlock
	for i, l := range strings.Split(readme, "\n") {
		switch {
		case cur == nil && strings.TrimSpace(l) == "```go":
			cur = &readmeBlock{line: i + 1}
		case cur != nil && strings.TrimSpace(l) == "```":
			blocks = append(blocks, *cur)
			cur = nil
		case cur != nil:
			cur.text += l + "\n"
		}
	}
	return blocks
}

var topLevelDecl = regexp.MustCompile(`^(type |func [A-Za-z(])`)

// readmeSnippetFile makes a Go file of one README block.
func readmeSnippetFile(b readmeBlock) ([]byte, error) {
	var decls, body strings.Builder
	depth, inDecl := 0, false
	for _, l := range strings.SplitAfter(b.text, "\n") {
		if depth == 0 && topLevelDecl.MatchString(l) {
			inDecl = true
		}
		if inDecl {
			decls.WriteString(l)
		} else {
			body.WriteString("\t" + l)
		}
		depth += strings.Count(l, "{") + strings.Count(l, "(") - strings.Count(l, "}") - strings.Count(l, ")")
		if depth == 0 {
			inDecl = false
		}
	}
	code := decls.String() + "\nfunc _() error {\n" + body.String() + "\treturn nil\n}\n"

	// The variables the body declares at its top level, marked used.
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "snippet.go", "package p\n"+code, 0)
	if err != nil {
		return nil, err
	}
	declared := map[string]bool{}
	var locals []string
	for _, d := range f.Decls {
		switch d := d.(type) {
		case *ast.FuncDecl:
			if d.Name.Name != "_" {
				declared[d.Name.Name] = true
				continue
			}
			for _, st := range d.Body.List {
				if as, ok := st.(*ast.AssignStmt); ok && as.Tok == token.DEFINE {
					for _, e := range as.Lhs {
						if id, ok := e.(*ast.Ident); ok && id.Name != "_" {
							locals = append(locals, id.Name)
						}
					}
				}
			}
		case *ast.GenDecl:
			for _, sp := range d.Specs {
				if ts, ok := sp.(*ast.TypeSpec); ok {
					declared[ts.Name.Name] = true
				}
			}
		}
	}
	if len(locals) > 0 {
		end := strings.LastIndex(code, "\treturn nil\n}\n")
		code = code[:end] + "\t_ = []any{" + strings.Join(locals, ", ") + "}\n" + code[end:]
	}

	var givens []string
	for name, decl := range readmeGivens {
		if !declared[name] && regexp.MustCompile(`\b`+name+`\b`).MatchString(b.text) {
			givens = append(givens, decl)
		}
	}
	sort.Strings(givens)
	code = strings.Join(givens, "\n") + "\n\n" + code

	var imports []string
	for name, path := range readmeImports {
		if regexp.MustCompile(`\b` + name + `\.[A-Za-z]`).MatchString(code) {
			imports = append(imports, fmt.Sprintf("\t%s %q\n", name, path))
		}
	}
	sort.Strings(imports)
	var src bytes.Buffer
	fmt.Fprintf(&src, "// README.md:%d\npackage line%d\n\nimport (\n%s)\n\n%s", b.line, b.line, strings.Join(imports, ""), code)
	return src.Bytes(), nil
}

// writeReadmeWorkspace writes dir/go.mod, a module that requires nothing, and
// dir/go.work, this repository's workspace with dir added: imports of the
// repository's modules resolve to this work tree.
func writeReadmeWorkspace(t *testing.T, goTool, dir string) {
	t.Helper()
	env := exec.Command(goTool, "env", "GOWORK")
	env.Env = append(os.Environ(), "GOFLAGS=")
	gowork, err := env.Output()
	require.NoError(t, err, "go env GOWORK")
	if w := strings.TrimSpace(string(gowork)); w == "" || w == "off" {
		t.Skip("SKIPPED: not in workspace mode (GOWORK=off): the snippets import the repository's other modules through go.work")
	}
	cmd := exec.Command(goTool, "work", "edit", "-json")
	cmd.Env = env.Env
	out, err := cmd.Output()
	require.NoError(t, err, "go work edit -json")
	var work struct {
		Go      string
		Use     []struct{ DiskPath string }
		Replace []struct {
			Old struct{ Path, Version string }
			New struct{ Path, Version string }
		}
	}
	require.NoError(t, json.Unmarshal(out, &work))
	root, err := os.Getwd()
	require.NoError(t, err)
	abs := func(p string) string {
		if filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(root, p)
	}
	var w strings.Builder
	fmt.Fprintf(&w, "go %s\n\nuse (\n\t%s\n", work.Go, dir)
	for _, u := range work.Use {
		fmt.Fprintf(&w, "\t%s\n", abs(u.DiskPath))
	}
	w.WriteString(")\n")
	for _, r := range work.Replace {
		target := r.New.Path
		if r.New.Version == "" {
			target = abs(target)
		} else {
			target += " " + r.New.Version
		}
		fmt.Fprintf(&w, "replace %s %s => %s\n", r.Old.Path, r.Old.Version, target)
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "go.work"), []byte(w.String()), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module example.com/readme\n\ngo "+work.Go+"\n"), 0o644))
}

var (
	staleProtocolCite = regexp.MustCompile(`PROTOCOL(\.md)?\b`)
	protocolCite      = regexp.MustCompile(`docs/protocol\.md\)?((?:[ ,–-]*(?:and )?§\d+)+)`)
	protocolSection   = regexp.MustCompile(`(?m)^## (\d+)\. `)
	sectionNumber     = regexp.MustCompile(`§(\d+)`)
)

// TestProtocolCitations checks that what cites the protocol cites
// docs/protocol.md, by sections it has: comments, the README, the
// transcripts' headers.
func TestProtocolCitations(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("docs", "protocol.md"))
	require.NoError(t, err)
	sections := map[string]bool{}
	for _, m := range protocolSection.FindAllStringSubmatch(string(doc), -1) {
		sections[m[1]] = true
	}
	require.NotEmpty(t, sections, "docs/protocol.md has no numbered sections (## N. Title)")

	cites := 0
	err = filepath.WalkDir(".", func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch d.Name() {
			case ".git", "node_modules", "docs":
				return filepath.SkipDir
			}
			return nil
		}
		switch filepath.Ext(path) {
		case ".go", ".md", ".txt", ".js", ".ts", ".py":
		default:
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for i, line := range strings.Split(string(data), "\n") {
			if path != "docs_test.go" && staleProtocolCite.MatchString(line) {
				t.Errorf("%s:%d cites the protocol by its old name; cite docs/protocol.md §N: %s", path, i+1, strings.TrimSpace(line))
			}
			for _, m := range protocolCite.FindAllStringSubmatch(line, -1) {
				for _, n := range sectionNumber.FindAllStringSubmatch(m[1], -1) {
					cites++
					if !sections[n[1]] {
						t.Errorf("%s:%d cites docs/protocol.md §%s, which it does not have: %s", path, i+1, n[1], strings.TrimSpace(line))
					}
				}
			}
		}
		return nil
	})
	require.NoError(t, err)
	require.NotZero(t, cites, "no citation of docs/protocol.md §N found: is the pattern still right?")
}
