package netpol

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// Cell is the connectivity from one endpoint to another.
type Cell struct {
	Src   string `json:"src"`
	Dst   string `json:"dst"`
	Allow string `json:"allowed"` // "all", "none" or the ports
}

// Matrix evaluates every ordered pair of distinct endpoints. The policies
// selecting each endpoint are found once, not once per pair.
func (m *Model) Matrix(eps []*Endpoint) []Cell {
	egress := make([][]*Policy, len(eps))
	ingress := make([][]*Policy, len(eps))
	for i, e := range eps {
		egress[i], ingress[i] = m.selecting(e, false), m.selecting(e, true)
	}
	out := make([]Cell, 0, len(eps)*len(eps))
	for i, s := range eps {
		for j, d := range eps {
			if s == d || s.External() && d.External() {
				continue
			}
			p := m.connect(s, d, egress[i], ingress[j], false).Ports
			out = append(out, Cell{Src: s.Name, Dst: d.Name, Allow: p.String()})
		}
	}
	return out
}

// WriteMatrix writes cells as table, json, csv, dot, mermaid or svg. The graph
// formats draw allowed flows only.
func WriteMatrix(w io.Writer, format string, cells []Cell) error {
	switch format {
	case "table":
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "SRC\tDST\tALLOWED")
		for _, c := range cells {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", c.Src, c.Dst, c.Allow)
		}
		return tw.Flush()
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(cells)
	case "csv":
		cw := csv.NewWriter(w)
		cw.Write([]string{"src", "dst", "allowed"})
		for _, c := range cells {
			cw.Write([]string{c.Src, c.Dst, c.Allow})
		}
		cw.Flush()
		return cw.Error()
	case "svg":
		return writeSVG(w, cells)
	case "dot":
		fmt.Fprintln(w, "digraph connectivity {\n  rankdir=LR;\n  node [shape=box, fontname=\"Helvetica\"];")
		for _, c := range cells {
			if c.Allow != "none" {
				fmt.Fprintf(w, "  %q -> %q [label=%q];\n", c.Src, c.Dst, c.Allow)
			}
		}
		_, err := fmt.Fprintln(w, "}")
		return err
	case "mermaid":
		fmt.Fprintln(w, "flowchart LR")
		ids := map[string]string{}
		id := func(n string) string {
			if v, ok := ids[n]; ok {
				return v
			}
			v := fmt.Sprintf("n%d", len(ids))
			ids[n] = v
			fmt.Fprintf(w, "  %s[\"%s\"]\n", v, strings.ReplaceAll(n, `"`, "#quot;"))
			return v
		}
		for _, c := range cells {
			if c.Allow != "none" {
				s, d := id(c.Src), id(c.Dst)
				fmt.Fprintf(w, "  %s -->|\"%s\"| %s\n", s, c.Allow, d)
			}
		}
		return nil
	}
	return fmt.Errorf("unknown format %q (want table, json, csv, dot, mermaid or svg)", format)
}
