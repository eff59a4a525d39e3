package rbac

import (
	"fmt"
	"io"
	"sort"
	"strings"
)

// edges returns the distinct steps of every escalation path.
func edges(risks []SubjectRisk) []Step {
	seen := map[Step]bool{}
	var out []Step
	for _, sr := range risks {
		for _, r := range sr.Risks {
			for _, s := range r.Path {
				if !seen[s] {
					seen[s] = true
					out = append(out, s)
				}
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return fmt.Sprint(out[i]) < fmt.Sprint(out[j]) })
	return out
}

// WriteDOT writes the escalation graph in Graphviz DOT: subjects and
// ServiceAccounts as boxes, capabilities as red ellipses.
func WriteDOT(w io.Writer, risks []SubjectRisk) error {
	fmt.Fprintln(w, "digraph rbac_risks {\n  rankdir=LR;\n  node [shape=box, fontname=\"Helvetica\"];")
	caps := map[string]bool{}
	for _, c := range Capabilities {
		caps[c.ID] = true
	}
	nodes := map[string]bool{}
	for _, e := range edges(risks) {
		for _, n := range []string{e.From, e.To} {
			if !nodes[n] {
				nodes[n] = true
				if caps[n] {
					fmt.Fprintf(w, "  %q [shape=ellipse, color=red];\n", n)
				}
			}
		}
		fmt.Fprintf(w, "  %q -> %q [label=%q];\n", e.From, e.To, e.Via)
	}
	_, err := fmt.Fprintln(w, "}")
	return err
}

// WriteMermaid writes the escalation graph as a Mermaid flowchart.
func WriteMermaid(w io.Writer, risks []SubjectRisk) error {
	fmt.Fprintln(w, "flowchart LR")
	ids := map[string]string{}
	id := func(n string) string {
		if v, ok := ids[n]; ok {
			return v
		}
		v := fmt.Sprintf("n%d", len(ids))
		ids[n] = v
		fmt.Fprintf(w, "  %s[\"%s\"]\n", v, mermaidText(n))
		return v
	}
	for _, e := range edges(risks) {
		from, to := id(e.From), id(e.To)
		fmt.Fprintf(w, "  %s -->|\"%s\"| %s\n", from, mermaidText(e.Via), to)
	}
	return nil
}

func mermaidText(s string) string { return strings.ReplaceAll(s, `"`, "#quot;") }
