package report

import "runtime"

// encodeChunks encodes items [0, n) in chunks on every core and hands the
// bytes to write in order: the JSON and SARIF reports of a large scan run
// to hundreds of megabytes, and one core encoding them left the other
// idle at the end of every scan. Small reports, and any on one core, are
// encoded chunk by chunk in place.
// encode appends the encoding of items [lo, hi) to buf; chunks hold
// consecutive items, so encode can tell the first item (lo == 0) from
// the others.
func encodeChunks(n int, encode func(buf []byte, lo, hi int) []byte, write func([]byte)) {
	const size = 1024
	workers := runtime.GOMAXPROCS(0)
	if n <= size || workers == 1 {
		var buf []byte
		for lo := 0; lo < n || lo == 0; lo += size {
			buf = encode(buf[:0], lo, min(lo+size, n))
			write(buf)
		}
		return
	}
	type job struct {
		lo, hi int
		out    chan []byte
	}
	jobs := make(chan job)
	pending := make(chan chan []byte, 2*workers) // results, in order
	free := make(chan []byte, 3*workers)         // written buffers, for reuse
	go func() {
		for lo := 0; lo < n; lo += size {
			out := make(chan []byte, 1)
			pending <- out
			jobs <- job{lo, min(lo+size, n), out}
		}
		close(jobs)
		close(pending)
	}()
	for range workers {
		go func() {
			for j := range jobs {
				var buf []byte
				select {
				case buf = <-free:
				default:
				}
				j.out <- encode(buf[:0], j.lo, j.hi)
			}
		}()
	}
	for out := range pending {
		buf := <-out
		write(buf)
		select {
		case free <- buf:
		default:
		}
	}
}
