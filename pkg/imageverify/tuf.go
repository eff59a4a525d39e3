package imageverify

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/tuf"

	"github.com/kubeguard/kubeguard/pkg/config"
)

// FetchTUF reads trusted_root.json from a TUF repository, verified from
// the TUF root the configuration pins.
func FetchTUF(m *config.TUFMirror, base string) ([]byte, error) {
	rootJSON, err := os.ReadFile(resolve(base, m.Root))
	if err != nil {
		return nil, fmt.Errorf("images.verify.tuf.root: %v", err)
	}
	cache := m.Cache
	if cache == "" {
		dir, err := os.UserCacheDir()
		if err != nil {
			dir = os.TempDir()
		}
		cache = filepath.Join(dir, "kubeguard", "tuf")
	}
	opts := tuf.DefaultOptions().WithRoot(rootJSON).WithRepositoryBaseURL(m.URL).WithCachePath(resolve(base, cache))
	c, err := tuf.New(opts)
	if err != nil {
		return nil, fmt.Errorf("TUF repository %s: %v", m.URL, err)
	}
	data, err := c.GetTarget("trusted_root.json")
	if err != nil {
		return nil, fmt.Errorf("TUF repository %s: %v", m.URL, err)
	}
	if _, err := root.NewTrustedRootFromJSON(data); err != nil {
		return nil, fmt.Errorf("TUF repository %s: trusted_root.json: %v", m.URL, err)
	}
	return data, nil
}

// RefreshTUF fetches the trusted root from the source's TUF repository in
// the background: at once, then every interval, retrying a failure
// after a minute. The pinned root stays in force until a fetch succeeds,
// so an unreachable repository never stops verification or start-up.
func RefreshTUF(ctx context.Context, src *Source, every time.Duration, log *slog.Logger) {
	for {
		wait := every
		data, err := FetchTUF(src.Base.TUF, src.Dir)
		if err != nil {
			log.Warn("refreshing the trusted root from TUF; the previous one stays in force", "error", err)
			wait = min(time.Minute, every)
		} else {
			src.SetTrustedRoot(data)
			log.Info("trusted root refreshed from TUF", "url", src.Base.TUF.URL)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}
