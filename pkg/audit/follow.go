package audit

import (
	"context"
	"io"
	"os"
	"time"

	"github.com/kubeguard/kubeguard/pkg/object"
)

// Follow reads the audit log at path as the API server appends to it,
// like tail -F: when the file is rotated (renamed and created anew, or
// truncated) the rest of the old one is read, then the new one from its
// start. saved is called every minute and at the end, to persist what
// was learned. It returns when ctx ends.
func Follow(ctx context.Context, path string, f func(*Event), saved func()) []object.Diagnostic {
	var diags []object.Diagnostic
	tick := time.NewTicker(time.Minute)
	defer tick.Stop()
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				saved()
			}
		}
	}()
	defer saved()
	for ctx.Err() == nil {
		file, err := os.Open(path)
		if err != nil {
			select { // not there yet, or between rename and create
			case <-ctx.Done():
			case <-time.After(250 * time.Millisecond):
			}
			continue
		}
		r := &tailReader{ctx: ctx, f: file, path: path}
		diags = append(diags, Read(r, path, f)...)
		file.Close()
	}
	return diags
}

// tailReader reads a growing file and ends (EOF) when the context ends
// or the path names another file, or the file shrank.
type tailReader struct {
	ctx  context.Context
	f    *os.File
	path string
	off  int64
}

func (t *tailReader) Read(p []byte) (int, error) {
	for {
		n, err := t.f.Read(p)
		t.off += int64(n)
		if n > 0 || err != nil && err != io.EOF {
			return n, err
		}
		if t.ctx.Err() != nil || t.replaced() {
			// a last read: what was written before the rotation
			n, _ := t.f.Read(p)
			t.off += int64(n)
			if n > 0 {
				return n, nil
			}
			return 0, io.EOF
		}
		select {
		case <-t.ctx.Done():
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func (t *tailReader) replaced() bool {
	cur, err := os.Stat(t.path)
	if err != nil {
		return true
	}
	mine, err := t.f.Stat()
	if err != nil {
		return true
	}
	return !os.SameFile(cur, mine) || cur.Size() < t.off
}
