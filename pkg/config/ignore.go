package config

import (
	"os"
	"path/filepath"
	"strings"

	gitignore "github.com/sabhiram/go-gitignore"
)

// IgnoreFileName is the gitignore-syntax file of paths whose findings
// reports leave out (vendored charts, test fixtures).
const IgnoreFileName = ".kubeguardignore"

// Ignore matches file paths against gitignore patterns, each set relative
// to its own directory.
type Ignore struct {
	sets []ignoreSet
	// Files are the ignore files read.
	Files []string
}

type ignoreSet struct {
	dir string // absolute
	gi  *gitignore.GitIgnore
}

// AddPatterns adds patterns relative to dir (--exclude: the working
// directory).
func (ig *Ignore) AddPatterns(dir string, patterns []string) {
	if len(patterns) == 0 {
		return
	}
	abs, _ := filepath.Abs(dir)
	var rel, root []string
	for _, p := range patterns {
		if filepath.IsAbs(p) {
			root = append(root, filepath.ToSlash(p)) // anchored at the filesystem root
		} else {
			rel = append(rel, p)
		}
	}
	if len(rel) > 0 {
		ig.sets = append(ig.sets, ignoreSet{abs, gitignore.CompileIgnoreLines(rel...)})
	}
	if len(root) > 0 {
		ig.sets = append(ig.sets, ignoreSet{string(filepath.Separator), gitignore.CompileIgnoreLines(root...)})
	}
}

// FindFiles adds the nearest .kubeguardignore above each path (the path
// itself when it is a directory), each read once.
func (ig *Ignore) FindFiles(paths []string) error {
	seen := map[string]bool{}
	for _, p := range ig.Files {
		seen[p] = true
	}
	for _, p := range paths {
		abs, err := filepath.Abs(p)
		if err != nil || p == "-" {
			continue
		}
		if st, err := os.Stat(abs); err == nil && !st.IsDir() {
			abs = filepath.Dir(abs)
		}
		for dir := abs; ; dir = filepath.Dir(dir) {
			f := filepath.Join(dir, IgnoreFileName)
			if st, err := os.Stat(f); err == nil && !st.IsDir() {
				if !seen[f] {
					seen[f] = true
					gi, err := gitignore.CompileIgnoreFile(f)
					if err != nil {
						return err
					}
					ig.sets = append(ig.sets, ignoreSet{dir, gi})
					ig.Files = append(ig.Files, f)
				}
				break
			}
			if filepath.Dir(dir) == dir {
				break
			}
		}
	}
	return nil
}

// Empty reports whether no pattern was added.
func (ig *Ignore) Empty() bool { return ig == nil || len(ig.sets) == 0 }

// Match reports whether file is ignored by a set whose directory holds it.
func (ig *Ignore) Match(file string) bool {
	if ig.Empty() {
		return false
	}
	abs, err := filepath.Abs(file)
	if err != nil {
		return false
	}
	for _, s := range ig.sets {
		rel, err := filepath.Rel(s.dir, abs)
		if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			continue
		}
		if s.gi.MatchesPath(filepath.ToSlash(rel)) {
			return true
		}
	}
	return false
}
