package secrets

import (
	"fmt"
	"regexp"
	"strings"
	"sync"

	"github.com/zricethezav/gitleaks/v8/detect"
)

// The gitleaks rule set (hundreds of maintained rules for cloud keys,
// tokens and private keys, with their entropy thresholds and allowlists)
// recognises credentials by their format. It is built once; detection is
// safe for concurrent use.
var (
	leaksOnce sync.Once
	leaks     *detect.Detector
)

// Prepare builds the gitleaks rule set (about 140 ms: its configuration is
// parsed and some two hundred expressions compiled) unless it is built.
func Prepare() { detector() }

func detector() *detect.Detector {
	leaksOnce.Do(func() {
		d, err := detect.NewDetectorDefaultConfig()
		if err != nil {
			panic(fmt.Sprintf("gitleaks default configuration: %v", err)) // built into the binary
		}
		leaks = d
	})
	return leaks
}

// urlCredentials matches a password written into a URL
// (postgres://user:password@host), which the rule set leaves to names.
var urlCredentials = regexp.MustCompile(`[a-zA-Z][a-zA-Z0-9+.\-]*://[^/\s:@]+:[^/\s@]{3,}@`)

// minSecret is the length below which no rule of the set matches.
const minSecret = 8

// Pair is a named value to examine, such as an environment variable or a
// ConfigMap key.
type Pair struct {
	Name, Value string
}

// Leak is a credential found in a Pair or a line of text.
type Leak struct {
	Index int    // the pair's index, or the 1-based line of the text
	Rule  string // the gitleaks rule, or "literal-credential"
	// Secret is what matched; callers show it only through Redact.
	Secret string
}

// ScanPairs examines named values in one pass of the rule set: the pairs
// are written as "name=value" lines, so rules that key on the name next to
// the value (generic-api-key) see both. A sensitive name with a literal,
// non-placeholder value is reported too, as rule literal-credential, when
// byName is set (names of annotations, for example, say nothing). At most
// one leak is reported per pair.
func ScanPairs(pairs []Pair, byName bool) []Leak {
	if len(pairs) == 0 {
		return nil
	}
	// Values shorter than any credential the rules know are not worth a
	// pass of the rule set, which costs tens of microseconds even when
	// nothing matches; most values of most manifests are that short.
	var b strings.Builder
	var starts, index []int // first line and pair index of each written pair
	line := 1
	for i, p := range pairs {
		if len(strings.TrimSpace(p.Value)) < minSecret {
			continue
		}
		starts, index = append(starts, line), append(index, i)
		fmt.Fprintf(&b, "%s=%s\n", p.Name, p.Value)
		line += strings.Count(p.Value, "\n") + 1
	}
	found := map[int]Leak{}
	if b.Len() > 0 {
		for _, f := range detector().DetectString(b.String()) {
			i := index[pairAt(starts, f.StartLine+1)]
			if _, dup := found[i]; !dup {
				found[i] = Leak{Index: i, Rule: f.RuleID, Secret: f.Secret}
			}
		}
	}
	var out []Leak
	for i, p := range pairs {
		if l, ok := found[i]; ok {
			out = append(out, l)
		} else if m := urlCredentials.FindString(p.Value); m != "" && !strings.Contains(m, "${") {
			out = append(out, Leak{Index: i, Rule: "url-credentials", Secret: m})
		} else if byName && literal(p.Name, p.Value) {
			out = append(out, Leak{Index: i, Rule: "literal-credential", Secret: p.Value})
		}
	}
	return out
}

// pairAt returns the index of the pair a 1-based line belongs to.
func pairAt(starts []int, line int) int {
	i := 0
	for i+1 < len(starts) && starts[i+1] <= line {
		i++
	}
	return i
}

// ScanText examines free text (a Helm values file, a Dockerfile line) and
// reports each leak with its 1-based line.
func ScanText(text string) []Leak {
	var out []Leak
	seen := map[int]bool{}
	for _, f := range detector().DetectString(text) {
		if l := f.StartLine + 1; !seen[l] {
			seen[l] = true
			out = append(out, Leak{Index: l, Rule: f.RuleID, Secret: f.Secret})
		}
	}
	return out
}
