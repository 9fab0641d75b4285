package wsrpc_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestEveryFuzzTargetRunsInCI holds that each fuzz target in the
// repository is listed in the Makefile's FUZZ_TARGETS, which `make test`
// runs briefly: a fuzz target nobody runs guards nothing.
func TestEveryFuzzTargetRunsInCI(t *testing.T) {
	makefile, err := os.ReadFile("Makefile")
	require.NoError(t, err)
	listed := map[string]bool{}
	for _, m := range regexp.MustCompile(`(\./[\w./-]*|\.):(Fuzz\w+)`).FindAllStringSubmatch(string(makefile), -1) {
		listed[m[1]+":"+m[2]] = true
	}
	fuzzFunc := regexp.MustCompile(`(?m)^func (Fuzz\w+)\(`)
	var missing []string
	err = filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") && path != "." || d.Name() == "node_modules" || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, "_test.go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		pkg := "./" + filepath.ToSlash(filepath.Dir(path))
		if pkg == "./." {
			pkg = "."
		}
		for _, m := range fuzzFunc.FindAllStringSubmatch(string(src), -1) {
			if !listed[pkg+":"+m[1]] {
				missing = append(missing, pkg+":"+m[1])
			}
		}
		return nil
	})
	require.NoError(t, err)
	require.Empty(t, missing, "add these to FUZZ_TARGETS in the Makefile")
}
