// Package load drives an HTTP endpoint for the benchmarks: at a fixed
// rate (open loop, latency counted from each request's scheduled time so
// a slow server cannot hide its queueing) or with a fixed number of
// requests in flight (closed loop, to find the saturation throughput).
package load

import (
	"context"
	"fmt"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Result is the latencies of a run, its errors and its length.
type Result struct {
	Lat    []time.Duration
	Errors int64
	Wall   time.Duration
}

// Quantile is the latency at p (0..1), in milliseconds.
func (r Result) Quantile(p float64) float64 {
	if len(r.Lat) == 0 {
		return 0
	}
	slices.Sort(r.Lat)
	return float64(r.Lat[min(len(r.Lat)-1, int(p*float64(len(r.Lat))))].Microseconds()) / 1000
}

// Throughput is the answers per second.
func (r Result) Throughput() float64 { return float64(len(r.Lat)) / r.Wall.Seconds() }

// Open sends rate requests per second for d, send(i) sending the i-th.
func Open(rate int, d time.Duration, send func(i int) error) Result {
	n := int(float64(rate) * d.Seconds())
	lat := make([]time.Duration, n)
	var errs atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	interval := time.Second / time.Duration(rate)
	for i := range n {
		due := start.Add(time.Duration(i) * interval)
		if w := time.Until(due); w > 0 {
			time.Sleep(w)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := send(i); err != nil && errs.Add(1) == 1 {
				fmt.Fprintln(os.Stderr, "first error:", err)
			}
			lat[i] = time.Since(due)
		}()
	}
	wg.Wait()
	return Result{Lat: lat, Errors: errs.Load(), Wall: time.Since(start)}
}

// Closed keeps workers requests in flight for d.
func Closed(workers int, d time.Duration, send func(i int) error) Result {
	var mu sync.Mutex
	var all []time.Duration
	var errs, next atomic.Int64
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	start := time.Now()
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var lat []time.Duration
			for ctx.Err() == nil {
				i := next.Add(1)
				t := time.Now()
				if err := send(int(i)); err != nil {
					errs.Add(1)
				}
				lat = append(lat, time.Since(t))
			}
			mu.Lock()
			all = append(all, lat...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	return Result{Lat: all, Errors: errs.Load(), Wall: time.Since(start)}
}
