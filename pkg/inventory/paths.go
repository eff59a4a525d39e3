package inventory

import "github.com/kubeguard/kubeguard/internal/intern"

// paths interns the field paths of pod specs and containers: every check
// that resolves a setting builds the path it came from, and every finding
// keeps one.
var paths = intern.New()
