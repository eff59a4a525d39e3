package cli

import (
	"io"
	"os"
	"testing"
	"time"
)

// The progress line goes to terminals only: a pipe (CI logs) gets
// nothing, however long the work takes.
func TestProgressNotInPipes(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	calls := 0
	p := startProgress(w, true, func() string { calls++; return "x" })
	time.Sleep(1300 * time.Millisecond)
	p.Stop()
	w.Close()
	data, _ := io.ReadAll(r)
	if len(data) != 0 || calls != 0 {
		t.Errorf("progress wrote %q to a pipe (%d calls)", data, calls)
	}
	if got := thousands(1234567); got != "1,234,567" {
		t.Errorf("thousands: %s", got)
	}
}
