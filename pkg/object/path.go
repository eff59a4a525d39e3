package object

import (
	"strconv"
	"strings"
)

// Field paths are written the way Kubernetes validation errors write them:
// spec.template.spec.containers[0].securityContext.privileged, with keys that
// contain dots or slashes quoted: metadata.annotations["kubeguard.io/ignore"].

// PathElem is one step of a field path: a map key or a list index.
type PathElem struct {
	Key   string
	Index int // valid when IsIdx
	IsIdx bool
}

// eachElem calls emit for each element of path until emit returns false,
// without allocating. Malformed parts are kept as keys so that a bad path
// degrades to its nearest ancestor.
func eachElem(path string, emit func(PathElem) bool) {
	for i := 0; i < len(path); {
		switch path[i] {
		case '.':
			i++
		case '[':
			end := strings.IndexByte(path[i:], ']')
			if end < 0 {
				emit(PathElem{Key: path[i:]})
				return
			}
			inner := path[i+1 : i+end]
			if len(inner) >= 2 && inner[0] == '"' {
				k := inner
				if s, err := strconv.Unquote(inner); err == nil {
					k = s
				}
				if !emit(PathElem{Key: k}) {
					return
				}
			} else if n, err := strconv.Atoi(inner); err == nil {
				if !emit(PathElem{Index: n, IsIdx: true}) {
					return
				}
			} else if !emit(PathElem{Key: inner}) {
				return
			}
			i += end + 1
		default:
			j := i
			for j < len(path) && path[j] != '.' && path[j] != '[' {
				j++
			}
			if !emit(PathElem{Key: path[i:j]}) {
				return
			}
			i = j
		}
	}
}

// Key appends a map key to path, quoting it when needed.
func Key(path, key string) string {
	if strings.ContainsAny(key, ".[]\"") || key == "" {
		key = "[" + strconv.Quote(key) + "]"
		return path + key
	}
	if path == "" {
		return key
	}
	return path + "." + key
}

// Index appends a list index to path.
func Index(path string, i int) string {
	return path + "[" + strconv.Itoa(i) + "]"
}

// Get returns the unstructured value at path, if present.
func Get(v any, path string) (any, bool) {
	found := true
	eachElem(path, func(e PathElem) bool {
		if e.IsIdx {
			l, ok := v.([]any)
			if !ok || e.Index < 0 || e.Index >= len(l) {
				found = false
				return false
			}
			v = l[e.Index]
			return true
		}
		m, ok := v.(map[string]any)
		if !ok {
			found = false
			return false
		}
		v, found = m[e.Key]
		return found
	})
	if !found {
		return nil, false
	}
	return v, true
}

// Elems splits a field path into its elements.
func Elems(path string) []PathElem {
	var out []PathElem
	eachElem(path, func(e PathElem) bool { out = append(out, e); return true })
	return out
}
