// Package node is the node front door: it reads a node's files, its
// processes' command lines and the kubelet's configuration (on the node
// itself, or its filesystem mounted under a root) and checks them
// against the CIS Kubernetes Benchmark.
package node

import (
	"bufio"
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Host is a node's filesystem, at Root ("/" on the node itself).
type Host struct {
	Root string
	// Now is the clock certificates are judged by (time.Now when nil).
	Now   func() time.Time
	users map[int]string
	grps  map[int]string
}

// NewHost reads the node's user and group names (its own /etc/passwd
// and /etc/group, not those of the machine running kubeguard).
func NewHost(root string) *Host {
	h := &Host{Root: root, Now: time.Now}
	h.users = names(h.path("/etc/passwd"))
	h.grps = names(h.path("/etc/group"))
	return h
}

func names(file string) map[int]string {
	out := map[int]string{0: "root"}
	data, err := os.ReadFile(file)
	if err != nil {
		return out
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f := strings.Split(sc.Text(), ":")
		if len(f) < 3 {
			continue
		}
		if id, err := strconv.Atoi(f[2]); err == nil {
			out[id] = f[0]
		}
	}
	return out
}

// path is p under the root; symbolic links are not followed out of it
// (see Stat).
func (h *Host) path(p string) string { return filepath.Join(h.Root, filepath.Clean("/"+p)) }

// File is what the benchmark asks of a file.
type File struct {
	Path   string      `json:"path"`
	Exists bool        `json:"exists"`
	Mode   fs.FileMode `json:"-"`
	Perm   string      `json:"permissions,omitempty"` // octal, as stat -c %a prints it
	Owner  string      `json:"owner,omitempty"`       // user:group
	// Modified is the file's modification time.
	Modified time.Time `json:"-"`
}

// Stat reads a file's mode and owner. Links are resolved inside the
// root, as the node would resolve them.
func (h *Host) Stat(p string) (File, error) {
	f := File{Path: p}
	real := p
	for range 16 {
		fi, err := os.Lstat(h.path(real))
		if os.IsNotExist(err) {
			return f, nil
		}
		if err != nil {
			return f, err
		}
		if fi.Mode()&fs.ModeSymlink != 0 {
			target, err := os.Readlink(h.path(real))
			if err != nil {
				return f, err
			}
			if !filepath.IsAbs(target) {
				target = filepath.Join(filepath.Dir(real), target)
			}
			real = target
			continue
		}
		f.Exists, f.Mode, f.Modified = true, fi.Mode(), fi.ModTime()
		f.Perm = strconv.FormatUint(uint64(fi.Mode().Perm()), 8)
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			f.Owner = h.user(int(st.Uid)) + ":" + h.group(int(st.Gid))
		}
		return f, nil
	}
	return f, fmt.Errorf("%s: too many links", p)
}

func (h *Host) user(id int) string {
	if n, ok := h.users[id]; ok {
		return n
	}
	return strconv.Itoa(id)
}

func (h *Host) group(id int) string {
	if n, ok := h.grps[id]; ok {
		return n
	}
	return strconv.Itoa(id)
}

// ReadFile reads a file under the root.
func (h *Host) ReadFile(p string) ([]byte, error) { return os.ReadFile(h.path(p)) }

// Process is a running process's command line.
type Process struct {
	PID  int      `json:"pid"`
	Args []string `json:"args"`
}

// Processes lists the processes under the root's /proc.
func (h *Host) Processes() []Process {
	entries, _ := os.ReadDir(h.path("/proc"))
	var out []Process
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		data, err := os.ReadFile(filepath.Join(h.path("/proc"), e.Name(), "cmdline"))
		if err != nil || len(data) == 0 {
			continue
		}
		args := strings.Split(strings.TrimRight(string(data), "\x00"), "\x00")
		out = append(out, Process{PID: pid, Args: args})
	}
	return out
}

// Find returns the first process whose program is one of names, or one
// of them with a version suffix (kube-apiserver-v1.33.2).
func (h *Host) Find(procs []Process, names ...string) *Process {
	for i, p := range procs {
		base := filepath.Base(p.Args[0])
		for _, n := range names {
			if base == n || strings.HasPrefix(base, n+"-v") && len(base) > len(n)+2 && base[len(n)+2] >= '0' && base[len(n)+2] <= '9' {
				return &procs[i]
			}
		}
	}
	return nil
}
