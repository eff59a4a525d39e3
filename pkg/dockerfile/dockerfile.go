// Package dockerfile reads Dockerfiles with BuildKit's parser into objects
// the engine analyses like any other input: kind Dockerfile, with the
// parsed stages as the object's native form and positions per
// instruction.
package dockerfile

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"

	"github.com/kubeguard/kubeguard/pkg/object"
)

// Kind and APIVersion identify Dockerfile objects.
const (
	Kind       = "Dockerfile"
	APIVersion = "kubeguard.io/v1"
)

// Dockerfile is a parsed Dockerfile.
type Dockerfile struct {
	// Args are the ARG instructions before the first FROM.
	Args   []Instruction
	Stages []Stage
}

// Stage is one FROM and the instructions that follow it.
type Stage struct {
	From  Instruction
	Image string // the base image reference (or an earlier stage's name)
	Name  string // AS name, if any
	// Instructions follow FROM, in order.
	Instructions []Instruction
}

// Instruction is one Dockerfile instruction.
type Instruction struct {
	Cmd      string   // lower case: run, user, env, ...
	Args     []string // as BuildKit splits them
	Flags    []string // --chown=..., --mount=...
	Original string
	Line     int
	Path     string // the finding path of this instruction
}

// Final returns the stage that produces the image.
func (d *Dockerfile) Final() *Stage {
	if len(d.Stages) == 0 {
		return nil
	}
	return &d.Stages[len(d.Stages)-1]
}

// IsStage reports whether image names an earlier stage (FROM builder).
func (d *Dockerfile) IsStage(image string, before int) bool {
	for i := 0; i < before && i < len(d.Stages); i++ {
		if d.Stages[i].Name != "" && strings.EqualFold(d.Stages[i].Name, image) {
			return true
		}
	}
	return false
}

// Of returns the parsed Dockerfile of an object, or nil.
func Of(o *object.Object) *Dockerfile {
	d, _ := o.Native.(*Dockerfile)
	return d
}

// IsDockerfile reports whether a file name is a Dockerfile: Dockerfile,
// Dockerfile.<suffix> or <prefix>.Dockerfile (any case).
func IsDockerfile(name string) bool {
	b := strings.ToLower(filepath.Base(name))
	return b == "dockerfile" || strings.HasPrefix(b, "dockerfile.") || strings.HasSuffix(b, ".dockerfile")
}

// Renderer reads Dockerfiles found on the command line or in a walk.
type Renderer struct{}

// Claims reports whether path is a Dockerfile.
func (Renderer) Claims(path string, isDir bool) bool { return !isDir && IsDockerfile(path) }

// Owns is false: a Dockerfile stands alone.
func (Renderer) Owns(dir, file string) bool { return false }

// Render parses the Dockerfile into one object.
func (Renderer) Render(path string) object.Rendered {
	data, err := os.ReadFile(path)
	if err != nil {
		return object.Rendered{Kind: "Dockerfile", Diags: []object.Diagnostic{{Pos: object.Position{File: path}, Severity: object.SeverityError, Message: err.Error()}}}
	}
	o, diags := Parse(path, data)
	r := object.Rendered{Kind: "Dockerfile", Diags: diags, Read: []string{path}}
	if o != nil {
		r.Objects = []*object.Object{o}
	}
	return r
}

