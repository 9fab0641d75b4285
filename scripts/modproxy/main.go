// Command modproxy writes a file-system Go module proxy (the GOPROXY protocol's
// list, .info, .mod and .zip files) holding this repository's modules at the
// version their go.mod files require of each other, so that
// scripts/installable.sh can install them as a user outside the repository
// does: GOPROXY=file://DIR followed by the usual proxy.
//
//	go run . -out DIR REPO_ROOT MODULE_DIR...
//
// Each module's zip holds the files git would publish at a tag: tracked files
// and untracked ones that are not ignored, as they are in the work tree, minus
// nested modules and vendor directories (golang.org/x/mod/zip's rules). Every
// requirement of one given module on another must name the same version, and
// go.work (in REPO_ROOT) must replace that version of each module by its
// directory; modproxy prints that version.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/module"
	modzip "golang.org/x/mod/zip"
)

func main() {
	out := flag.String("out", "", "the proxy directory to write (GOPROXY=file://DIR)")
	flag.Parse()
	if *out == "" || flag.NArg() < 2 {
		fmt.Fprintln(os.Stderr, "usage: modproxy -out DIR REPO_ROOT MODULE_DIR...")
		os.Exit(2)
	}
	version, err := run(*out, flag.Arg(0), flag.Args()[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "modproxy:", err)
		os.Exit(1)
	}
	fmt.Println(version)
}

// mod is one module of the repository.
type mod struct {
	dir  string
	path string
	file *modfile.File
	raw  []byte
}

func run(out, root string, dirs []string) (string, error) {
	mods := make([]mod, 0, len(dirs))
	paths := map[string]bool{}
	for _, dir := range dirs {
		raw, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err != nil {
			return "", err
		}
		f, err := modfile.Parse(filepath.Join(dir, "go.mod"), raw, nil)
		if err != nil {
			return "", err
		}
		if f.Module == nil {
			return "", fmt.Errorf("%s/go.mod: no module line", dir)
		}
		mods = append(mods, mod{dir: dir, path: f.Module.Mod.Path, file: f, raw: raw})
		paths[f.Module.Mod.Path] = true
	}
	version, required, err := releaseVersion(mods, paths)
	if err != nil {
		return "", err
	}
	if err := checkWorkspace(root, version, required); err != nil {
		return "", err
	}
	for _, m := range mods {
		if err := publish(out, m, version); err != nil {
			return "", fmt.Errorf("%s: %w", m.path, err)
		}
	}
	return version, nil
}

// releaseVersion is the one version at which the modules require each other;
// required holds the paths of the modules that others require.
func releaseVersion(mods []mod, paths map[string]bool) (version string, required map[string]bool, err error) {
	seen := map[string][]string{}
	required = map[string]bool{}
	for _, m := range mods {
		if len(m.file.Replace) > 0 {
			return "", nil, fmt.Errorf("%s/go.mod has a replace directive, which a user's build ignores; use go.work", m.dir)
		}
		for _, r := range m.file.Require {
			if paths[r.Mod.Path] {
				required[r.Mod.Path] = true
				seen[r.Mod.Version] = append(seen[r.Mod.Version], m.dir+" requires "+r.Mod.String())
			}
		}
	}
	if len(seen) != 1 {
		var all []string
		for _, s := range seen {
			all = append(all, s...)
		}
		sort.Strings(all)
		return "", nil, fmt.Errorf("the modules must require each other at one version (see RELEASING.md); found %d:\n  %s", len(seen), strings.Join(all, "\n  "))
	}
	for v := range seen {
		if v == "v0.0.0" || module.CanonicalVersion(v) != v {
			return "", nil, fmt.Errorf("the modules require each other at %s, which is not a release version", v)
		}
		return v, required, nil
	}
	panic("unreachable")
}

// checkWorkspace checks that go.work replaces version of each required module
// by its directory: a workspace build loads the go.mod of every version
// required, and this one is not published yet.
func checkWorkspace(root, version string, required map[string]bool) error {
	raw, err := os.ReadFile(filepath.Join(root, "go.work"))
	if err != nil {
		return err
	}
	w, err := modfile.ParseWork("go.work", raw, nil)
	if err != nil {
		return err
	}
	replaced := map[string]bool{}
	for _, r := range w.Replace {
		if r.Old.Version == version {
			replaced[r.Old.Path] = true
		}
	}
	var missing []string
	for p := range required {
		if !replaced[p] {
			missing = append(missing, p+" "+version)
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return fmt.Errorf("go.work must replace %s by the module's directory (see RELEASING.md)", strings.Join(missing, ", "))
	}
	return nil
}

func publish(out string, m mod, version string) error {
	escPath, err := module.EscapePath(m.path)
	if err != nil {
		return err
	}
	dir := filepath.Join(out, filepath.FromSlash(escPath), "@v")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	files, err := listFiles(m.dir)
	if err != nil {
		return err
	}
	var zipBuf bytes.Buffer
	if err := modzip.Create(&zipBuf, module.Version{Path: m.path, Version: version}, files); err != nil {
		return err
	}
	info, err := json.Marshal(struct {
		Version string
		Time    time.Time
	}{version, time.Now().UTC().Truncate(time.Second)})
	if err != nil {
		return err
	}
	writes := map[string][]byte{
		version + ".zip":  zipBuf.Bytes(),
		version + ".mod":  m.raw,
		version + ".info": info,
		"list":            []byte(version + "\n"),
	}
	for name, data := range writes {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// listFiles lists what git would publish of dir: tracked files and untracked
// ones that are not ignored, with their work-tree contents.
func listFiles(dir string) ([]modzip.File, error) {
	cmd := exec.Command("git", "-C", dir, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	outb, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("git ls-files in %s: %w: %s", dir, err, stderr.String())
	}
	var files []modzip.File
	seen := map[string]bool{}
	for _, p := range strings.Split(string(outb), "\x00") {
		if p == "" || seen[p] {
			continue
		}
		seen[p] = true
		full := filepath.Join(dir, filepath.FromSlash(p))
		if _, err := os.Lstat(full); errors.Is(err, os.ErrNotExist) {
			continue // deleted in the work tree
		}
		files = append(files, file{rel: p, full: full})
	}
	return files, nil
}

// file is a work-tree file as golang.org/x/mod/zip reads it.
type file struct{ rel, full string }

func (f file) Path() string                 { return f.rel }
func (f file) Lstat() (os.FileInfo, error)  { return os.Lstat(f.full) }
func (f file) Open() (io.ReadCloser, error) { return os.Open(f.full) }
