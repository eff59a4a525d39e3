// Command manifests renders the Helm chart into plain manifests
// (make manifests writes deploy/kubeguard.yaml; a test fails when it is
// stale), for clusters installed without Helm.
package main

import (
	"fmt"
	"os"

	"github.com/kubeguard/kubeguard/deploy"
)

func main() {
	out, err := deploy.Manifests()
	if err != nil {
		fmt.Fprintln(os.Stderr, "manifests:", err)
		os.Exit(1)
	}
	os.Stdout.WriteString(out)
}
