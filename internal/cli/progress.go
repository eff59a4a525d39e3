package cli

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// progress prints a line of counts on a terminal while long work runs,
// from the second second on, and erases it when done. It never writes to
// a pipe or a file: logs and machine formats stay clean.
type progress struct {
	stop func()
}

// startProgress starts a progress line on w when w is a terminal and on
// is true; count returns what to say ("1,200 objects, 340 findings").
func startProgress(w io.Writer, on bool, count func() string) *progress {
	f, ok := w.(*os.File)
	if !on || !ok || !isTerminal(f) {
		return &progress{stop: func() {}}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		start := time.Now()
		tick := time.NewTicker(250 * time.Millisecond)
		defer tick.Stop()
		shown := false
		for {
			select {
			case <-done:
				if shown {
					fmt.Fprint(f, "\r\x1b[K")
				}
				return
			case <-tick.C:
				if time.Since(start) < time.Second {
					continue
				}
				fmt.Fprintf(f, "\r\x1b[Kkubeguard: %s (%.0fs)", count(), time.Since(start).Seconds())
				shown = true
			}
		}
	}()
	var once sync.Once
	return &progress{stop: func() { once.Do(func() { close(done); wg.Wait() }) }}
}

func (p *progress) Stop() { p.stop() }

func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// thousands writes n with thousands separators.
func thousands(n int64) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
