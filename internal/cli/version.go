package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"sync"

	"github.com/spf13/cobra"
)

// Set at build time with -ldflags "-X .../internal/cli.version=v1.2.3"
// (and commit, date); otherwise read from the module and VCS data Go
// embeds in the binary.
var version, commit, date = "", "", ""

// BuildInfo is what `kubeguard version` prints.
type BuildInfo struct {
	Version   string `json:"version"`
	Commit    string `json:"commit,omitempty"`
	Modified  bool   `json:"modified,omitempty"` // built from a tree with uncommitted changes
	Date      string `json:"date,omitempty"`     // of the commit
	GoVersion string `json:"goVersion"`
	Platform  string `json:"platform"`
}

// Build returns kubeguard's build information, read once: every command
// names its version, and the embedded module data lists every dependency.
var Build = sync.OnceValue(readBuild)

func readBuild() BuildInfo {
	b := BuildInfo{Version: version, Commit: commit, Date: date, GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if bi, ok := debug.ReadBuildInfo(); ok {
		if b.Version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			b.Version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				if b.Commit == "" {
					b.Commit = s.Value
				}
			case "vcs.time":
				if b.Date == "" {
					b.Date = s.Value
				}
			case "vcs.modified":
				b.Modified = s.Value == "true" && commit == ""
			}
		}
	}
	if b.Version == "" {
		b.Version = "dev"
	}
	return b
}

// Version returns kubeguard's version: the linker-set one, else the module
// version, else "dev".
func Version() string { return Build().Version }

func (b BuildInfo) write(w io.Writer) {
	fmt.Fprintf(w, "kubeguard %s\n", b.Version)
	if b.Commit != "" {
		c := b.Commit
		if b.Modified {
			c += " (modified)"
		}
		fmt.Fprintf(w, "  commit:  %s\n", c)
	}
	if b.Date != "" {
		fmt.Fprintf(w, "  date:    %s\n", b.Date)
	}
	fmt.Fprintf(w, "  go:      %s\n  platform: %s\n", b.GoVersion, b.Platform)
}

func newVersionCmd(s *streams) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print kubeguard's version, commit, build date and Go version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			b := Build()
			switch output {
			case "text":
				b.write(s.out)
			case "json":
				enc := json.NewEncoder(s.out)
				enc.SetIndent("", "  ")
				return enc.Encode(b)
			default:
				return usageErr("--output %q: want text or json", output)
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: text or json")
	return cmd
}
