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

// Instructions docker build refuses are errors at their line; the rest of
// the file is still analysed.
func TestInvalidInstructions(t *testing.T) {
	src := "FROM\nRUN\nFROM alpine:3.20 AS final\nCMD\nENTRYPOINT []\nEXPOSE\nUSER 10001\n"
	o, diags := Parse("Dockerfile", []byte(src))
	want := map[int]string{1: "FROM requires either one or three arguments", 2: "RUN requires at least one argument",
		4: "CMD requires at least one argument", 6: "EXPOSE requires at least one argument"}
	if len(diags) != len(want) {
		t.Errorf("diagnostics %v", diags)
	}
	for _, d := range diags {
		if w := want[d.Pos.Line]; w == "" || !strings.Contains(d.Message, w) {
			t.Errorf("line %d: %s, want %q", d.Pos.Line, d.Message, w)
		}
	}
	if d := Of(o); d == nil || len(d.Stages) != 2 || d.Final().Name != "final" {
		t.Errorf("the rest is not analysed: %+v", d)
	}
	if _, diags := Parse("Dockerfile", []byte("# only a comment\nRUN echo hi\n")); len(diags) == 0 {
		t.Error("a Dockerfile without FROM passes")
	}
}
