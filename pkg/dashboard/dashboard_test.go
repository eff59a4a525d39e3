package dashboard

import (
	"testing"

	"github.com/kubeguard/kubeguard/pkg/object"
)

// A PolicyReport's file property reads back as the position it was.
func TestPosition(t *testing.T) {
	for in, want := range map[string]object.Position{
		"deploy/app.yaml:12:7": {File: "deploy/app.yaml", Line: 12, Column: 7},
		"deploy/app.yaml:12":   {File: "deploy/app.yaml", Line: 12},
		"deploy/app.yaml":      {File: "deploy/app.yaml"},
		"":                     {},
	} {
		if got := position(in); got != want {
			t.Errorf("%q: %+v, want %+v", in, got, want)
		}
	}
}
