package report

import (
	"bytes"
	"runtime"
	"strconv"
	"testing"
)

// Chunks encoded on several cores come out in order, each item once.
func TestEncodeChunksInOrder(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(4))
	for _, n := range []int{0, 1, 1023, 1024, 1025, 2048, 10_000, 50_001} {
		var want bytes.Buffer
		for i := range n {
			want.WriteString(strconv.Itoa(i) + "\n")
		}
		var got bytes.Buffer
		encodeChunks(n, func(buf []byte, lo, hi int) []byte {
			for i := lo; i < hi; i++ {
				buf = strconv.AppendInt(buf, int64(i), 10)
				buf = append(buf, '\n')
			}
			return buf
		}, func(b []byte) { got.Write(b) })
		if got.String() != want.String() {
			t.Fatalf("n=%d: %d bytes, want %d", n, got.Len(), want.Len())
		}
	}
}
