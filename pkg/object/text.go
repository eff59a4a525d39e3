package object

import "strconv"

// Text is the native form of an input analysed as plain text, such as a
// Helm values file searched for credentials.
type Text struct {
	Data string
}

// NewText returns an object of the given kind for a text file. Findings
// point at a line with the path LinePath(n).
func NewText(kind, file string, data []byte) *Object {
	o := New(map[string]any{"apiVersion": "kubeguard.io/v1", "kind": kind, "metadata": map[string]any{"name": file}},
		Position{File: file, Line: 1, Column: 1}, textLocator(file))
	o.Native = &Text{Data: string(data)}
	return o
}

// LinePath is the path of line n (1-based) of a text object.
func LinePath(n int) string { return Index("lines", n) }

type textLocator string

func (l textLocator) Locate(path string) Position {
	if len(path) > len("lines[]") && path[:6] == "lines[" && path[len(path)-1] == ']' {
		if n, err := strconv.Atoi(path[6 : len(path)-1]); err == nil && n > 0 {
			return Position{File: string(l), Line: n, Column: 1}
		}
	}
	return Position{}
}
