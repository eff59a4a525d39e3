package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/kubeguard/kubeguard/pkg/vulndb"
)

func newDBCmd(s *streams) *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "db",
		Short: "Keep the offline vulnerability database (OSV records) that image scans match against",
		Long: "kubeguard matches image packages against OSV records stored on disk, indexed by ecosystem\n" +
			"and package. db update downloads them; db import reads them from files carried into an\n" +
			"air-gapped network; scans never download anything.",
	}
	cmd.PersistentFlags().StringVar(&dir, "db", "", "database directory (default: $KUBEGUARD_DB, else kubeguard/db in the user cache directory)")
	at := func() string { return vulndb.Dir(dir) }
	cmd.AddCommand(newDBUpdateCmd(s, at), newDBImportCmd(s, at), newDBStatusCmd(s, at))
	return cmd
}

func newDBUpdateCmd(s *streams, dir func() string) *cobra.Command {
	var mirror string
	var ecosystems []string
	cmd := &cobra.Command{
		Use:   "update",
		Short: "Download the OSV records of the selected ecosystems and rebuild the database",
		Long: "update downloads each ecosystem's all.zip from the public OSV bucket (or --mirror, which must\n" +
			"serve MIRROR/ECOSYSTEM/all.zip), checks it against the published CRC-32C and the archive's own\n" +
			"checksums, and replaces the database only once the new one is complete.",
		Example: "  kubeguard db update\n" +
			"  kubeguard db update --ecosystems Debian,Alpine,Go --mirror https://osv-mirror.internal",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if ctx == nil {
				ctx = context.Background()
			}
			start := time.Now()
			m, err := vulndb.Update(ctx, nil, mirror, ecosystems, dir())
			if err != nil {
				return &exitError{code: ExitError, err: fmt.Errorf("db update: %w; the database was left as it was", err)}
			}
			fmt.Fprintf(s.out, "%s: %s records from %s in %s (%s)\n", dir(), thousands(int64(m.Records)), strings.Join(ecosystems, ", "),
				time.Since(start).Round(time.Millisecond), bytesSize(m.Size))
			return nil
		},
	}
	cmd.Flags().StringVar(&mirror, "mirror", vulndb.DefaultMirror, "base URL of an OSV export (MIRROR/ECOSYSTEM/all.zip)")
	cmd.Flags().StringSliceVar(&ecosystems, "ecosystems", vulndb.DefaultEcosystems, "OSV ecosystems to download")
	return cmd
}

func newDBImportCmd(s *streams, dir func() string) *cobra.Command {
	var replace bool
	cmd := &cobra.Command{
		Use:   "import FILE|DIR...",
		Short: "Add OSV records from files: ecosystem all.zip archives, record files or directories of them",
		Long: "import adds OSV records to the database (or, with --replace, builds it from these inputs\n" +
			"alone). A record already present is replaced by a copy modified later. An input that cannot\n" +
			"be read is reported and the database is left as it was.",
		Example: "  kubeguard db import Debian-all.zip Go-all.zip\n" +
			"  kubeguard db import /media/usb/osv/",
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			start := time.Now()
			b, err := vulndb.NewBuilder("")
			if err != nil {
				return err
			}
			defer b.Close()
			if !replace {
				old, err := vulndb.Open(dir())
				switch {
				case errors.Is(err, vulndb.ErrMissing):
				case err != nil:
					return &exitError{code: ExitError, err: fmt.Errorf("%w (or use --replace)", err)}
				default:
					err = b.AddDB(old)
					old.Close()
					if err != nil {
						return &exitError{code: ExitError, err: err}
					}
				}
			}
			for _, a := range args {
				if err := b.AddPath(a); err != nil {
					b.Errors = append(b.Errors, err)
				}
			}
			if len(b.Errors) > 0 {
				for _, e := range b.Errors {
					fmt.Fprintln(s.err, e)
				}
				return &exitError{code: ExitError, err: fmt.Errorf("db import: %d inputs or records could not be read; the database was left as it was", len(b.Errors))}
			}
			m, err := b.Write(dir())
			if err != nil {
				return &exitError{code: ExitError, err: err}
			}
			fmt.Fprintf(s.out, "%s: %s records in %s (%s)\n", dir(), thousands(int64(m.Records)), time.Since(start).Round(time.Millisecond), bytesSize(m.Size))
			return nil
		},
	}
	cmd.Flags().BoolVar(&replace, "replace", false, "build the database from these inputs only")
	return cmd
}

func newDBStatusCmd(s *streams, dir func() string) *cobra.Command {
	var format string
	var maxAge time.Duration
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show the database's age, size and records per ecosystem",
		Long:  "status exits 2 when there is no database or it is damaged, and 1 when it is older than --max-age.",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			db, err := vulndb.Open(dir())
			if err != nil {
				return &exitError{code: ExitError, err: err}
			}
			defer db.Close()
			age := db.Age(time.Now())
			switch format {
			case "json":
				enc := json.NewEncoder(s.out)
				enc.SetIndent("", "  ")
				if err := enc.Encode(struct {
					Dir string `json:"dir"`
					vulndb.Meta
					AgeSeconds int64 `json:"ageSeconds"`
				}{dir(), db.Meta, int64(age.Seconds())}); err != nil {
					return err
				}
			case "table":
				fmt.Fprintf(s.out, "database  %s\nbuilt     %s (%s ago)\nrecords   %s\nsize      %s\n\n", dir(),
					db.Meta.Built.Format(time.RFC3339), days(age), thousands(int64(db.Meta.Records)), bytesSize(db.Meta.Size))
				tw := tabwriter.NewWriter(s.out, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ECOSYSTEM\tRECORDS")
				ecos := make([]string, 0, len(db.Meta.Ecosystems))
				for e := range db.Meta.Ecosystems {
					ecos = append(ecos, e)
				}
				slices.Sort(ecos)
				for _, e := range ecos {
					fmt.Fprintf(tw, "%s\t%s\n", e, thousands(int64(db.Meta.Ecosystems[e])))
				}
				tw.Flush()
			default:
				return usageErr("--output %q: want table or json", format)
			}
			if maxAge > 0 && age > maxAge {
				return &exitError{code: ExitFindings, err: fmt.Errorf("the database is %s old (more than --max-age %s); run kubeguard db update", days(age), maxAge)}
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&format, "output", "o", "table", "table or json")
	cmd.Flags().DurationVar(&maxAge, "max-age", 7*24*time.Hour, "exit 1 when the database is older")
	return cmd
}

func bytesSize(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
