// Command exampleaudit writes examples/audit: the audit logs of the
// README's worked example of learned baselines.
package main

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"os"

	"github.com/kubeguard/kubeguard/internal/auditgen"
)

func main() {
	var history, today bytes.Buffer
	zw := gzip.NewWriter(&history)
	if err := auditgen.Example(zw, &today); err != nil {
		fail(err)
	}
	if err := zw.Close(); err != nil {
		fail(err)
	}
	if err := os.MkdirAll("examples/audit", 0o755); err != nil {
		fail(err)
	}
	for name, data := range map[string][]byte{"examples/audit/history.jsonl.gz": history.Bytes(), "examples/audit/today.jsonl": today.Bytes()} {
		if err := os.WriteFile(name, data, 0o644); err != nil {
			fail(err)
		}
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "exampleaudit:", err)
	os.Exit(1)
}
