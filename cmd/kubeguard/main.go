// Command kubeguard is the Kubernetes security scanner. The commands live
// in internal/cli; this file only wires the process to them.
package main

import (
	"os"

	"github.com/kubeguard/kubeguard/internal/cli"
)

func main() {
	cli.TuneRuntime()
	os.Exit(cli.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
