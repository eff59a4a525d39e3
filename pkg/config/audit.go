package config

import (
	"fmt"
	"net/netip"
	"time"
)

// AuditConfig configures kubeguard audit: the rules that need facts about the
// cluster, and the learned baselines.
type AuditConfig struct {
	// Networks, when not empty, are the networks (CIDRs) requests are
	// expected from; a request from elsewhere is AUD-UNEXPECTED-NETWORK.
	Networks []string `yaml:"networks"`
	// Probing: an identity denied this many requests within the window
	// is probing its permissions (AUD-PROBING). Defaults 10 and 1m.
	Probing struct {
		Failures int      `yaml:"failures"`
		Window   Duration `yaml:"window"`
	} `yaml:"probing"`
	// Baseline tunes the learned baselines (see audit.BaselineOptions).
	Baseline struct {
		// Window is how long an identity is learned before its new
		// behaviour is an anomaly (default 7d).
		Window Duration `yaml:"window"`
		// Forget drops terms not seen for this long (default 30d).
		Forget Duration `yaml:"forget"`
		// MaxIdentities bounds memory (default 20000); the identity seen
		// least recently goes first.
		MaxIdentities int `yaml:"maxIdentities"`
	} `yaml:"baseline"`
}

// Prefixes parses Networks.
func (a *AuditConfig) Prefixes() ([]netip.Prefix, error) {
	var out []netip.Prefix
	for i, n := range a.Networks {
		p, err := netip.ParsePrefix(n)
		if err != nil {
			a, aerr := netip.ParseAddr(n)
			if aerr != nil {
				return nil, fmt.Errorf("audit.networks[%d]: %q is not a CIDR or address", i, n)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// Duration is a time.Duration written as Go does (90s, 1h) or in days
// (7d).
type Duration struct{ time.Duration }

func (d *Duration) UnmarshalText(b []byte) error {
	v, err := ParseDuration(string(b))
	if err != nil {
		return err
	}
	d.Duration = v
	return nil
}

// ParseDuration reads a duration with a days suffix allowed ("7d").
func ParseDuration(s string) (time.Duration, error) {
	var days int
	if n, err := fmt.Sscanf(s, "%dd", &days); err == nil && n == 1 && fmt.Sprintf("%dd", days) == s {
		return time.Duration(days) * 24 * time.Hour, nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration (want 90s, 12h or 7d)", s)
	}
	return v, nil
}
