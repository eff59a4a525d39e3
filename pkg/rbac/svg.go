package rbac

import (
	"fmt"
	"html"
	"io"
)

// WriteSVG draws the escalation graph itself, with no external renderer:
// each node in the column of its longest path from a subject (subjects
// left, capabilities right, in red), edges labelled with what grants the
// step.
func WriteSVG(w io.Writer, risks []SubjectRisk) error {
	es := edges(risks)
	caps := map[string]bool{}
	for _, c := range Capabilities {
		caps[c.ID] = true
	}
	// columns by longest path (the graph has no cycles worth drawing:
	// a node already placed keeps its column)
	col := map[string]int{}
	var order []string
	add := func(n string) {
		if _, ok := col[n]; !ok {
			col[n] = 0
			order = append(order, n)
		}
	}
	for _, e := range es {
		add(e.From)
		add(e.To)
	}
	for range len(order) {
		changed := false
		for _, e := range es {
			if col[e.To] <= col[e.From] && col[e.From] < len(order) {
				col[e.To] = col[e.From] + 1
				changed = true
			}
		}
		if !changed {
			break
		}
	}
	rows := map[int]int{}
	type pos struct{ x, y int }
	at := map[string]pos{}
	const colW, rowH, boxW, boxH = 260, 44, 220, 28
	maxCol, maxRow := 0, 0
	for _, n := range order {
		c := col[n]
		at[n] = pos{20 + c*colW, 20 + rows[c]*rowH}
		rows[c]++
		maxCol, maxRow = max(maxCol, c), max(maxRow, rows[c])
	}
	width, height := 40+(maxCol+1)*colW, 40+maxRow*rowH
	fmt.Fprintf(w, `<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="RBAC escalation paths" width="%d" height="%d" viewBox="0 0 %d %d" font-family="system-ui,sans-serif" font-size="12">`+"\n", width, height, width, height)
	fmt.Fprintln(w, `<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="6" markerHeight="6" orient="auto"><path d="M0,0L10,5L0,10z" fill="#57606a"/></marker></defs>`)
	for _, e := range es {
		a, b := at[e.From], at[e.To]
		x1, y1, x2, y2 := a.x+boxW, a.y+boxH/2, b.x, b.y+boxH/2
		fmt.Fprintf(w, `<g class="edge"><title>%s</title><path d="M%d,%d C%d,%d %d,%d %d,%d" fill="none" stroke="#57606a" marker-end="url(#arrow)"/></g>`+"\n",
			esc(e.From+" → "+e.To+": "+e.Via), x1, y1, (x1+x2)/2, y1, (x1+x2)/2, y2, x2, y2)
	}
	for _, n := range order {
		p := at[n]
		fill, stroke, class := "#f6f8fa", "#57606a", "node"
		if caps[n] {
			fill, stroke, class = "#ffebe9", "#cf222e", "node capability"
		}
		fmt.Fprintf(w, `<g class="%s"><title>%s</title><rect x="%d" y="%d" width="%d" height="%d" rx="%d" fill="%s" stroke="%s"/><text x="%d" y="%d" dy="0.35em">%s</text></g>`+"\n",
			class, esc(n), p.x, p.y, boxW, boxH, map[bool]int{true: 14, false: 3}[caps[n]], fill, stroke, p.x+8, p.y+boxH/2, esc(clip(n, 32)))
	}
	_, err := fmt.Fprintln(w, "</svg>")
	return err
}

func esc(s string) string { return html.EscapeString(s) }

func clip(s string, n int) string {
	if len([]rune(s)) <= n {
		return s
	}
	return string([]rune(s)[:n-1]) + "…"
}
