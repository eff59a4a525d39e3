package object

import "gopkg.in/yaml.v3"

// nodeLocator resolves field paths against the parse tree of a document.
// After Compact it keeps only the document bytes and re-parses on demand:
// positions of cross-object findings are rare, parse trees are big.
type nodeLocator struct {
	file    string
	lineOff int        // added to the lines of raw (the document's first line - 1)
	node    *yaml.Node // the object's own node; nil once compacted
	raw     []byte
	prefix  string // path of the object inside the document (List items)
	// anchors are paths whose positions were resolved before compaction,
	// because cross-object controls usually report them, so they need no
	// re-parse; at holds line and column of each. The path list is shared
	// by many objects (see Compact).
	anchors []string
	at      []int32
}

// Compact keeps the positions of anchors. The caller may share one
// anchors slice between objects and must not modify it afterwards: a
// large input has hundreds of thousands of compacted objects.
func (l *nodeLocator) Compact(anchors []string) Locator {
	c := &nodeLocator{file: l.file, lineOff: l.lineOff, raw: l.raw, prefix: l.prefix}
	if l.node != nil {
		c.anchors, c.at = anchors, make([]int32, 2*len(anchors))
		for i, a := range anchors {
			p := l.Locate(a)
			c.at[2*i], c.at[2*i+1] = int32(p.Line), int32(p.Column)
		}
	}
	return c
}

func (l *nodeLocator) Locate(path string) Position {
	for i, a := range l.anchors {
		if a == path {
			return Position{File: l.file, Line: int(l.at[2*i]), Column: int(l.at[2*i+1])}
		}
	}
	n := l.node
	if n == nil {
		var root yaml.Node
		if yaml.Unmarshal(l.raw, &root) != nil || len(root.Content) == 0 {
			return Position{}
		}
		n = root.Content[0]
		if l.prefix != "" {
			if n = walk(n, l.prefix, true); n == nil {
				return Position{}
			}
		}
	}
	found := walk(n, path, false)
	return Position{File: l.file, Line: found.Line + l.lineOff, Column: found.Column}
}

// walk follows path from n. For a map field it stops on the key node, so a
// finding points at "privileged: true" rather than at "true". When the path
// does not exist it returns the deepest node that does, unless exact.
func walk(n *yaml.Node, path string, exact bool) *yaml.Node {
	best := n
	missing := false
	eachElem(path, func(e PathElem) bool {
		n = resolve(n)
		var next, mark *yaml.Node
		switch {
		case e.IsIdx && n.Kind == yaml.SequenceNode && e.Index >= 0 && e.Index < len(n.Content):
			next = n.Content[e.Index]
			mark = next
		case !e.IsIdx && n.Kind == yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				if k := resolve(n.Content[i]); k.Kind == yaml.ScalarNode && k.Value == e.Key && k.Tag != "!!merge" {
					mark, next = n.Content[i], n.Content[i+1]
				}
			}
			if next == nil {
				// a key only present through a merge (<<) points at the merge
				for i := 0; i+1 < len(n.Content); i += 2 {
					if k := n.Content[i]; k.Tag == "!!merge" {
						if v := walk(n.Content[i+1], elemPath(e), true); v != nil {
							mark, next = k, v
						}
					}
				}
			}
		}
		if next == nil {
			missing = true
			return false
		}
		best, n = mark, next
		return true
	})
	if missing {
		if exact {
			return nil
		}
		return best
	}
	if exact {
		return resolve(n)
	}
	return best
}

func elemPath(e PathElem) string {
	if e.IsIdx {
		return Index("", e.Index)
	}
	return Key("", e.Key)
}
