//go:build !unix

package object

import (
	"io"
	"os"
)

// openInput reads a regular file of at most limit bytes whole, into a
// buffer of its size (objects keep it for positions, and a growing one
// would be up to twice that), and split in place without copying each
// document. Anything else comes back open, to be read as a stream.
func openInput(path string, limit int) ([]byte, *os.File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() || st.Size() > int64(limit) {
		return nil, f, nil
	}
	defer f.Close()
	data := make([]byte, st.Size())
	n, err := io.ReadFull(f, data)
	if err == io.ErrUnexpectedEOF {
		err = nil // the file shrank while being read
	}
	data = data[:n]
	if err == nil {
		// the file grew while being read: take the rest too
		var more []byte
		more, err = io.ReadAll(f)
		data = append(data, more...)
	}
	if err != nil {
		return nil, nil, err
	}
	return data, nil, nil
}
