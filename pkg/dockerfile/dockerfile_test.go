package dockerfile

import (
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	src := "ARG TAG=3.20\nFROM golang:1.25 AS build\nRUN go build \\\n  ./...\n\nfrom alpine:${TAG}\nFOO bar\nCOPY --from=build /app /app\nUSER 10001\n"
	o, diags := Parse("Dockerfile", []byte(src))
	if o == nil {
		t.Fatal(diags)
	}
	// an unknown instruction is an error at its line; the rest is read
	if len(diags) != 1 || diags[0].Pos.Line != 7 || !strings.Contains(diags[0].Message, "unknown instruction FOO") {
		t.Errorf("diagnostics %v", diags)
	}
	d := Of(o)
	if len(d.Args) != 1 || len(d.Stages) != 2 || d.Stages[0].Name != "build" || d.Final().Image != "alpine:${TAG}" {
		t.Fatalf("parsed %+v", d)
	}
	if !d.IsStage("build", 1) || d.IsStage("build", 0) {
		t.Error("stage names")
	}
	copyIn := d.Final().Instructions[0]
	if copyIn.Cmd != "copy" || copyIn.Line != 8 || len(copyIn.Flags) != 1 || o.Locate(copyIn.Path).Line != 8 {
		t.Errorf("COPY: %+v at %v", copyIn, o.Locate(copyIn.Path))
	}
	// a continued RUN is one instruction at its first line
	if run := d.Stages[0].Instructions[0]; run.Line != 3 || o.Locate(run.Path).Line != 3 {
		t.Errorf("RUN: %+v", run)
	}
	if o.Locate(d.Stages[1].From.Path).Line != 6 {
		t.Error("FROM position")
	}
	if _, diags := Parse("empty", nil); len(diags) != 1 || diags[0].Pos.Line != 1 {
		t.Errorf("empty file: %v", diags)
	}
	for name, want := range map[string]bool{"Dockerfile": true, "api.Dockerfile": true, "Dockerfile.prod": true, "dockerfile": true, "Dockerfile.yaml.txt": true, "notes.md": false, "MyDockerfiles": false} {
		if IsDockerfile(name) != want {
			t.Errorf("IsDockerfile(%s) != %v", name, want)
		}
	}
}
