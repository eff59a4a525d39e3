//go:build unix

package object

import (
	"io/fs"
	"os"
	"syscall"
)

// openInput reads a regular file of at most limit bytes whole, with the
// four system calls that takes (open, fstat, read, close): os.Open also
// tries to register every file with the network poller, which regular
// files refuse, and puts the descriptor into and out of non-blocking
// mode, six calls more per file and a tenth of a scan of many small
// files. The file is read up to the size it had when opened. Anything else
// (a FIFO, a larger file) comes back open, to be read as a stream: opening
// it a second time could lose what a writer already sent.
func openInput(path string, limit int) (data []byte, f *os.File, err error) {
	var fd int
	for {
		fd, err = syscall.Open(path, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		return nil, nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil || st.Mode&syscall.S_IFMT != syscall.S_IFREG || st.Size > int64(limit) {
		return nil, os.NewFile(uintptr(fd), path), nil
	}
	defer syscall.Close(fd)
	data = make([]byte, st.Size)
	n := 0
	for n < len(data) {
		m, err := syscall.Read(fd, data[n:])
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return nil, nil, &fs.PathError{Op: "read", Path: path, Err: err}
		}
		if m == 0 {
			break // the file shrank while being read
		}
		n += m
	}
	return data[:n], nil, nil
}
