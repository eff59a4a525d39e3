package config

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Error is a configuration error at a position of its file, in
// kubeguard's words (never a Go type).
type Error struct {
	File         string
	Line, Column int
	Msg          string
}

func (e *Error) Error() string {
	switch {
	case e.Line > 0 && e.Column > 0:
		return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Column, e.Msg)
	case e.Line > 0:
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

var (
	lineRE      = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)
	unknownRE   = regexp.MustCompile(`^field (\S+) not found in type .+$`)
	unmarshalRE = regexp.MustCompile("^cannot unmarshal !!(\\w+) `(.*)` into (.+)$")
	pathRE      = regexp.MustCompile(`^([A-Za-z][\w]*(?:\[\d+\]|\.[A-Za-z][\w]*)*): (.*)$`)
	quotedRE    = regexp.MustCompile(`"([^"]+)"`)
)

// locate turns an error of decoding or validating the file into Errors at
// their positions, joined.
func locate(file string, root *yaml.Node, err error) error {
	var te *yaml.TypeError
	var msgs []string
	if errors.As(err, &te) {
		msgs = te.Errors
	} else {
		msgs = []string{err.Error()}
	}
	var out []error
	for _, m := range msgs {
		out = append(out, locateOne(file, root, m))
	}
	return errors.Join(out...)
}

func locateOne(file string, root *yaml.Node, msg string) *Error {
	e := &Error{File: file, Msg: msg}
	if m := lineRE.FindStringSubmatch(msg); m != nil {
		e.Line, _ = strconv.Atoi(m[1])
		e.Msg = m[2]
		if u := unknownRE.FindStringSubmatch(e.Msg); u != nil {
			e.Msg = fmt.Sprintf("unknown field %q", u[1])
			e.Column = columnOf(root, e.Line, u[1])
		} else if u := unmarshalRE.FindStringSubmatch(e.Msg); u != nil {
			e.Msg = fmt.Sprintf("expected %s, got %s %q", kindOf(u[3]), tagName(u[1]), u[2])
			e.Column = columnOf(root, e.Line, u[2])
		} else if root == nil {
			e.Msg = "invalid YAML: " + e.Msg
		} else if q := quotedRE.FindStringSubmatch(e.Msg); q != nil {
			e.Column = columnOf(root, e.Line, q[1])
		}
		return e
	}
	if m := pathRE.FindStringSubmatch(msg); m != nil {
		if n := lookup(root, m[1]); n != nil {
			e.Line, e.Column, e.Msg = n.Line, n.Column, msg
			return e
		}
	}
	for _, q := range quotedRE.FindAllStringSubmatch(msg, -1) {
		if n := find(root, func(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.Value == q[1] }); n != nil {
			e.Line, e.Column = n.Line, n.Column
			return e
		}
	}
	return e
}

// columnOf finds the column of the scalar value on line (1 when not
// found).
func columnOf(root *yaml.Node, line int, value string) int {
	if n := find(root, func(n *yaml.Node) bool { return n.Line == line && n.Value == value }); n != nil {
		return n.Column
	}
	if n := find(root, func(n *yaml.Node) bool { return n.Line == line && n.Kind != yaml.DocumentNode }); n != nil {
		return n.Column
	}
	return 0
}

func find(n *yaml.Node, ok func(*yaml.Node) bool) *yaml.Node {
	if n == nil {
		return nil
	}
	if ok(n) {
		return n
	}
	for _, c := range n.Content {
		if f := find(c, ok); f != nil {
			return f
		}
	}
	return nil
}

// lookup finds the node of a dotted path with indexes (webhook.rules[0]).
func lookup(root *yaml.Node, path string) *yaml.Node {
	n := root
	if n != nil && n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	for _, part := range strings.Split(path, ".") {
		name, idx, _ := strings.Cut(part, "[")
		if n == nil || n.Kind != yaml.MappingNode {
			return nil
		}
		var next *yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == name {
				next = n.Content[i+1]
			}
		}
		n = next
		for idx != "" {
			var num string
			num, idx, _ = strings.Cut(idx, "]")
			idx = strings.TrimPrefix(idx, "[")
			i, err := strconv.Atoi(num)
			if n == nil || n.Kind != yaml.SequenceNode || err != nil || i >= len(n.Content) {
				return nil
			}
			n = n.Content[i]
		}
	}
	return n
}

func kindOf(goType string) string {
	switch {
	case strings.HasPrefix(goType, "[]"):
		return "a list"
	case strings.HasPrefix(goType, "map["), strings.Contains(goType, "."):
		return "a mapping"
	case strings.HasPrefix(goType, "int"), strings.HasPrefix(goType, "uint"):
		return "an integer"
	case goType == "bool":
		return "true or false"
	}
	return "a " + goType
}

func tagName(tag string) string {
	switch tag {
	case "str":
		return "the string"
	case "int":
		return "the integer"
	case "bool":
		return "the boolean"
	case "map":
		return "a mapping"
	case "seq":
		return "a list"
	case "float":
		return "the number"
	}
	return tag
}
