package inventory

import (
	"sync"
	"sync/atomic"
)

// Field paths of pod specs and containers are interned: a scan builds
// millions of them (every check that resolves a setting says where it came
// from, and every finding keeps one) out of a few hundred distinct ones.
// The table is bounded, for long-running processes fed arbitrary shapes;
// past the bound, paths are built each time.
var (
	paths      sync.Map // pathKey -> string
	pathsCount atomic.Int32
)

const maxPaths = 1 << 14

type pathKey struct{ base, field string }

// join returns base + "." + field.
func join(base, field string) string {
	if v, ok := paths.Load(pathKey{base, field}); ok {
		return v.(string)
	}
	s := base + "." + field
	if pathsCount.Load() < maxPaths {
		// the key points into s: base may be part of a larger buffer
		if _, loaded := paths.LoadOrStore(pathKey{s[:len(base)], s[len(base)+1:]}, s); !loaded {
			pathsCount.Add(1)
		}
	}
	return s
}
