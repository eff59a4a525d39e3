package netpol

import (
	"fmt"
	"html"
	"io"
	"slices"
)

// writeSVG draws the connectivity matrix itself: the endpoints as rows
// (sources) and in the same order as columns (destinations), a cell green
// when every port is open, amber for some ports, grey for none, blank
// where there is no pair (an endpoint and itself); each cell's title says
// which.
func writeSVG(w io.Writer, cells []Cell) error {
	var eps []string
	allow := map[[2]string]string{}
	for _, c := range cells {
		for _, e := range []string{c.Src, c.Dst} {
			if !slices.Contains(eps, e) {
				eps = append(eps, e)
			}
		}
		allow[[2]string{c.Src, c.Dst}] = c.Allow
	}
	srcs, dsts := eps, eps
	const cell, left, top = 18, 240, 200
	width, height := left+len(dsts)*cell+180, top+len(srcs)*cell+20
	fmt.Fprintf(w, `<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="NetworkPolicy connectivity: rows are sources, columns destinations" width="%d" height="%d" viewBox="0 0 %d %d" font-family="system-ui,sans-serif" font-size="11">`+"\n", width, height, width, height)
	for j, d := range dsts {
		x := left + j*cell + cell/2
		fmt.Fprintf(w, `<text transform="translate(%d,%d) rotate(-60)">%s</text>`+"\n", x, top-6, html.EscapeString(d))
	}
	for i, s := range srcs {
		y := top + i*cell
		fmt.Fprintf(w, `<text x="%d" y="%d" dy="0.35em" text-anchor="end">%s</text>`+"\n", left-6, y+cell/2, html.EscapeString(s))
		for j, d := range dsts {
			a, ok := allow[[2]string{s, d}]
			fill := "#eaeef2"
			switch {
			case !ok:
				continue // the same endpoint
			case a == "all":
				fill = "#2da44e"
			case a != "none":
				fill = "#d4a72c"
			}
			fmt.Fprintf(w, `<rect class="cell" x="%d" y="%d" width="%d" height="%d" fill="%s" stroke="#fff"><title>%s → %s: %s</title></rect>`+"\n",
				left+j*cell, y, cell, cell, fill, html.EscapeString(s), html.EscapeString(d), html.EscapeString(a))
		}
	}
	_, err := fmt.Fprintln(w, "</svg>")
	return err
}
