package node

import (
	"bytes"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/kubeguard/kubeguard/pkg/finding"
	"github.com/kubeguard/kubeguard/pkg/object"
)

// controlID is the catalog control of a check: CIS-<item> for the
// benchmark's items.
func (c *check) controlID() string {
	if c.control != "" {
		return c.control
	}
	return "CIS-" + c.id
}

// high are the benchmark's items whose failure opens the cluster to
// anyone who reaches a port or a file: authentication, authorization,
// TLS between components, Secrets at rest, administrative credentials
// and keys.
var high = map[string]bool{
	"1.1.13": true, "1.1.21": true,
	"1.2.2": true, "1.2.4": true, "1.2.5": true, "1.2.6": true, "1.2.7": true, "1.2.8": true, "1.2.10": true,
	"1.2.23": true, "1.2.24": true, "1.2.25": true, "1.2.26": true, "1.2.28": true,
	"2.1": true, "2.2": true, "2.4": true, "2.5": true,
	"4.2.1": true, "4.2.2": true, "4.2.3": true,
}

// defaultSeverity is a check's severity: its own, high for the items
// above, else medium for a scored item and low for one the benchmark
// leaves to judgement.
func (c *check) defaultSeverity() finding.Severity {
	switch {
	case c.severity != 0:
		return c.severity
	case high[c.id] && c.control == "":
		return finding.High
	case c.scored:
		return finding.Medium
	}
	return finding.Low
}

// locate finds a setting in a file: the line and column of a flag
// (--name), or of the deepest key of a dotted field path a YAML file
// has. 0 when the file cannot be read or holds nothing of it.
func (h *Host) locate(file, field string) (line, col int) {
	if file == "" || field == "" {
		return 0, 0
	}
	data, err := h.ReadFile(file)
	if err != nil {
		return 0, 0
	}
	if name, ok := strings.CutPrefix(field, "--"); ok {
		// --name, else name= as a distribution's kubelet-arg lists it
		lines := bytes.Split(data, []byte("\n"))
		for _, pat := range []struct {
			text, before, after string
		}{{field, "", "= \"',]\t"}, {name + "=", " -\"'[,\t", ""}} {
			for i, l := range lines {
				for off := 0; ; {
					j := bytes.Index(l[off:], []byte(pat.text))
					if j < 0 {
						break
					}
					j += off
					end := j + len(pat.text)
					okBefore := pat.before == "" || j > 0 && strings.IndexByte(pat.before, l[j-1]) >= 0
					okAfter := pat.after == "" || end == len(l) || strings.IndexByte(pat.after, l[end]) >= 0
					if okBefore && okAfter {
						return i + 1, j + 1
					}
					off = j + 1
				}
			}
		}
		return 0, 0
	}
	var doc yaml.Node
	if yaml.Unmarshal(data, &doc) != nil || len(doc.Content) == 0 {
		return 0, 0
	}
	n := doc.Content[0]
	for _, key := range strings.Split(field, ".") {
		var next *yaml.Node
		if n.Kind == yaml.MappingNode {
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == key {
					line, col, next = n.Content[i].Line, n.Content[i].Column, n.Content[i+1]
				}
			}
		}
		if next == nil {
			break
		}
		n = next
	}
	return line, col
}

// position is where a setting is in a file (see locate); only the file
// when it holds nothing of it.
func (h *Host) position(file, field string) object.Position {
	line, col := h.locate(file, field)
	return object.Position{File: file, Line: line, Column: col}
}

// kubeletAt says where a kubelet setting is fixed: the file whose
// command line gives the flag, else the config file's field.
func kubeletAt(flag, field string) func(f *facts) (object.Position, string) {
	return func(f *facts) (object.Position, string) {
		k := f.kubelet
		if file := k.argFile[flag]; file != "" {
			return f.host.position(file, "--"+flag), "--" + flag
		}
		if _, ok := k.Flags[flag]; ok && flag != "" {
			for _, p := range k.Read {
				if strings.HasPrefix(p, "process ") {
					continue
				}
				if at := f.host.position(p, "--"+flag); at.Line > 0 {
					return at, "--" + flag
				}
			}
			return object.Position{}, "--" + flag
		}
		if file, _, ok := k.lookup(field); ok {
			return f.host.position(file, field), field
		}
		if field != "" && k.ConfigFile != "" {
			return f.host.position(k.ConfigFile, field), field // where it goes
		}
		return f.host.position(k.Service, "--"+flag), "--" + flag
	}
}

// locateKey finds a TOML key (key = value), or a table name holding it
// (a hosts.toml's [host."URL"]), in a file.
func (h *Host) locateKey(file, key string) (line, col int) {
	if file == "" || key == "" {
		return 0, 0
	}
	data, err := h.ReadFile(file)
	if err != nil {
		return 0, 0
	}
	for i, l := range strings.Split(string(data), "\n") {
		t := strings.TrimLeft(l, " \t")
		indent := len(l) - len(t)
		if rest, ok := strings.CutPrefix(t, key); ok && strings.HasPrefix(strings.TrimLeft(rest, " \t"), "=") {
			return i + 1, indent + 1
		}
		if strings.HasPrefix(t, "[") && strings.Contains(t, `"`+key+`"`) {
			return i + 1, indent + 1
		}
	}
	return 0, 0
}