// Parse parses a Dockerfile. Syntax errors are diagnostics with the line.
func Parse(file string, data []byte) (*object.Object, []object.Diagnostic) {
	res, err := parser.Parse(bytes.NewReader(data))
	if err != nil {
		line := 1
		if loc, ok := err.(interface{ Location() []parser.Range }); ok && len(loc.Location()) > 0 {
			line = loc.Location()[0].Start.Line
		}
		return nil, []object.Diagnostic{{Pos: object.Position{File: file, Line: line, Column: 1}, Severity: object.SeverityError,
			Message: "invalid Dockerfile: " + err.Error()}}
	}
	d := &Dockerfile{}
	lines := map[string]int{"": 1}
	var diags []object.Diagnostic
	for _, n := range res.AST.Children {
		in := Instruction{Cmd: strings.ToLower(n.Value), Flags: n.Flags, Original: n.Original, Line: n.StartLine}
		if !known[in.Cmd] {
			// docker build refuses the file; say so and analyse the rest
			diags = append(diags, object.Diagnostic{Pos: object.Position{File: file, Line: n.StartLine, Column: 1},
				Severity: object.SeverityError, Message: fmt.Sprintf("invalid Dockerfile: unknown instruction %s", strings.ToUpper(n.Value))})
			continue
		}
		if (in.Cmd == "run" || in.Cmd == "cmd" || in.Cmd == "entrypoint") && n.Next == nil && len(n.Heredocs) == 0 && !n.Attributes["json"] {
			// BuildKit's parser lets it through; the classic builder and
			// hadolint refuse it, and it runs nothing.
			diags = append(diags, object.Diagnostic{Pos: object.Position{File: file, Line: n.StartLine, Column: 1},
				Severity: object.SeverityError, Message: fmt.Sprintf("invalid Dockerfile: %s requires at least one argument", strings.ToUpper(in.Cmd))})
		} else if _, err := instructions.ParseInstruction(n); err != nil {
			// BuildKit's own check of the arguments (FROM with no image, a
			// bare RUN): docker build refuses the file; say so and analyse
			// what could be read.
			diags = append(diags, object.Diagnostic{Pos: object.Position{File: file, Line: n.StartLine, Column: 1},
				Severity: object.SeverityError, Message: "invalid Dockerfile: " + err.Error()})
		}
		for a := n.Next; a != nil; a = a.Next {
			in.Args = append(in.Args, a.Value)
		}
		for _, h := range n.Heredocs {
			in.Args = append(in.Args, h.Content)
		}
		if in.Cmd == "from" {
			st := Stage{From: in}
			if len(in.Args) > 0 {
				st.Image = in.Args[0]
			}
			if len(in.Args) >= 3 && strings.EqualFold(in.Args[1], "as") {
				st.Name = in.Args[2]
			}
			st.From.Path = fmt.Sprintf("stages[%d]", len(d.Stages))
			lines[st.From.Path] = in.Line
			d.Stages = append(d.Stages, st)
			continue
		}
		if len(d.Stages) == 0 {
			in.Path = fmt.Sprintf("args[%d]", len(d.Args))
			lines[in.Path] = in.Line
			d.Args = append(d.Args, in)
			continue
		}
		st := &d.Stages[len(d.Stages)-1]
		in.Path = fmt.Sprintf("%s.instructions[%d]", st.From.Path, len(st.Instructions))
		lines[in.Path] = in.Line
		st.Instructions = append(st.Instructions, in)
	}
	if len(d.Stages) == 0 && len(diags) == 0 {
		diags = append(diags, object.Diagnostic{Pos: object.Position{File: file, Line: 1, Column: 1}, Severity: object.SeverityError,
			Message: "invalid Dockerfile: no FROM instruction, so no build stage"})
	}
	o := object.New(map[string]any{"apiVersion": APIVersion, "kind": Kind, "metadata": map[string]any{"name": file}},
		object.Position{File: file, Line: 1, Column: 1}, locator{file, lines})
	o.Native = d
	return o, diags
}

// known are the instructions of the Dockerfile reference.
var known = map[string]bool{"from": true, "run": true, "cmd": true, "label": true, "maintainer": true, "expose": true,
	"env": true, "add": true, "copy": true, "entrypoint": true, "volume": true, "user": true, "workdir": true,
	"arg": true, "onbuild": true, "stopsignal": true, "healthcheck": true, "shell": true}

// locator maps instruction paths to their lines; a path below an
// instruction (stages[0].instructions[2].cache: what a RUN lacks) is at
// the instruction's line.
type locator struct {
	file  string
	lines map[string]int
}

func (l locator) Locate(path string) object.Position {
	for {
		if n, ok := l.lines[path]; ok {
			return object.Position{File: l.file, Line: n, Column: 1}
		}
		i := strings.LastIndexByte(path, '.')
		if i < 0 {
			return object.Position{}
		}
		path = path[:i]
	}
}
