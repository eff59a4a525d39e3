// Command benchhtml measures the HTML report of the shared corpus (make
// bench-html): the time to write it beside the JSON report of the same
// scan, its size, and in Debian's Chromium the time until the summary is
// painted and until the findings list is ready.
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/kubeguard/kubeguard/pkg/controls"
	"github.com/kubeguard/kubeguard/pkg/engine"
	"github.com/kubeguard/kubeguard/pkg/object"
	"github.com/kubeguard/kubeguard/pkg/report"
)

func main() {
	corpus := flag.String("corpus", "../shared/corpus", "manifests to scan")
	browser := flag.String("chromium", "/usr/bin/chromium", "Chromium binary")
	flag.Parse()
	cat, err := controls.Catalog(controls.Options{})
	check(err)
	eng, err := engine.New(engine.Options{Catalog: cat})
	check(err)
	inputs, _ := object.Expand([]string{*corpus}, nil)
	start := time.Now()
	res := eng.ScanInputs(inputs)
	fmt.Printf("corpus: %d objects, %d findings, scanned in %s\n", res.Objects, len(res.Findings), time.Since(start).Round(time.Millisecond))
	rep := func() *report.Report {
		return &report.Report{Tool: "kubeguard", Catalog: cat, Findings: res.Findings, Diagnostics: res.Diagnostics, Objects: res.Objects, Inputs: res.Inputs}
	}
	for _, format := range []string{"json", "html"} {
		var buf bytes.Buffer
		start := time.Now()
		check(report.Write(&buf, format, rep()))
		fmt.Printf("%-5s report: %6.1f MB written in %s\n", format, float64(buf.Len())/1e6, time.Since(start).Round(time.Millisecond))
		if format == "html" {
			dir, err := os.MkdirTemp("", "benchhtml")
			check(err)
			defer os.RemoveAll(dir)
			page := filepath.Join(dir, "report.html")
			check(os.WriteFile(page, buf.Bytes(), 0o644))
			open(*browser, page)
		}
	}
}

// open loads the page in headless Chromium three times and prints when
// the summary was first painted and when the findings list was ready,
// from the start of navigation.
func open(browser, page string) {
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(browser), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true), chromedp.WindowSize(1280, 900))
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancel()
	for i := range 3 {
		ctx, cancel := chromedp.NewContext(actx)
		ctx, cancel2 := context.WithTimeout(ctx, 2*time.Minute)
		check(chromedp.Do(ctx, chromedp.Navigate("file://"+page), chromedp.WaitVisible(chromedp.CSS("#groups details"))))
		paint, err := chromedp.Run(ctx, chromedp.Evaluate[float64](`performance.getEntriesByType("paint").filter(e => e.name === "first-contentful-paint").map(e => e.startTime)[0] || -1`))
		check(err)
		ready, err := chromedp.Run(ctx, chromedp.Evaluate[float64](`performance.now()`))
		check(err)
		fmt.Printf("chromium, load %d: summary painted at %4.0f ms, findings list ready by %5.0f ms\n", i+1, paint, ready)
		cancel2()
		cancel()
	}
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
