// Command exampleimage writes the image the documentation scans,
// examples/images/shop.tar (docker save format): a Debian 7 base with an
// nginx that DSA-3029-1 fixes, and an npm project pinning a lodash that
// GHSA-p6mc-m468-83gw fixes.
package main

import (
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/kubeguard/kubeguard/internal/imagetest"
)

func main() {
	t := &imagetest.Program{}
	defer t.Close()
	imagetest.WriteTarball(t, "examples/images/shop.tar", map[string]v1.Image{"example.com/shop:1.0": imagetest.Example(t)})
}
